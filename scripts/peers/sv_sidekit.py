#!/usr/bin/env python3
"""SIDEKIT 1.4.3.2 peer of shardkit's `speaker_verification` main job on the Free Spoken Digit Dataset.

Runs GMM-UBM and three i-vector back ends (cosine, LDA+WCCN cosine, PLDA) with
SIDEKIT's own classes on the FSDD protocol, writes one score file per system
(SIDEKIT/BOSARIS text form, `model segment score`; segment = WAV file stem,
model = speaker), and prints ROCCH-EER %, plain EER % and minDCF per system, per
fold and as means, plus the time of every stage.

    PY=/tmp/venv-sidekit/bin/python       # venv: scripts/peers/README.md
    $PY scripts/peers/sv_sidekit.py --data /work/shared/data/fsdd/recordings \\
        --folds 10 --cache-features --out /tmp/sv_sidekit   # 10-fold cross-validation
    $PY scripts/peers/sv_sidekit.py --data /work/shared/data/fsdd/recordings \\
        --test-takes 0-4 --out /tmp/sv_sidekit          # the main job's default split
    options: --components 64 (UBM size), --rank 100 (TV rank R), --threads 1 (BLAS),
             --tv-iters 10, --lda-dim 5, --plda-rank 5, --plda-iters 10,
             --compression percentile|none (feature files), --seed 0,
             --cache-features (memoise FeaturesServer.load: same scores, much faster;
             use it for cross-validation, not for timing SIDEKIT's pipeline)

Protocol. Files are `{digit}_{speaker}_{take}.wav` (6 speakers x 10 digits x takes
0-49). A split tests the given takes of every speaker against all speakers
(`--test-takes 0-4`: 300 test files x 6 models = 1,800 trials, 300 target) and
trains the UBM, T, the back ends and the enrolment (each speaker's model from all
of their training files) on the other takes. `--folds N`: fold k tests takes
5k..5k+4 (N = 10 covers takes 0-49 once). `--folds N --first-fold K` runs folds
K..N-1 (for resuming).

Features (extracted once into OUT/features/{stem}.h5, reused by every fold and run
with the same OUT; delete the folder to re-extract), SIDEKIT's usual 8 kHz set-up:
    sidekit.FeaturesExtractor(audio_filename_structure=DATA/{}.wav,
        feature_filename_structure=OUT/features/{}.h5, sampling_frequency=8000,
        lower_frequency=200, higher_frequency=3800, filter_bank="log",
        filter_bank_size=24, window_size=0.025, shift=0.01, ceps_number=13,
        vad="snr", snr=40, pre_emphasis=0.97, save_param=["vad", "energy", "cep"],
        keep_all_features=True, compressed=--compression)   .save_list(..., num_thread=1)
    sidekit.FeaturesServer(feature_filename_structure=OUT/features/{}.h5,
        dataset_list=["energy", "cep", "vad"], feat_norm="cmvn" (per utterance),
        delta=True, double_delta=True, delta_filter=None (SIDEKIT's default
        7-tap [.25 .5 .25 0 -.25 -.5 -.25]), rasta=False, keep_all_features=False)
  -> 42 dims: log-energy, c1..c13 (mfcc() drops c0), their deltas and double deltas.
  The SNR VAD keeps every frame of FSDD (125,237 of 125,237; the script prints it).

Per split, all with SIDEKIT calls (num_thread=1 throughout):
    ubm = sidekit.Mixture(); ubm.EM_split(server, train_shows, C, num_thread=1,
        ceil_cov=10, floor_cov=1e-2)       # default iterations (1,2,2,4,4,4,4,8,...)[:log2 C]
    stat = sidekit.StatServer(IdMap(speaker, show), ubm=ubm); stat.accumulate_stat(ubm, server)
    GMM-UBM: enrol = train_stat.sum_stat_per_model()[0].adapt_mean_map(ubm, r=16)
        (means only); sidekit.gmm_scoring(ubm, enrol, ndx, server, num_thread=1)
        = mean over frames of log p(x|speaker GMM) - log p(x|UBM), full log-sum-exp
        over all components
    TV: train_stat.write(OUT/<run>/tmp_train_stat.h5); fa = sidekit.FactorAnalyser();
        numpy.random.seed(--seed); fa.total_variability_single(file, ubm, R,
        nb_iter=10, min_div=True, tv_init=None (SIDEKIT's randn), batch_size=300)
    i-vectors: fa.extract_ivectors_single(ubm, copy of stat) for train and test
    enrolment: StatServer.mean_stat_per_model() of the speaker's training i-vectors
    cosine: sidekit.iv_scoring.cosine_scoring(enrol_iv, test_iv, ndx)
    LDA+WCCN: L = train_iv.get_lda_matrix_stat1(5); rotate_stat1(L) on all;
        W = train_lda.get_wccn_choleski_stat1(); cosine_scoring(..., wccn=W)
    PLDA: m, S = train_iv.estimate_spectral_norm_stat1(1, "efr");
        spectral_norm_stat1(m, S) on train / test (whitening + length norm);
        FactorAnalyser().plda(train_sn, rank_f=5, nb_iter=10);
        sidekit.iv_scoring.fast_PLDA_scoring(train_sn.mean_stat_per_model(), test_sn,
        ndx, plda.mean, plda.F, plda.Sigma)
Metrics: ROCCH-EER and minDCF from sidekit.bosaris.detplot.fast_minDCF(tar, non,
logit(0.01), normalize=True) (BOSARIS's rocch + rocch2eer; minDCF normalised by
P_target = 0.01, C_miss = C_fa = 1); plain EER = min over thresholds of
max(P_miss, P_fa) on the score staircase (never below the ROCCH-EER).

Output: OUT/<run>/scores/{gmm_ubm,ivec_cosine,ivec_lda_wccn,ivec_plda}[_foldK].txt,
OUT/<run>/results.csv (one row per fold and system), OUT/<run>/times.csv. <run> is
`folds{N}_C{C}_R{R}` or `split{TAKES}_C{C}_R{R}`, plus `_nocomp` / `_cached` with
--compression none / --cache-features. Times: wall (time.perf_counter) and process
CPU (time.process_time) per stage: features, ubm, stats (train + test
accumulate_stat), map_gmm_scoring (SIDEKIT scores in a forked child process, whose
CPU time is not counted), tv (stat file write + TV training), extract, backends.

Compatibility shims (nothing of SIDEKIT's numerics is replaced):
  * numpy.int / numpy.bool aliases (= int / bool) are restored when missing: SIDEKIT
    2021 uses them in trfbank (MFCC) and Ndx code; they were removed in NumPy 1.24.
  * `import sidekit` imports torch (sidekit/iv_scoring.py top-level `import torch`;
    sidekit/__init__.py imports sidekit.nnet because SIDEKIT="cuda=false" cannot turn
    CUDA off, the parser only ever sets it to True). torch is not installed: a stub
    module stands in during `import sidekit` (as in tv_sidekit.py) and sidekit.nnet
    is an empty module. cosine_scoring calls torch for its final product only
    (`torch.einsum('ij,kj', FloatTensor(enrol), FloatTensor(test))` on the CPU when no
    GPU); the stub gives iv_scoring that call as numpy.einsum on float32 copies (same
    precision; summation order may differ in the last bit). No other torch use is
    on these paths.
Threads: OMP/OPENBLAS/MKL_NUM_THREADS=--threads are set before NumPy is imported
and threadpoolctl limits both OpenBLAS copies (NumPy's and SciPy's).
"""

