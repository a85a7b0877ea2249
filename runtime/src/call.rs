//! The call driver: what a `#[parallelize]` function's generated body
//! calls, in order — check the broadcast and split parameters
//! ([`broadcast`], [`split`]), agree on the length of lockstep parameters
//! ([`lockstep`]), cut the plan ([`plan`], [`plan_weighted`]), decide which
//! blocks this process runs ([`assign`]), run them and combine the results
//! ([`run`], [`run_result`]), and after a successful call give every MPI rank
//! the whole of each in-place output ([`gather`]).
//!
//! Not a public API: generated code reaches these through the facade's
//! `shardkit::__private`, which re-exports `private.rs`.

use std::convert::Infallible;
use std::ops::Range;

use crate::executor::Executor;
use crate::plan::{Contents, Output, Plan, Split, Weigh};
use crate::reduce::{ExactFolder, Plain, Reduction};
use crate::wire::{Codec, ErrorOps, Probe};

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

/// A probe for the item type of a split parameter, to find whether its
/// items can be hashed for [`assign`]'s check of the contents.
pub fn probe_contents<S: Contents>(_: &S) -> Probe<S::Item> {
    Probe::new()
}

/// One digest of the digests of every split parameter's contents.
pub fn digests(each: &[u64]) -> u64 {
    each.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &d| {
        (h ^ d).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A probe for the item type of an in-place output, to find its [`Codec`].
pub fn probe_output<O: Output>(_: &O) -> Probe<O::Elem> {
    Probe::new()
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

/// The blocks this process runs, decided once the plan is known: all of
/// them on threads; a contiguous run of them on an MPI rank (after checking
/// that every rank cut the same plan), or, for `data = "local"`, all of the
/// rank's own blocks.
pub struct Assignment {
    pub(crate) exec: Executor,
    /// The block numbers to cut from this process's plan.
    pub(crate) blocks: Range<usize>,
    /// The number of the first of them in the whole call (differs from
    /// `blocks.start` for rank-local data, where blocks are numbered across
    /// the ranks in rank order).
    pub(crate) first: usize,
    /// Whether each MPI rank passed its own data (`data = "local"`).
    pub(crate) local: bool,
}

impl Assignment {
    /// The block numbers to cut.
    pub fn blocks(&self) -> Range<usize> {
        self.blocks.clone()
    }
}

/// Decides which blocks of `plan` this process runs. `local` is the
/// attribute's `data = "local"`: every MPI rank has its own data.
/// `contents` is a digest of the split parameters' items (see
/// [`digests`]), computed only where MPI ranks compare their inputs.
#[track_caller]
pub fn assign(
    function: &'static str,
    plan: &Plan,
    local: bool,
    contents: impl FnOnce() -> u64,
) -> Assignment {
    let exec = Executor::current();
    #[cfg(feature = "mpi")]
    if let Some(ranks) = exec.ranks() {
        let (blocks, first) = if local {
            let first = ranks.offset(function, plan.blocks());
            crate::ledger::note(function, None);
            (0..plan.blocks(), first)
        } else {
            let blocks = ranks.assign(function, plan, contents());
            crate::ledger::note(function, Some(plan.blocks()));
            let first = blocks.start;
            (blocks, first)
        };
        return Assignment {
            exec,
            blocks,
            first,
            local,
        };
    }
    let _ = contents;
    crate::ledger::note(function, (!local).then(|| plan.blocks()));
    Assignment {
        exec,
        blocks: 0..plan.blocks(),
        first: 0,
        local,
    }
}

/// After a call that succeeded, gives every MPI rank the items that the
/// other ranks wrote into an in-place output (`&mut [T]` or
/// `ArrayViewMut` split parameter). Does nothing on threads, for
/// parameters that are not outputs, and for rank-local data.
///
/// Generated code calls it once per split parameter, after every block of
/// the call has finished; `output` must come from
/// [`Outputs::output`](crate::plan::Outputs::output) on
/// that parameter's source.
#[track_caller]
pub fn gather<O: Output>(
    function: &'static str,
    assignment: &Assignment,
    plan: &Plan,
    parameter: &'static str,
    output: O,
    codec: Option<Codec<O::Elem>>,
) {
    if !output.is_output() || assignment.local {
        return;
    }
    #[cfg(feature = "mpi")]
    if let Some(ranks) = assignment.exec.ranks() {
        ranks.gather_output(function, plan, parameter, &output, codec);
    }
    let _ = (function, plan, parameter, codec);
}

/// Runs a function whose body returns `T`.
pub fn run<P: Send, T: Send>(
    function: &'static str,
    assignment: &Assignment,
    pieces: Vec<P>,
    shard: impl Fn(P) -> T + Sync,
    reduction: Reduction<T>,
) -> T {
    let shard = |p| Ok::<T, Infallible>(shard(p));
    match run_result(
        function,
        assignment,
        pieces,
        shard,
        reduction,
        ErrorOps::opaque(),
    ) {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// Runs a function whose body returns `Result<T, E>`.
pub fn run_result<P: Send, T: Send, E: Send>(
    function: &'static str,
    assignment: &Assignment,
    pieces: Vec<P>,
    shard: impl Fn(P) -> Result<T, E> + Sync,
    reduction: Reduction<T>,
    errors: ErrorOps<E>,
) -> Result<T, E> {
    let Assignment {
        exec,
        blocks,
        first,
        local,
    } = assignment;
    let _span = tracing::debug_span!(
        "parallelize",
        function,
        blocks = pieces.len(),
        workers = exec.workers()
    )
    .entered();
    let exact = reduction
        .exact
        .as_ref()
        .and_then(|ops| ExactFolder::new(function, ops));
    #[cfg(feature = "mpi")]
    if let Some(ranks) = exec.ranks() {
        return ranks.run(function, *first, pieces, &shard, reduction, exact, errors);
    }
    let _ = (errors, first, local);
    const ONE_BLOCK: &str = "a plan always has a block";
    match exact {
        Some(folder) => {
            let acc = exec
                .execute(blocks.start, pieces, &shard, &folder)
                .map_err(|(_, e)| e)?
                .expect(ONE_BLOCK);
            Ok(folder.finish(&acc))
        }
        None => {
            let plain = Plain {
                merge: reduction.merge,
            };
            Ok(exec
                .execute(blocks.start, pieces, &shard, &plain)
                .map_err(|(_, e)| e)?
                .expect(ONE_BLOCK))
        }
    }
}
