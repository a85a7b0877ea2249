#!/usr/bin/env python3
"""Times SIDEKIT 1.4.3.2's total-variability iteration and i-vector extraction (the reference peer).

    /tmp/venv-sidekit/bin/python scripts/peers/tv_sidekit.py --components 256 --dim 40 \\
        --rank 100 --sessions 1000 --iters 1 --threads 1 --compare
    /tmp/venv-sidekit/bin/python scripts/peers/tv_sidekit.py --load /tmp/tv256 --threads 2 \\
        --out /tmp/tv256/sidekit --h5-dtype float64

(see scripts/peers/README.md for the venv). Times, best of --reps:
  * FactorAnalyser.total_variability_single(stat_file, ubm, R, nb_iter=--iters,
    min_div=True, tv_init=F0, batch_size=300) — SIDEKIT's single-process TV
    training, reading the StatServer HDF5 file (as SIDEKIT users do: the file read,
    per 300-session batch, is part of its iteration; the read alone is timed too);
  * FactorAnalyser.extract_ivectors_single(ubm, stat_server) — SIDEKIT's
    single-process extraction (in-memory StatServer, float64; a fresh copy
    per run because SIDEKIT whitens the server's stat1 in place).
With --compare, tv_numpy.py's iteration and extraction run in the same process
on the same data, and the ratios and the cross-check are printed.

Data: generated (same generator and seed as tv_numpy.py) or --load DIR in the
tv_numpy.py format (ubm.npz, zero.npy, first.npy raw uncentred, t_init.npy in
the feature domain); --write DIR saves it. SIDEKIT works in the whitened
domain: its F = Sigma^-1/2 T, and its E-step centres AND whitens stat1
(stat1 <- (stat1 - N mu) * sqrt(invcov)) on each batch it reads, so the stat
file holds raw stats and F0 = t_init / sqrt(var); T_new = sqrt(var) * F.

The stat file: by default SIDEKIT's own StatServer.write, which stores stat0
and stat1 as float32 (gzip, fletcher32); --h5-dtype float64 writes the same
datasets in float64 with h5py (for a tight cross-check). The generated data are
float32-representable, so both files hold them exactly, but with float32
datasets SIDEKIT centres/whitens the batch in float32.

SIDEKIT imports torch unconditionally (sidekit/iv_scoring.py, and sidekit/nnet
because its SIDEKIT="cuda=false" switch cannot turn CUDA off: the parser only
ever sets cuda=True). Neither is used here, so this script puts stubs in
sys.modules for the duration of `import sidekit` only: an empty `torch`
module (with a dummy Tensor class, for scipy's array-api probes) and an empty
`sidekit.nnet`; scipy is imported first, and the torch stub is removed again.

--out DIR writes t_new.npy (feature domain), ivectors.npy (E[w] under t_init,
from extract_ivectors_single) and objective.txt (tv_numpy's objective of
t_init and of SIDEKIT's t_new).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--components", "-C", type=int, default=256)
    ap.add_argument("--dim", "-D", type=int, default=40)
    ap.add_argument("--rank", "-R", type=int, default=100)
    ap.add_argument("--sessions", "-S", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=1, help="EM iterations per timed TV call (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--load", metavar="DIR")
    ap.add_argument("--write", metavar="DIR")
    ap.add_argument("--out", metavar="DIR")
    ap.add_argument("--h5-dtype", choices=("float32", "float64"), default="float32",
                    help="stat file dtype: float32 = SIDEKIT's StatServer.write (default)")
    ap.add_argument("--batch-size", type=int, default=300, help="SIDEKIT's batch_size (default 300)")
    ap.add_argument("--reps", type=int, default=2, help="timed SIDEKIT runs, best reported (default 2)")
    ap.add_argument("--numpy-reps", type=int, default=3, help="timed tv_numpy runs with --compare")
    ap.add_argument("--no-tv", action="store_true", help="skip the TV iteration")
    ap.add_argument("--no-extract", action="store_true", help="skip the extraction")
    ap.add_argument("--compare", action="store_true",
                    help="also run tv_numpy.py in this process: ratios and cross-check")
    ap.add_argument("--chunk", type=int, default=0, metavar="K",
                    help="also time SIDEKIT's per-session kernels on K-session chunks, --chunk-reps "
                         "times, and extrapolate the best rate to S sessions (filters out other load)")
    ap.add_argument("--chunk-reps", type=int, default=10)
    ap.add_argument("--scipy-threads", type=int, default=None, metavar="N",
                    help="threads of SciPy's own OpenBLAS copy (SIDEKIT's per-session scipy.linalg.inv); "
                         "default: --threads")
    ap.add_argument("--tmp", default=None, help="folder for the HDF5 stat file (default: a temp dir)")
    return ap.parse_args()


ARGS = parse_args()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)  # before NumPy is imported
sys.path.insert(0, HERE)
import tv_numpy  # noqa: E402

import copy  # noqa: E402
import tempfile  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402,F401
import scipy.linalg, scipy.signal, scipy.stats, scipy.fftpack, scipy.ndimage, scipy.io.wavfile  # noqa: E402,E401,F401
import h5py  # noqa: E402


def import_sidekit():
    """import sidekit without torch (see the module docstring)."""
    had_torch = "torch" in sys.modules
    if not had_torch:
        torch = types.ModuleType("torch")
        torch.__doc__ = "stub: SIDEKIT imports torch at top level; unused by the TV code"
        torch.Tensor = type("Tensor", (), {})
        sys.modules["torch"] = torch
    nnet = types.ModuleType("sidekit.nnet")
    for name in ("Xtractor", "xtrain", "extract_embeddings", "ResBlock", "SincNet"):
        setattr(nnet, name, None)
    sys.modules["sidekit.nnet"] = nnet
    import sidekit
    if not had_torch:
        del sys.modules["torch"]
    return sidekit


def make_ubm(sidekit, data):
    ubm = sidekit.Mixture()
    ubm.w = data["weights"].copy()
    ubm.mu = data["means"].copy()
    ubm.invcov = 1.0 / data["variances"]
    ubm.invchol = np.array([])
    ubm.cst = np.zeros_like(ubm.w)
    ubm.det = np.zeros_like(ubm.w)
    ubm._compute_all()
    assert ubm.validate()
    return ubm


def make_statserver(sidekit, data):
    S = data["zero"].shape[0]
    ss = sidekit.StatServer()
    ss.modelset = np.array(["spk%05d" % (i % 100) for i in range(S)], dtype="|O")
    ss.segset = np.array(["seg%06d" % i for i in range(S)], dtype="|O")
    ss.start = np.empty(S, dtype="|O")
    ss.stop = np.empty(S, dtype="|O")
    ss.stat0 = data["zero"].copy()
    ss.stat1 = data["first"].copy()  # raw, uncentred, component-major: SIDEKIT's layout
    assert ss.validate()
    return ss


def write_stat_file(ss, path, dtype):
    if dtype == "float32":
        ss.write(path)  # SIDEKIT's own writer: stat0/stat1 stored as float32
    else:
        with h5py.File(path, "w") as f:
            for name, arr in (("modelset", ss.modelset.astype("S")), ("segset", ss.segset.astype("S")),
                              ("stat0", ss.stat0), ("stat1", ss.stat1),
                              ("start", np.full(ss.start.shape, -1, "int32")),
                              ("stop", np.full(ss.stop.shape, -1, "int32"))):
                f.create_dataset(name, data=arr, maxshape=(None,) + arr.shape[1:],
                                 compression="gzip", fletcher32=True)


CPU = {}


def best(fn, reps, key=None):
    """Best wall time of reps runs (and its result); the best CPU time goes to CPU[key]."""
    t, cpu, out = float("inf"), float("inf"), None
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        r = fn()
        dt = time.perf_counter() - t0
        cpu = min(cpu, time.process_time() - c0)
        if dt < t:
            t, out = dt, r
    if key:
        CPU[key] = cpu
    return t, out


def rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main():
    args = ARGS
    tv_numpy.limit_threads(args.threads)
    if args.scipy_threads is not None:
        from threadpoolctl import threadpool_limits
        tv_numpy._SCIPY_LIMITER = threadpool_limits(limits={"libscipy_openblas": args.scipy_threads})
    sidekit = import_sidekit()
    data = tv_numpy.get_data(args)
    C, D = data["means"].shape
    S = data["zero"].shape[0]
    R = data["t_init"].shape[1]
    sd = np.sqrt(data["variances"]).reshape(C * D, 1)
    F0 = data["t_init"] / sd  # SIDEKIT's whitened-domain start

    print("sidekit %s, numpy %s, scipy %s, h5py %s" % (sidekit.__version__, np.__version__,
                                                       scipy.__version__, h5py.__version__))
    print("BLAS: %s" % tv_numpy.blas_info())
    print("C=%d D=%d R=%d S=%d threads=%d iters=%d stat file %s batch_size=%d"
          % (C, D, R, S, args.threads, args.iters, args.h5_dtype, args.batch_size))

    ubm = make_ubm(sidekit, data)
    ss = make_statserver(sidekit, data)
    res = {}
    tmp = tempfile.mkdtemp(prefix="tv_sidekit_", dir=args.tmp)
    path = os.path.join(tmp, "stats.h5")
    write_stat_file(ss, path, args.h5_dtype)
    fa = sidekit.FactorAnalyser()

    if not args.no_tv:
        def read_all():
            with h5py.File(path, "r") as fh:
                nb = int(np.floor(fh["segset"].shape[0] / float(args.batch_size) + 0.999))
                for idx in np.array_split(np.arange(S), nb):
                    fh["stat0"][idx, :], fh["stat1"][idx, :]
        t_read, _ = best(read_all, 2)

        def tv():
            fa.total_variability_single(path, ubm, R, nb_iter=args.iters, min_div=True,
                                        tv_init=F0.copy(),  # SIDEKIT writes into tv_init
                                        batch_size=args.batch_size)
            return fa.F.copy()
        t_tv, F_new = best(tv, args.reps, "tv")
        res["tv"] = t_tv / args.iters
        T_new = F_new * sd
        print("SIDEKIT total_variability_single: %.3f s per iteration (best of %d; %.3f s of it "
              "is reading the stat file; best CPU time %.3f s)"
              % (res["tv"], args.reps, t_read / args.iters, CPU["tv"] / args.iters))

    if not args.no_extract:
        fa.F = F0.copy()
        fa.mean = np.zeros(C * D)
        fa.Sigma = np.zeros(C * D)

        def ext():
            return fa.extract_ivectors_single(ubm, copy.deepcopy(ss), uncertainty=False).stat1.copy()
        t_ext, iv = best(ext, args.reps, "extract")
        res["extract"] = t_ext
        print("SIDEKIT extract_ivectors_single:  %.3f s (best of %d; best CPU time %.3f s)"
              % (t_ext, args.reps, CPU["extract"]))

    if args.chunk:
        from sidekit.factor_analyser import e_on_batch
        K = args.chunk
        t_e, t_x = float("inf"), float("inf")
        for i in range(args.chunk_reps):
            lo = (i * K) % max(S - K + 1, 1)
            sub = slice(lo, lo + K)
            n0, n1 = data["zero"][sub].copy(), data["first"][sub].copy()
            t0 = time.perf_counter()
            e_on_batch(n0, n1, ubm, F0)  # SIDEKIT's TV E-step on one batch
            t_e = min(t_e, time.perf_counter() - t0)
            small = make_statserver(sidekit, {"zero": data["zero"][sub], "first": data["first"][sub]})
            fa.F = F0.copy()
            t0 = time.perf_counter()
            fa.extract_ivectors_single(ubm, small)
            t_x = min(t_x, time.perf_counter() - t0)
        res["tv_chunk"], res["extract_chunk"] = t_e * S / K, t_x * S / K
        print("SIDEKIT best %d-session chunk of %d, extrapolated to S=%d: TV E-step (e_on_batch) %.3f s, "
              "extract_ivectors_single %.3f s" % (K, args.chunk_reps, S, res["tv_chunk"], res["extract_chunk"]))

    tv = tv_numpy.TV(C, D, R, packed=True)
    Fc, ivar = tv_numpy.centre(data)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        lines = ["0 %.17g" % tv.objective(data["t_init"], ivar, data["zero"], Fc)]
        if not args.no_tv:
            np.save(os.path.join(args.out, "t_new.npy"), T_new)
            lines.append("%d %.17g" % (args.iters, tv.objective(T_new, ivar, data["zero"], Fc)))
        if not args.no_extract:
            np.save(os.path.join(args.out, "ivectors.npy"), iv)
        with open(os.path.join(args.out, "objective.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("wrote", args.out)

    if args.compare:
        nargs = argparse.Namespace(threads=args.threads, iters=args.iters, mindiv="lower", packed="yes",
                                   batch=1000, reps=args.numpy_reps, out=None)
        print("--- tv_numpy.py, same process, same data ---")
        r = tv_numpy.run(nargs, data)
        print("--- ratios (SIDEKIT / NumPy, threads=%d) ---" % args.threads)
        if "tv" in res:
            print("TV iteration:  %.3f s / %.4f s = %.1fx" % (res["tv"], r["iter_s"], res["tv"] / r["iter_s"]))
        if "extract" in res:
            print("extraction:    %.3f s / %.4f s = %.1fx  (E[w] only)" % (res["extract"], r["extract_s"],
                                                                    res["extract"] / r["extract_s"]))
            print("               %.3f s / %.4f s = %.1fx  (E[w] + covariances)"
                  % (res["extract"], r["extract_cov_s"], res["extract"] / r["extract_cov_s"]))
        if args.threads == 1:
            c = r["cpu"]
            if "tv" in res:
                print("CPU-time ratios (less sensitive to other load at 1 thread): TV %.1fx"
                      % (CPU["tv"] / args.iters / c["iter_s"]), end="")
            if "extract" in res:
                print(", extraction %.1fx (E[w] only), %.1fx (with covariances)"
                      % (CPU["extract"] / c["extract_s"], CPU["extract"] / c["extract_cov_s"]), end="")
            print()
        if "tv_chunk" in res:
            print("chunk-extrapolated: TV E-step %.3f s / %.4f s = %.1fx, extraction %.3f s / %.4f s = %.1fx "
                  "(E[w] only)" % (res["tv_chunk"], r["iter_s"], res["tv_chunk"] / r["iter_s"],
                                  res["extract_chunk"], r["extract_s"], res["extract_chunk"] / r["extract_s"]))
        print("25x targets: TV iteration <= %s s, extraction <= %s s"
              % ("%.4f" % (res["tv"] / 25) if "tv" in res else "-",
                 "%.4f" % (res["extract"] / 25) if "extract" in res else "-"))
        print("--- cross-check ---")
        if "extract" in res:
            print("i-vectors under t_init: max|SIDEKIT - NumPy| / max|NumPy| = %.3e" % rel(iv, r["ivectors"]))
        if "tv" in res:
            T = data["t_init"]
            Ts = {}
            for md in ("lower", "sidekit"):
                Tm = T
                for _ in range(args.iters):
                    Tm, _, _ = tv.iteration(Tm, ivar, data["zero"], Fc, md)
                Ts[md] = Tm
            print("T_new: SIDEKIT vs NumPy --mindiv sidekit (upper factor): rel diff %.3e"
                  % rel(T_new, Ts["sidekit"]))
            print("T_new: SIDEKIT vs NumPy --mindiv lower   (lower factor): rel diff %.3e"
                  % rel(T_new, Ts["lower"]))
            o0 = tv.objective(T, ivar, data["zero"], Fc)
            print("objective per session: t_init %.6f, SIDEKIT t_new %.6f, NumPy(lower) t_new %.6f, "
                  "NumPy(sidekit) t_new %.6f" % (o0 / S, tv.objective(T_new, ivar, data["zero"], Fc) / S,
                                                tv.objective(Ts["lower"], ivar, data["zero"], Fc) / S,
                                                tv.objective(Ts["sidekit"], ivar, data["zero"], Fc) / S))
    os.remove(path)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
