//! Times total-variability EM and i-vector extraction, next to the
//! machine's f64 GEMM peak.
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench measure_tv -- \
//!     --components 256 --dim 40 --rank 100 --sessions 1000 --iters 3 --threads 2
//! cargo bench -p shardkit-algorithms --bench measure_tv -- --help
//!
//! # On MPI ranks (the trained model has the bits of the threaded run):
//! cargo bench -p shardkit-algorithms --features mpi --bench measure_tv --no-run
//! mpirun -n 2 -x SHARDKIT_THREADS=1 target/release/deps/measure_tv-<hash> --out target/tv-mpi.npz
//! ```
//!
//! (`cargo bench --no-run` prints the executable's path; `.ci/run` finds it
//! with `--message-format=json`.)
//!
//! Generates statistics that follow the model (a hidden `T` of the same
//! rank, sessions of 200 to 1,000 frames spread unevenly over the
//! components; seeded), or reads them with `--load DIR`; `--write DIR` saves
//! them for the peer scripts (`scripts/peers/tv_numpy.py`,
//! `scripts/peers/tv_sidekit.py`):
//!
//! - `ubm.npz`: `weights` (C), `means` and `variances` (C × D);
//! - `zero.npy`: S × C zero-order statistics (float64);
//! - `first.npy`: S × C·D first-order statistics, uncentred, column `c·D + d`;
//! - `t_init.npy`: C·D × R, the initial `T`.
//!
//! Prints the f64 GEMM peak (faer, `n = 1024`, on each rank's threads; on
//! MPI ranks the peak is rank 0's times the number of ranks), then one line
//! per EM iteration (seconds; GFLOP/s counting the GEMM flops, and all flops
//! with the per-session factorisations, each with its share of the peak;
//! objective), then the extraction time with and without covariances.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use ndarray::{Array1, Array2};
use ndarray_npy::{read_npy, write_npy};
use shardkit::Executor;
use shardkit_algorithms::gmm::DiagGmm;
use shardkit_algorithms::ivector::{
    extract, extract_into, tv_em, tv_em_resumable, Checkpoint, SessionStats, TvCommunication,
    TvConfig, TvIteration, TvModel,
};
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::{timing, Rng};

/// Times total-variability (i-vector) EM iterations and i-vector
/// extraction on generated (or loaded) Baum-Welch statistics, next to
/// faer's f64 GEMM peak; optionally saves the trained model. Runs on threads, or on MPI ranks under mpirun (built with the `mpi`
/// feature): the model has the same bits either way.
#[derive(Parser, Debug)]
#[command(name = "measure_tv", bin_name = "measure_tv")]
struct Args {
    /// UBM components C.
    #[arg(long, default_value_t = 256, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// Feature dimension D.
    #[arg(long, default_value_t = 40, value_parser = cli::count(1, 4096))]
    dim: usize,
    /// I-vector dimension R.
    #[arg(long, default_value_t = 100, value_parser = cli::count(1, 4096))]
    rank: usize,
    /// Sessions S.
    #[arg(long, default_value_t = 1000, value_parser = cli::count(1, 100_000_000))]
    sessions: usize,
    /// EM iterations to time.
    #[arg(long, default_value_t = 3, value_parser = cli::count(1, 100_000))]
    iters: usize,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// Without the minimum-divergence step.
    #[arg(long)]
    no_min_div: bool,
    /// Repetitions of the extraction timing (the best is printed).
    #[arg(long, default_value_t = 3, value_parser = cli::count(1, 100_000))]
    reps: usize,
    /// Read the data from this folder (ubm.npz, zero.npy, first.npy,
    /// t_init.npy, as --write writes them) instead of generating it.
    #[arg(long)]
    load: Option<PathBuf>,
    /// Write the generated data to this folder.
    #[arg(long)]
    write: Option<PathBuf>,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Save the trained model here (.npz: t, means, variances).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep a checkpoint here after every iteration, and continue from it
    /// when it is there (the same bits as a run that never stopped, on any
    /// number of threads or ranks).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// How each iteration's accumulators come together across MPI ranks:
    /// `auto` (the size rule), `gather` (every session's posterior travels)
    /// or `reduce` (each rank's sums travel). The bits are the same.
    #[arg(long, value_enum, default_value_t = Communication::Auto)]
    communication: Communication,
    /// Bytes for the per-session posteriors and the reduction's
    /// per-worker sums (e.g. 512M, 4G; TvConfig::memory).
    #[arg(long, default_value = "1G", value_parser = cli::bytes())]
    memory: usize,
    /// After training, compare the bytes this rank received through the
    /// data collectives of the iterations (gathered outputs) with what
    /// `shardkit_algorithms::scale` predicts, and fail if they differ
    /// (then the extraction is not timed).
    #[arg(long, conflicts_with = "checkpoint")]
    check_model: bool,
    #[command(flatten)]
    cargo: cli::CargoBench,
}

/// `--communication`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Communication {
    Auto,
    Gather,
    Reduce,
}