import argparse
import copy
import csv
import os
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEMS = ("gmm_ubm", "ivec_cosine", "ivec_lda_wccn", "ivec_plda")
LABELS = {"gmm_ubm": "GMM-UBM", "ivec_cosine": "i-vector cosine",
          "ivec_lda_wccn": "i-vector LDA+WCCN cosine", "ivec_plda": "i-vector PLDA"}


def parse_takes(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return sorted(set(out))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data/fsdd/recordings",
                    help="folder of {digit}_{speaker}_{take}.wav (read in place)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--folds", type=int, default=None, help="fold k tests takes 5k..5k+4")
    g.add_argument("--test-takes", default=None, help="single split, e.g. 0-4 (default)")
    ap.add_argument("--first-fold", type=int, default=0, help="with --folds: start at this fold")
    ap.add_argument("--components", "-C", type=int, default=64)
    ap.add_argument("--rank", "-R", type=int, default=100)
    ap.add_argument("--tv-iters", type=int, default=10)
    ap.add_argument("--lda-dim", type=int, default=5)
    ap.add_argument("--plda-rank", type=int, default=5)
    ap.add_argument("--plda-iters", type=int, default=10)
    ap.add_argument("--map-r", type=float, default=16.0)
    ap.add_argument("--compression", choices=("percentile", "none"), default="percentile",
                    help="FeaturesExtractor storage (SIDEKIT's default: percentile, 8-bit)")
    ap.add_argument("--seed", type=int, default=0, help="numpy seed before TV (SIDEKIT's randn init)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--cache-features", action="store_true",
                    help="memoise FeaturesServer.load per (show, keep_all_features) for the whole run "
                         "(same numbers, much faster; the timed SIDEKIT pipeline re-reads and "
                         "re-post-processes every file on every EM iteration without it)")
    ap.add_argument("--out", default="/tmp/sv_sidekit")
    a = ap.parse_args()
    if a.folds is None and a.test_takes is None:
        a.test_takes = "0-4"
    return a


