//! Data that is already distributed: every MPI rank holds its own rows (its
//! own recordings, its own part of a table) and wants the statistics of all
//! of them — daal4py's low-order moments in distributed mode. The attribute
//! says so with `data = "local"`: each rank passes only its part, and only
//! the reduction is global.
//!
//! ```text
//! cargo run --release --example local_moments                 # one process: one part
//! cargo build --release --features mpi --example local_moments
//! mpirun -n 3 --bind-to none target/release/examples/local_moments   # three ranks, three parts
//! ```
//!
//! Each part is generated from its rank (a different number of rows, with
//! different means), so the ranks really hold different data; rank 0 checks
//! the result against a direct computation over every part.

use clap::Parser;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use shardkit::{parallelize, Executor, Reduce};

/// Computes the column statistics (count, mean, standard deviation,
/// minimum, maximum) of rows that every MPI rank holds itself, with
/// `data = "local"`: each rank passes only its own part, and only the
/// reduction is global. Rank 0 checks the result against a direct
/// computation over every part and prints it. Without mpirun: one part.
#[derive(Parser)]
struct Args {}

/// Count, sums, sums of squares, minima and maxima of the columns.
#[derive(Reduce, Debug, PartialEq)]
struct Moments {
    rows: u64,
    sum: Array1<f64>,
    sum_sq: Array1<f64>,
    #[reduce(min)]
    min: Array1<f64>,
    #[reduce(max)]
    max: Array1<f64>,
}

/// One shard of this rank's rows. With `data = "local"`, every rank cuts its
/// own `rows` into blocks and the sums cover the blocks of every rank.
#[parallelize(split = "rows", reduce = "sum", block_size = 1000, data = "local")]
fn moments(rows: ArrayView2<f64>) -> Moments {
    Moments {
        rows: rows.nrows() as u64,
        sum: rows.sum_axis(Axis(0)),
        sum_sq: rows.mapv(|x| x * x).sum_axis(Axis(0)),
        min: rows.fold_axis(Axis(0), f64::INFINITY, |m, &x| m.min(x)),
        max: rows.fold_axis(Axis(0), f64::NEG_INFINITY, |m, &x| m.max(x)),
    }
}

const COLUMNS: usize = 8;

/// The rows that rank `rank` holds: 20,000 + 7,000·rank rows, column `j`
/// centred on `j + rank`.
fn part(rank: usize) -> Array2<f64> {
    let rows = 20_000 + 7_000 * rank;
    let mut state =
        0x9e37_79b9_7f4a_7c15u64 ^ (rank as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    Array2::from_shape_fn((rows, COLUMNS), |(_, j)| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let uniform = (state >> 11) as f64 / (1u64 << 53) as f64;
        (j + rank) as f64 + 4.0 * (uniform - 0.5)
    })
}

fn main() {
    Args::parse();
    let exec = Executor::current();
    let (rank, ranks) = exec.rank();
    let mine = part(rank);
    let m = moments(mine.view());

    // Every rank has the global result; rank 0 checks and prints it.
    if !shardkit::is_root() {
        return;
    }
    let all: Vec<Array2<f64>> = (0..ranks).map(part).collect();
    let views: Vec<ArrayView2<f64>> = all.iter().map(|a| a.view()).collect();
    let everything = ndarray::concatenate(Axis(0), &views).expect("equal columns");
    let n = everything.nrows() as f64;
    assert_eq!(m.rows, everything.nrows() as u64);
    let mean = &m.sum / m.rows as f64;
    let direct_mean = everything.mean_axis(Axis(0)).expect("rows");
    let variance = &m.sum_sq / m.rows as f64 - &mean * &mean;
    let direct_variance = everything.var_axis(Axis(0), 0.0);
    for j in 0..COLUMNS {
        assert!((mean[j] - direct_mean[j]).abs() < 1e-12 * n, "mean[{j}]");
        assert!(
            (variance[j] - direct_variance[j]).abs() < 1e-9,
            "variance[{j}]"
        );
    }
    assert_eq!(
        m.min,
        everything.fold_axis(Axis(0), f64::INFINITY, |a, &x| a.min(x))
    );
    assert_eq!(
        m.max,
        everything.fold_axis(Axis(0), f64::NEG_INFINITY, |a, &x| a.max(x))
    );

    println!(
        "{} rows held by {ranks} rank(s) ({} on rank 0), {COLUMNS} columns",
        m.rows,
        mine.nrows()
    );
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10}",
        "column", "mean", "std", "min", "max"
    );
    for j in 0..COLUMNS {
        println!(
            "{j:>6} {:>10.5} {:>10.5} {:>10.5} {:>10.5}",
            mean[j],
            variance[j].sqrt(),
            m.min[j],
            m.max[j]
        );
    }
    println!("matches a direct computation over every rank's rows");
}
