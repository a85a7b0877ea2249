//! Times the distributed statistics (issue 14's set) on the data that
//! `scripts/peers/stats_data.py` writes, task by task, beside
//! `scripts/peers/stats_daal4py.py` (daal4py, scikit-learn, sklearnex) on
//! the same files.
//!
//! ```text
//! python3 scripts/peers/stats_data.py --out /tmp/stats2m            # 2,000,000 × 60, 4 parts
//! cargo bench -p shardkit-algorithms --bench measure_stats -- --data /tmp/stats2m --threads 2
//! cargo bench -p shardkit-algorithms --bench measure_stats --features mpi --no-run   # prints the program, then:
//! mpirun -n 2 --bind-to none PROGRAM --data /tmp/stats2m --threads 1 --spmd
//! ```
//!
//! Every data set is read into memory first (the read is timed and
//! reported apart); then each task runs `--reps` times and the median
//! (and the fastest) wall time is printed, as the peer script does. With
//! `--spmd` under mpirun, rank `r` holds a contiguous run of the parts as a
//! [local](shardkit_algorithms::stats::Table::local) table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ndarray::{s, Array2, Axis};
use shardkit::Executor;
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::kmeans::{Init, KMeans};
use shardkit_algorithms::linear::{LinearRegression, Method};
use shardkit_algorithms::naive_bayes::MultinomialNb;
use shardkit_algorithms::stats::{self, Pca, PcaMethod, Table, TableOptions};
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::rng::Rng;

/// Times issue 14's statistics on the parts written by
/// scripts/peers/stats_data.py: one line per task with the median and
/// fastest wall time of --reps runs.
#[derive(Parser, Debug)]
#[command(name = "measure_stats", bin_name = "measure_stats")]
struct Args {
    /// The folder of part{i}.npy, reg_part{i}.npy and nb_part{i}.npy
    /// [default: generated in memory, --rows × --cols in 4 parts]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Without --data: rows of the generated tables.
    #[arg(long, default_value_t = 20_000, value_parser = cli::count(8, 100_000_000))]
    rows: usize,
    /// Without --data: feature columns of the generated tables.
    #[arg(long, default_value_t = 12, value_parser = cli::count(2, 1000))]
    cols: usize,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// Runs of each task; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = cli::count(1, 1000))]
    reps: usize,
    /// Under mpirun: each rank holds its own run of the parts (a local
    /// table) instead of every rank holding all of them.
    #[arg(long)]
    spmd: bool,
    /// Tasks to run, comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    tasks: Vec<String>,
    #[command(flatten)]
    cargo: cli::CargoBench,
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.cargo.run("measure_stats", || {
        let exec = Executor::from_env_with_threads(args.threads)?;
        exec.install(|| run(&args))
    })
}

/// The parts `DIR/{stem}0.npy`, `DIR/{stem}1.npy`, … that this process
/// holds: all of them, or with `spmd` this rank's contiguous run.
fn parts(dir: &Path, stem: &str, spmd: bool) -> Result<Vec<PathBuf>, String> {
    let all: Vec<PathBuf> = (0..)
        .map(|i| dir.join(format!("{stem}{i}.npy")))
        .take_while(|p| p.is_file())
        .collect();
    if all.is_empty() {
        return Err(format!(
            "{}: no {stem}0.npy (write the data with scripts/peers/stats_data.py)",
            dir.display()
        ));
    }
    if !spmd {
        return Ok(all);
    }
    Ok(all[share(all.len())].to_vec())
}

/// Reads the parts as one table, timing the read.
fn read(args: &Args, stem: &str) -> Result<Table<'static>, Box<dyn std::error::Error>> {
    let spmd = args.spmd;
    let Some(dir) = &args.data else {
        return generated(args, stem);
    };
    let files = parts(dir, stem, spmd)?;
    let start = Instant::now();
    let table = Table::read(&files, &TableOptions::new().max_magnitude(1e12))?;
    let table = if spmd { table.local() } else { table };
    if shardkit::is_root() {
        println!(
            "load {stem:<9} {:>9.3} s  ({} rows × {} columns here, {} part(s))",
            start.elapsed().as_secs_f64(),
            table.nrows(),
            table.ncols(),
            table.num_parts()
        );
    }
    Ok(table)
}