ARGS = parse_args()
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = str(ARGS.threads)  # before NumPy is imported

import numpy  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg, scipy.signal, scipy.stats, scipy.fftpack, scipy.ndimage, scipy.io.wavfile  # noqa: E402,E401,F401
import h5py  # noqa: E402

for _name, _typ in (("int", int), ("bool", bool), ("float", float), ("object", object)):
    if _name not in numpy.__dict__:
        setattr(numpy, _name, _typ)  # SIDEKIT 2021 still uses these aliases


class _CpuTensor:
    """What cosine_scoring needs of torch.FloatTensor: a float32 array, .to(), .cpu(), .numpy()."""

    def __init__(self, a):
        self.a = numpy.asarray(a, dtype=numpy.float32)

    def to(self, device):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


def import_sidekit():
    had_torch = "torch" in sys.modules
    if not had_torch:
        torch = types.ModuleType("torch")
        torch.__doc__ = "stub for sv_sidekit.py: SIDEKIT imports torch at top level"
        torch.Tensor = type("Tensor", (), {})
        torch.device = lambda name: name
        torch.cuda = types.SimpleNamespace(is_available=lambda: False)
        torch.FloatTensor = _CpuTensor
        torch.einsum = lambda eq, *ops: _CpuTensor(numpy.einsum(eq, *[o.a for o in ops]))
        sys.modules["torch"] = torch
    nnet = types.ModuleType("sidekit.nnet")
    for name in ("Xtractor", "xtrain", "extract_embeddings", "ResBlock", "SincNet"):
        setattr(nnet, name, None)
    sys.modules["sidekit.nnet"] = nnet
    import sidekit
    import sidekit.iv_scoring  # noqa: F401  (binds the stub as sidekit.iv_scoring.torch)
    if not had_torch:
        del sys.modules["torch"]
    return sidekit


def limit_threads(n):
    try:
        from threadpoolctl import threadpool_limits, threadpool_info
        threadpool_limits(limits=n)
        return ", ".join("%s %s x%d" % (i.get("internal_api"), i.get("version"), i.get("num_threads"))
                         for i in threadpool_info())
    except ImportError:
        return "threadpoolctl not installed; env vars only"


