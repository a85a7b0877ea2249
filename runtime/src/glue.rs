//! What `#[parallelize]` expands to calls. Not a public API: the facade
//! re-exports it as `shardkit::__private`, and only generated code names it.

use std::convert::Infallible;

pub use crate::plan::Plan;
pub use crate::reduce::{concat, max, min, none, sum};
pub use crate::split::{Source, Split, Weigh};

use crate::engine::execute;
use crate::executor::Executor;

/// The bound on every broadcast (non-`split`) parameter: shared by reference
/// between the threads that run the shards, so it must be `Sync`.
///
/// The check goes through [`broadcast`], whose return type is this trait's
/// projection, so a failing parameter is reported once, at its type.
#[diagnostic::on_unimplemented(
    message = "broadcast parameter of type `{Self}` is shared by every shard, so it must be `Sync`",
    label = "not `Sync`: shards on other threads would use it at once",
    note = "every parameter not named in `split` is broadcast: all shards see it by shared reference",
    note = "use a `Sync` type (`Mutex`, atomics, `Arc` instead of `Rc`), or add the parameter to `split` to give each shard its own part"
)]
pub trait Broadcast {
    /// The parameter's own type.
    type Shared;
    /// Returns the parameter unchanged.
    fn shared(self) -> Self::Shared;
}

impl<T: Sync> Broadcast for T {
    type Shared = T;
    #[inline(always)]
    fn shared(self) -> T {
        self
    }
}

/// Checks that a broadcast parameter can be shared by the shards.
#[inline(always)]
pub fn broadcast<T: Broadcast>(value: T) -> T::Shared {
    value.shared()
}

/// Checks that a split parameter can be cut, and wraps it.
#[inline(always)]
pub fn split<T: Split>(value: T) -> T::Source {
    value.source()
}

/// The common length of the split parameters.
///
/// # Panics
///
/// When two lengths differ, naming both parameters and their lengths.
#[track_caller]
pub fn lockstep(function: &str, lengths: &[(&str, usize)]) -> usize {
    let (first, len) = lengths[0];
    for &(name, other) in &lengths[1..] {
        assert!(
            other == len,
            "shardkit: `{function}` splits `{first}` and `{name}` in lockstep, so they must have equal lengths, but `{first}` has {len} items and `{name}` has {other}"
        );
    }
    len
}

/// The plan for a call with neither `weights` nor `block_size`, or with
/// `block_size`.
#[track_caller]
pub fn plan(len: usize, block_size: Option<usize>) -> Plan {
    Plan::even(len, block_size)
}

/// The plan for a call with `weights = path`.
pub fn plan_weighted<S: Weigh>(source: &S, weight: impl Fn(&S::Item) -> u64) -> Plan {
    Plan::weighted(&source.weigh(weight))
}

/// Runs a function whose body returns `T`.
pub fn run<P: Send, T: Send>(
    function: &'static str,
    pieces: Vec<P>,
    shard: impl Fn(P) -> T + Sync,
    merge: fn(T, T) -> T,
) -> T {
    let shard = |p| Ok::<T, Infallible>(shard(p));
    match run_result(function, pieces, shard, merge) {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// Runs a function whose body returns `Result<T, E>`.
pub fn run_result<P: Send, T: Send, E: Send>(
    function: &'static str,
    pieces: Vec<P>,
    shard: impl Fn(P) -> Result<T, E> + Sync,
    merge: fn(T, T) -> T,
) -> Result<T, E> {
    let exec = Executor::current();
    let _span = tracing::debug_span!(
        "parallelize",
        function,
        blocks = pieces.len(),
        workers = exec.workers()
    )
    .entered();
    execute(&exec, pieces, &shard, &merge)
}