/// Runs `task` `reps` times; prints the median and the fastest.
fn time<T>(
    name: &str,
    reps: usize,
    mut task: impl FnMut() -> Result<T, Box<dyn std::error::Error>>,
) -> Result<T, Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps {
        let start = Instant::now();
        last = Some(task()?);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    if shardkit::is_root() {
        println!(
            "shardkit {name:<14} {:>9.4} s  (fastest {:.4} s)",
            times[times.len() / 2],
            times[0]
        );
    }
    Ok(last.expect("reps ≥ 1"))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let exec = Executor::current();
    if shardkit::is_root() {
        println!(
            "measure_stats: {}, {} data, median of {}",
            Layout::of(&exec),
            if args.spmd { "local" } else { "same" },
            args.reps
        );
    }
    let wanted = |task: &str| args.tasks.is_empty() || args.tasks.iter().any(|t| t == task);
    let reps = args.reps;
    let x = read(args, "part")?;
    if wanted("moments") {
        time("moments", reps, || Ok(stats::low_order_moments(&x)?))?;
    }
    if wanted("covariance") {
        time("covariance", reps, || Ok(stats::covariance(&x)?))?;
    }
    if wanted("correlation") {
        time("correlation", reps, || {
            Ok(stats::covariance(&x)?.correlation()?)
        })?;
    }
    if wanted("pca_eigen") {
        let pca = Pca::params().method(PcaMethod::Correlation);
        time("pca_eigen", reps, || Ok(pca.fit(&x)?))?;
    }
    if wanted("pca_svd") {
        let pca = Pca::params().method(PcaMethod::Svd);
        time("pca_svd", reps, || Ok(pca.fit(&x)?))?;
    }
    if wanted("qr") {
        // R, and Q on demand (daal4py's qr returns both).
        time("qr", reps, || {
            let qr = stats::qr(&x)?;
            Ok(qr.q(&x)?)
        })?;
    }
    if wanted("svd") {
        // Singular values, right and left vectors (as daal4py's svd).
        time("svd", reps, || {
            let svd = stats::svd(&x)?;
            Ok(svd.left_vectors(&x)?)
        })?;
    }
    if ["kmeans_init", "kmeans_init_1", "kmeans"]
        .iter()
        .any(|t| wanted(t))
    {
        // k-means runs in f32 (its distances are f32 GEMMs); 64 clusters,
        // k-means++ seeded, then 10 Lloyd iterations from its centroids
        // with the stop rule off (the peer script's settings).
        let rows = x.to_array().mapv(|v| v as f32);
        let frames = if args.spmd {
            Frames::rows(rows.view()).local()
        } else {
            Frames::rows(rows.view())
        };
        // Greedy k-means++ (2 + ln 64 = 6 candidates per centroid, as
        // scikit-learn's kmeans_plusplus), then plain k-means++ (one
        // candidate, as daal4py's plusPlusDense).
        let init = KMeans::new(64).seed(0);
        let start = time("kmeans_init", reps, || Ok(init.initial_centroids(&frames)?))?;
        let plain = KMeans::new(64).seed(0).local_trials(Some(1));
        time("kmeans_init_1", reps, || {
            Ok(plain.initial_centroids(&frames)?)
        })?;
        if wanted("kmeans") {
            let lloyd = KMeans::new(64)
                .init(Init::Given(start))
                .max_iter(10)
                .tol(0.0);
            time("kmeans", reps, || Ok(lloyd.fit(&frames)?))?;
        }
    }
    drop(x);
    if ["linreg_normeq", "linreg_qr", "ridge"]
        .iter()
        .any(|t| wanted(t))
    {
        let reg = read(args, "reg_part")?;
        let fit = |params: LinearRegression| -> Result<_, Box<dyn std::error::Error>> {
            Ok(params.fit(&reg, 2)?)
        };
        if wanted("linreg_normeq") {
            time("linreg_normeq", reps, || fit(LinearRegression::params()))?;
        }
        if wanted("linreg_qr") {
            time("linreg_qr", reps, || {
                fit(LinearRegression::params().method(Method::Qr))
            })?;
        }
        if wanted("ridge") {
            time("ridge", reps, || fit(LinearRegression::params().ridge(1.0)))?;
        }
    }
    if wanted("naive_bayes") {
        let nb = read(args, "nb_part")?;
        let classes = classes(&nb);
        let params = MultinomialNb::params().classes(classes).alpha(1.0);
        time("naive_bayes", reps, || Ok(params.fit(&nb)?))?;
    }
    Ok(())
}