sidekit = import_sidekit()
BLAS = limit_threads(ARGS.threads)
from sidekit.bosaris.detplot import fast_minDCF  # noqa: E402


class Timer:
    """Wall (time.perf_counter) and process CPU time (time.process_time) per stage."""

    def __init__(self):
        self.t, self.cpu = {}, {}

    def stage(self, key):
        timer = self

        class _Stage:
            def __enter__(self):
                self.w, self.c = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                timer.t[key] = timer.t.get(key, 0.0) + time.perf_counter() - self.w
                timer.cpu[key] = timer.cpu.get(key, 0.0) + time.process_time() - self.c
        return _Stage()


# ----------------------------------------------------------------------------- data
def list_corpus(data):
    shows = sorted(os.path.splitext(f)[0] for f in os.listdir(data) if f.endswith(".wav"))
    meta = {}
    for s in shows:
        digit, spk, take = s.split("_")
        meta[s] = (spk, int(take), int(digit))
    return shows, meta


def extract_features(shows, args, feat_dir):
    """FeaturesExtractor.save_list for the files whose .h5 is missing; returns seconds."""
    todo = [s for s in shows if not os.path.isfile(os.path.join(feat_dir, s + ".h5"))]
    if not todo:
        return 0.0, 0
    extractor = sidekit.FeaturesExtractor(
        audio_filename_structure=os.path.join(args.data, "{}.wav"),
        feature_filename_structure=os.path.join(feat_dir, "{}.h5"),
        sampling_frequency=8000, lower_frequency=200, higher_frequency=3800,
        filter_bank="log", filter_bank_size=24, window_size=0.025, shift=0.01,
        ceps_number=13, vad="snr", snr=40, pre_emphasis=0.97,
        save_param=["vad", "energy", "cep"], keep_all_features=True,
        compressed=args.compression)
    t0 = time.perf_counter()
    extractor.save_list(show_list=numpy.array(todo, dtype=object),
                        channel_list=numpy.zeros(len(todo), dtype=int), num_thread=1)
    return time.perf_counter() - t0, len(todo)


class CachedFeaturesServer(sidekit.FeaturesServer):
    """FeaturesServer whose load() results (SIDEKIT's own read + post-processing) are memoised."""
    cache = {}

    def load(self, show, channel=0, input_feature_filename=None, label=None, start=None, stop=None):
        key = (show, start, stop, self.keep_all_features)
        if key not in self.cache:
            self.previous_load = None  # SIDEKIT's one-entry cache ignores keep_all_features
            self.cache[key] = super().load(show, channel=channel, input_feature_filename=input_feature_filename,
                                           label=label, start=start, stop=stop)
        return self.cache[key]


def make_server(feat_dir):
    cls = CachedFeaturesServer if ARGS.cache_features else sidekit.FeaturesServer
    return cls(
        features_extractor=None, feature_filename_structure=os.path.join(feat_dir, "{}.h5"),
        sources=None, dataset_list=["energy", "cep", "vad"], mask=None, feat_norm="cmvn",
        global_cmvn=None, dct_pca=False, dct_pca_config=None, sdc=False, sdc_config=None,
        delta=True, double_delta=True, delta_filter=None, context=None, traps_dct_nb=None,
        rasta=False, keep_all_features=False)


def vad_fraction(shows, feat_dir):
    kept = total = 0
    for s in shows:
        with h5py.File(os.path.join(feat_dir, s + ".h5"), "r") as f:
            lab = f[s + "/vad"][()].astype(bool)
        kept += int(lab.sum())
        total += lab.size
    return kept, total


