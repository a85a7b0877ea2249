//! # shardkit
//!
//! Write a function for one shard of your data; `#[parallelize]` runs it on
//! every shard — on a thread pool, and across MPI ranks with the `mpi`
//! feature — and merges the results in a fixed order, so the answer has the
//! same bits on 1 thread or 16.
//!
//! ```
//! use shardkit::{parallelize, Executor, Reduce};
//!
//! #[derive(Reduce, Debug, PartialEq)]
//! struct Stats {
//!     count: u64,
//!     total: f64,
//! }
//!
//! #[parallelize(split = "samples", reduce = "sum")]
//! fn stats(samples: &[f64], scale: f64) -> Stats {
//!     Stats { count: samples.len() as u64, total: samples.iter().map(|x| x * scale).sum() }
//! }
//!
//! let samples: Vec<f64> = (0..10_000).map(|i| (i as f64).sin()).collect();
//! let threaded = stats(&samples, 2.0);
//! let serial = Executor::serial().install(|| stats(&samples, 2.0));
//! assert_eq!(threaded, serial); // bit for bit
//! assert_eq!(threaded.count, 10_000);
//! ```
//!
//! See [`parallelize`] for the rules of the attribute, [`Executor`] for
//! choosing where shards run, and [`Reduce`] for the accumulators. Under
//! MPI (feature `mpi`), [`is_root`], [`write_on_root`] and [`progress`] do
//! the work that one process does for all.
#![warn(missing_docs, unreachable_pub)]

extern crate self as shardkit;

pub use shardkit_macros::{parallelize, Reduce};
pub use shardkit_runtime::weights;
pub use shardkit_runtime::{
    claim_output, comm_counts, comm_table, exact_sum_bytes, is_root, merge_plan_kinds, plan_digest,
    plan_kinds, progress, write_atomic, write_on_root, CommCount, Concat, ExactSum, ExactSumError,
    Executor, ExecutorError, Extremum, LaneOp, Lanes, OutputClaim, Plan, PlanDigest, ProgressBar,
    Reduce, RemoteError, Split, Unlanes, DEFAULT_BLOCKS, DEFAULT_MPI_TIMEOUT, MPI_TIMEOUT_ENV,
    STATS_ENV, THREADS_ENV,
};

/// The `mpi` crate (rsmpi) that shardkit's MPI executor uses: build a
/// communicator of your own for [`Executor::mpi`], or call MPI directly.
#[cfg(feature = "mpi")]
pub use shardkit_runtime::rsmpi as mpi;

/// Items of the runtime that only generated code uses. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use shardkit_runtime::private::*;
}
