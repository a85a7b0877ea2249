//! The runtime behind shardkit's `#[parallelize]`: executors, block plans,
//! splitting and deterministic reduction.
//!
//! Use it through the `shardkit` crate, which re-exports everything here
//! beside the attribute.
//!
//! # Layers
//!
//! From the bottom up; each folder or file uses only those above it in this
//! list:
//!
//! - `wire/`: what crosses between processes — a type's byte codec, the
//!   error of another rank — and the probes that find them at a call site;
//! - `plan/`: cutting — the [`Plan`] of a call, the [`Split`] parameters
//!   and how they are cut, in-place outputs, [`weights`];
//! - `reduce/`: the accumulator traits ([`Reduce`], [`Extremum`],
//!   [`Concat`]), exact fixed-point sums and lanes, a call's reduction and
//!   the folders that combine block results;
//! - `executor/`: where a call runs — the [`Executor`], the ambient
//!   executor, the ordered fold on one pool, and (feature `mpi`) what ranks
//!   do for a call, written against a transport interface;
//! - `mpi/` (feature `mpi`): MPI's lifecycle, the communicator as that
//!   transport, the serde codec, and the MPI constructors of [`Executor`];
//! - `launch.rs`: the executor the environment asks for
//!   ([`Executor::from_env`]) and the process-wide default;
//! - `root.rs`: the work one process does for all ([`is_root`],
//!   [`write_on_root`], [`progress`]);
//! - `call.rs`: the call driver that generated code runs;
//! - `private.rs`: the list of items generated code names (re-exports only).
#![warn(missing_docs, unreachable_pub)]

mod call;
mod counters;
mod exact_sum;
mod executor;
mod files;
mod launch;
mod ledger;
#[cfg(feature = "mpi")]
mod mpi;
mod plan;
#[doc(hidden)]
pub mod private;
mod reduce;
mod root;
mod wire;

/// The `mpi` crate (rsmpi) that the MPI executor uses, for programs that
/// manage MPI themselves (see `Executor::mpi`).
#[cfg(feature = "mpi")]
#[doc(no_inline)]
pub use ::mpi as rsmpi;
pub use counters::{comm_counts, comm_table, CommCount, STATS_ENV};
pub use exact_sum::{ExactSum, ExactSumError};
pub use executor::{Executor, ExecutorError, DEFAULT_MPI_TIMEOUT, MPI_TIMEOUT_ENV, THREADS_ENV};
pub use files::{write_atomic, OutputClaim};
/// The progress bar type of [`progress`] (from `indicatif`).
pub use indicatif::ProgressBar;
pub use ledger::{merge_plan_kinds, plan_digest, plan_kinds, PlanDigest};
pub use plan::weights;
pub use plan::{Copied, Items, MutRows, MutSlice, Rows, Same, Source, Split, Weigh};
pub use plan::{Plan, DEFAULT_BLOCKS};
pub use reduce::{exact_sum_bytes, LaneOp, Lanes, Unlanes};
pub use reduce::{Concat, Extremum, Reduce};
pub use root::{claim_output, is_root, progress, write_on_root};
pub use wire::RemoteError;