# ----------------------------------------------------------------------------- metrics
def plain_eer(tar, non):
    """min over thresholds of max(P_miss, P_fa): where the DET staircase meets p_miss = p_fa."""
    scores = numpy.concatenate((tar, non))
    is_tar = numpy.concatenate((numpy.ones(tar.size), numpy.zeros(non.size)))
    order = numpy.argsort(scores, kind="mergesort")
    s, t = scores[order], is_tar[order]
    # threshold just above position i (reject scores[:i+1]); only between distinct scores
    miss = numpy.concatenate(([0.0], numpy.cumsum(t))) / tar.size
    fa = 1.0 - numpy.concatenate(([0.0], numpy.cumsum(1 - t))) / non.size
    valid = numpy.concatenate(([True], s[1:] != s[:-1], [True]))
    return float(numpy.min(numpy.maximum(miss, fa)[valid]))


def evaluate(scores, key):
    tar, non = scores.get_tar_non(key)
    plo = numpy.log(0.01 / 0.99)
    mindcf, _, _, _, eer = fast_minDCF(tar, non, plo, normalize=True)
    return 100.0 * eer, 100.0 * plain_eer(tar, non), float(mindcf), tar.size, non.size


# ----------------------------------------------------------------------------- one split
def stat_server(shows, meta, ubm, server):
    idmap = sidekit.IdMap()
    idmap.set(numpy.array([meta[s][0] for s in shows], dtype=object),
              numpy.array(shows, dtype=object))
    ss = sidekit.StatServer(idmap, ubm=ubm)
    ss.accumulate_stat(ubm=ubm, feature_server=server, seg_indices=None, num_thread=1)
    return ss


def backends(train_iv, test_iv, ndx, args, run_dir):
    """cosine, LDA+WCCN cosine and PLDA on SIDEKIT i-vector StatServers; returns {system: Scores}."""
    # cosine
    enrol_iv = train_iv.mean_stat_per_model()
    scores = {}
    scores["ivec_cosine"] = sidekit.iv_scoring.cosine_scoring(enrol_iv, test_iv, ndx, wccn=None)
    # LDA + WCCN
    lda = train_iv.get_lda_matrix_stat1(args.lda_dim)
    train_lda, test_lda = copy.deepcopy(train_iv), copy.deepcopy(test_iv)
    train_lda.rotate_stat1(lda)
    test_lda.rotate_stat1(lda)
    wccn = train_lda.get_wccn_choleski_stat1()
    scores["ivec_lda_wccn"] = sidekit.iv_scoring.cosine_scoring(train_lda.mean_stat_per_model(), test_lda,
                                                                ndx, wccn=wccn)
    # PLDA (spectral norm = whitening + length norm, then SIDEKIT's simplified PLDA)
    sn_mean, sn_cov = train_iv.estimate_spectral_norm_stat1(1, "efr")
    train_sn, test_sn = copy.deepcopy(train_iv), copy.deepcopy(test_iv)
    train_sn.spectral_norm_stat1(sn_mean, sn_cov)
    test_sn.spectral_norm_stat1(sn_mean, sn_cov)
    plda = sidekit.FactorAnalyser()
    _stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # plda() prints "E_step" every iteration
    try:
        plda.plda(train_sn, rank_f=args.plda_rank, nb_iter=args.plda_iters, scaling_factor=1.,
                  output_file_name=os.path.join(run_dir, "tmp_plda"), save_partial=False, save_final=False)
    finally:
        sys.stdout.close()
        sys.stdout = _stdout
    scores["ivec_plda"] = sidekit.iv_scoring.fast_PLDA_scoring(train_sn.mean_stat_per_model(), test_sn, ndx,
                                                               plda.mean, plda.F, plda.Sigma)
    return scores


