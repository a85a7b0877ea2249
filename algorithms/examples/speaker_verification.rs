//! Speaker verification end to end: WAV files → MFCC → UBM → GMM-UBM and
//! i-vector systems → scores → EER, minDCF and a DET plot.
//!
//! ```text
//! # A generated corpus (8 speakers × 10 digits × 12 takes), 3–11 s on 2 cores:
//! cargo run --release -p shardkit-algorithms --example speaker_verification
//!
//! # The Free Spoken Digit Dataset (or any folder of {digit}_{speaker}_{index}.wav):
//! cargo run --release -p shardkit-algorithms --example speaker_verification -- \
//!     --data ../shared/data/fsdd/recordings
//!
//! # The same program on MPI ranks:
//! cargo build --release -p shardkit-algorithms --features mpi --example speaker_verification
//! mpirun -n 2 --bind-to none -x SHARDKIT_THREADS=1 target/release/examples/speaker_verification
//! ```
//!
//! # Protocol files (SIDEKIT / BOSARIS lists)
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --example speaker_verification -- \
//!     --data WAV_DIR --train train.idmap --enrol enrol.idmap --trials trials.ndx [--key trials.key]
//! ```
//!
//! `train.idmap` (`speaker segment` per line) names the segments that train
//! the UBM, T and the back ends, and whose speech they are (for LDA, WCCN
//! and PLDA); `enrol.idmap` (`model segment`) the segments that enrol each
//! model; `trials.ndx` (`model segment`) the trials to score, and
//! `trials.key` (`model segment target|nontarget`) which are targets.
//! Segment `id` is `WAV_DIR/id.wav` (ids may name subfolders). Without a
//! key the scores are written and not evaluated. Lists that cannot run (a
//! trial of a model nobody enrols, a key trial not scored, a segment
//! without a recording) are refused before any work, naming the culprit.
//! The FSDD mode below writes its lists in this form (`--out`/protocol)
//! and runs through the same code: the files it writes, given back, give
//! the same bits.
//!
//! Every run saves its models in `--out` (`ubm.npz`, `ubm-gmm.npz`,
//! `tv.npz`, `backend-cosine.npz`, `backend-lda+wccn-cosine.npz`,
//! `backend-plda.npz`, and `front-end.txt`, the feature settings they were
//! trained on). `--models DIR` scores new trials with them, without a
//! training list and without training anything:
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --example speaker_verification -- \
//!     --data WAV_DIR --models OLD_OUT --enrol enrol.idmap --trials trials.ndx [--key trials.key]
//! ```
//!
//! (the same front-end options as the run that trained them; a mismatch is
//! refused before any work).
//!
//! Features made elsewhere (Kaldi, SIDEKIT, an earlier run's `features/`)
//! replace the WAV files with `--features DIR` (segment `id` is
//! `DIR/id.npy`, float32 frames × columns; `--gmm-features DIR` gives the
//! GMM-UBM system its own): nothing is extracted and no `--data` is
//! needed. Whether such features match `--models` cannot be checked.
//!
//! SIDEKIT's HDF5 feature files are read as they are, when the program is
//! built with the `hdf5` feature (`--features hdf5`; without it, such a
//! file is refused, naming it): `--features DIR` where a segment has no
//! `DIR/id.npy` but a `DIR/id.h5` holding show `id` (what a
//! FeaturesServer with `feature_filename_structure="DIR/{}.h5"` reads),
//! or `--features FILE.h5`, one file holding every show (a structure
//! without `{}`). `--h5-datasets` chooses the datasets (`cep` by default,
//! `fb`, `bnf`, and `energy` as a first column: `energy,cep`), `--h5-vad`
//! keeps only the frames of each show's `vad` labels. The features are
//! used as stored: the Δ, ΔΔ and CMVN that a FeaturesServer may add when
//! it loads them are not applied. Each show is read once into
//! `--out`/features-sidekit/id.npy.
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --features hdf5 --example speaker_verification -- \
//!     --features feat/ --train train.idmap --enrol enrol.idmap --trials trials.ndx --key trials.key \
//!     --h5-datasets energy,cep --h5-vad
//! ```
//!
//! # Settings
//!
//! Every setting of the systems (the whole front end, as the library's
//! `MfccConfig`; UBM size; the GMM-UBM system's Δ window, scoring and
//! MAP, as `MapConfig`; R, TV iterations and seed; LDA dimension and PLDA
//! iterations; the DCF, as `DcfParams`) is written to
//! `--out`/settings.toml by every run. `--config FILE` reads them instead
//! of the options (a file may give only some; the rest take their
//! defaults, an unknown field is an error naming it), so
//! `--config OLD_OUT/settings.toml` repeats a run bit for bit.
//!
//! # Protocol (the FSDD one)
//!
//! Recordings `{digit}_{speaker}_{index}.wav` are split by their index
//! (the take). By default takes 0–4 are test recordings and every other
//! take is training data (`--test-takes 0-4`; `--train-takes` to choose
//! the training takes too, e.g. the development protocol
//! `--test-takes 5-9 --train-takes 10-49`). The training recordings train
//! the UBM, the total-variability matrix and the LDA, WCCN and PLDA back
//! ends, and each speaker is enrolled from their own training recordings;
//! every test recording is tried against every speaker (on FSDD: 300 test
//! files × 6 speakers = 1,800 trials, 300 target and 1,500 non-target).
//!
//! `--folds 10` runs a cross-validation over the takes instead: fold `k`
//! tests the `k`-th block of takes (on FSDD takes `5k..5k+4`) and trains
//! on all the others; the features are extracted once, everything else is
//! trained again for each fold. It prints every fold's ROCCH-EER and
//! minDCF and their means.
//!
//! # Systems
//!
//! - **GMM-UBM**: MAP-adapted speaker GMMs (means, relevance 16), the
//!   frames' log-likelihood ratios over all UBM components (SIDEKIT's
//!   scoring; `--top-n` keeps each frame's best few instead), summed and
//!   divided by the square root of the test segment's frames
//!   (`--llr-scale frame-mean` averages them, as SIDEKIT does; see the
//!   README).
//! - **i-vector cosine**: length-normalised i-vectors, the enrolment
//!   i-vector is the mean of the speaker's training i-vectors.
//! - **i-vector LDA+WCCN cosine**: the same after LDA and WCCN trained on
//!   the training i-vectors.
//! - **i-vector PLDA**: two-covariance PLDA on length-normalised LDA
//!   i-vectors, multi-session enrolment.
//!
//! The front end is [`MfccConfig::new`] (24 mel filters from `--low-hz`
//! to `--high-hz`, default 20 Hz to Nyquist; c1–c13, log-energy, Δ and ΔΔ
//! over ±`--delta-window` frames, default 2; CMVN, `--cmvn`) with two
//! changes: no voice activity detection (every frame is kept, as SIDEKIT's
//! SNR VAD does on FSDD's trimmed clips; `--vad-db 30` turns on the
//! library's energy VAD), and zeros beyond the utterance's edges in the
//! delta regressions, as SIDEKIT's deltas have (`--delta-edges repeat`
//! gives the library's default). The GMM-UBM system reads features of its
//! own, with Δ and ΔΔ over ±3 frames (`--gmm-delta-window`), and trains a
//! UBM of its own on them (`ubm-gmm.npz`); the i-vector systems keep ±2.
//! These choices were made on development splits inside takes 5–49 (see
//! the README), never on the cross-validation.
//!
//! Prints the time of every stage and a table of ROCCH-EER and minDCF
//! (P_target = 0.01), and writes the DET curves as `det.png` and `det.svg`
//! in `--out` (default `target/speaker_verification`), with the run's
//! protocol as SIDEKIT/BOSARIS text files (`protocol/enrol.idmap`,
//! `protocol/trials.ndx`, `protocol/trials.key`) and one score file per
//! system (`scores/gmm-ubm.scores`, …: `model segment score` lines), so
//! that the scores can be handed to other tools. Rank 0 prints,
//! draws the progress bars and writes; every rank computes the same
//! numbers.
//!
//! `--checkpoint DIR` keeps the state of the UBM and total-variability
//! trainings there after every iteration. A run that was killed, started
//! again with the same arguments (on any number of threads or ranks),
//! continues from it and writes the scores of a run never stopped; CI
//! kills the FSDD run with SIGKILL and compares.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use shardkit::Executor;
use shardkit_algorithms::backend::{Backend, Recipe};
use shardkit_algorithms::checkpoint::Checkpoint;
use shardkit_algorithms::features::ReadOptions;
use shardkit_algorithms::frames::{FrameCache, Frames};
use shardkit_algorithms::frontend::{
    extract_features, Cmvn, DeltaEdges, Job, MfccConfig, VadConfig,
};
use shardkit_algorithms::gmm::map::{
    adapt_speakers, score_trials_scaled, LlrScale, MapConfig, Speaker, Trial,
};
use shardkit_algorithms::gmm::ubm::{train_ubm, train_ubm_resumable, EmConfig};
use shardkit_algorithms::gmm::DiagGmm;
use shardkit_algorithms::ivector::{
    baum_welch, extract, train_tv, train_tv_resumable, TvConfig, TvModel, TvParamsError,
};
use shardkit_algorithms::metrics::{DcfParams, DetCurve, DetPlot};
use shardkit_algorithms::protocol::{IdMap, IdMapEntry, Key, Ndx, Scores, TrialKind};
use shardkit_algorithms::provenance;
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::speech;