impl From<Communication> for TvCommunication {
    fn from(how: Communication) -> TvCommunication {
        match how {
            Communication::Auto => TvCommunication::Auto,
            Communication::Gather => TvCommunication::Gather,
            Communication::Reduce => TvCommunication::Reduce,
        }
    }
}

/// Prints on the root process only (one line per job under mpirun).
macro_rules! say {
    ($($t:tt)*) => {
        if shardkit::is_root() {
            println!($($t)*);
        }
    };
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.cargo.run("measure_tv", || run(&args))
}

type Data = (DiagGmm, SessionStats, TvModel);

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let exec = Executor::from_env_with_threads(args.threads)?;
    // --out is checked (and locked) before the work.
    let _claim = exec.install(|| args.out.as_ref().map(shardkit::claim_output).transpose())?;
    let (ubm, stats, model) = match &args.load {
        Some(dir) => load(dir)?,
        None => {
            // The generated arrays (statistics, hidden and initial T,
            // shifts), and as much again while training.
            let (s, c, d, r) = (
                args.sessions as f64,
                args.components as f64,
                args.dim as f64,
                args.rank as f64,
            );
            let bytes = 8.0 * 2.0 * (s * c * (2.0 * d + 1.0) + 2.0 * c * d * r + s * r);
            cli::fits_in_memory("the generated statistics", bytes)?;
            generate(args)?
        }
    };
    if let Some(dir) = &args.write {
        save(dir, &ubm, &stats, &model)?;
        say!("wrote the data to {}", dir.display());
    }
    let (s, c, d, r) = (
        stats.n_sessions(),
        model.n_components(),
        model.dim(),
        model.rank(),
    );
    // Every rank measures its own threads' peak at the same time; the
    // machine's is rank 0's times the number of ranks.
    let layout = Layout::of(&exec);
    let (one, each) = timing::gemm_peak::<f64>(1024, layout.threads, 3);
    let peak = one.0.max(each.0) * layout.ranks as f64;
    say!("S = {s}, C = {c}, D = {d}, R = {r}; {layout}; faer f64 GEMM peak {peak:.1} GFLOP/s");
    let (s, c, d, r) = (s as f64, c as f64, d as f64, r as f64);
    let k = r * (r + 1.0) / 2.0;
    // The GEMMs of one iteration: precisions N·P and A = Nᵀ·E[wwᵀ] (2·S·C·K
    // each), projections F̃·Σ⁻¹T and C = F̃ᵀ·E[w] (2·S·C·D·R each), the
    // precomputation T_cᵀΣ_c⁻¹T_c (2·C·D·R²), the M-step's solves and the
    // rotation (about 4·C·D·R²), and the two rank-C corrections that stand
    // for centring the statistics (N·Q and Nᵀ·E[w], 2·S·C·R each).
    let gemm_flops = 4.0 * s * c * k + 4.0 * s * c * d * r + 6.0 * c * d * r * r + 4.0 * s * c * r;
    // Per session: Cholesky (R³/3), inverse (2R³/3); per component: R³/3.
    let other_flops = s * r.powi(3) + c * r.powi(3) / 3.0;
    say!(
        "one iteration: {:.2} GFLOP in GEMMs + {:.2} GFLOP in factorisations",
        gemm_flops / 1e9,
        other_flops / 1e9
    );
    exec.install(|| -> Result<(), Box<dyn std::error::Error>> {
        // tv_em, as training runs it (its arrays are kept from one
        // iteration to the next); each report is one line.
        let config = TvConfig::default()
            .iterations(args.iters)
            .min_divergence(!args.no_min_div)
            .memory(args.memory)
            .communication(args.communication.into());
        config.check()?;
        let mut report = |it: &TvIteration| {
            let secs = it.seconds;
            let rate = gemm_flops / secs / 1e9;
            let all = (gemm_flops + other_flops) / secs / 1e9;
            say!(
                "iter {}: {secs:8.4} s  {rate:6.1} GFLOP/s GEMM flops ({:4.1}% of peak), {all:6.1} all flops ({:4.1}%)  objective {:.6}",
                it.iteration,
                100.0 * rate / peak,
                100.0 * all / peak,
                it.objective
            );
        };
        let trained = match &args.checkpoint {
            Some(path) => tv_em_resumable(&stats, model, &config, &Checkpoint::new(path), &mut report)?,
            None => tv_em(&stats, model, &config, &mut report)?,
        };
        let model = trained.model;
        if let (Some(path), true) = (&args.out, shardkit::is_root()) {
            model.save(path)?;
        }
        if args.check_model {
            return check_model(args, &stats, &model);
        }
        let (best, worst, w) = timing::time(args.reps, || extract(&stats, &model));
        let w = w?;
        let norm = w.iter().map(|v| v * v).sum::<f64>() / w.nrows() as f64;
        say!(
            "extraction (means):       {:8.4} s  (spread {:.0}%)  mean ‖w‖² {norm:.4}",
            best.as_secs_f64(),
            timing::spread(best, worst)
        );
        let mut out = Array2::zeros(w.dim());
        let mut cov = Array2::zeros((w.nrows(), model.rank() * (model.rank() + 1) / 2));
        let (best, worst, done) = timing::time(args.reps, || {
            extract_into(&stats, &model, out.view_mut(), Some(cov.view_mut()))
        });
        done?;
        say!(
            "extraction (covariances): {:8.4} s  (spread {:.0}%)",
            best.as_secs_f64(),
            timing::spread(best, worst)
        );
        Ok(())
    })
}

