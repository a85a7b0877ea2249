//! k-means where every MPI rank reads its own file — daal4py's
//! `kmeans_spmd.py` in shardkit. Each rank passes only its share of the
//! data (`Frames::local`), runs the same program, and every rank ends with
//! the same centroids; rank 0 prints them.
//!
//! ```text
//! # One process, no MPI: it reads all the files (here, 2 generated ones).
//! cargo run --release -p shardkit-algorithms --example kmeans_spmd
//!
//! # Two ranks, one file each (built with the `mpi` feature):
//! cargo build --release -p shardkit-algorithms --features mpi --example kmeans_spmd
//! mpirun -n 2 --bind-to none target/release/examples/kmeans_spmd
//!
//! # Your files: DIR/file0.npy, DIR/file1.npy, ... (or .csv, one point per line).
//! mpirun -n 4 --bind-to none target/release/examples/kmeans_spmd --data DIR --clusters 10
//! ```
//!
//! With `n` files on `s` ranks, rank `r` reads files `r·n/s` to
//! `(r+1)·n/s − 1` (file `r` when there are as many files as ranks); the
//! same program without MPI reads them all, as one process. The result is
//! the fit over all the files in order, with the same bits on every rank
//! and on any number of threads; for files of equal or similar sizes also
//! the same bits as the single-process run (`--out` and `cmp` show it).
//!
//! Without `--data`, each rank first writes its own generated file (seeded
//! by its number) into a temporary folder of its own: no shared file system
//! is needed, as with daal4py's per-rank input files.
//!
//! With `--checkpoint FILE` (on a file system every rank sees) the
//! centroids are saved after initialisation and after every Lloyd
//! iteration; a run killed at any point and started again with the same
//! arguments — on any number of ranks or threads — continues from there
//! and ends with the bits of a run never stopped:
//!
//! ```text
//! mpirun -n 4 target/release/examples/kmeans_spmd --checkpoint km.ckpt.npz --out km.npy
//! # killed; later, on 2 ranks:
//! mpirun -n 2 target/release/examples/kmeans_spmd --checkpoint km.ckpt.npz --out km.npy
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ndarray::{Array2, ArrayView2};
use ndarray_npy::WriteNpyExt;
use shardkit::Executor;
use shardkit_algorithms::checkpoint::Checkpoint;
use shardkit_algorithms::features::write_npy;
use shardkit_algorithms::frames::{FrameCache, Frames};
use shardkit_algorithms::kmeans::{Init, KMeans};
use shardkit_testkit::cli::{self, Layout};

/// k-means with each MPI rank reading its own file (daal4py's SPMD
/// k-means): every rank fits the same model from its share of the files,
/// and rank 0 prints the centroids. Without mpirun one process reads all
/// the files. Without --data each rank generates its own file first.
#[derive(Parser, Debug)]
#[command(name = "kmeans_spmd")]
struct Args {
    /// A folder of files file0.npy, file1.npy, ... (or file0.csv, ...: one
    /// point per line, values separated by commas); rank r of s reads its
    /// contiguous share of them.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Without --data: how many files to generate (default: one per rank,
    /// 2 without MPI).
    #[arg(long, value_parser = cli::count(1, 4096))]
    parts: Option<usize>,
    /// Without --data: points per generated file.
    #[arg(long, default_value_t = 5000, value_parser = cli::count(1, 10_000_000))]
    rows: usize,
    /// The number of clusters.
    #[arg(long, default_value_t = 10, value_parser = cli::count(1, 1 << 16))]
    clusters: usize,
    /// The most Lloyd iterations.
    #[arg(long, default_value_t = 25, value_parser = cli::count(1, 100_000))]
    max_iter: usize,
    /// The initialisation.
    #[arg(long, value_enum, default_value_t = Start::PlusPlus)]
    init: Start,
    /// The seed of the initialisation.
    #[arg(long, default_value_t = 777)]
    seed: u64,
    /// Threads per process (default: SHARDKIT_THREADS, else the cores).
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// Rank 0 writes the centroids here (.npy, f64).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Keep a checkpoint here (.npz) after initialisation and every
    /// iteration, and continue from it when it is there.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Keep up to this much of this rank's .npy files in memory after their
    /// first read, so that each iteration reads memory (e.g. 8G; 0: read
    /// the files in every pass) [default: a quarter of this machine's
    /// memory].
    #[arg(long, value_parser = cli::bytes())]
    memory: Option<usize>,
}