/// `--delta-edges`: [`DeltaEdges`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Edges {
    Zero,
    Repeat,
}

/// What a settings file without `gmm_ubm.llr_scale` (one written before
/// the field existed) scores by.
fn frame_mean() -> LlrScale {
    LlrScale::FrameMean
}

/// `--llr-scale`: [`LlrScale`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scale {
    FrameMean,
    SqrtFrames,
}

/// `--cmvn`: [`Cmvn`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Normalisation {
    MeanVariance,
    Mean,
    None,
}

/// Every setting of the systems: built from the options, or read from
/// `--config` (TOML); every run writes it to `--out`/settings.toml, so
/// `--config that/settings.toml` repeats the run. Missing fields take the
/// defaults below, unknown ones are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// The i-vector systems' front end (the library's `MfccConfig`).
    front_end: MfccConfig,
    /// The UBM (both systems).
    ubm: UbmSettings,
    /// The GMM-UBM system.
    gmm_ubm: GmmUbmSettings,
    /// The total variability and the i-vectors.
    ivector: IvectorSettings,
    /// The LDA+WCCN and PLDA back ends.
    backend: BackendSettings,
    /// The detection cost function of minDCF (the library's `DcfParams`).
    dcf: DcfParams,
}

/// `[ubm]` of [`Settings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct UbmSettings {
    /// Components (a power of two).
    components: usize,
}

/// `[gmm_ubm]` of [`Settings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GmmUbmSettings {
    /// The Δ and ΔΔ half-width of its own features (the rest of the front
    /// end is the i-vector systems').
    delta_window: usize,
    /// Components per frame in the scoring (none: all of them).
    top_n: Option<usize>,
    /// How a trial's frame log-likelihood ratios make its score (the
    /// library's `LlrScale`: `"frame-mean"` or `"sqrt-frames"`). A file
    /// written before this field existed scored by the frame mean, and
    /// still does.
    #[serde(default = "frame_mean")]
    llr_scale: LlrScale,
    /// MAP adaptation (the library's `MapConfig`).
    map: MapConfig,
}

/// `[ivector]` of [`Settings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct IvectorSettings {
    /// The i-vector dimension R.
    rank: usize,
    /// Total-variability EM iterations.
    tv_iterations: usize,
    /// Seed of the initial T.
    seed: u64,
}

/// `[backend]` of [`Settings`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct BackendSettings {
    /// LDA directions (none: speakers − 1).
    lda_dim: Option<usize>,
    /// PLDA EM iterations.
    plda_iterations: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            front_end: MfccConfig::new().vad(None).delta_edges(DeltaEdges::Zero),
            ubm: UbmSettings::default(),
            gmm_ubm: GmmUbmSettings::default(),
            ivector: IvectorSettings::default(),
            backend: BackendSettings::default(),
            dcf: DcfParams::default(),
        }
    }
}

impl Default for UbmSettings {
    fn default() -> Self {
        UbmSettings { components: 64 }
    }
}

impl Default for GmmUbmSettings {
    fn default() -> Self {
        GmmUbmSettings {
            delta_window: 3,
            top_n: None,
            llr_scale: LlrScale::SqrtFrames,
            map: MapConfig::new(),
        }
    }
}

impl Default for IvectorSettings {
    fn default() -> Self {
        IvectorSettings {
            rank: 100,
            tv_iterations: 10,
            seed: 7,
        }
    }
}

impl Default for BackendSettings {
    fn default() -> Self {
        BackendSettings {
            lda_dim: None,
            plda_iterations: 10,
        }
    }
}

impl Settings {
    /// The settings the options give.
    fn of_args(args: &Args) -> Settings {
        let defaults = Settings::default();
        Settings {
            front_end: defaults
                .front_end
                .low_hz(args.low_hz)
                .high_hz(args.high_hz)
                .delta_window(args.delta_window)
                .delta_edges(match args.delta_edges {
                    Edges::Zero => DeltaEdges::Zero,
                    Edges::Repeat => DeltaEdges::Repeat,
                })
                .vad(args.vad_db.map(|db| VadConfig::new().threshold_db(db)))
                .cmvn(match args.cmvn {
                    Normalisation::MeanVariance => Cmvn::MeanVariance,
                    Normalisation::Mean => Cmvn::Mean,
                    Normalisation::None => Cmvn::None,
                }),
            ubm: UbmSettings {
                components: args.components,
            },
            gmm_ubm: GmmUbmSettings {
                delta_window: args.gmm_delta_window,
                top_n: args.top_n,
                llr_scale: match args.llr_scale {
                    Scale::FrameMean => LlrScale::FrameMean,
                    Scale::SqrtFrames => LlrScale::SqrtFrames,
                },
                map: MapConfig::new(),
            },
            ivector: IvectorSettings {
                rank: args.rank,
                tv_iterations: args.tv_iters,
                seed: args.seed,
            },
            backend: BackendSettings {
                lda_dim: args.lda_dim,
                plda_iterations: 10,
            },
            dcf: DcfParams::default(),
        }
    }

    /// Reads `path` (TOML) and checks what the options' parsers would.
    fn read(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        let settings: Settings =
            toml::from_str(&text).map_err(|e| format!("--config {}: {e}", path.display()))?;
        let bad = |what: String| format!("--config {}: {what}", path.display());
        settings.front_end.check().map_err(|e| bad(e.to_string()))?;
        settings
            .gmm_ubm
            .map
            .check()
            .map_err(|e| bad(e.to_string()))?;
        settings.dcf.validate().map_err(|e| bad(e.to_string()))?;
        let ranges = [
            ("ubm.components", settings.ubm.components, 1 << 16),
            ("gmm_ubm.delta_window", settings.gmm_ubm.delta_window, 100),
            ("ivector.rank", settings.ivector.rank, 4096),
            (
                "ivector.tv_iterations",
                settings.ivector.tv_iterations,
                100_000,
            ),
            (
                "backend.plda_iterations",
                settings.backend.plda_iterations,
                100_000,
            ),
            (
                "gmm_ubm.top_n",
                settings.gmm_ubm.top_n.unwrap_or(1),
                1 << 16,
            ),
            (
                "backend.lda_dim",
                settings.backend.lda_dim.unwrap_or(1),
                4096,
            ),
        ];
        for (name, value, most) in ranges {
            if !(1..=most).contains(&value) {
                return Err(bad(format!(
                    "{name} = {value}: give a whole number from 1 to {most}"
                ))
                .into());
            }
        }
        Ok(settings)
    }

    /// The front end of the GMM-UBM system: the i-vector systems' with its
    /// own Δ window.
    fn gmm_front_end(&self) -> MfccConfig {
        self.front_end
            .clone()
            .delta_window(self.gmm_ubm.delta_window)
    }
}

