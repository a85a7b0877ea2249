//! Times k-means: the k-means++ initialisation and each Lloyd iteration.
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --example bench_kmeans -- [options]
//!
//!   --list FILE         feature files to cluster, one per line (.npy or HTK), loaded
//!                       into memory (with --stream: read by every pass instead)
//!   --rows N --dim D    without --list: generated data, N × D f32 (default 200000 × 60)
//!   --clusters K        clusters (default 256)
//!   --iters I           Lloyd iterations to time (default 10; the stop rule is off)
//!   --threads T         threads (default: SHARDKIT_THREADS, else every core)
//!   --init FILE.npz     start Lloyd from these centroids (array `centroids`) and skip
//!                       the initialisation
//!   --init-method M     pp (default) or parallel (k-means||)
//!   --seed S            seed of the initialisation and of the generated data (default 0)
//!   --write-data DIR    write the data (DIR/data.npy) and the initial centroids
//!                       (DIR/init.npz) for scripts/peers/kmeans_sklearn.py
//! ```
//!
//! Prints the time of the initialisation, then one line per Lloyd iteration:
//! seconds, frames per second, GFLOP/s counting `2·N·K·D` per iteration
//! (the assignment GEMM), and the inertia.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use shardkit::Executor;
use shardkit_algorithms::features::{read_features, read_list, write_npy};
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::kmeans::{Init, KMeans, KMeansModel};

struct Args {
    list: Option<PathBuf>,
    stream: bool,
    rows: usize,
    dim: usize,
    clusters: usize,
    iters: usize,
    threads: Option<usize>,
    init: Option<PathBuf>,
    parallel_init: bool,
    seed: u64,
    write_data: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        list: None,
        stream: false,
        rows: 200_000,
        dim: 60,
        clusters: 256,
        iters: 10,
        threads: None,
        init: None,
        parallel_init: false,
        seed: 0,
        write_data: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--list" => a.list = Some(value()?.into()),
            "--stream" => a.stream = true,
            "--rows" => a.rows = number(value()?)?,
            "--dim" => a.dim = number(value()?)?,
            "--clusters" => a.clusters = number(value()?)?,
            "--iters" => a.iters = number(value()?)?,
            "--threads" => a.threads = Some(number(value()?)?),
            "--init" => a.init = Some(value()?.into()),
            "--init-method" => {
                a.parallel_init = match value()?.as_str() {
                    "pp" => false,
                    "parallel" => true,
                    other => return Err(format!("--init-method {other}: expected pp or parallel")),
                }
            }
            "--seed" => a.seed = number(value()?)? as u64,
            "--write-data" => a.write_data = Some(value()?.into()),
            "-h" | "--help" => {
                return Err("usage: bench_kmeans [--list FILE [--stream]] [--rows N --dim D] [--clusters K] [--iters I] [--threads T] [--init FILE.npz] [--init-method pp|parallel] [--seed S] [--write-data DIR]".into())
            }
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    Ok(a)
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
    let exec = match a.threads {
        Some(t) => Executor::threads(t)?,
        None => Executor::current(),
    };
    println!(
        "clusters: {}, threads: {}, seed: {}",
        a.clusters,
        a.threads
            .map_or_else(|| "default".to_owned(), |t| t.to_string()),
        a.seed
    );
    let init = if a.parallel_init {
        Init::parallel()
    } else {
        Init::PlusPlus
    };
    let name = if a.parallel_init {
        "k-means||"
    } else {
        "k-means++"
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
        std::fs::create_dir_all(dir)?;
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
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
