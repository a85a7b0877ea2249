//! The runtime behind shardkit's `#[parallelize]`: executors, block plans,
//! splitting and deterministic reduction.
//!
//! Use it through the `shardkit` crate, which re-exports everything here
//! beside the attribute.
#![warn(missing_docs, unreachable_pub)]

mod engine;
mod exact;
mod executor;
#[doc(hidden)]
pub mod glue;
mod lanes;
#[cfg(feature = "mpi")]
mod mpi;
mod plan;
mod reduce;
mod reduction;
mod remote;
mod root;
mod split;
pub mod weights;
mod wire;

/// The `mpi` crate (rsmpi) that the MPI executor uses, for programs that
/// manage MPI themselves (see `Executor::mpi`).
#[cfg(feature = "mpi")]
#[doc(no_inline)]
pub use ::mpi as rsmpi;
pub use executor::{Executor, ExecutorError, THREADS_ENV};
/// The progress bar type of [`progress`] (from `indicatif`).
pub use indicatif::ProgressBar;
pub use lanes::{LaneOp, Lanes, Unlanes};
pub use plan::{Plan, DEFAULT_BLOCKS};
pub use reduce::{Concat, Extremum, Reduce};
pub use remote::RemoteError;
pub use root::{is_root, progress, write_atomic, write_on_root};
pub use split::{Copied, Items, MutRows, MutSlice, Rows, Same, Source, Split, Weigh};