/// Speaker verification end to end: WAV files → MFCC → UBM → GMM-UBM and
/// i-vector systems (cosine, LDA+WCCN, PLDA) → EER, minDCF and a DET plot.
/// Runs the FSDD protocol (recordings with index 5 and above train, 0–4
/// test against every speaker; --test-takes and --train-takes choose
/// others, --folds a cross-validation) on a generated corpus, or on a
/// folder of {digit}_{speaker}_{index}.wav files with --data. Writes the
/// features, ubm.npz, tv.npz, det.png, det.svg, the protocol (protocol/:
/// IdMap, Ndx, Key) and one score file per system (scores/) in --out. Runs on
/// threads, or on MPI ranks under mpirun (built with the `mpi` feature).
#[derive(Parser, Debug)]
#[command(name = "speaker_verification")]
struct Args {
    /// A folder of `{digit}_{speaker}_{index}.wav` files (e.g.
    /// ../shared/data/fsdd/recordings). Without it, a corpus is generated.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Protocol files instead of file names: the training list (an IdMap,
    /// `speaker segment` per line: the UBM, T and back ends train on these
    /// segments). With --enrol and --trials (or --key); segments are
    /// `{--data}/{segment}.wav`.
    #[arg(long, requires = "enrol", conflicts_with_all = ["folds", "train_takes", "models"])]
    train: Option<PathBuf>,
    /// Protocol files: the enrolment list (an IdMap, `model segment` per
    /// line). Needs --train, or --models; and --data or --features.
    #[arg(long)]
    enrol: Option<PathBuf>,
    /// Protocol files: the trials to score (an Ndx, `model segment` per
    /// line) [default: the key's trials].
    #[arg(long, requires = "enrol")]
    trials: Option<PathBuf>,
    /// Protocol files: the key (`model segment target|nontarget` per line);
    /// with it the EER, minDCF and DET plot are computed.
    #[arg(long, requires = "enrol")]
    key: Option<PathBuf>,
    /// Score with the models an earlier run wrote in this folder (its
    /// --out: ubm.npz, ubm-gmm.npz, tv.npz, backend-*.npz, front-end.txt)
    /// instead of training them: enrol the --enrol list and score the
    /// trials, with no training list. The front-end settings must be those
    /// the models were trained with.
    #[arg(long, requires = "enrol", conflicts_with_all = ["folds", "train"])]
    models: Option<PathBuf>,
    /// Protocol files: read segment `id`'s features from `DIR/id.npy`
    /// (frames × columns, float32, e.g. converted from Kaldi) or, where
    /// there is none, from show `id` of SIDEKIT's `DIR/id.h5`; or from show
    /// `id` of one SIDEKIT HDF5 feature file `DIR` (built with the `hdf5`
    /// feature); instead of extracting them from WAV files (no --data
    /// needed). The GMM-UBM system reads them too, unless --gmm-features
    /// names its own.
    #[arg(long, value_name = "DIR", requires = "enrol", conflicts_with_all = ["low_hz", "high_hz", "vad_db", "delta_window", "gmm_delta_window", "delta_edges", "cmvn"])]
    features: Option<PathBuf>,
    /// With --features: the GMM-UBM system's own features, `DIR/id.npy`
    /// (or SIDEKIT HDF5 files, as for --features).
    #[arg(long, value_name = "DIR", requires = "features")]
    gmm_features: Option<PathBuf>,
    /// With --features naming SIDEKIT HDF5 files: the datasets read, as
    /// SIDEKIT's `dataset_list`: `cep`, `fb` or `bnf`, and `energy` if
    /// listed (`energy,cep`: the energy is then the first column, as
    /// SIDEKIT stacks them)
    /// [default: cep].
    #[arg(long, value_name = "LIST", requires = "features", value_parser = parse_h5_datasets)]
    h5_datasets: Option<H5Datasets>,
    /// With --features naming SIDEKIT HDF5 files: keep only the frames
    /// that each show's `vad` dataset marks as speech (SIDEKIT's
    /// `keep_all_features=False`) [default: every frame].
    #[arg(long, requires = "features")]
    h5_vad: bool,
    /// Every setting of the systems from this TOML file instead of the
    /// options below (an earlier run's --out/settings.toml repeats it;
    /// fields it lacks take their defaults).
    #[arg(long, conflicts_with_all = ["low_hz", "high_hz", "vad_db", "delta_window", "gmm_delta_window", "delta_edges", "cmvn", "top_n", "llr_scale", "lda_dim", "components", "rank", "tv_iters"])]
    config: Option<PathBuf>,
    /// Where the features, models, scores and plots go.
    #[arg(long, default_value = "target/speaker_verification")]
    out: PathBuf,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// The takes (file indices) that test, as ranges and numbers: `0-4`,
    /// `5-9,12`.
    #[arg(long, default_value = "0-4", value_parser = parse_takes)]
    test_takes: Takes,
    /// The takes that train (a take that also tests only tests) [default:
    /// every take that does not test].
    #[arg(long, value_parser = parse_takes)]
    train_takes: Option<Takes>,
    /// Cross-validation over the takes in this many folds instead (fold k
    /// tests the k-th block of takes and trains on the others); overrides
    /// --test-takes and --train-takes.
    #[arg(long, value_parser = cli::count(2, 1000))]
    folds: Option<usize>,
    /// Keep checkpoints of the UBM and total-variability trainings in this
    /// folder (`ubm.ckpt.npz`, `ubm-gmm.ckpt.npz`, `tv.ckpt.npz`; with
    /// --folds, one sub-folder per fold) after every iteration; a run
    /// killed and started again with the same arguments continues from
    /// them, on any number of threads or ranks, and writes the scores of a
    /// run never stopped. Checkpoints of other data or settings are
    /// refused.
    #[arg(long, value_name = "DIR", conflicts_with = "models")]
    checkpoint: Option<PathBuf>,
    /// Keep up to this much of the UBM's training features in memory after
    /// their first read, so that each EM iteration reads memory (e.g. 8G;
    /// 0: read the files in every iteration) [default: a quarter of this
    /// machine's memory; per rank under MPI].
    #[arg(long, value_parser = cli::bytes())]
    memory: Option<usize>,
    /// Lower edge of the mel filterbank, Hz.
    #[arg(long, default_value_t = 20.0)]
    low_hz: f64,
    /// Upper edge of the mel filterbank, Hz [default: the Nyquist frequency].
    #[arg(long)]
    high_hz: Option<f64>,
    /// Energy-based voice activity detection: keep the frames within this
    /// many dB of the utterance's loudest (the library's default is 30)
    /// [default: none, every frame kept].
    #[arg(long)]
    vad_db: Option<f64>,
    /// Half-width of the Δ and ΔΔ regressions of the i-vector systems'
    /// features, frames.
    #[arg(long, default_value_t = 2, value_parser = cli::count(1, 100))]
    delta_window: usize,
    /// Half-width of the Δ and ΔΔ regressions of the GMM-UBM system's
    /// features (its own features and UBM when it differs from
    /// --delta-window).
    #[arg(long, default_value_t = 3, value_parser = cli::count(1, 100))]
    gmm_delta_window: usize,
    /// What the Δ and ΔΔ regressions read beyond an utterance's first and
    /// last frames: `zero` (SIDEKIT) or `repeat` (the edge frames, HTK and
    /// Kaldi; the library's default).
    #[arg(long, value_enum, default_value_t = Edges::Zero)]
    delta_edges: Edges,
    /// Per-utterance normalisation of the features: `mean-variance`,
    /// `mean`, or `none` (see the README: on FSDD, where each speaker has
    /// a microphone of their own, `none` lets the systems use the channel).
    #[arg(long, value_enum, default_value_t = Normalisation::MeanVariance)]
    cmvn: Normalisation,
    /// GMM-UBM scoring: the UBM components per frame the log-likelihood
    /// ratio sums over, the frame's best by the UBM (Reynolds' fast
    /// scoring; SIDEKIT's fast scoring uses 10) [default: all of them, a
    /// full log-sum-exp as SIDEKIT's GMM-UBM scoring].
    #[arg(long, value_parser = cli::count(1, 1 << 16))]
    top_n: Option<usize>,
    /// GMM-UBM scoring: a trial's score from its frames' log-likelihood
    /// ratios: `sqrt-frames`, their sum over the square root of the test
    /// segment's frames (the average × √frames, so that short and long
    /// test segments have non-target scores of one spread; chosen on
    /// development splits, see the README), or `frame-mean`, their average
    /// (SIDEKIT's).
    #[arg(long, value_enum, default_value_t = Scale::SqrtFrames)]
    llr_scale: Scale,
    /// LDA directions of the LDA+WCCN and PLDA back ends [default: speakers
    /// − 1].
    #[arg(long, value_parser = cli::count(1, 4096))]
    lda_dim: Option<usize>,
    /// UBM components (a power of two).
    #[arg(long, default_value_t = 64, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// I-vector dimension.
    #[arg(long, default_value_t = 100, value_parser = cli::count(1, 4096))]
    rank: usize,
    /// Total-variability EM iterations.
    #[arg(long, default_value_t = 10, value_parser = cli::count(1, 100_000))]
    tv_iters: usize,
    /// Generated corpus: speakers.
    #[arg(long, default_value_t = 8, value_parser = cli::count(2, 1000))]
    speakers: usize,
    /// Generated corpus: takes per digit and speaker (0–4 test, the rest
    /// training).
    #[arg(long, default_value_t = 12, value_parser = cli::count(6, 1000))]
    takes: usize,
    /// Seed of the generated corpus and of the initial T.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// `--h5-datasets`: what is read of each show of a SIDEKIT HDF5 feature
/// file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct H5Datasets {
    /// `cep`, `fb` or `bnf`.
    stream: &'static str,
    /// `energy` too, as the first column.
    energy: bool,
}

fn parse_h5_datasets(s: &str) -> std::result::Result<H5Datasets, String> {
    let mut read = H5Datasets {
        stream: "",
        energy: false,
    };
    for name in s.split(',').map(str::trim) {
        match name {
            "energy" if !read.energy => read.energy = true,
            "cep" | "fb" | "bnf" if read.stream.is_empty() => {
                read.stream = ["cep", "fb", "bnf"]
                    .into_iter()
                    .find(|n| *n == name)
                    .unwrap_or("cep");
            }
            _ => {
                return Err(format!(
                    "`{name}`: expected one of cep, fb, bnf, after energy if wanted (e.g. `energy,cep`), each once"
                ))
            }
        }
    }
    if read.stream.is_empty() {
        return Err("name one of cep, fb, bnf (e.g. `cep` or `energy,cep`)".into());
    }
    Ok(read)
}

/// A set of takes: ranges of file indices.
#[derive(Debug, Clone, PartialEq)]
struct Takes(Vec<RangeInclusive<u32>>);

impl Takes {
    fn contains(&self, take: u32) -> bool {
        self.0.iter().any(|r| r.contains(&take))
    }
}

impl std::fmt::Display for Takes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