/// The classes of a naive-Bayes table: one more than its largest label
/// (the last column), over every rank's rows.
fn classes(nb: &Table<'_>) -> usize {
    let moments = stats::low_order_moments(nb).expect("the table has rows");
    moments.maximum[nb.ncols() - 1] as usize + 1
}

/// Without `--data`: 4 parts of generated rows, seeded by part, this
/// rank's run of them with `--spmd` — `part`: correlated columns far from
/// zero; `reg_part`: those and 2 responses linear in them plus noise;
/// `nb_part`: counts and a class label 0–4.
fn generated(args: &Args, stem: &str) -> Result<Table<'static>, Box<dyn std::error::Error>> {
    const PARTS: usize = 4;
    let held = if args.spmd { share(PARTS) } else { 0..PARTS };
    let d = args.cols;
    // The parts and their concatenation live together for a moment.
    cli::fits_in_memory(
        &format!("{} generated rows of {} columns", args.rows, d + 2),
        2.0 * args.rows as f64 * (d + 2) as f64 * 8.0,
    )?;
    let arrays: Vec<Array2<f64>> = held
        .map(|part| {
            let mut rng = Rng::new(1 + part as u64);
            let n = args.rows / PARTS + usize::from(part < args.rows % PARTS);
            match stem {
                "nb_part" => Array2::from_shape_fn((n, d + 1), |(_, j)| {
                    if j == d {
                        rng.below(5) as f64
                    } else {
                        (8.0 * rng.uniform()).floor()
                    }
                }),
                _ => {
                    let mut x = Array2::from_shape_fn((n, d), |(_, j)| {
                        10.0 * j as f64 + (1.0 + j as f64) * rng.normal()
                    });
                    for j in 1..d {
                        let prev = x.column(j - 1).to_owned();
                        x.column_mut(j).scaled_add(0.5, &prev);
                    }
                    if stem == "reg_part" {
                        let y0 = x.sum_axis(Axis(1)) + 1.5;
                        let y1 = x.column(0).mapv(|v| 2.0 * v - 2.0);
                        let mut xy = Array2::zeros((n, d + 2));
                        xy.slice_mut(s![.., ..d]).assign(&x);
                        xy.column_mut(d)
                            .assign(&y0.mapv(|v| v + 0.5 * rng.normal()));
                        xy.column_mut(d + 1)
                            .assign(&y1.mapv(|v| v + 0.5 * rng.normal()));
                        xy
                    } else {
                        x
                    }
                }
            }
        })
        .collect();
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    let table = Table::parts(&views)?;
    // Owned, so that the table outlives the arrays.
    let owned = Table::from_array(table.to_array().into_owned())?;
    let owned = if args.spmd { owned.local() } else { owned };
    if shardkit::is_root() {
        println!(
            "generated {stem:<9} ({} rows × {} columns here)",
            owned.nrows(),
            owned.ncols()
        );
    }
    Ok(owned)
}

/// This rank's contiguous run of `len` parts (the first `len % ranks`
/// ranks hold one more), so that the ranks together hold them in order.
fn share(len: usize) -> std::ops::Range<usize> {
    let (rank, ranks) = Executor::current().rank();
    let (q, r) = (len / ranks, len % ranks);
    let start = rank * q + rank.min(r);
    start..start + q + usize::from(rank < r)
}
