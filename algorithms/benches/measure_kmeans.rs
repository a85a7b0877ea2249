//! Times k-means: the k-means++ (or k-means||) initialisation and each
//! Lloyd iteration.
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench measure_kmeans -- --clusters 256 --iters 10
//! cargo bench -p shardkit-algorithms --bench measure_kmeans -- --write-data /tmp/km   # for scripts/peers/kmeans_sklearn.py
//! cargo bench -p shardkit-algorithms --bench measure_kmeans -- --help                 # every option
//! ```
//!
//! The data are `--list FILE` (feature files, loaded into memory, or read
//! by every pass with `--stream`) or `--rows N × --dim D` generated f32
//! frames (64 blobs, seeded). Prints the time of the initialisation, then
//! one line per Lloyd iteration: seconds, frames per second, GFLOP/s
//! counting `2·N·K·D` per iteration (the assignment GEMM), and the inertia;
//! then the best, median and worst iteration, and five end-to-end
//! `fit(max_iter=1)` calls (what scikit-learn's `fit` is compared with).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use ndarray::{concatenate, Array2, ArrayView2, Axis};
use shardkit::Executor;
use shardkit_algorithms::features::{read_features, read_list, write_npy};
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::kmeans::{Init, KMeans, KMeansModel};
use shardkit_testkit::cli::{self, Layout};

/// Times k-means on feature files or generated frames: the k-means++ (or
/// k-means||) initialisation, then each Lloyd iteration (seconds, frames/s,
/// GFLOP/s, inertia).
#[derive(Parser, Debug)]
#[command(name = "measure_kmeans", bin_name = "measure_kmeans")]
struct Args {
    /// Feature files to cluster, one per line (.npy or HTK), loaded into
    /// memory (with --stream: read by every pass instead).
    #[arg(long)]
    list: Option<PathBuf>,
    /// With --list: read the files in every pass instead of loading them.
    #[arg(long, requires = "list")]
    stream: bool,
    /// Without --list: rows of generated data.
    #[arg(long, default_value_t = 200_000, value_parser = cli::count(1, 1_000_000_000))]
    rows: usize,
    /// Without --list: columns of generated data.
    #[arg(long, default_value_t = 60, value_parser = cli::count(1, 4096))]
    dim: usize,
    /// Clusters K.
    #[arg(long, default_value_t = 256, value_parser = cli::count(1, 1 << 20))]
    clusters: usize,
    /// Lloyd iterations to time (the stop rule is off).
    #[arg(long, default_value_t = 10, value_parser = cli::count(1, 100_000))]
    iters: usize,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// Start Lloyd from these centroids (.npz, array `centroids`) and skip
    /// the initialisation.
    #[arg(long, value_name = "FILE.npz")]
    init: Option<PathBuf>,
    /// The initialisation: k-means++ or k-means||.
    #[arg(long, value_enum, default_value_t = InitMethod::Pp)]
    init_method: InitMethod,
    /// Seed of the initialisation and of the generated data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the data (DIR/data.npy) and the initial centroids
    /// (DIR/init.npz) for scripts/peers/kmeans_sklearn.py.
    #[arg(long, value_name = "DIR")]
    write_data: Option<PathBuf>,
    #[command(flatten)]
    cargo: cli::CargoBench,
}

/// The initialisations to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum InitMethod {
    /// k-means++.
    Pp,
    /// k-means|| (parallel).
    Parallel,
}

/// `n × d` f32 frames from 64 Gaussian-like blobs, a function of `seed`
/// alone.
fn generate(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut state = seed ^ 0x5851_f42d_4c95_7f2d;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u32 << 24) as f32
    };
    let centres = Array2::from_shape_fn((64, d), |_| 8.0 * next() - 4.0);
    Array2::from_shape_fn((n, d), |(i, j)| {
        let noise = next() + next() + next() - 1.5;
        centres[(i % 64, j)] + noise
    })
}

fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (data, files) = match &a.list {
        Some(list) => {
            let files = read_list(list)?;
            if a.stream {
                println!(
                    "data: {} files of {}, read by every pass",
                    files.len(),
                    list.display()
                );
                (None, Some(files))
            } else {
                let parts = files
                    .iter()
                    .map(read_features)
                    .collect::<Result<Vec<_>, _>>()?;
                let views: Vec<ArrayView2<f32>> = parts.iter().map(|p| p.view()).collect();
                let x = concatenate(Axis(0), &views)?;
                println!(
                    "data: {} files of {}, {} frames × {} columns, in memory",
                    files.len(),
                    list.display(),
                    x.nrows(),
                    x.ncols()
                );
                (Some(x), None)
            }
        }
        None => {
            cli::fits_in_memory("the generated data", 4.0 * a.rows as f64 * a.dim as f64)?;
            let start = Instant::now();
            let x = generate(a.rows, a.dim, a.seed);
            println!(
                "data: no --list given, so generated {} × {} f32 frames (64 blobs, seed {}) in {:.2} s",
                a.rows,
                a.dim,
                a.seed,
                start.elapsed().as_secs_f64()
            );
            (Some(x), None)
        }
    };
    let dim = match (&data, &files) {
        (Some(x), _) => x.ncols(),
        (None, Some(f)) => read_features(&f[0])?.ncols(),
        _ => unreachable!(),
    };
    let frames = match (&data, &files) {
        (Some(x), _) => Frames::rows(x.view()),
        (None, Some(f)) => Frames::files(f).expect_dim(dim),
        _ => unreachable!(),
    };
    let exec = Executor::from_env_with_threads(a.threads)?;
    println!(
        "clusters: {}, {}, seed: {}",
        a.clusters,
        Layout::of(&exec),
        a.seed
    );
    let (init, name) = match a.init_method {
        InitMethod::Pp => (Init::PlusPlus, "k-means++"),
        InitMethod::Parallel => (Init::parallel(), "k-means||"),
    };
    let params = KMeans::new(a.clusters).seed(a.seed).init(init);

    // The initialisation, timed on its own (unless centroids are given).
    let initial = match &a.init {
        Some(path) => {
            let c = KMeansModel::load(path)?.centroids().clone();
            println!(
                "init: the centroids of {} (no k-means++ run)",
                path.display()
            );
            c
        }
        None => {
            let start = Instant::now();
            let c = exec.install(|| params.initial_centroids(&frames))?;
            println!("{name} init: {:.3} s", start.elapsed().as_secs_f64());
            c
        }
    };
    if let Some(dir) = &a.write_data {
        shardkit_testkit::cli::create_dir(dir)?;
        if let Some(x) = &data {
            write_npy(dir.join("data.npy"), x)?;
        }
        KMeansModel::from_centroids(initial.clone())?.save(dir.join("init.npz"))?;
        println!(
            "wrote {} and {}",
            dir.join("data.npy").display(),
            dir.join("init.npz").display()
        );
    }

    let lloyd = KMeans::new(a.clusters)
        .init(Init::Given(initial))
        .max_iter(a.iters)
        .tol(0.0);
    let model = exec.install(|| lloyd.fit(&frames))?;
    let n = match (&data, &files) {
        (Some(x), _) => x.nrows(),
        (None, Some(f)) => {
            let mut n = 0;
            for file in f {
                n += read_features(file)?.nrows();
            }
            n
        }
        _ => unreachable!(),
    };
    let flops = 2.0 * n as f64 * a.clusters as f64 * dim as f64;
    let mut times = Vec::new();
    for (i, it) in model.history().iter().enumerate() {
        times.push(it.seconds);
        println!(
            "iter {:>3}: {:.4} s  {:>8.3e} frames/s  {:>6.1} GFLOP/s  inertia {:.6e}{}",
            i + 1,
            it.seconds,
            n as f64 / it.seconds,
            flops / it.seconds / 1e9,
            it.inertia,
            if it.reseeded > 0 {
                format!("  ({} empty clusters re-seeded)", it.reseeded)
            } else {
                String::new()
            }
        );
    }
    times.sort_by(f64::total_cmp);
    if let (Some(best), Some(worst)) = (times.first(), times.last()) {
        let median = times[times.len() / 2];
        println!(
            "Lloyd iteration: best {best:.4} s, median {median:.4} s, worst {worst:.4} s ({:.1} GFLOP/s at best)",
            flops / best / 1e9
        );
    }
    // The whole call that scikit-learn's `fit(max_iter=1)` compares with:
    // input checks, one iteration, the update step.
    if let Some(x) = &data {
        let one = lloyd.clone().max_iter(1);
        let mut fits: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                exec.install(|| one.fit(&Frames::rows(x.view())))
                    .map(|_| start.elapsed().as_secs_f64())
            })
            .collect::<Result<_, _>>()?;
        fits.sort_by(f64::total_cmp);
        println!(
            "fit(max_iter=1) end to end: best {:.4} s, median {:.4} s, worst {:.4} s",
            fits[0], fits[2], fits[4]
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cargo = args.cargo.clone();
    cargo.run("measure_kmeans", || run(args))
}