/// Parses `0-4,7,10-49`.
fn parse_takes(s: &str) -> std::result::Result<Takes, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{t}` is not a take number (expected e.g. 0-4,7)"))
    };
    let ranges = s
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!("`{part}`: the range is empty"));
                }
                Ok(a..=b)
            }
            None => number(part).map(|a| a..=a),
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok(Takes(ranges))
}

/// A recording of the corpus.
#[derive(Debug, Clone)]
struct Recording {
    wav: PathBuf,
    speaker: usize,
    /// The file's index.
    take: u32,
}

impl Recording {
    /// The recording's segment id in protocol and score files: its file
    /// name without `.wav`.
    fn id(&self) -> String {
        self.wav
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    }
}

/// Which recordings train and which test (indices into the recordings,
/// in name order).
struct Protocol {
    test_takes: Takes,
    train: Vec<usize>,
    test: Vec<usize>,
}

impl Protocol {
    /// Test on `test_takes`, train on `train_takes` (default: every other
    /// take). Every speaker needs training and test recordings.
    fn new(
        recordings: &[Recording],
        speakers: &[String],
        test_takes: &Takes,
        train_takes: Option<&Takes>,
    ) -> Result<Protocol> {
        let is_train = |take: u32| match train_takes {
            Some(t) => t.contains(take),
            None => !test_takes.contains(take),
        };
        let rows = |keep: &dyn Fn(u32) -> bool| -> Vec<usize> {
            (0..recordings.len())
                .filter(|&i| keep(recordings[i].take))
                .collect()
        };
        let test = rows(&|take| test_takes.contains(take));
        let train = rows(&|take| is_train(take) && !test_takes.contains(take));
        for (k, name) in speakers.iter().enumerate() {
            let has = |rows: &[usize]| rows.iter().any(|&i| recordings[i].speaker == k);
            if !has(&train) || !has(&test) {
                return Err(format!(
                    "speaker {name} needs training and test recordings (test takes {test_takes})"
                )
                .into());
            }
        }
        Ok(Protocol {
            test_takes: test_takes.clone(),
            train,
            test,
        })
    }

    /// Cross-validation over the takes in `folds` folds: fold `k` tests
    /// the `k`-th block of `⌈takes / folds⌉` takes (on FSDD's 50 takes in
    /// 10 folds: `5k..5k+4`) and trains on every other take.
    fn folds(recordings: &[Recording], speakers: &[String], folds: usize) -> Result<Vec<Protocol>> {
        let takes = 1 + recordings.iter().map(|r| r.take).max().unwrap_or(0);
        let width = takes.div_ceil(folds as u32);
        if (folds as u32 - 1) * width >= takes {
            return Err(format!("{folds} folds: more than the {takes} takes allow").into());
        }
        (0..folds as u32)
            .map(|k| {
                let block = Takes(vec![k * width..=((k + 1) * width - 1).min(takes - 1)]);
                Protocol::new(recordings, speakers, &block, None)
            })
            .collect()
    }
}

/// Prints on rank 0 only.
macro_rules! say {
    ($($t:tt)*) => {
        if shardkit::is_root() {
            println!($($t)*);
        }
    };
}

fn main() -> ExitCode {
    let args = Args::parse();
    let exec = match Executor::from_env_with_threads(args.threads) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("speaker_verification: {e}");
            return ExitCode::FAILURE;
        }
    };
    match exec.install(|| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if shardkit::is_root() {
                eprintln!("speaker_verification: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Times a stage and prints its line (unless quiet).
struct Stages {
    started: Instant,
    quiet: bool,
}

impl Stages {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let out = f()?;
        if !self.quiet {
            say!("  {name:<42} {:8.2} s", t.elapsed().as_secs_f64());
        }
        Ok(out)
    }
}

fn run(args: &Args) -> Result<()> {
    let mut stages = Stages {
        started: Instant::now(),
        quiet: false,
    };
    say!(
        "speaker verification on {}",
        Layout::of(&Executor::current())
    );
    let settings = match &args.config {
        Some(path) => Settings::read(path)?,
        None => Settings::of_args(args),
    };
    // A total-variability rank the UBM cannot support is refused before any
    // work (with given features their width is known only once read).
    let (components, dim) = (settings.ubm.components, settings.front_end.dim());
    if args.features.is_none() && args.models.is_none() && settings.ivector.rank > components * dim
    {
        return Err(TvParamsError::RankAboveSupervector {
            rank: settings.ivector.rank,
            supervector: components * dim,
            components,
            dim,
        }
        .into());
    }
    // The output folder is made, checked and locked before any work, so
    // that an impossible --out fails now and two runs never mix their files.
    cli::create_dir(&args.out)?;
    let _claim = shardkit::claim_output(&args.out)?;
    if args.enrol.is_some() && args.data.is_none() && args.features.is_none() {
        return Err("--enrol needs the recordings (--data) or their features (--features)".into());
    }
    let wav_dir = match (&args.data, &args.features) {
        (Some(dir), _) => dir.clone(),
        // Unused: the features are given.
        (None, Some(_)) => PathBuf::new(),
        (None, None) => {
            let dir = args.out.join("wav");
            stages.run("generate the corpus", || {
                // Every rank writes the same bytes (each file atomically).
                speech::write_corpus(&dir, args.speakers, args.takes, args.seed)?;
                Ok(())
            })?;
            dir
        }
    };
    let feature_dir = match &args.features {
        Some(dir) => dir.clone(),
        None => {
            let dir = args.out.join("features");
            cli::create_dir(&dir)?;
            dir
        }
    };
    // The lists: given as files, or made from the file names' takes (one
    // split, or one per fold).
    let (lists, folds) = match &args.train {
        _ if args.enrol.is_some() => {
            let enrol = args.enrol.as_deref().expect("checked");
            if args.train.is_none() && args.models.is_none() {
                return Err("--enrol needs --train (the training list) or --models (a folder of trained models)".into());
            }
            let lists = Lists::read(
                args.train.as_deref(),
                enrol,
                args.trials.as_deref(),
                args.key.as_deref(),
            )?;
            say!(
                "protocol: {} training segments, {} enrolment segments of {} models, {} trials{}",
                lists.train.len(),
                lists.enrol.len(),
                lists
                    .enrol
                    .left_ids()
                    .into_iter()
                    .collect::<BTreeSet<_>>()
                    .len(),
                lists.trials.len(),
                if lists.key.is_some() {
                    ", with a key"
                } else {
                    ""
                }
            );
            (vec![lists], None)
        }
        _ => {
            let (recordings, speakers) = scan(&wav_dir)?;
            say!(
                "{} recordings of {} speakers in {}",
                recordings.len(),
                speakers.len(),
                wav_dir.display()
            );
            let protocols = match args.folds {
                None => vec![Protocol::new(
                    &recordings,
                    &speakers,
                    &args.test_takes,
                    args.train_takes.as_ref(),
                )?],
                Some(folds) => Protocol::folds(&recordings, &speakers, folds)?,
            };
            let lists = protocols
                .iter()
                .map(|p| Lists::of_takes(&recordings, &speakers, p))
                .collect::<Result<Vec<_>>>()?;
            let folds = args.folds.map(|_| {
                protocols
                    .iter()
                    .map(|p| p.test_takes.clone())
                    .collect::<Vec<_>>()
            });
            (lists, folds)
        }
    };

    // Features, once for every segment the lists name: they do not depend
    // on the split. Missing recordings are named before any work. The
    // GMM-UBM system has features of its own when its Δ window differs.
    let given = args.features.is_some();
    let corpus = |config: MfccConfig, feature_dir: PathBuf| Corpus {
        wav_dir: wav_dir.clone(),
        options: if given {
            // Whatever width the files have (the UBM takes the first's).
            ReadOptions::new()
        } else {
            ReadOptions::new().expect_dim(config.dim())
        },
        feature_dir,
        config,
        given,
        sidekit: None,
    };
    let ivector = corpus(settings.front_end.clone(), feature_dir);
    let gmm = match &args.gmm_features {
        Some(dir) => Some(corpus(settings.gmm_front_end(), dir.clone())),
        None if given => None,
        None => (settings.gmm_front_end() != settings.front_end)
            .then(|| corpus(settings.gmm_front_end(), args.out.join("features-gmm"))),
    };
    let mut corpora = Corpora { ivector, gmm };
    // The front end the models are trained on is recorded beside them, and
    // models given with --models must have been trained on this one.
    let front_end = corpora
        .all()
        .map(|c| match c.given {
            true => format!("features read from {}\n", c.feature_dir.display()),
            false => format!("{:?}\n", c.config),
        })
        .collect::<String>();
    // (Features given with --features cannot be checked against them.)
    if let Some(dir) = args.models.as_ref().filter(|_| !given) {
        let record = dir.join("front-end.txt");
        let theirs = std::fs::read_to_string(&record).map_err(|e| {
            format!(
                "--models {}: cannot read {}: {e}",
                dir.display(),
                record.display()
            )
        })?;
        if theirs != front_end {
            return Err(format!(
                "--models {}: those models were trained on features made with other settings ({}) than this run's; give the front-end settings of that run (its settings.toml to --config, or the same options)",
                dir.display(),
                record.display()
            )
            .into());
        }
    }

    let segments: BTreeSet<String> = lists.iter().flat_map(Lists::segments).collect();
    if given {
        // Given features: `.npy` files, or shows of SIDEKIT HDF5 files;
        // missing ones are named before any work.
        let ivector = std::iter::once((&mut corpora.ivector, "features-sidekit"));
        let gmm = corpora.gmm.as_mut().map(|c| (c, "features-sidekit-gmm"));
        for (corpus, cache) in ivector.chain(gmm) {
            let cache = args.out.join(cache);
            corpus.sidekit = given_features(&corpus.feature_dir, &segments, &cache)?;
        }
    } else {
        let missing: Vec<&String> = segments
            .iter()
            .filter(|id| !corpora.ivector.wav(id).is_file())
            .collect();
        if let Some(first) = missing.first() {
            return Err(format!(
                "{} of the {} segments the lists name have no recording, e.g. {} (looked for {})",
                missing.len(),
                segments.len(),
                first,
                corpora.ivector.wav(first).display()
            )
            .into());
        }
    }
    let corpora = corpora;
    let source = |id: &str| match given {
        true => corpora.ivector.npy(id),
        false => corpora.ivector.wav(id),
    };
    for corpus in corpora.all().filter(|c| !c.given) {
        stages.run(&format!("MFCC ({})", corpus.config), || {
            features(corpus, &segments, &corpus.config)
        })?;
    }
    for corpus in corpora.all() {
        if let Some(sidekit) = &corpus.sidekit {
            stages.run(
                &format!("SIDEKIT HDF5 features ({} shows)", sidekit.shows.len()),
                || sidekit.convert(args),
            )?;
        }
    }
    // Every model and score file says what made it: these settings, and
    // the contents of the recordings (or given features) and of the models
    // given with --models; not the paths, threads or ranks.
    let settings_text = toml::to_string(&settings).map_err(|e| format!("settings: {e}"))?;
    stages.run("fingerprint of the inputs", || {
        let sources: Vec<PathBuf> = segments.iter().map(|id| source(id)).collect();
        let mut inputs = provenance::fingerprint_files(&sources)?;
        if let Some(dir) = &args.models {
            let mut models: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("--models {}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "npz"))
                .collect();
            models.sort();
            inputs += &format!("; models {}", provenance::fingerprint_files(&models)?);
        }
        provenance::record_run(settings_text.clone(), inputs);
        Ok(())
    })?;
    if shardkit::is_root() {
        shardkit::write_atomic(args.out.join("settings.toml"), |w| {
            w.write_all(settings_text.as_bytes())
        })?;
    }

    match folds {
        None => {
            let lists = &lists[0];
            if shardkit::is_root() && args.models.is_none() {
                shardkit::write_atomic(args.out.join("front-end.txt"), |w| {
                    w.write_all(front_end.as_bytes())
                })?;
            }
            say!(
                "{} training segments, {} test segments; {} trials",
                lists.train.len(),
                lists.trials.segments().len(),
                lists.trials.len()
            );
            if shardkit::is_root() {
                lists.write(&args.out.join("protocol"))?;
            }
            let checkpoints = checkpoint_dir(args, None)?;
            let systems = evaluate(
                args,
                &settings,
                lists,
                &corpora,
                &mut stages,
                Some(&args.out),
                checkpoints.as_deref(),
            )?;
            match &lists.key {
                Some(key) => report(args, &settings.dcf, key, &systems, &mut stages)?,
                None => say!("no key: wrote the scores, without evaluating them"),
            }
            say!(
                "wrote the protocol to {} and the scores to {}",
                args.out.join("protocol").display(),
                args.out.join("scores").display()
            );
        }
        Some(takes) => {
            say!("{}-fold cross-validation over the takes", lists.len());
            stages.quiet = true;
            let mut results = Vec::with_capacity(lists.len());
            for (k, (fold, takes)) in lists.iter().zip(&takes).enumerate() {
                let t = Instant::now();
                let checkpoints = checkpoint_dir(args, Some(k))?;
                results.push(evaluate(
                    args,
                    &settings,
                    fold,
                    &corpora,
                    &mut stages,
                    None,
                    checkpoints.as_deref(),
                )?);
                say!(
                    "  fold {k}: test takes {takes}, {} trials, {:.1} s",
                    fold.trials.len(),
                    t.elapsed().as_secs_f64()
                );
            }
            report_folds(&args.out, &settings.dcf, &results)?;
        }
    }
    say!("total {:.1} s", stages.started.elapsed().as_secs_f64());
    Ok(())
}

/// The folder of --checkpoint (of fold `fold`: `fold{k}` inside it),
/// made if missing.
fn checkpoint_dir(args: &Args, fold: Option<usize>) -> Result<Option<PathBuf>> {
    let Some(dir) = &args.checkpoint else {
        return Ok(None);
    };
    let dir = match fold {
        Some(k) => dir.join(format!("fold{k}")),
        None => dir.clone(),
    };
    cli::create_dir(&dir)?;
    Ok(Some(dir))
}

/// Extracts the features of `segments` into `corpus` with `config`,
/// keeping those that an earlier run extracted with the same settings from
/// the same recordings. The settings are recorded beside the features
/// (`mfcc-settings.txt`) once every file is written; a feature file is kept
/// when the record holds these settings, the file is newer than its WAV and
/// not newer than the record (a newer one was written by a run that did
/// not finish, perhaps with other settings).
fn features(corpus: &Corpus, segments: &BTreeSet<String>, config: &MfccConfig) -> Result<()> {
    let settings = format!("{config:?}\n");
    let record = corpus.feature_dir.join("mfcc-settings.txt");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let recorded = std::fs::read_to_string(&record)
        .ok()
        .filter(|s| *s == settings)
        .and_then(|_| modified(&record));
    let fresh = |id: &str| match (
        recorded,
        modified(&corpus.npy(id)),
        modified(&corpus.wav(id)),
    ) {
        (Some(record), Some(npy), Some(wav)) => wav <= npy && npy <= record,
        _ => false,
    };
    let jobs: Vec<Job> = segments
        .iter()
        .filter(|id| !fresh(id))
        .map(|id| Job {
            wav: corpus.wav(id),
            npy: corpus.npy(id),
        })
        .collect();
    if jobs.len() < segments.len() {
        say!(
            "  (kept {} feature files extracted earlier with these settings)",
            segments.len() - jobs.len()
        );
    }
    // Segment ids may name subfolders.
    let folders: BTreeSet<&Path> = jobs.iter().filter_map(|j| j.npy.parent()).collect();
    for folder in folders {
        cli::create_dir(folder)?;
    }
    let bar = shardkit::progress(jobs.len() as u64, "features");
    for chunk in jobs.chunks(64) {
        extract_features(chunk, config, false)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if shardkit::is_root() && !jobs.is_empty() {
        shardkit::write_atomic(&record, |w| w.write_all(settings.as_bytes()))?;
    }
    Ok(())
}

/// Where a segment's files are: `{wav_dir}/{id}.wav`, and its features
/// `{feature_dir}/{id}.npy` (an id may name subfolders, as VoxCeleb's do).
struct Corpus {
    wav_dir: PathBuf,
    feature_dir: PathBuf,
    options: ReadOptions,
    /// The front end that makes the features.
    config: MfccConfig,
    /// The features were given (--features): none are extracted.
    given: bool,
    /// Given segments read from SIDEKIT HDF5 files.
    sidekit: Option<SidekitInput>,
}

/// The given segments that are shows of SIDEKIT HDF5 feature files: each
/// is read once (`--h5-datasets`, `--h5-vad`) into `cache/id.npy`, which
/// the passes then read as any `.npy` feature file. (Every rank writes the
/// same bytes, each file atomically.)
struct SidekitInput {
    /// `--out`/features-sidekit (or features-sidekit-gmm).
    cache: PathBuf,
    /// Segment id → the HDF5 file holding it as a show.
    shows: BTreeMap<String, PathBuf>,
}

/// Where the given features of `segments` are: in folder `given`,
/// segment `id` is `given/id.npy`, or else `given/id.h5`, a SIDEKIT feature
/// file holding show `id` (FeaturesServer's
/// `feature_filename_structure="given/{}.h5"`); a file `given` is one
/// SIDEKIT feature file holding every show (a structure without `{}`).
/// Segments with neither, and shows a single file lacks, are refused here,
/// before any work, naming the first.
fn given_features(
    given: &Path,
    segments: &BTreeSet<String>,
    cache: &Path,
) -> Result<Option<SidekitInput>> {
    let mut shows = BTreeMap::new();
    if given.is_file() {
        let held = sidekit_shows(given)?;
        let missing: Vec<&String> = segments.iter().filter(|id| !held.contains(*id)).collect();
        if let Some(first) = missing.first() {
            return Err(format!(
                "--features {}: {} of the {} segments the lists name are not shows of this SIDEKIT feature file, e.g. {} (it holds {} shows)",
                given.display(),
                missing.len(),
                segments.len(),
                first,
                held.len()
            )
            .into());
        }
        shows.extend(segments.iter().map(|id| (id.clone(), given.to_path_buf())));
    } else {
        let mut missing = Vec::new();
        for id in segments {
            let h5 = given.join(format!("{id}.h5"));
            if given.join(format!("{id}.npy")).is_file() {
                continue;
            } else if h5.is_file() {
                shows.insert(id.clone(), h5);
            } else {
                missing.push(id);
            }
        }
        if let Some(first) = missing.first() {
            return Err(format!(
                "{} of the {} segments the lists name have no feature file, e.g. {} (looked for {} and {})",
                missing.len(),
                segments.len(),
                first,
                given.join(format!("{first}.npy")).display(),
                given.join(format!("{first}.h5")).display()
            )
            .into());
        }
        if let Some(file) = shows.values().next() {
            sidekit_available(file)?;
        }
    }
    Ok((!shows.is_empty()).then(|| SidekitInput {
        cache: cache.to_path_buf(),
        shows,
    }))
}

/// The shows of a SIDEKIT HDF5 feature file.
#[cfg(feature = "hdf5")]
fn sidekit_shows(file: &Path) -> Result<BTreeSet<String>> {
    let shows = shardkit_algorithms::features::sidekit_h5_shows(file)?;
    Ok(shows.into_iter().collect())
}

#[cfg(not(feature = "hdf5"))]
fn sidekit_shows(file: &Path) -> Result<BTreeSet<String>> {
    sidekit_available(file).map(|()| BTreeSet::new())
}

/// Whether SIDEKIT HDF5 feature files can be read: this program must be
/// built with the `hdf5` feature.
fn sidekit_available(file: &Path) -> Result<()> {
    if cfg!(feature = "hdf5") {
        return Ok(());
    }
    Err(format!(
        "--features: {} is read as a SIDEKIT HDF5 feature file, but this program was built without HDF5 support: rebuild it with `--features hdf5` (cargo run --release -p shardkit-algorithms --features hdf5 --example speaker_verification -- ...; it needs the system's libhdf5, e.g. libhdf5-dev)",
        file.display()
    )
    .into())
}

impl SidekitInput {
    /// Reads every show into `cache/id.npy`.
    #[cfg(feature = "hdf5")]
    fn convert(&self, args: &Args) -> Result<()> {
        use shardkit_algorithms::features::{
            read_sidekit_h5, write_npy, SidekitRead, SidekitStream,
        };
        let datasets = args.h5_datasets.unwrap_or(H5Datasets {
            stream: "cep",
            energy: false,
        });
        let stream = match datasets.stream {
            "fb" => SidekitStream::Fb,
            "bnf" => SidekitStream::Bnf,
            _ => SidekitStream::Cep,
        };
        let read = SidekitRead::new()
            .stream(stream)
            .with_energy(datasets.energy)
            .vad_only(args.h5_vad);
        let bar = shardkit::progress(self.shows.len() as u64, "SIDEKIT features");
        for (id, file) in &self.shows {
            let frames = read_sidekit_h5(file, id, &read)?;
            let npy = self.npy(id);
            if let Some(folder) = npy.parent() {
                cli::create_dir(folder)?;
            }
            write_npy(&npy, &frames)?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(())
    }

    #[cfg(not(feature = "hdf5"))]
    fn convert(&self, _args: &Args) -> Result<()> {
        match self.shows.values().next() {
            Some(file) => sidekit_available(file),
            None => Ok(()),
        }
    }

    fn npy(&self, id: &str) -> PathBuf {
        self.cache.join(format!("{id}.npy"))
    }
}

/// The features of the i-vector systems, and the GMM-UBM system's where
/// they differ.
struct Corpora {
    ivector: Corpus,
    gmm: Option<Corpus>,
}

impl Corpora {
    fn all(&self) -> impl Iterator<Item = &Corpus> {
        std::iter::once(&self.ivector).chain(&self.gmm)
    }
}

impl Corpus {
    fn wav(&self, id: &str) -> PathBuf {
        self.wav_dir.join(format!("{id}.wav"))
    }

    fn npy(&self, id: &str) -> PathBuf {
        match &self.sidekit {
            Some(sidekit) if sidekit.shows.contains_key(id) => sidekit.npy(id),
            _ => self.feature_dir.join(format!("{id}.npy")),
        }
    }

    fn frames<'a>(&self, files: &'a [PathBuf]) -> Frames<'a> {
        Frames::files(files).options(self.options)
    }
}

/// An evaluation as lists, the way SIDEKIT, BOSARIS and NIST describe one:
/// which segments train (and whose speech they are), which segments enrol
/// each model, which trials to score and, when known, which are targets.
/// Segments and models are identifiers; a [`Corpus`] finds their files.
struct Lists {
    /// Speaker ↔ segment: the UBM, T and the back ends train on these
    /// segments; LDA, WCCN and PLDA learn the speakers from the left ids.
    train: IdMap,
    /// Model ↔ segment: each model is enrolled from its segments.
    enrol: IdMap,
    /// The trials to score.
    trials: Ndx,
    /// Targets and non-targets.
    key: Option<Key>,
}

impl Lists {
    /// The lists of the takes protocol: training recordings train and
    /// enrol their speakers; every test recording is tried against every
    /// speaker.
    fn of_takes(
        recordings: &[Recording],
        speakers: &[String],
        protocol: &Protocol,
    ) -> Result<Lists> {
        let entries = |rows: &[usize]| -> Vec<IdMapEntry> {
            rows.iter()
                .map(|&i| IdMapEntry {
                    left: speakers[recordings[i].speaker].clone(),
                    right: recordings[i].id(),
                    span: None,
                })
                .collect()
        };
        let train = IdMap::new(entries(&protocol.train))?;
        let key = Key::from_trials(protocol.test.iter().flat_map(|&i| {
            let r = &recordings[i];
            speakers.iter().enumerate().map(move |(k, name)| {
                let kind = if k == r.speaker {
                    TrialKind::Target
                } else {
                    TrialKind::NonTarget
                };
                (name.clone(), r.id(), kind)
            })
        }))?;
        Ok(Lists {
            enrol: train.clone(),
            train,
            trials: key.to_ndx(),
            key: Some(key),
        })
    }

    /// The lists given as files; without `trials`, the key's trials;
    /// without `train`, an empty training list (the models are given).
    fn read(
        train: Option<&Path>,
        enrol: &Path,
        trials: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Lists> {
        let key = key.map(Key::read_txt).transpose()?;
        let trials = match (trials, &key) {
            (Some(path), _) => Ndx::read_txt(path)?,
            (None, Some(key)) => key.to_ndx(),
            (None, None) => return Err("give the trials (--trials) or a key (--key)".into()),
        };
        let lists = Lists {
            train: match train {
                Some(path) => IdMap::read_txt(path)?,
                None => IdMap::new(Vec::new())?,
            },
            enrol: IdMap::read_txt(enrol)?,
            trials,
            key,
        };
        lists.check()?;
        Ok(lists)
    }

    /// Refuses, before any work, lists that cannot be run: a trial of a
    /// model nobody enrols, a key trial that is not scored, fewer than two
    /// training speakers.
    fn check(&self) -> Result<()> {
        let enrolled: BTreeSet<&str> = self.enrol.left_ids().into_iter().collect();
        if let Some(model) = self
            .trials
            .models()
            .iter()
            .find(|m| !enrolled.contains(m.as_str()))
        {
            return Err(format!(
                "the trials name model {model}, which the enrolment list does not enrol"
            )
            .into());
        }
        if let Some(key) = &self.key {
            if let Some((m, s, _)) = key.trials().find(|(m, s, _)| !self.trials.contains(m, s)) {
                return Err(
                    format!("the key's trial ({m}, {s}) is not among the trials to score").into(),
                );
            }
        }
        let speakers: BTreeSet<&str> = self.train.left_ids().into_iter().collect();
        if !self.train.is_empty() && speakers.len() < 2 {
            return Err("the training list needs segments of at least two speakers (for LDA, WCCN and PLDA)".into());
        }
        Ok(())
    }

    /// Every segment the lists name, once: training, enrolment, then test
    /// segments.
    fn segments(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let train = self.train.right_ids().into_iter();
        let enrol = self.enrol.right_ids().into_iter();
        let test = self.trials.segments().iter().map(String::as_str);
        train
            .chain(enrol)
            .chain(test)
            .filter(|id| seen.insert(*id))
            .map(str::to_string)
            .collect()
    }

    /// Writes the lists as SIDEKIT's text files in `dir`: `train.idmap`,
    /// `enrol.idmap`, `trials.ndx` and, with a key, `trials.key`.
    fn write(&self, dir: &Path) -> Result<()> {
        cli::create_dir(dir)?;
        if !self.train.is_empty() {
            self.train.write_txt(dir.join("train.idmap"))?;
        }
        self.enrol.write_txt(dir.join("enrol.idmap"))?;
        self.trials.write_txt(dir.join("trials.ndx"))?;
        if let Some(key) = &self.key {
            key.write_txt(dir.join("trials.key"))?;
        }
        Ok(())
    }
}

/// The identifiers of `ids`' left sides, once each, in name order, and the
/// index in that order of each entry.
fn numbered(map: &IdMap) -> (Vec<String>, Vec<usize>) {
    let names: Vec<String> = map
        .left_ids()
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_string)
        .collect();
    let labels = map
        .entries()
        .iter()
        .map(|e| names.binary_search(&e.left).expect("a left id"))
        .collect();
    (names, labels)
}

/// Trains everything on the lists' training segments, enrols their models
/// and scores their trials: the GMM-UBM system and the i-vector back ends.
/// Saves the UBM, T and the score files in `save` if given (rank 0).
fn evaluate(
    args: &Args,
    settings: &Settings,
    lists: &Lists,
    corpora: &Corpora,
    stages: &mut Stages,
    save: Option<&Path>,
    checkpoints: Option<&Path>,
) -> Result<Vec<System>> {
    let corpus = &corpora.ivector;
    let npy = |corpus: &Corpus, ids: &[&str]| -> Vec<PathBuf> {
        ids.iter().map(|id| corpus.npy(id)).collect()
    };
    // Training speakers and enrolled models, numbered in name order.
    let (_, train_labels) = numbered(&lists.train);
    let (models, enrol_labels) = numbered(&lists.enrol);
    let train_ids = lists.train.right_ids();
    let enrol_ids = lists.enrol.right_ids();
    let tests: Vec<&str> = lists.trials.segments().iter().map(String::as_str).collect();
    // The UBM of the i-vector systems (ubm.npz), and the GMM-UBM system's
    // own where its features differ (ubm-gmm.npz).
    let mut ubm_of = |corpus: &Corpus, file: &str| {
        if let Some(dir) = &args.models {
            let path = dir.join(file);
            return stages.run(&format!("UBM (loaded from {})", path.display()), || {
                Ok(DiagGmm::load(&path)?)
            });
        }
        let components = settings.ubm.components;
        let features = if std::ptr::eq(corpus, &corpora.ivector) {
            "i-vector features"
        } else {
            "GMM-UBM features"
        };
        stages.run(
            &format!("UBM ({components} components, {features})"),
            || {
                let em = EmConfig::new();
                let bar = shardkit::progress(em.total_iterations(components) as u64, "UBM EM");
                let train_files = npy(corpus, &train_ids);
                let memory = cli::memory_budget(args.memory);
                let cache = FrameCache::new(train_files.len(), memory);
                let frames = corpus.frames(&train_files).cached(&cache);
                let report = &mut |_: &_| bar.inc(1);
                let trained = match checkpoints {
                    Some(dir) => {
                        let path = dir.join(file.replace(".npz", ".ckpt.npz"));
                        train_ubm_resumable(
                            &frames,
                            components,
                            &em,
                            &Checkpoint::new(path),
                            report,
                        )?
                    }
                    None => train_ubm(&frames, components, &em, report)?,
                };
                bar.finish_and_clear();
                if let Some(dir) = save.filter(|_| shardkit::is_root()) {
                    trained.model.save(dir.join(file))?;
                }
                Ok(trained.model)
            },
        )
    };
    let ubm = ubm_of(corpus, "ubm.npz")?;
    let (gmm_corpus, gmm_ubm) = match &corpora.gmm {
        Some(gmm) => (gmm, ubm_of(gmm, "ubm-gmm.npz")?),
        None => (corpus, ubm.clone()),
    };

    // GMM-UBM: a MAP model per enrolled model, then the trials.
    let gmm_scores = stages.run("GMM-UBM: MAP adaptation and scoring", || {
        let enrol_files: Vec<Vec<PathBuf>> = (0..models.len())
            .map(|k| {
                let ids: Vec<&str> = enrol_ids
                    .iter()
                    .zip(&enrol_labels)
                    .filter(|(_, &label)| label == k)
                    .map(|(id, _)| *id)
                    .collect();
                npy(gmm_corpus, &ids)
            })
            .collect();
        let enrol: Vec<Speaker> = models
            .iter()
            .zip(&enrol_files)
            .map(|(name, files)| Speaker {
                name: name.clone(),
                frames: gmm_corpus.frames(files),
            })
            .collect();
        let gmms = adapt_speakers(&enrol, &gmm_ubm, &settings.gmm_ubm.map)?;
        let trials: Vec<Trial> = lists
            .trials
            .trials()
            .map(|(m, s)| Trial {
                model: models
                    .binary_search_by(|x| x.as_str().cmp(m))
                    .expect("checked"),
                segment: tests.binary_search(&s).expect("a trial segment"),
            })
            .collect();
        let test_files = npy(gmm_corpus, &tests);
        let scores = gmm_ubm_scores(
            &gmms,
            &gmm_ubm,
            &trials,
            &gmm_corpus.frames(&test_files),
            settings
                .gmm_ubm
                .top_n
                .map_or(gmm_ubm.n_components(), |n| n.min(gmm_ubm.n_components())),
            settings.gmm_ubm.llr_scale,
        )?;
        Ok(Scores::from_triples(trials.iter().zip(scores).map(
            |(t, score)| (models[t.model].clone(), tests[t.segment], score),
        ))?)
    })?;

    // I-vectors: one row per segment, the training segments first.
    let segments = lists.segments();
    let rows: BTreeMap<&str, usize> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let stats = stages.run("Baum-Welch statistics", || {
        let ids: Vec<&str> = segments.iter().map(String::as_str).collect();
        Ok(baum_welch(&corpus.frames(&npy(corpus, &ids)), &ubm)?)
    })?;
    let tv = match &args.models {
        Some(dir) => {
            let path = dir.join("tv.npz");
            stages.run(
                &format!("total variability (loaded from {})", path.display()),
                || Ok(TvModel::load(&path)?),
            )?
        }
        None => stages.run(
            &format!(
                "total variability (R = {}, {} iterations)",
                settings.ivector.rank, settings.ivector.tv_iterations
            ),
            || {
                let config = TvConfig::new(settings.ivector.rank)
                    .iterations(settings.ivector.tv_iterations)
                    .seed(settings.ivector.seed);
                let bar = shardkit::progress(settings.ivector.tv_iterations as u64, "TV EM");
                let train_rows: Vec<usize> = train_ids.iter().map(|id| rows[id]).collect();
                let train = stats.select(&train_rows);
                let report = &mut |_: &_| bar.inc(1);
                let trained = match checkpoints {
                    Some(dir) => {
                        let path = dir.join("tv.ckpt.npz");
                        train_tv_resumable(&train, &ubm, &config, &Checkpoint::new(path), report)?
                    }
                    None => train_tv(&train, &ubm, &config, report)?,
                };
                bar.finish_and_clear();
                if let Some(dir) = save.filter(|_| shardkit::is_root()) {
                    trained.model.save(dir.join("tv.npz"))?;
                }
                Ok(trained.model)
            },
        )?,
    };
    let ivectors = stages.run("i-vector extraction", || Ok(extract(&stats, &tv)?))?;
    let pick =
        |ids: &[&str]| ivectors.select(Axis(0), &ids.iter().map(|id| rows[id]).collect::<Vec<_>>());
    let (train, enrol, test) = (pick(&train_ids), pick(&enrol_ids), pick(&tests));

    let mut systems = vec![System::new("GMM-UBM", gmm_scores, lists.key.as_ref())?];
    stages.run("back ends: cosine, LDA+WCCN, PLDA", || {
        systems.extend(backends(
            (&train, &train_labels),
            (&enrol, &enrol_labels, &models),
            (&test, &tests),
            lists,
            &settings.backend,
            (args.models.as_deref(), save),
        )?);
        Ok(())
    })?;
    if let Some(dir) = save.filter(|_| shardkit::is_root()) {
        let dir = dir.join("scores");
        cli::create_dir(&dir)?;
        for system in &systems {
            system.scores.write_txt(dir.join(system.file_name()))?;
        }
        // Text score files have no room for it: what made them is beside
        // them.
        shardkit::write_atomic(dir.join("provenance.json"), |w| {
            w.write_all(provenance::current().to_json().as_bytes())
        })?;
    }
    Ok(systems)
}

/// The GMM-UBM score of every trial (models index `models`, segments the
/// rows of `tests`), in the trials' order.
fn gmm_ubm_scores(
    models: &[DiagGmm],
    ubm: &DiagGmm,
    trials: &[Trial],
    tests: &Frames<'_>,
    top_n: usize,
    scale: LlrScale,
) -> Result<Vec<f64>> {
    let bar = shardkit::progress(trials.len() as u64, "GMM-UBM scoring");
    let mut scores = Vec::with_capacity(trials.len());
    for chunk in trials.chunks(256) {
        scores.extend(score_trials_scaled(
            chunk, models, ubm, tests, top_n, scale,
        )?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(scores)
}

/// One system's scores, keyed by (model, segment), and, with a key, their
/// DET curve.
struct System {
    name: &'static str,
    scores: Scores,
    curve: Option<DetCurve>,
}

impl System {
    fn new(name: &'static str, scores: Scores, key: Option<&Key>) -> Result<Self> {
        let curve = match key {
            Some(key) => {
                let (targets, nontargets) = scores.target_nontarget(key)?;
                Some(DetCurve::new(&targets, &nontargets)?)
            }
            None => None,
        };
        Ok(System {
            name,
            scores,
            curve,
        })
    }

    /// The system's score file: its name in lower case, words joined by
    /// `-` (e.g. `i-vector-lda+wccn-cosine.scores`).
    fn file_name(&self) -> String {
        format!("{}.scores", self.name.to_lowercase().replace(' ', "-"))
    }

    /// The DET curve (the runs that print one have a key).
    fn curve(&self) -> Result<&DetCurve> {
        self.curve
            .as_ref()
            .ok_or_else(|| "no key: the scores cannot be evaluated".into())
    }
}

/// The i-vector back ends: fitted on the training i-vectors, each model
/// enrolled from its enrolment i-vectors, the trials' test i-vectors
/// scored against their models.
fn backends(
    (train, train_labels): (&Array2<f64>, &[usize]),
    (enrol, enrol_labels, models): (&Array2<f64>, &[usize], &[String]),
    (test, tests): (&Array2<f64>, &[&str]),
    lists: &Lists,
    settings: &BackendSettings,
    (load, save): (Option<&Path>, Option<&Path>),
) -> Result<Vec<System>> {
    // Length-normalised i-vectors (centred on the training mean), then
    // cosine, LDA (speakers − 1 directions, up to 150, unless --lda-dim) +
    // WCCN + cosine, or LDA + length norm + two-covariance PLDA.
    let lda_dim = settings.lda_dim;
    let recipes = [
        ("i-vector cosine", Recipe::Cosine),
        (
            "i-vector LDA+WCCN cosine",
            Recipe::LdaWccnCosine { lda_dim },
        ),
        (
            "i-vector PLDA",
            Recipe::Plda {
                lda_dim,
                iterations: settings.plda_iterations,
            },
        ),
    ];
    let mut systems = Vec::new();
    for (name, recipe) in recipes {
        // backend-cosine.npz, backend-lda+wccn-cosine.npz, backend-plda.npz
        let file = format!(
            "backend-{}.npz",
            name.trim_start_matches("i-vector ")
                .to_lowercase()
                .replace(' ', "-")
        );
        let backend = match load {
            Some(dir) => Backend::load(dir.join(&file))?,
            None => recipe.fit(train.view(), train_labels)?,
        };
        if let Some(dir) = save.filter(|_| load.is_none() && shardkit::is_root()) {
            backend.save(dir.join(&file))?;
        }
        let enrolled = backend.enrol(enrol.view(), enrol_labels)?;
        let matrix = backend.score(&enrolled, test.view())?;
        let names: Vec<&str> = enrolled
            .labels()
            .iter()
            .map(|&k| models[k].as_str())
            .collect();
        // Every model against every test segment, then the trials'.
        let scores = Scores::from_matrix(&names, tests, matrix.view())?.align(&lists.trials)?;
        systems.push(System::new(name, scores, lists.key.as_ref())?);
    }
    Ok(systems)
}

/// A system's figures: ROCCH-EER and plain EER (%), and minDCF.
struct Figures {
    rocch_eer: f64,
    eer: f64,
    min_dcf: f64,
}

impl Figures {
    fn of(system: &System, params: &DcfParams) -> Result<Figures> {
        let curve = system.curve()?;
        Ok(Figures {
            rocch_eer: 100.0 * curve.eer().eer,
            eer: 100.0 * curve.plain_eer(),
            min_dcf: curve.min_dcf(params)?.min_dcf,
        })
    }

    const CSV_HEADER: &'static str = "system,rocch_eer_percent,eer_percent,min_dcf,p_target";

    /// The header of the printed tables (a run's and the folds' means).
    fn table_header() -> String {
        format!(
            "  {:<26} {:>11} {:>8} {:>8}",
            "system", "ROCCH-EER %", "EER %", "minDCF"
        )
    }

    fn csv(&self, name: &str, params: &DcfParams) -> String {
        format!(
            "{name},{},{},{},{}",
            self.rocch_eer, self.eer, self.min_dcf, params.p_target
        )
    }
}

/// The corpus as the DET plot's title names it: the last two parts of
/// `--data` (`fsdd/recordings`), or "generated corpus".
fn corpus_name(args: &Args) -> String {
    match &args.data {
        Some(dir) => {
            let parts: Vec<_> = dir
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(p) => Some(p.to_string_lossy()),
                    _ => None,
                })
                .collect();
            let tail = &parts[parts.len().saturating_sub(2)..];
            if tail.is_empty() {
                dir.display().to_string()
            } else {
                tail.join("/")
            }
        }
        None => "generated corpus".to_owned(),
    }
}

/// Prints the table, writes it as `results.csv` and draws the DET plot
/// (rank 0), each system's minDCF point marked.
fn report(
    args: &Args,
    params: &DcfParams,
    key: &Key,
    systems: &[System],
    stages: &mut Stages,
) -> Result<()> {
    let params = *params;
    say!(
        "\n{} trials ({} target, {} non-target); minDCF at P_target = {}",
        key.len(),
        key.n_targets(),
        key.n_nontargets(),
        params.p_target
    );
    say!("{}", Figures::table_header());
    let mut csv = vec![Figures::CSV_HEADER.to_string()];
    for s in systems {
        let f = Figures::of(s, &params)?;
        say!(
            "  {:<26} {:>11.2} {:>8.2} {:>8.4}",
            s.name,
            f.rocch_eer,
            f.eer,
            f.min_dcf
        );
        csv.push(f.csv(s.name, &params));
    }
    stages.run("DET plot (PNG, SVG)", || {
        if shardkit::is_root() {
            let title = format!(
                "DET: {} ({} trials, {} target)",
                corpus_name(args),
                key.len(),
                key.n_targets()
            );
            let mut plot = DetPlot::new(&title).min_dcf(params);
            for s in systems {
                plot = plot.system(s.name, s.curve()?);
            }
            plot.write_png(args.out.join("det.png"))?;
            plot.write_svg(args.out.join("det.svg"))?;
            write_csv(&args.out.join("results.csv"), &csv)?;
        }
        Ok(())
    })?;
    say!(
        "wrote {}, {} and {}",
        args.out.join("results.csv").display(),
        args.out.join("det.png").display(),
        args.out.join("det.svg").display()
    );
    Ok(())
}

/// Writes `lines` as a CSV file, atomically.
fn write_csv(path: &Path, lines: &[String]) -> Result<()> {
    Ok(shardkit::write_atomic(path, |w| {
        lines.iter().try_for_each(|l| writeln!(w, "{l}"))
    })?)
}

/// Prints every fold's ROCCH-EER, plain EER and minDCF per system, and
/// their means, and writes them as `folds.csv` in `out` (rank 0).
fn report_folds(out: &Path, params: &DcfParams, results: &[Vec<System>]) -> Result<()> {
    let params = *params;
    let Some(first) = results.first() else {
        return Ok(());
    };
    // [system][fold].
    let mut table: Vec<Vec<Figures>> = (0..first.len()).map(|_| Vec::new()).collect();
    let mut csv = vec![format!("fold,{}", Figures::CSV_HEADER)];
    for (k, systems) in results.iter().enumerate() {
        for (row, s) in table.iter_mut().zip(systems) {
            let f = Figures::of(s, &params)?;
            csv.push(format!("{k},{}", f.csv(s.name, &params)));
            row.push(f);
        }
    }
    let mean = |v: &[Figures], f: fn(&Figures) -> f64| -> f64 {
        v.iter().map(f).sum::<f64>() / v.len() as f64
    };
    let folds: String = (0..results.len())
        .map(|k| format!(" {:>6}", format!("f{k}")))
        .collect();
    /// A column: its title, its figure and its decimals.
    type Column = (&'static str, fn(&Figures) -> f64, usize);
    let columns: [Column; 3] = [
        ("ROCCH-EER %", |f| f.rocch_eer, 2),
        ("EER % (plain)", |f| f.eer, 2),
        ("minDCF", |f| f.min_dcf, 3),
    ];
    for (what, pick, decimals) in columns {
        say!("\n{what} per fold (P_target = {})", params.p_target);
        say!("  {:<26}{folds} {:>7}", "system", "mean");
        for (s, row) in first.iter().zip(&table) {
            let cells: String = row
                .iter()
                .map(|x| format!(" {:>6.*}", decimals, pick(x)))
                .collect();
            say!("  {:<26}{cells} {:>7.*}", s.name, decimals, mean(row, pick));
        }
    }
    say!("\nmeans over {} folds", results.len());
    say!("{}", Figures::table_header());
    for (s, row) in first.iter().zip(&table) {
        say!(
            "  {:<26} {:>11.2} {:>8.2} {:>8.4}",
            s.name,
            mean(row, |x| x.rocch_eer),
            mean(row, |x| x.eer),
            mean(row, |x| x.min_dcf)
        );
    }
    if shardkit::is_root() {
        write_csv(&out.join("folds.csv"), &csv)?;
    }
    say!("wrote {}", out.join("folds.csv").display());
    Ok(())
}

/// The recordings of `dir` (`{digit}_{speaker}_{index}.wav`, sorted by
/// name) and the speakers' names (sorted).
fn scan(dir: &Path) -> Result<(Vec<Recording>, Vec<String>)> {
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wav") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: the name is not UTF-8", path.display()))?;
        let parts: Vec<&str> = stem.split('_').collect();
        let parsed = match parts.as_slice() {
            [digit, speaker, index] => digit
                .parse::<u32>()
                .ok()
                .zip(index.parse::<u32>().ok())
                .map(|(_, index)| (speaker.to_string(), index)),
            _ => None,
        };
        let (speaker, index) = parsed.ok_or_else(|| {
            format!(
                "{}: expected a name like 3_theo_17.wav ({{digit}}_{{speaker}}_{{index}})",
                path.display()
            )
        })?;
        found.push((path, speaker, index));
    }
    found.sort();
    // Speakers numbered in name order.
    let names: BTreeMap<String, usize> = found
        .iter()
        .map(|(_, s, _)| s.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, i))
        .collect();
    if names.len() < 2 {
        return Err(format!(
            "{}: need recordings of at least two speakers",
            dir.display()
        )
        .into());
    }
    let recordings: Vec<Recording> = found
        .into_iter()
        .map(|(wav, speaker, index)| Recording {
            wav,
            speaker: names[&speaker],
            take: index,
        })
        .collect();
    Ok((recordings, names.into_keys().collect()))
}