def run_split(train, test, meta, args, feat_dir, run_dir, tag, timer):
    speakers = sorted({meta[s][0] for s in train})
    server = make_server(feat_dir)
    models = numpy.array([m for m in speakers for _ in test], dtype=object)
    segs = numpy.array([s for _ in speakers for s in test], dtype=object)
    ndx = sidekit.Ndx(models=models, testsegs=segs)
    tar = numpy.array([[meta[s][0] == m for s in ndx.segset] for m in ndx.modelset])
    key = sidekit.Key.create(ndx.modelset, ndx.segset, tar, ~tar)
    scores = {}

    # UBM
    ubm = sidekit.Mixture()
    with timer.stage("ubm"):
        ubm.EM_split(features_server=server, feature_list=numpy.array(train, dtype=object),
                     distrib_nb=args.components, num_thread=1, ceil_cov=10, floor_cov=1e-2)

    # statistics (train and test), used by MAP enrolment and the TV / i-vectors
    with timer.stage("stats"):
        train_stat = stat_server(train, meta, ubm, server)
        test_stat = stat_server(test, meta, ubm, server)

    # GMM-UBM: MAP of the means (r = 16) from each speaker's summed statistics
    with timer.stage("map_gmm_scoring"):  # gmm_scoring scores in a forked child: its CPU time is not counted
        spk_stat = train_stat.sum_stat_per_model()[0]
        enrol_gmm = spk_stat.adapt_mean_map(ubm, r=args.map_r, norm=False)
        server.keep_all_features = False
        scores["gmm_ubm"] = sidekit.gmm_scoring(ubm, enrol_gmm, ndx, server, num_thread=1)

    # total variability
    stat_file = os.path.join(run_dir, "tmp_train_stat.h5")
    with timer.stage("tv"):
        train_stat.write(stat_file)
        fa = sidekit.FactorAnalyser()
        numpy.random.seed(args.seed)
        fa.total_variability_single(stat_file, ubm, args.rank, nb_iter=args.tv_iters, min_div=True,
                                    tv_init=None, batch_size=300)
    os.remove(stat_file)

    with timer.stage("extract"):
        train_iv = fa.extract_ivectors_single(ubm, copy.deepcopy(train_stat))
        test_iv = fa.extract_ivectors_single(ubm, copy.deepcopy(test_stat))

    with timer.stage("backends"):
        scores.update(backends(train_iv, test_iv, ndx, args, run_dir))

    res = {}
    for name in SYSTEMS:
        sc = scores[name]
        sc.write_txt(os.path.join(run_dir, "scores", "%s%s.txt" % (name, tag)))
        if not numpy.all(numpy.isfinite(sc.scoremat[sc.scoremask])):
            print("  WARNING: %s has non-finite scores" % name)
        res[name] = evaluate(sc, key)
    return res


