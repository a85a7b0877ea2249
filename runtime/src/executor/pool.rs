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
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
struct Fold<T, A, E> {
    /// The number of the next block to fold.
    next: usize,
    /// Blocks that finished before their turn, at their block number less
    /// the call's first; empty until one does (blocks that finish in order,
    /// as on one thread, are folded without waiting here).
    waiting: Vec<Option<Outcome<T, E>>>,
    /// The running result; `None` before the first block, and while a
    /// worker has it out to merge.
    acc: Option<A>,
    /// Whether a worker is folding now; others only leave their results.
    folding: bool,
    /// The first error or panic in block order, with its block; nothing is
    /// folded after it.
    stop: Option<(usize, Outcome<T, E>)>,
}

/// Leaves block `index`'s outcome (of the `blocks` blocks from `first`)
/// and, if it is the next in order and no other worker is folding, folds
/// it and every block after it that is ready, in order.
///
/// The merge runs *outside* the lock: a merge that uses rayon (or calls a
/// `#[parallelize]` function) may make this thread pick up another block,
/// whose `deliver` then finds the fold taken and just leaves its result.
fn deliver<T, E, F: Folder<T>>(
    fold: &Mutex<Fold<T, F::Acc, E>>,
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
    state.folding = true;
    let mut acc = state.acc.take();
    let mut current = Some(outcome);
    while let Some(outcome) = current.take() {
        let at = state.next;
        state.next += 1;
        let value = match outcome {
            Outcome::Done(value) => value,
            failed => {
                state.stop = Some((at, failed));
                break;
            }
        };
        drop(state);
        let merged = panic::catch_unwind(AssertUnwindSafe(|| match acc.take() {
            None => folder.start(at, value),
            Some(a) => folder.fold(a, at, value),
        }));
        state = lock(fold);
        match merged {
            Ok(a) => acc = Some(a),
            // Blocks before `at` are folded and none failed, so this
            // panic comes first in block order.
            Err(payload) => {
                state.stop = Some((at, Outcome::Panicked(payload)));
                break;
            }
        }
        let slot = state.next - first;
        current = state.waiting.get_mut(slot).and_then(Option::take);
    }
    state.acc = acc;
    state.folding = false;
    if state.stop.is_some() {
        // Drop whatever waits, outside the lock.
        let dropped = std::mem::take(&mut state.waiting);
        drop(state);
        drop(dropped);
    }
}

/// Runs `shard` on every piece (block `first + i` for piece `i`), on the
/// calling thread helped by up to all but one of `pool`'s threads or, for
/// `None`, on the calling thread alone, and folds the results in block
/// order with `folder`; `None` when there are no pieces (an MPI rank that
/// owns no block).
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
pub(crate) fn execute<P, T, E, F>(
    pool: Option<&rayon::ThreadPool>,
    first: usize,
    pieces: Vec<P>,
    shard: &(dyn Fn(P) -> Result<T, E> + Sync),
    folder: &F,
) -> Result<Option<F::Acc>, (usize, E)>
where
    P: Send,
    T: Send,
    E: Send,
    F: Folder<T>,
{
    let blocks = pieces.len();
    let slots: Vec<Mutex<Option<P>>> = pieces.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let counter = AtomicUsize::new(0);
    // Blocks after this index are not started: an earlier block failed.
    let cutoff = AtomicUsize::new(usize::MAX);
    let fold = Mutex::new(Fold {
        next: first,
        waiting: Vec::new(),
        acc: None,
        folding: false,
        stop: None,
    });

    let work = || loop {
        let index = counter.fetch_add(1, Ordering::Relaxed);
        if index >= blocks || index > cutoff.load(Ordering::Relaxed) {
            return;
        }
        let piece = lock(&slots[index])
            .take()
            .expect("each block is taken once");
        let outcome = match panic::catch_unwind(AssertUnwindSafe(|| shard(piece))) {
            Ok(Ok(value)) => Outcome::Done(value),
            Ok(Err(error)) => Outcome::Failed(error),
            Err(payload) => Outcome::Panicked(payload),
        };
        if !matches!(outcome, Outcome::Done(_)) {
            cutoff.fetch_min(index, Ordering::Relaxed);
        }
        deliver(&fold, folder, (first, blocks), first + index, outcome);
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
        None => Ok(fold.acc),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Shards and merges run under catch_unwind, so a poisoned lock only
    // means another worker is unwinding; the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
