//! Row-block matrix multiplication, as in joblib's tutorial: `A` (n×k) is cut
//! into blocks of rows, each shard multiplies its block by the whole of `B`
//! (k×m), and the row blocks of `C = A·B` are stacked back in order.
//!
//! ```text
//! cargo run --release --example matmul -- --n 1024
//! cargo run --example matmul -- --n 256 --threads 2
//! ```
//!
//! Options (`--help` lists them): `--n N` (matrix size, default 256),
//! `--threads T` (pool size for the parallel run; default: the ambient
//! executor, i.e. every core, or `SHARDKIT_THREADS`), `--reps R` (timed
//! repetitions, at least; more for small `n`, a number fixed by `n` alone;
//! the best is kept; default 3).
//!
//! Under MPI the parallel run shares the row blocks out between the ranks
//! and every rank receives the whole product (`concat` gathers the blocks):
//!
//! ```text
//! cargo build --release --features mpi --example matmul
//! SHARDKIT_THREADS=1 mpirun -n 2 target/release/examples/matmul --n 1024
//! ```
//!
//! Blocks are `ROWS_PER_BLOCK` rows each rather than the default (the input
//! cut into up to 256 blocks): every call of `dot` packs all of `B` before
//! multiplying, so blocks of a few rows would spend most of their time
//! repacking `B` — with n = 1024 the default blocks run several times slower
//! than one plain `A.dot(&B)`.

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use ndarray::{Array2, ArrayView2};
use shardkit::{parallelize, Executor};

/// Rows of `A` per block: enough for `dot` to run at full speed.
const ROWS_PER_BLOCK: usize = 64;

/// One shard: a block of rows of `a` times all of `b`. `b` is not in
/// `split`, so every shard shares it by reference; the blocks of `C` are
/// stacked in row order.
#[parallelize(split = "a", reduce = "concat", block_size = ROWS_PER_BLOCK)]
fn matmul(a: ArrayView2<f64>, b: &Array2<f64>) -> Array2<f64> {
    a.dot(b)
}

/// Multiplies two n × n matrices with `#[parallelize]` (blocks of rows of
/// A, each times all of B, stacked in order), on one thread and on the
/// parallel executor, checks the product against ndarray's own `A.dot(&B)`
/// and that both runs give the same bits, and prints the best times and
/// the speedup.
#[derive(Parser)]
struct Args {
    /// Matrix size n (A, B and C are n × n).
    #[arg(long, default_value_t = 256, value_parser = positive)]
    n: usize,
    /// Pool size of the parallel run [default: the ambient executor: every
    /// core, or SHARDKIT_THREADS; under mpirun, every rank]
    #[arg(long, value_parser = positive)]
    threads: Option<usize>,
    /// Timed repetitions, at least (more for small n: a number fixed by n
    /// alone); the best is kept.
    #[arg(long, default_value_t = 3, value_parser = positive)]
    reps: usize,
}

/// A positive integer.
fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err("expected a positive integer".to_string()),
    }
}

/// The best time of `runs(reps, n)` runs of `f` on `n × n` matrices,
/// after one untimed run (which also starts a pool's threads); and the
/// last result.
///
/// The number of runs depends only on the arguments, never on the clock:
/// under MPI every call of `f` is a collective step, so a rank that
/// decided on its own to time once more (as an earlier, time-based rule
/// did) would wait for ever for the others at the end.
fn best_of(reps: usize, n: usize, f: impl Fn() -> Array2<f64>) -> (Duration, Array2<f64>) {
    let mut c = f();
    let mut best = Duration::MAX;
    for _ in 0..runs(reps, n) {
        let start = Instant::now();
        c = f();
        best = best.min(start.elapsed());
    }
    (best, c)
}

/// At least `reps` runs, and more for small matrices: about 10 GFLOP of
/// products in all (a quarter of a second at 40 GFLOP/s), at most 1,000.
fn runs(reps: usize, n: usize) -> usize {
    let flops = 2.0 * (n as f64).powi(3);
    reps.max(((1e10 / flops) as usize).min(1_000))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let n = args.n;
    // Deterministic, well-scaled entries in [-1, 1].
    let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3) as f64 * 0.001).sin());
    let b = Array2::from_shape_fn((n, n), |(i, j)| ((i * 5 + j * 11) as f64 * 0.002).cos());

    let one = Executor::threads(1).expect("a pool of one thread");
    let many = match args.threads.map(Executor::threads) {
        None => Executor::current(),
        Some(Ok(exec)) => exec,
        Some(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let parallel = common::workers(&many);
    let (t1, c1) = one.install(|| best_of(args.reps, n, || matmul(a.view(), &b)));
    let (tn, cn) = many.install(|| best_of(args.reps, n, || matmul(a.view(), &b)));
    // The baseline: ndarray's own product, on the calling thread.
    let (t_dot, reference) = best_of(args.reps, n, || a.dot(&b));

    assert_eq!(cn.dim(), (n, n));
    let max_diff = (&cn - &reference).fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(max_diff < 1e-9, "max |C - A·B| = {max_diff:e}");
    // Same blocks, same order: the same bits on any pool.
    assert_eq!(c1, cn, "1-thread and {parallel} products differ");
    if !shardkit::is_root() {
        return ExitCode::SUCCESS;
    }

    let blocks = n.div_ceil(ROWS_PER_BLOCK);
    let gflops = |t: Duration| 2.0 * (n as f64).powi(3) / t.as_secs_f64() / 1e9;
    let parallel_line = format!("matmul, {parallel}");
    // Labels in one column, however long the parallel one.
    let width = parallel_line.chars().count().max(22);
    let line = |what: &str, t: Duration| {
        println!("  {what:<width$} {t:>10.3?}  ({:5.2} GFLOP/s)", gflops(t));
    };
    println!(
        "C = A·B, n = {n}, {blocks} blocks of up to {ROWS_PER_BLOCK} rows, best of {} runs",
        runs(args.reps, n)
    );
    line("A.dot(&B), no shardkit", t_dot);
    line("matmul, 1 thread", t1);
    line(&parallel_line, tn);
    println!(
        "  speedup, {parallel} over 1 thread: {:.2}x (over plain A.dot(&B): {:.2}x)",
        t1.as_secs_f64() / tn.as_secs_f64(),
        t_dot.as_secs_f64() / tn.as_secs_f64()
    );
    println!(
        "  max |C - A.dot(&B)| = {max_diff:.1e}; the 1-thread and {parallel} results are identical"
    );
    ExitCode::SUCCESS
}
