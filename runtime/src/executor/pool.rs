//! The ordered fold: running the blocks of one call on one pool (or the
//! calling thread) and folding their results in block order.
//!
//! Workers take blocks in increasing index order from a shared counter (so a
//! slow block does not hold up the others), and whoever finishes the block
//! that is next in order folds it, and any later blocks already waiting,
//! into the running result. Only results that finished out of order wait, so
//! memory stays near one partial result per worker, and the fold is always
//! `((b0 · b1) · b2) · …` — the same expression on every executor.
//!
//! What "folding" means is a [`Folder`] (see `reduce/fold.rs`): the plain
//! one merges results with the reduction's merge function; the exact one
//! (for `sum`, `min` and `max` of types that
//! [`pack`](crate::reduce::Reduce::pack)) adds them as fixed-point integers,
//! which makes even the grouping irrelevant.
//!
//! This file knows nothing of executors: it gets a pool, or `None` for the
//! calling thread, and the shard function to run on each piece. On a pool
//! the calling thread takes blocks as well, and pool threads join it as
//! they become free (`offer.rs`).

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::offer;
use crate::reduce::Folder;

type Payload = Box<dyn Any + Send + 'static>;

/// What became of one block.
enum Outcome<T, E> {
    Done(T),
    Failed(E),
    Panicked(Payload),
}

/// The state of the ordered fold, shared by the workers.
struct Fold<T, E> {
    /// The number of the next block to fold.
    next: usize,
    /// Blocks that finished before their turn, at their block number less
    /// the call's first; empty until one does (blocks that finish in order,
    /// as on one thread, are folded without waiting here).
    waiting: Vec<Option<Outcome<T, E>>>,
    /// Whether a worker is folding now, and so holds the [`Running`]
    /// result; others only leave their results.
    folding: bool,
    /// The first error or panic in block order, with its block; nothing is
    /// folded after it.
    stop: Option<(usize, Outcome<T, E>)>,
}

/// The running result of the fold; `None` before the first block. Only the
/// worker that set [`Fold::folding`] (under the lock) touches it, until it
/// clears the flag (under the lock again), so it needs no lock of its own
/// and is merged where it lies.
struct Running<A>(UnsafeCell<Option<A>>);

// SAFETY: one thread at a time has the result (see above), which moves
// between threads (`A: Send`).
unsafe impl<A: Send> Sync for Running<A> {}

/// Leaves block `index`'s outcome (of the `blocks` blocks from `first`)
/// and, if it is the next in order and no other worker is folding, folds
/// it and every block after it that is ready, in order.
///
/// The merge runs *outside* the lock: a merge that uses rayon (or calls a
/// `#[parallelize]` function) may make this thread pick up another block,
/// whose `deliver` then finds the fold taken and just leaves its result.
fn deliver<T, E, F: Folder<T>>(
    fold: &Mutex<Fold<T, E>>,
    running: &Running<F::Acc>,
    folder: &F,
    (first, blocks): (usize, usize),
    index: usize,
    outcome: Outcome<T, E>,
) {
    let mut state = lock(fold);
    if state.stop.is_some() {
        // An earlier block failed: nothing more is folded. (The guard drops
        // before the outcome, which may be costly to drop.)
        return;
    }
    if state.folding || index != state.next {
        if state.waiting.is_empty() {
            state.waiting.resize_with(blocks, || None);
        }
        state.waiting[index - first] = Some(outcome);
        return;
    }
    state.next += 1;
    let mut ready = match outcome {
        Outcome::Done(value) => (index, value),
        failed => return stop(state, index, failed),
    };
    state.folding = true;
    loop {
        drop(state);
        // SAFETY: this thread set `folding`, so it alone has the result.
        let acc = unsafe { &mut *running.0.get() };
        // The block being merged, for a panic in the merge.
        let at = Cell::new(index);
        let run = panic::catch_unwind(AssertUnwindSafe(|| {
            fold_ready(fold, folder, first, acc, ready, &at)
        }));
        state = lock(fold);
        match run {
            Ok(()) => {}
            // Blocks before it are folded and none failed, so this panic
            // comes first in block order.
            Err(payload) => return stop(state, at.get(), Outcome::Panicked(payload)),
        }
        // A block may have arrived since `fold_ready` last looked.
        match take_ready(&mut state, first) {
            Some(next) => ready = next,
            None => break,
        }
    }
    state.folding = false;
    if state.stop.is_some() {
        // A failed block was found: nothing after it is folded.
        let dropped = std::mem::take(&mut state.waiting);
        drop(state);
        drop(dropped);
    }
}

/// Folds `ready` (a block and its result) and every block after it that
/// waits, in order, into `acc`, until the next block is not ready.
fn fold_ready<T, E, F: Folder<T>>(
    fold: &Mutex<Fold<T, E>>,
    folder: &F,
    first: usize,
    acc: &mut Option<F::Acc>,
    mut ready: (usize, T),
    at: &Cell<usize>,
) {
    loop {
        let (index, value) = ready;
        at.set(index);
        *acc = Some(match acc.take() {
            None => folder.start(index, value),
            Some(a) => folder.fold(a, index, value),
        });
        match take_ready(&mut lock(fold), first) {
            Some(next) => ready = next,
            None => return,
        }
    }
}