# ----------------------------------------------------------------------------- main
def main():
    args = ARGS
    t_all = time.perf_counter()
    shows, meta = list_corpus(args.data)
    feat_dir = os.path.join(args.out, "features" if args.compression == "percentile" else "features_none")
    os.makedirs(feat_dir, exist_ok=True)
    print("sidekit %s, numpy %s, scipy %s, h5py %s, python %s" % (
        sidekit.__version__, numpy.__version__, scipy.__version__, h5py.__version__, sys.version.split()[0]))
    print("BLAS threads %d: %s" % (args.threads, BLAS))
    print("data %s: %d files, %d speakers; C=%d R=%d TV iters %d, LDA %d, PLDA rank %d x %d iters, "
          "MAP r=%g, features %s" % (args.data, len(shows), len({m[0] for m in meta.values()}),
                                     args.components, args.rank, args.tv_iters, args.lda_dim,
                                     args.plda_rank, args.plda_iters, args.map_r, args.compression))

    t_feat, n_new = extract_features(shows, args, feat_dir)
    kept, total = vad_fraction(shows, feat_dir)
    print("features: %d extracted in %.2f s (%d reused); SNR VAD keeps %d of %d frames (%.3f %%)"
          % (n_new, t_feat, len(shows) - n_new, kept, total, 100.0 * kept / total))

    if args.folds is not None:
        splits = [(k, list(range(5 * k, 5 * k + 5))) for k in range(args.first_fold, args.folds)]
        run_name = "folds%d_C%d_R%d" % (args.folds, args.components, args.rank)
    else:
        splits = [(None, parse_takes(args.test_takes))]
        run_name = "split%s_C%d_R%d" % (args.test_takes, args.components, args.rank)
    if args.compression != "percentile":
        run_name += "_nocomp"
    if args.cache_features:
        run_name += "_cached"
    run_dir = os.path.join(args.out, run_name)
    os.makedirs(os.path.join(run_dir, "scores"), exist_ok=True)

    rows, trows = [], []
    for k, takes in splits:
        test = [s for s in shows if meta[s][1] in takes]
        train = [s for s in shows if meta[s][1] not in takes]
        timer = Timer()
        t0 = time.perf_counter()
        res = run_split(train, test, meta, args, feat_dir, run_dir, "" if k is None else "_fold%d" % k, timer)
        wall = time.perf_counter() - t0
        label = "split %s" % args.test_takes if k is None else "fold %d (takes %d-%d)" % (k, takes[0], takes[-1])
        print("%s: train %d, test %d; wall (CPU) s: %s; split %.1f" % (
            label, len(train), len(test),
            ", ".join("%s %.1f (%.1f)" % (n, v, timer.cpu[n]) for n, v in timer.t.items()), wall))
        for name in SYSTEMS:
            eer, peer, dcf, nt, nn = res[name]
            print("   %-26s ROCCH-EER %6.2f %%  EER %6.2f %%  minDCF %.3f  (%d tar, %d non)"
                  % (LABELS[name], eer, peer, dcf, nt, nn))
            rows.append({"fold": "" if k is None else k, "system": name, "rocch_eer_pct": "%.4f" % eer,
                         "eer_pct": "%.4f" % peer, "min_dcf": "%.4f" % dcf, "targets": nt, "nontargets": nn})
        trows.append(dict(fold="" if k is None else k, split_s="%.3f" % wall,
                          **{n: "%.3f" % v for n, v in timer.t.items()},
                          **{n + "_cpu": "%.3f" % v for n, v in timer.cpu.items()}))
        sys.stdout.flush()
        write_csv(os.path.join(run_dir, "results.csv"), rows)
        write_csv(os.path.join(run_dir, "times.csv"), trows)

    total_s = time.perf_counter() - t_all
    print()
    print("%s, %d split(s): mean over splits" % (run_name, len(splits)))
    print("| system | ROCCH-EER % | EER % (plain) | minDCF (P_target = 0.01) |")
    print("|---|---|---|---|")
    for name in SYSTEMS:
        r = [x for x in rows if x["system"] == name]
        m = [numpy.mean([float(x[c]) for x in r]) for c in ("rocch_eer_pct", "eer_pct", "min_dcf")]
        sd = numpy.std([float(x["rocch_eer_pct"]) for x in r]) if len(r) > 1 else 0.0
        print("| %s | %.2f | %.2f | %.3f |%s" % (LABELS[name], m[0], m[1], m[2],
                                                 "  (EER sd %.2f)" % sd if len(r) > 1 else ""))
    stages = ("ubm", "stats", "map_gmm_scoring", "tv", "extract", "backends")
    print("times, mean per split, wall (CPU) s, BLAS threads %d: features %.2f (%d files extracted)%s; "
          "whole run %.1f (CPU %.1f, gmm_scoring's child not counted)"
          % (args.threads, t_feat, n_new,
             "".join("; %s %.2f (%.2f)" % (s, numpy.mean([float(t[s]) for t in trows]),
                                          numpy.mean([float(t[s + "_cpu"]) for t in trows])) for s in stages)
             + ("; per split %.1f" % numpy.mean([float(t["split_s"]) for t in trows])),
             total_s, time.process_time()))
    with open(os.path.join(run_dir, "summary.txt"), "a") as f:
        f.write("whole run %.3f s (CPU %.3f), features %.3f s (%d extracted), BLAS threads %d, argv %s\n"
                % (total_s, time.process_time(), t_feat, n_new, args.threads, " ".join(sys.argv[1:])))


def write_csv(path, rows):
    if not rows:
        return
    keys = list(rows[0].keys())
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