/// How the centroids start.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Start {
    /// Greedy k-means++ (daal4py's plusPlusDense).
    PlusPlus,
    /// k-means|| (daal4py's parallelPlusDense).
    Parallel,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        Executor::from_env_with_threads(args.threads)?.install(|| fit(&args))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every rank reaches the same error; rank 0 says it.
            if shardkit::is_root() {
                eprintln!("kmeans_spmd: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn fit(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let exec = Executor::current();
    let (rank, ranks) = exec.rank();
    let mut _scratch = None;
    // This rank's files: its share of DIR's, or its generated ones.
    let (files, count, csv) = match &args.data {
        Some(dir) => {
            let (all, csv) = numbered_files(dir)?;
            let n = all.len();
            (
                all[rank * n / ranks..(rank + 1) * n / ranks].to_vec(),
                n,
                csv,
            )
        }
        None => {
            let n = args.parts.unwrap_or(ranks.max(2));
            let tmp = tempfile::tempdir()?;
            let mine = (rank * n / ranks..(rank + 1) * n / ranks)
                .map(|i| {
                    let path = tmp.path().join(format!("file{i}.npy"));
                    write_npy(&path, &generate(i, args.rows))?;
                    Ok(path)
                })
                .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
            _scratch = Some(tmp);
            (mine, n, false)
        }
    };
    // .npy files are read by each pass; CSV files are read once, here.
    let tables = match csv {
        true => files
            .iter()
            .map(|f| read_csv(f))
            .collect::<Result<_, _>>()?,
        false => Vec::new(),
    };
    let views: Vec<ArrayView2<f32>> = tables.iter().map(|t| t.view()).collect();
    let memory = cli::memory_budget(args.memory);
    let cache = FrameCache::new(files.len(), memory);
    let frames = match csv {
        true => Frames::segments(&views),
        false => Frames::files(&files).cached(&cache),
    };
    let init = match args.init {
        Start::PlusPlus => Init::PlusPlus,
        Start::Parallel => Init::parallel(),
    };
    let params = KMeans::new(args.clusters)
        .init(init)
        .max_iter(args.max_iter)
        .seed(args.seed);
    let model = match &args.checkpoint {
        Some(path) => params.fit_resumable(&frames.local(), &Checkpoint::new(path))?,
        None => params.fit(&frames.local())?,
    };
    // The model is the same on every rank: rank 0 reports and writes it.
    if let Some(out) = &args.out {
        shardkit::write_on_root(out, |w| {
            model
                .centroids()
                .write_npy(w)
                .map_err(std::io::Error::other)
        })?;
    }
    if shardkit::is_root() {
        let inertia = model.inertia().last().copied().unwrap_or(f64::NAN);
        println!(
            "k-means of {count} files on {}: {} clusters, {} iterations ({}), inertia {inertia:.6e}",
            Layout::of(&exec),
            args.clusters,
            model.iterations(),
            if model.converged() { "converged" } else { "max_iter reached" },
        );
        println!("centroids:");
        for c in model.centroids().rows() {
            let values: Vec<String> = c.iter().map(|v| format!("{v:9.4}")).collect();
            println!("  {}", values.join(" "));
        }
    }
    Ok(())
}

/// `DIR/file0.npy`, `DIR/file1.npy`, ... up to the first number missing,
/// or the same `.csv` files (whichever `file0` is); and whether they are
/// CSV. Every rank lists the same files, so all read them the same way.
fn numbered_files(dir: &Path) -> Result<(Vec<PathBuf>, bool), String> {
    let name = |i: usize, ext: &str| dir.join(format!("file{i}.{ext}"));
    let ext = ["npy", "csv"]
        .into_iter()
        .find(|ext| name(0, ext).is_file())
        .ok_or_else(|| format!("{}: no file0.npy or file0.csv", dir.display()))?;
    let files = (0..)
        .map(|i| name(i, ext))
        .take_while(|p| p.is_file())
        .collect();
    Ok((files, ext == "csv"))
}

/// A CSV file of numbers, one point per line (a header line of names is
/// skipped).
fn read_csv(path: &Path) -> Result<Array2<f32>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut values = Vec::new();
    let mut cols = None;
    for (line, row) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parsed: Result<Vec<f32>, _> = row.split(',').map(|v| v.trim().parse::<f32>()).collect();
        let Ok(parsed) = parsed else {
            if line == 0 {
                continue;
            }
            return Err(format!(
                "{}: line {}: not numbers: {row}",
                path.display(),
                line + 1
            ));
        };
        match cols {
            None => cols = Some(parsed.len()),
            Some(c) if c != parsed.len() => {
                return Err(format!(
                    "{}: line {}: {} values, the lines before have {c}",
                    path.display(),
                    line + 1,
                    parsed.len()
                ))
            }
            _ => {}
        }
        values.extend(parsed);
    }
    let cols = cols.unwrap_or(0);
    Array2::from_shape_vec((values.len() / cols.max(1), cols), values).map_err(|e| e.to_string())
}

/// Generated file `i`: `rows` points in 8 dimensions around 10 centres (the
/// same centres for every file), seeded by `i`.
fn generate(i: usize, rows: usize) -> Array2<f32> {
    let mut centres = shardkit_testkit::Rng::new(1);
    let centres = Array2::from_shape_fn((10, 8), |_| centres.range(-20.0, 20.0));
    let mut rng = shardkit_testkit::Rng::new(100 + i as u64);
    let mut x = Array2::zeros((rows, 8));
    for mut row in x.rows_mut() {
        let c = rng.below(10);
        for (j, v) in row.iter_mut().enumerate() {
            *v = (centres[(c, j)] + 1.5 * rng.normal()) as f32;
        }
    }
    x
}
