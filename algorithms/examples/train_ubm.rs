//! Trains a UBM (a diagonal GMM) from a list of feature files and saves it
//! as an `.npz` archive NumPy reads (`weights`, `means`, `variances`).
//!
//! ```text
//! # Generated data (a known 16-component GMM in 20 dimensions), self-checked:
//! cargo run --release -p shardkit-algorithms --example train_ubm
//!
//! # Your features: one .npy or HTK file per line (paths relative to the
//! # list's folder), e.g. the MFCCs that extract_mfcc wrote:
//! ls target/mfcc/*.npy > train.lst
//! cargo run --release -p shardkit-algorithms --example train_ubm -- \
//!     --list train.lst --components 512 --out target/ubm.npz --threads 2
//!
//! # The same program on MPI ranks (files shared out between the ranks by size;
//! # more ranks than cores needs mpirun's --oversubscribe):
//! cargo build --release -p shardkit-algorithms --features mpi --example train_ubm
//! mpirun -n 2 --bind-to none -x SHARDKIT_THREADS=1 target/release/examples/train_ubm \
//!     --list train.lst --components 512
//! ```
//!
//! Training follows SIDEKIT's schedule: one Gaussian with the global mean
//! and variance, then each stage splits every component in two and runs a
//! few EM iterations (`--iterations`, default 1,2,2,4,4,4,4,8,...), up to
//! `--components` (a power of two). With `--init FILE.npz` it runs `--iters`
//! plain EM iterations from that model instead. Every pass reads the files
//! again, so memory stays at one file per worker.
//!
//! With `--checkpoint FILE` the state is saved after every iteration, and
//! a run started again continues from it (the same model, bit for bit, as
//! a run never stopped; a checkpoint of other data or settings is
//! refused).
//!
//! Rank 0 prints one line per iteration and writes the model (atomically:
//! a temporary file renamed into place); the model has the same bits on any
//! number of threads or ranks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ndarray::{Array1, Array2};
use shardkit::Executor;
use shardkit_algorithms::features::{read_list, write_npy};
use shardkit_algorithms::frames::{FrameCache, Frames};
use shardkit_algorithms::gmm::ubm::{
    em, train_ubm, train_ubm_resumable, Checkpoint, EmConfig, EmIteration,
};
use shardkit_algorithms::gmm::{self, DiagGmm};
use shardkit_algorithms::provenance;
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::{sample_gmm, Rng};

