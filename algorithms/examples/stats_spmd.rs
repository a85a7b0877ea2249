//! daal4py's SPMD examples, in one shardkit program: every MPI rank reads
//! its own files, runs the same code, and gets the result of every rank's
//! rows; the same program without MPI reads all the files as one process.
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --example stats_spmd                    # one process, generated files
//! cargo build --release --features mpi -p shardkit-algorithms --example stats_spmd
//! mpirun -n 2 --bind-to none target/release/examples/stats_spmd                      # two ranks, two files each
//! mpirun -n 4 --bind-to none target/release/examples/stats_spmd --data DIR --out results
//! ```
//!
//! The files are shared out in contiguous runs (with 4 files on 2 ranks,
//! rank 0 reads `file0.csv` and `file1.csv`), so the ranks together hold
//! the files in order; every statistic then has the bits of the
//! one-process run, which `--out` lets a script compare with `cmp`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use ndarray::{Array1, Array2};
use shardkit::Executor;
use shardkit_algorithms::linear::{LinearRegression, Method};
use shardkit_algorithms::naive_bayes::MultinomialNb;
use shardkit_algorithms::provenance;
use shardkit_algorithms::stats::{
    covariance, low_order_moments, qr, svd, Pca, PcaMethod, Table, TableOptions,
};
use shardkit_testkit::rng::Rng;

/// daal4py's SPMD examples in one program: each MPI rank reads its own
/// share of `DIR/file{i}.csv` (features, then 2 responses) and
/// `DIR/nb{i}.csv` (counts, then a class label 0–3); every rank computes
/// low-order moments, covariance and correlation, PCA (correlation and SVD
/// methods), QR, SVD, linear regression (normal equations and QR), ridge
/// regression and multinomial naive Bayes of all the ranks' rows; rank 0
/// prints them. Without mpirun: one process reads every file.
#[derive(Parser)]
struct Args {
    /// A folder of `file0.csv`, `file1.csv`, … (features, then the
    /// responses) [default: generated files in target/stats-spmd-data]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Files to generate when --data is not given
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    files: u64,

    /// Write each result as DIR/NAME.npz (by rank 0)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Every rank reads every file (the same table on every rank) instead
    /// of its own run of them
    #[arg(long)]
    same: bool,

    /// Threads per rank [default: SHARDKIT_THREADS, or every core]
    #[arg(long, value_parser = shardkit_testkit::cli::threads())]
    threads: Option<usize>,
}

/// Feature columns and responses of the generated `file{i}.csv`.
const FEATURES: usize = 8;
const RESPONSES: usize = 2;
/// Classes and count columns of the generated `nb{i}.csv`.
const NB_CLASSES: usize = 4;
const NB_COUNTS: usize = 20;

fn main() -> ExitCode {
    let args = Args::parse();
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let exec = match args.threads {
            Some(n) => Executor::threads(n)?,
            None => Executor::current(),
        };
        exec.install(|| run(&args))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (rank, ranks) = Executor::current().rank();
    let dir = match &args.data {
        Some(dir) => dir.clone(),
        None => {
            let dir = PathBuf::from("target/stats-spmd-data");
            generate(&dir, args.files as usize)?;
            dir
        }
    };
    // Every rank reads its own run of the files (daal4py's SPMD mode), or,
    // with --same, all of them.
    let read = |stem: &str| -> Result<Table<'static>, Box<dyn std::error::Error>> {
        let files = numbered(&dir, stem)?;
        let mine = if args.same {
            &files[..]
        } else {
            share(&files, rank, ranks)
        };
        if shardkit::is_root() {
            println!(
                "{stem}*.csv: {} file(s) on {ranks} rank(s); rank 0 reads {}",
                files.len(),
                names(mine)
            );
        }
        let table = Table::read(mine, &TableOptions::new())?;
        Ok(if args.same { table } else { table.local() })
    };
    let root = shardkit::is_root();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
    }
    // The results say what made them: every rank fingerprints all the
    // files (the same on any number of ranks, with local or same tables).
    let all: Vec<PathBuf> = [numbered(&dir, "file")?, numbered(&dir, "nb")?].concat();
    provenance::record_run("", provenance::fingerprint_files(&all)?);

    let table = read("file")?;
    let cols = table.ncols();
    let features = cols - RESPONSES;

    let moments = low_order_moments(&table)?;
    if root {
        println!("\nlow-order moments of {} rows", moments.rows);
        print_rows(&[
            ("mean", &moments.mean),
            ("std", &moments.standard_deviation),
            ("min", &moments.minimum),
            ("max", &moments.maximum),
        ]);
    }
    let cov = covariance(&table)?;
    let correlation = cov.correlation()?;
    if root {
        println!("\ncorrelation of the first 4 columns");
        for i in 0..4.min(cols) {
            print_rows(&[(
                "",
                &correlation
                    .row(i)
                    .slice(ndarray::s![..4.min(cols)])
                    .to_owned(),
            )]);
        }
    }
    let pca = Pca::params()
        .method(PcaMethod::Correlation)
        .components(3)
        .fit(&table)?;
    let pca_svd = Pca::params()
        .method(PcaMethod::Svd)
        .components(3)
        .fit(&table)?;
    if root {
        println!("\nPCA (correlation method): explained variance ratio of 3 components");
        print_rows(&[("ratio", &pca.explained_variance_ratio)]);
        println!("PCA (SVD method, covariance): explained variance ratio");
        print_rows(&[("ratio", &pca_svd.explained_variance_ratio)]);
    }
    let r = qr(&table)?;
    let singular = svd(&table)?;
    if root {
        println!("\nsingular values (TSQR, then the SVD of R)");
        print_rows(&[("σ", &singular.singular_values)]);
    }
    let linear = LinearRegression::params().fit(&table, RESPONSES)?;
    let linear_qr = LinearRegression::params()
        .method(Method::Qr)
        .fit(&table, RESPONSES)?;
    let ridge = LinearRegression::params()
        .ridge(10.0)
        .fit(&table, RESPONSES)?;
    let r2 = linear.score(&table)?;
    if root {
        println!("\nlinear regression of the last {RESPONSES} columns on the first {features}");
        for (t, name) in [(0, "y0"), (1, "y1")] {
            print_rows(&[(name, &linear.coefficients.row(t).to_owned())]);
        }
        print_rows(&[("intercept", &linear.intercept), ("R²", &r2)]);
        let gap = (&linear.coefficients - &linear_qr.coefficients)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        println!(
            "normal equations and QR agree to {gap:.1e}; ridge(10) intercepts {}",
            ridge.intercept
        );
    }

    let nb_table = read("nb")?;
    let nb = MultinomialNb::params().classes(NB_CLASSES).fit(&nb_table)?;
    if root {
        println!("\nmultinomial naive Bayes: class log priors");
        print_rows(&[("log prior", &nb.class_log_prior)]);
    }

    if let Some(dir) = &args.out {
        let out = |name: &str| dir.join(format!("{name}.npz"));
        moments.save(out("moments"))?;
        cov.save(out("covariance"))?;
        pca.save(out("pca_correlation"))?;
        pca_svd.save(out("pca_svd"))?;
        r.save(out("qr"))?;
        singular.save(out("svd"))?;
        linear.save(out("linear"))?;
        linear_qr.save(out("linear_qr"))?;
        ridge.save(out("ridge"))?;
        nb.save(out("naive_bayes"))?;
        if root {
            println!("\nresults written to {}", dir.display());
        }
    }
    Ok(())
}