/// `--check-model`: this rank's gathered bytes against the model's.
fn check_model(
    args: &Args,
    stats: &SessionStats,
    model: &TvModel,
) -> Result<(), Box<dyn std::error::Error>> {
    use shardkit_algorithms::scale::{tv_iteration_of, Cluster, TvSizes};
    let (rank, ranks) = Executor::current().rank();
    let sizes = TvSizes {
        sessions: stats.n_sessions(),
        components: model.n_components(),
        dim: model.dim(),
        rank: model.rank(),
    };
    // Only the gathered outputs: the reduction's bytes are those of the
    // runtime's exact sums, checked in tests/mpi.
    let gathered: u64 = shardkit::comm_counts()
        .iter()
        .filter(|c| c.op == "allgatherv")
        .map(|c| c.received)
        .sum();
    let how = args.communication.into();
    let cost = tv_iteration_of(
        rank,
        &sizes,
        ranks,
        1,
        how,
        args.memory,
        0,
        &Cluster::infiniband(),
    );
    let predicted = cost.gathered * args.iters as u64;
    println!(
        "rank {rank}: gathered {gathered} bytes in {} iterations, the model predicts {predicted}",
        args.iters
    );
    if gathered != predicted {
        return Err(format!(
            "rank {rank}: the model predicts {predicted} gathered bytes, the counters say {gathered}"
        )
        .into());
    }
    Ok(())
}

/// Statistics that follow the model: a hidden `T` (rank R, scale 0.5 of the
/// UBM's deviations), i-vectors `w ~ N(0, I)`, sessions of 200 to 1,000
/// frames whose occupancies are log-normal over the components, and
/// first-order statistics `N·(μ + T w) + √N·σ·noise`.
fn generate(args: &Args) -> Result<Data, Box<dyn std::error::Error>> {
    let (s, c, d, r) = (args.sessions, args.components, args.dim, args.rank);
    let mut g = Rng::new(args.seed ^ 0x7476);
    let weights = Array1::from_elem(c, 1.0 / c as f64);
    let means = Array2::from_shape_fn((c, d), |_| g.normal());
    let variances = Array2::from_shape_fn((c, d), |_| 0.5 + g.uniform());
    let ubm = DiagGmm::new(weights, means.clone(), variances.clone())?;
    let hidden = Array2::from_shape_fn((c * d, r), |(row, _)| {
        0.5 * variances[[row / d, row % d]].sqrt() * g.normal() / (r as f64).sqrt()
    });
    let ivectors = Array2::from_shape_fn((s, r), |_| g.normal());
    let shifts = ivectors.dot(&hidden.t());
    let mut zero = Array2::zeros((s, c));
    let mut first = Array2::zeros((s, c * d));
    for i in 0..s {
        let frames = 200.0 + 800.0 * g.uniform();
        let raw: Vec<f64> = (0..c).map(|_| (1.5 * g.normal()).exp()).collect();
        let total: f64 = raw.iter().sum();
        for (cc, &share) in raw.iter().enumerate() {
            let n = frames * share / total;
            zero[[i, cc]] = n;
            for dd in 0..d {
                let row = cc * d + dd;
                let sd = variances[[cc, dd]].sqrt();
                first[[i, row]] =
                    n * (means[[cc, dd]] + shifts[[i, row]]) + n.sqrt() * sd * g.normal();
            }
        }
    }
    let stats = SessionStats::new(zero, first)?;
    let model = TvModel::random(&ubm, r, 0.1, args.seed)?;
    Ok((ubm, stats, model))
}

fn save(
    dir: &Path,
    ubm: &DiagGmm,
    stats: &SessionStats,
    model: &TvModel,
) -> Result<(), Box<dyn std::error::Error>> {
    shardkit_testkit::cli::create_dir(dir)?;
    ubm.save(dir.join("ubm.npz"))?;
    write_npy(dir.join("zero.npy"), &stats.zero)?;
    write_npy(dir.join("first.npy"), &stats.first)?;
    write_npy(dir.join("t_init.npy"), &model.t())?;
    Ok(())
}

fn load(dir: &Path) -> Result<Data, Box<dyn std::error::Error>> {
    let ubm = DiagGmm::load(dir.join("ubm.npz"))?;
    let zero: Array2<f64> = read_npy(dir.join("zero.npy"))?;
    let first: Array2<f64> = read_npy(dir.join("first.npy"))?;
    let t: Array2<f64> = read_npy(dir.join("t_init.npy"))?;
    let stats = SessionStats::new(zero, first)?;
    let model = TvModel::new(t, ubm.means().to_owned(), ubm.variances().to_owned())?;
    Ok((ubm, stats, model))
}
