//! What MPI costs a `#[parallelize]` call, measured on the ambient
//! executor: a timing program beside the criterion bench `overhead.rs`.
//! Criterion picks its iteration counts from the clock, so under MPI the
//! ranks would make different numbers of collective calls and wait for each
//! other for ever; here every count is fixed.
//!
//! ```text
//! cargo bench --features mpi --bench mpi_cost           # on threads, no MPI
//! cargo bench --features mpi --bench mpi_cost --no-run  # prints the program's path
//! SHARDKIT_THREADS=1 mpirun -n 2 --bind-to none <that path>
//! ```
//!
//! Prints, from rank 0, the median of repeated timings (and, for the exact
//! sum and its plain counterpart, the shortest) of:
//!
//! - `empty call`: a call whose shards do nothing (what a call costs);
//! - `exact 512x60x2`: the reproducible sum of a 512 × 60 × 2 f64
//!   accumulator (a GMM's first- and second-order statistics), one block
//!   per rank, against `plain allreduce`, MPI's own `MPI_SUM` of the same
//!   61,440 doubles (whose bits depend on the number of ranks);
//! - `concat`: 8, 64 and 512 KiB of doubles gathered from every rank;
//! - `cpu-bound`: 200,000 items × 20 square roots and sines each.

use std::time::{Duration, Instant};

use clap::Parser;
use ndarray::Array3;
use shardkit::mpi::collective::SystemOperation;
use shardkit::mpi::traits::*;
use shardkit::{parallelize, Executor};

#[parallelize(split = "ids", reduce = "sum")]
fn empty(ids: std::ops::Range<usize>) -> u64 {
    ids.len() as u64
}

/// One block per rank, each returning the whole accumulator.
#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn accumulator(ids: std::ops::Range<usize>, part: &Array3<f64>) -> Array3<f64> {
    let _ = ids;
    part.clone()
}

/// `concat` of `len` doubles per rank.
#[parallelize(split = "ids", reduce = "concat", block_size = 1)]
fn gathered(ids: std::ops::Range<usize>, len: usize) -> Vec<f64> {
    vec![ids.start as f64; len]
}

#[parallelize(split = "ids", reduce = "sum")]
fn cpu_bound(ids: std::ops::Range<usize>) -> f64 {
    let mut total = 0.0;
    for i in ids {
        let mut x = i as f64;
        for _ in 0..20 {
            x = (x.sqrt() + 1.0).sin() * 1000.0 + 1000.0;
        }
        total += x;
    }
    total
}

/// The median time of `runs` runs of `f`, after one untimed run.
fn median(runs: usize, f: impl FnMut()) -> Duration {
    median_and_min(runs, f).0
}

/// The median and the shortest time of `runs` runs of `f`, after one
/// untimed run. (On a machine shared with other work, where the ranks are
/// descheduled now and then, the shortest run is the steadier measure.)
fn median_and_min(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[runs / 2], times[0])
}

/// Times what MPI costs a `#[parallelize]` call on the ambient executor
/// (the MPI world under mpirun, else a thread pool): an empty call, an
/// exact sum against MPI's own allreduce, `concat` gathers and a CPU-bound
/// call; rank 0 prints the medians.
#[derive(Parser)]
#[command(bin_name = "mpi_cost")]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Benchmark filters that `cargo bench -- FILTER` passes to every
    /// bench; ignored (this program always runs everything).
    #[arg(hide = true)]
    filters: Vec<String>,
}

/// "2 ranks × 1 thread per rank", or "4 threads" off MPI.
fn workers(exec: &Executor) -> String {
    let (_, ranks) = exec.rank();
    let threads = exec.workers() / ranks;
    let threads = format!("{threads} thread{}", if threads == 1 { "" } else { "s" });
    if ranks > 1 {
        format!("{ranks} ranks × {threads} per rank")
    } else {
        threads
    }
}

fn main() {
    let _ = Args::parse();
    let exec = Executor::current();
    let (rank, ranks) = exec.rank();
    let say = |line: String| {
        if rank == 0 {
            println!("{line}");
        }
    };
    say(format!("{} (median of repeated runs)", workers(&exec)));

    let t = median(200, || {
        empty(0..64);
    });
    say(format!("  empty call (64 blocks)  {t:>12.2?}"));

    let part = Array3::from_shape_fn((512, 60, 2), |(m, d, k)| {
        ((m * 131 + d * 7 + k + rank * 17) as f64).sin() * 1e3
    });
    let (t_exact, min_exact) = median_and_min(100, || {
        accumulator(0..ranks, &part);
    });
    say(format!(
        "  exact 512x60x2          {t_exact:>12.2?}   (shortest {min_exact:.2?})"
    ));
    if ranks > 1 {
        let world = shardkit::mpi::topology::SimpleCommunicator::world();
        let send = part.as_slice().expect("standard layout").to_vec();
        let mut recv = vec![0.0f64; send.len()];
        let (t_plain, min_plain) = median_and_min(100, || {
            world.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
        });
        say(format!(
            "  plain allreduce         {t_plain:>12.2?}   (shortest {min_plain:.2?})"
        ));
        say(format!(
            "  exact / plain           {:>11.2}x   (shortest: {:.2}x)",
            t_exact.as_secs_f64() / t_plain.as_secs_f64(),
            min_exact.as_secs_f64() / min_plain.as_secs_f64()
        ));
    }

    for len in [1usize << 10, 1 << 13, 1 << 16] {
        let t = median(50, || {
            gathered(0..ranks, len);
        });
        say(format!(
            "  concat {:>6} KiB/rank  {t:>12.2?}",
            len * 8 / 1024
        ));
    }

    let t = median(9, || {
        cpu_bound(0..200_000);
    });
    say(format!("  cpu-bound               {t:>12.2?}"));
}