/// `DIR/{stem}0.csv`, `DIR/{stem}1.csv`, … as far as they go.
fn numbered(dir: &Path, stem: &str) -> Result<Vec<PathBuf>, String> {
    let files: Vec<PathBuf> = (0..)
        .map(|i| dir.join(format!("{stem}{i}.csv")))
        .take_while(|p| p.is_file())
        .collect();
    if files.is_empty() {
        return Err(format!("{}: no {stem}0.csv", dir.display()));
    }
    Ok(files)
}

/// Rank `rank`'s contiguous run of `files` (the first `len % ranks` ranks
/// read one more).
fn share(files: &[PathBuf], rank: usize, ranks: usize) -> &[PathBuf] {
    let (q, r) = (files.len() / ranks, files.len() % ranks);
    let start = rank * q + rank.min(r);
    let len = q + usize::from(rank < r);
    &files[start..start + len]
}

fn names(files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

fn print_rows(rows: &[(&str, &Array1<f64>)]) {
    for (name, values) in rows {
        let cells: Vec<String> = values.iter().map(|v| format!("{v:>9.4}")).collect();
        println!("{name:>10} {}", cells.join(" "));
    }
}

/// Writes `files` generated CSV files (rank 0 only; the others wait for
/// it): `file{i}.csv`, 2,000 rows of 8 correlated features and 2 responses
/// linear in them plus noise; `nb{i}.csv`, 2,000 rows of 20 counts and a
/// class label 0–3.
fn generate(dir: &Path, files: usize) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    shardkit::write_on_root(dir.join("README.txt"), |w| {
        for i in 0..files {
            let mut rng = Rng::new(7 + i as u64);
            let x = Array2::from_shape_fn((2000, FEATURES), |(_, j)| {
                (j as f64) + (1.0 + j as f64 / 2.0) * rng.normal()
            });
            let mut text = String::new();
            for row in x.rows() {
                let y0 = 1.0
                    + row
                        .iter()
                        .enumerate()
                        .map(|(j, v)| (j as f64 - 3.0) * v)
                        .sum::<f64>();
                let y1 = -2.0 + 0.5 * row[0] - row[FEATURES - 1];
                let cells: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
                text += &format!(
                    "{},{:.6},{:.6}\n",
                    cells.join(","),
                    y0 + 0.1 * rng.normal(),
                    y1 + 0.1 * rng.normal()
                );
            }
            shardkit::write_atomic(dir.join(format!("file{i}.csv")), |f| {
                f.write_all(text.as_bytes())
            })?;
            // Class c favours the counts j with j % NB_CLASSES == c.
            let mut text = String::new();
            for _ in 0..2000 {
                let class = rng.below(NB_CLASSES);
                let cells: Vec<String> = (0..NB_COUNTS)
                    .map(|j| {
                        let rate = if j % NB_CLASSES == class { 6.0 } else { 2.0 };
                        format!("{}", (rate * rng.uniform() * 2.0).floor())
                    })
                    .collect();
                text += &format!("{},{class}\n", cells.join(","));
            }
            shardkit::write_atomic(dir.join(format!("nb{i}.csv")), |f| {
                f.write_all(text.as_bytes())
            })?;
        }
        writeln!(w, "generated by the stats_spmd example: {files} files")?;
        Ok(())
    })?;
    Ok(())
}
