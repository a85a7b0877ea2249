//! The smallest `#[parallelize]` program: a sum of squares over ten million
//! numbers, checked against the closed form, and the same bits on one
//! thread as on many.
//!
//! ```text
//! cargo run --release --example sum_of_squares
//! SHARDKIT_THREADS=2 cargo run --example sum_of_squares
//! ```

mod common;

use clap::Parser;
use shardkit::{parallelize, Executor};

/// Sums the squares of 0..10,000,000 with `#[parallelize]` on the ambient
/// executor (every core, SHARDKIT_THREADS threads, or under mpirun every
/// rank), checks the total against the closed form n(n-1)(2n-1)/6, and
/// checks that the serial executor and pools of 1, 2 and 3 threads give the
/// same bits.
#[derive(Parser)]
struct Args {}

/// Written for one shard: the attribute cuts `xs` into blocks, runs this body
/// on each block on the ambient executor, and adds the partial sums in block
/// order.
#[parallelize(split = "xs", reduce = "sum")]
fn sum_of_squares(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum()
}

fn main() {
    Args::parse();
    const N: u64 = 10_000_000;
    let xs: Vec<f64> = (0..N).map(|i| i as f64).collect();

    // On the default executor: every core, or SHARDKIT_THREADS threads
    // (under mpirun, with the `mpi` feature: every rank and its threads).
    let exec = Executor::current();
    let (rank, _) = exec.rank();
    let total = sum_of_squares(&xs);

    // 0² + 1² + … + (n-1)² = n(n-1)(2n-1)/6, exact in u128.
    let n = u128::from(N);
    let exact = (n * (n - 1) * (2 * n - 1) / 6) as f64;
    let rel = ((total - exact) / exact).abs();
    if rank == 0 {
        println!(
            "sum of squares of 0..{N} on {}: {total:e}",
            common::workers(&exec)
        );
        println!("closed form n(n-1)(2n-1)/6:            {exact:e} (relative error {rel:.1e})");
    }
    assert!(rel < 1e-12, "relative error {rel:e} is too large");

    // Blocks are cut from the data alone and merged in block order, so every
    // executor returns the same bits.
    let serial = Executor::serial().install(|| sum_of_squares(&xs));
    assert_eq!(total.to_bits(), serial.to_bits(), "{total:e} vs {serial:e}");
    for n in [1, 2, 3] {
        let pool = Executor::threads(n).expect("a thread pool");
        let on_pool = pool.install(|| sum_of_squares(&xs));
        assert_eq!(
            on_pool.to_bits(),
            serial.to_bits(),
            "threads({n}) gave {on_pool:e}, serial {serial:e}"
        );
    }
    if rank == 0 {
        println!(
            "serial, threads(1), threads(2), threads(3) and the default executor agree bit for bit"
        );
    }
}