/// The next block in order and its result, if it waits and succeeded;
/// a failed one stops the fold.
fn take_ready<T, E>(state: &mut MutexGuard<'_, Fold<T, E>>, first: usize) -> Option<(usize, T)> {
    if state.stop.is_some() {
        return None;
    }
    let index = state.next;
    let outcome = state.waiting.get_mut(index - first)?.take()?;
    state.next += 1;
    match outcome {
        Outcome::Done(value) => Some((index, value)),
        failed => {
            state.stop = Some((index, failed));
            None
        }
    }
}

/// Records the first failure in block order and ends the fold: whatever
/// waits is dropped (outside the lock), and later blocks are dropped as
/// they arrive.
fn stop<T, E>(mut state: MutexGuard<'_, Fold<T, E>>, index: usize, failed: Outcome<T, E>) {
    state.stop = Some((index, failed));
    state.folding = false;
    let dropped = std::mem::take(&mut state.waiting);
    drop(state);
    drop(dropped);
}

/// Runs `shard` on every piece (block `first + i` for piece `i`), on the
/// calling thread helped by up to all but one of `pool`'s threads or, for
/// `None`, on the calling thread alone, and folds the results in block
/// order with `folder`; `None` when there are no pieces (an MPI rank that
/// owns no block). Each thread calls `enter` before its first block and
/// drops what it returns after its last (the executor installs the serial
/// executor there, for calls made inside shards and merges).
///
/// Returns the first error in block order, with its block number. Blocks after a failing one that
/// have not started are skipped; blocks already running finish. A panic in a
/// shard (or in `merge`) is caught, the blocks before it still run (one of
/// them may fail first), and the first panic in block order is resumed on the
/// calling thread.
///
/// # Panics
///
/// When a shard panics.
pub(crate) fn execute<P, T, E, F, G>(
    pool: Option<&rayon::ThreadPool>,
    first: usize,
    pieces: Vec<P>,
    shard: &(dyn Fn(P) -> Result<T, E> + Sync),
    folder: &F,
    enter: impl Fn() -> G + Sync,
) -> Result<Option<F::Acc>, (usize, E)>
where
    P: Send,
    T: Send,
    E: Send,
    F: Folder<T>,
{
    let blocks = pieces.len();
    let slots = Slots::new(pieces);
    let counter = AtomicUsize::new(0);
    // Blocks after this index are not started: an earlier block failed.
    let cutoff = AtomicUsize::new(usize::MAX);
    let running = Running(UnsafeCell::new(None));
    let fold = Mutex::new(Fold {
        next: first,
        waiting: Vec::new(),
        folding: false,
        stop: None,
    });

    let work = || {
        let _entered = enter();
        loop {
            let index = counter.fetch_add(1, Ordering::Relaxed);
            if index >= blocks || index > cutoff.load(Ordering::Relaxed) {
                return;
            }
            // SAFETY: `counter` gives out each index once.
            let piece = unsafe { slots.take(index) };
            let outcome = match panic::catch_unwind(AssertUnwindSafe(|| shard(piece))) {
                Ok(Ok(value)) => Outcome::Done(value),
                Ok(Err(error)) => Outcome::Failed(error),
                Err(payload) => Outcome::Panicked(payload),
            };
            if !matches!(outcome, Outcome::Done(_)) {
                cutoff.fetch_min(index, Ordering::Relaxed);
            }
            deliver(
                &fold,
                &running,
                folder,
                (first, blocks),
                first + index,
                outcome,
            );
        }
    };

    match pool {
        // The calling thread takes blocks too, with up to one helper fewer
        // than the pool has threads (see `offer.rs`).
        Some(pool) if blocks > 1 && pool.current_num_threads() > 1 => {
            let helpers = pool.current_num_threads().min(blocks) - 1;
            offer::run_helped(pool, helpers, &work);
        }
        _ => work(),
    }

    let fold = fold.into_inner().unwrap_or_else(|e| e.into_inner());
    match fold.stop {
        Some((block, Outcome::Failed(error))) => Err((block, error)),
        Some((_, Outcome::Panicked(payload))) => panic::resume_unwind(payload),
        Some((_, Outcome::Done(_))) => unreachable!("a finished block never stops the fold"),
        None => Ok(running.0.into_inner()),
    }
}

/// The pieces of a call, each taken once by the worker that drew its index
/// from the call's counter; pieces not taken (after a failure) are dropped
/// with the slots, once every worker has finished.
struct Slots<P>(Vec<UnsafeCell<Option<P>>>);

// SAFETY: a piece is moved to the one thread that takes it (`P: Send`), and
// no two threads take the same index (see `take`).
unsafe impl<P: Send> Sync for Slots<P> {}

impl<P> Slots<P> {
    fn new(pieces: Vec<P>) -> Self {
        // (Reuses the pieces' allocation where `Option<P>` is no larger.)
        Slots(
            pieces
                .into_iter()
                .map(|p| UnsafeCell::new(Some(p)))
                .collect(),
        )
    }

    /// The piece at `index`.
    ///
    /// # Safety
    ///
    /// No other call of `take` with the same `index` may happen, on any
    /// thread.
    unsafe fn take(&self, index: usize) -> P {
        // SAFETY: by the contract above, no other reference to this cell
        // exists.
        unsafe { (*self.0[index].get()).take() }.expect("each block is taken once")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Shards and merges run under catch_unwind, so a poisoned lock only
    // means another worker is unwinding; the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