/// Trains a UBM (a diagonal GMM) by EM from feature files, with SIDEKIT's
/// split schedule (1, 2, 4, ... components), and saves it as .npz
/// (weights, means, variances). Without --list it trains on a generated
/// corpus (40 files drawn from a known 16-component GMM) and checks the
/// result against that GMM. Runs on threads, or on MPI ranks under mpirun
/// (built with the `mpi` feature): the model has the same bits either way.
#[derive(Parser, Debug)]
#[command(name = "train_ubm")]
struct Args {
    /// Feature files, one path per line (.npy or HTK; relative to the
    /// list's folder; `#` comments), e.g. `ls target/mfcc/*.npy > train.lst`.
    /// Without it, a corpus is generated in --generate (or a temporary
    /// folder).
    #[arg(long)]
    list: Option<PathBuf>,
    /// Number of components: a power of two (or the --init model's count).
    #[arg(long, default_value_t = 32, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// Where to write the model (.npz; its folder is created if missing).
    #[arg(long, default_value = "target/ubm.npz")]
    out: PathBuf,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// EM iterations after each split, comma-separated (stage k trains
    /// 2^(k+1) components).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,2,4,4,4,4,8,8,8,8,8,8"
    )]
    iterations: Vec<usize>,
    /// Variance floor, relative to the global variance of the data.
    #[arg(long, default_value_t = 0.01)]
    floor: f64,
    /// Variance ceiling, relative to the global variance of the data.
    #[arg(long, default_value_t = 10.0)]
    ceiling: f64,
    /// Start plain EM from this model (.npz: weights, means, variances).
    #[arg(long)]
    init: Option<PathBuf>,
    /// EM iterations from --init.
    #[arg(long, default_value_t = 10, value_parser = cli::count(1, 1_000_000))]
    iters: usize,
    /// Without --list: write the generated corpus (list, .npy files, and the
    /// generating model truth.npz) here.
    #[arg(long)]
    generate: Option<PathBuf>,
    /// Keep a checkpoint here after every EM iteration, and continue from
    /// it when it is there: a run killed and started again ends with the
    /// same model, bit for bit, on any number of threads or ranks.
    #[arg(long, value_name = "FILE", conflicts_with = "init")]
    checkpoint: Option<PathBuf>,
    /// Keep up to this much of the features in memory after their first
    /// read (e.g. 8G; 0: read the files in every iteration) [default: a
    /// quarter of this machine's memory]. Under MPI, per rank: each rank
    /// keeps the files of its own blocks.
    #[arg(long, value_parser = cli::bytes())]
    memory: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every rank reaches the same error (the runtime agrees on it).
            if shardkit::is_root() {
                eprintln!("train_ubm: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let exec = Executor::from_env_with_threads(args.threads)?;
    exec.install(|| train(args))
}

fn train(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let root = shardkit::is_root();
    // The model's folder is made and the output claimed before any work: a
    // read-only or impossible path, or another run writing the same file,
    // is reported now rather than after training.
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the folder of --out {}: {e}",
                args.out.display()
            )
        })?;
    }
    let _claim = shardkit::claim_output(&args.out)?;
    let mut _scratch = None;
    let (list, truth) = match &args.list {
        Some(list) => (list.clone(), None),
        None => {
            let dir = match &args.generate {
                Some(dir) => dir.clone(),
                None => {
                    let tmp = tempfile::tempdir()?;
                    let dir = tmp.path().to_owned();
                    _scratch = Some(tmp);
                    dir
                }
            };
            // Under MPI every rank writes the same corpus (each file
            // atomically, so a rank never reads half of one another rank
            // is replacing) before reading any of it.
            let truth = generate(&dir)?;
            (dir.join("train.lst"), Some(truth))
        }
    };
    let files = read_list(&list)?;
    let memory = cli::memory_budget(args.memory);
    let cache = FrameCache::new(files.len(), memory);
    let data = Frames::files(&files).cached(&cache);
    let config = EmConfig::new()
        .iterations(args.iterations.clone())
        .variance_floor(args.floor)
        .variance_ceiling(args.ceiling);
    // What the model will say made it: the settings that change it and
    // the input files' contents (not the paths, threads or ranks).
    let mut inputs = provenance::fingerprint_files(&files)?;
    if let Some(path) = &args.init {
        inputs += &format!("; --init {}", provenance::fingerprint_files(&[path])?);
    }
    provenance::record_run(
        format!(
            "components = {}\niterations = {:?}\nfloor = {}\nceiling = {}\niters_from_init = {}",
            args.components, args.iterations, args.floor, args.ceiling, args.iters
        ),
        inputs,
    );
    let layout = Layout::of(&Executor::current());
    let init = match &args.init {
        Some(path) => Some(DiagGmm::load(path)?),
        None => None,
    };
    if root {
        let what = match (&init, &args.init) {
            (Some(model), Some(path)) => format!(
                "{} EM iterations from {} ({} components)",
                args.iters,
                path.display(),
                model.n_components()
            ),
            _ => format!("training {} components", args.components),
        };
        println!(
            "{} files from {}, {layout}; {what}",
            files.len(),
            list.display(),
        );
    }
    let started = Instant::now();
    let total = match &init {
        Some(_) => args.iters,
        None => config.total_iterations(args.components),
    };
    let bar = shardkit::progress(total as u64, "EM");
    let mut count = 0;
    let mut report = |it: &EmIteration| {
        count += 1;
        bar.inc(1);
        if root {
            bar.suspend(|| {
                println!(
                    "iter {count:>3}  {:>5} components  avg log-likelihood {:>12.6}  {:>7.3} s  {:>6.2} M frames/s",
                    it.components,
                    it.average_log_likelihood,
                    it.seconds,
                    it.frames as f64 / it.seconds / 1e6
                )
            });
        }
    };
    let trained = match init {
        Some(model) => em(&data, model, args.iters, &config, &mut report)?,
        None => match &args.checkpoint {
            Some(path) => train_ubm_resumable(
                &data,
                args.components,
                &config,
                &Checkpoint::new(path),
                &mut report,
            )?,
            None => train_ubm(&data, args.components, &config, &mut report)?,
        },
    };
    bar.finish_and_clear();
    let model = trained.model;
    if root {
        model.save(&args.out)?;
        println!(
            "wrote {} ({} components, {} dimensions) in {:.2} s; {} of {} files ({:.1} MB) were kept in memory after their first read",
            args.out.display(),
            model.n_components(),
            model.dim(),
            started.elapsed().as_secs_f64(),
            cache.files_held(),
            files.len(),
            cache.bytes_held() as f64 / 1e6
        );
    }
    if let Some(truth) = truth {
        check(&model, &truth, &data)?;
    }
    Ok(())
}

/// The generated corpus's check: the trained model explains the data at
/// least nearly as well as the model that generated it.
fn check(
    model: &DiagGmm,
    truth: &DiagGmm,
    data: &Frames<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut frames = Vec::new();
    for i in 0..data.len() {
        frames.push(data.segment(i)?);
    }
    let views: Vec<_> = frames.iter().map(|f| f.view()).collect();
    let all = ndarray::concatenate(ndarray::Axis(0), &views)?;
    let trained = gmm::mean_log_likelihood(all.view(), &model.prepare());
    let generating = gmm::mean_log_likelihood(all.view(), &truth.prepare());
    if shardkit::is_root() {
        println!("average log-likelihood: trained {trained:.4}, generating model {generating:.4}");
    }
    if model.n_components() >= truth.n_components() && trained < generating - 0.05 {
        return Err(format!(
            "the trained model ({trained:.4}) explains the data worse than the generating one ({generating:.4})"
        )
        .into());
    }
    Ok(())
}

/// Writes 40 files of 400 to 1,570 frames drawn from a fixed 16-component
/// GMM in 20 dimensions (deterministic), and `train.lst`; returns the GMM.
fn generate(dir: &Path) -> Result<DiagGmm, Box<dyn std::error::Error>> {
    const M: usize = 16;
    const D: usize = 20;
    let mut rng = Rng::new(0x5eed);
    let weights = Array1::from_shape_fn(M, |_| 0.5 + rng.uniform());
    let weights = &weights / weights.sum();
    let means = Array2::from_shape_fn((M, D), |_| rng.range(-3.0, 3.0));
    let variances = Array2::from_shape_fn((M, D), |_| rng.range(0.2, 1.0));
    let truth = DiagGmm::new(weights, means, variances)?;
    shardkit_testkit::cli::create_dir(dir)?;
    let mut list = String::new();
    for file in 0..40 {
        let frames = 400 + 30 * file * 7 % 1171;
        let x = sample_gmm(&truth, frames, 2 * file as u64 + 1);
        let name = format!("utt{file:03}.npy");
        write_npy(dir.join(&name), &x)?;
        list.push_str(&name);
        list.push('\n');
    }
    shardkit::write_atomic(dir.join("train.lst"), |w| w.write_all(list.as_bytes()))?;
    truth.save(dir.join("truth.npz"))?;
    Ok(truth)
}
