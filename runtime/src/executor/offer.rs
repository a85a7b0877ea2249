//! Running one call's blocks on the calling thread with help from a pool
//! that the calling thread is not part of.
//!
//! `rayon::ThreadPool::scope` from outside the pool hands the whole job to
//! the pool and puts the calling thread to sleep until the pool is done:
//! two wake-ups (a pool thread, then the caller) of several microseconds
//! each, paid by every call however little work it has. Here the calling
//! thread starts on the blocks at once and *offers* help to the pool's
//! threads; a pool thread that picks an offer up takes blocks from the same
//! counter. When the caller runs out of blocks it withdraws every offer not
//! yet picked up — a small call is over before a pool thread wakes, and
//! waits for nobody — and waits only for the helpers that did start, which
//! are then busy with the last blocks.
//!
//! Which thread runs which block never changes the result: blocks are cut
//! from the data and folded in block order (`pool.rs`).

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, Thread};

type Payload = Box<dyn Any + Send + 'static>;

/// The work that every thread of a call runs: take blocks until none is
/// left.
type Work<'a> = dyn Fn() + Sync + 'a;

/// The offer waits for a pool thread.
const OFFERED: u8 = 0;
/// A pool thread took it and is running the work.
const TAKEN: u8 = 1;
/// The caller withdrew it before any pool thread took it: the pool thread
/// that eventually gets it does nothing.
const WITHDRAWN: u8 = 2;
/// The pool thread that took it has finished the work (and no longer
/// touches it).
const DONE: u8 = 3;

/// One offer of help, shared by the caller and the pool job that carries
/// it (which may outlive the call: it is `'static`).
struct Offer {
    state: AtomicU8,
    /// The call's work, its lifetime erased. Dereferenced only by the pool
    /// thread that moved `state` from `OFFERED` to `TAKEN`, and only until it
    /// stores `DONE`; the caller does not return before every offer is
    /// `WITHDRAWN` or `DONE` (see [`Settle`]), so the work outlives every use.
    work: *const Work<'static>,
    /// The thread to wake when the work is done.
    caller: Thread,
    /// A panic that escaped the work on the pool thread (the work catches
    /// the shards' own panics; this is for a bug in the fold itself).
    panic: Mutex<Option<Payload>>,
}

// SAFETY: `work` points to a `Sync` closure (so it may be called from any
// thread), which is only used while the caller keeps it alive (see the
// field); every other field is `Send + Sync`.
unsafe impl Send for Offer {}
// SAFETY: as above; the closure is `Sync`, so shared calls are allowed.
unsafe impl Sync for Offer {}

impl Offer {
    /// What the pool thread that gets the offer does.
    fn take(&self) {
        if self
            .state
            .compare_exchange(OFFERED, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return; // withdrawn: the call may be over, `work` may dangle
        }
        // SAFETY: the state is `TAKEN`, so the caller waits in `Settle` until
        // it is `DONE`, and the work is alive until then.
        let work = unsafe { &*self.work };
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(work)) {
            *self.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(payload);
        }
        // Clone the handle first: once `DONE` is stored the caller may
        // return, and the handle is ours alone only through the `Arc`.
        let caller = self.caller.clone();
        self.state.store(DONE, Ordering::Release);
        caller.unpark();
    }
}

/// Withdraws or waits for every offer when dropped: what keeps the call's
/// work alive while a pool thread may use it, even if the caller unwinds.
struct Settle {
    offers: Vec<Arc<Offer>>,
}

impl Settle {
    /// Waits until every offer is withdrawn or done; returns the first
    /// panic that escaped a helper's work.
    fn settle(&mut self) -> Option<Payload> {
        let mut first = None;
        for offer in self.offers.drain(..) {
            if offer
                .state
                .compare_exchange(OFFERED, WITHDRAWN, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                continue;
            }
            wait_done(&offer.state);
            let payload = offer.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
            first = first.or(payload);
        }
        first
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        let _ = self.settle();
    }
}

/// Spins briefly (the helper is usually finishing its last block), then
/// sleeps until the helper's `unpark`.
fn wait_done(state: &AtomicU8) {
    for round in 0..64 {
        if state.load(Ordering::Acquire) == DONE {
            return;
        }
        if round < 48 {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
    while state.load(Ordering::Acquire) != DONE {
        // A wake-up left over from an earlier call only makes this loop
        // check again.
        thread::park();
    }
}

/// Runs `work` on the calling thread and, at the same time, on up to
/// `helpers` threads of `pool` that are free to pick it up before the
/// calling thread's `work` returns; returns once every thread that
/// started `work` has finished it.
///
/// `work` must be safe to run on any number of threads at once and must
/// return once it finds nothing left to do (so a helper that starts late
/// returns at once).
///
/// # Panics
///
/// Resumes a panic that escaped `work`, the caller's first.
pub(crate) fn run_helped(pool: &rayon::ThreadPool, helpers: usize, work: &Work<'_>) {
    // SAFETY: only the lifetime changes; `Settle` below keeps every use
    // of the pointer within the borrow (see `Offer::work`).
    let erased: *const Work<'static> =
        unsafe { std::mem::transmute::<*const Work<'_>, *const Work<'static>>(work) };
    let caller = thread::current();
    let mut settle = Settle {
        offers: Vec::with_capacity(helpers),
    };
    for _ in 0..helpers {
        let offer = Arc::new(Offer {
            state: AtomicU8::new(OFFERED),
            work: erased,
            caller: caller.clone(),
            panic: Mutex::new(None),
        });
        settle.offers.push(Arc::clone(&offer));
        pool.spawn(move || offer.take());
    }
    work();
    if let Some(payload) = settle.settle() {
        panic::resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn pool(n: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    }

    /// Takes items from `next` until `items` are taken; returns how many
    /// this thread took.
    fn take_items(next: &AtomicUsize, items: usize, each: Duration) -> usize {
        let mut mine = 0;
        while next.fetch_add(1, Ordering::Relaxed) < items {
            thread::sleep(each);
            mine += 1;
        }
        mine
    }

    #[test]
    fn helpers_take_part_in_long_work() {
        let pool = pool(3);
        let next = AtomicUsize::new(0);
        let threads = Mutex::new(Vec::new());
        run_helped(&pool, 2, &|| {
            let mine = take_items(&next, 200, Duration::from_millis(1));
            threads.lock().unwrap().push((thread::current().id(), mine));
        });
        let threads = threads.into_inner().unwrap();
        // The caller and at least one helper ran the work (both, unless
        // one woke after 200 ms); every item was taken once.
        assert!(threads.len() >= 2, "{threads:?}");
        assert_eq!(threads.iter().map(|&(_, n)| n).sum::<usize>(), 200);
        assert!(threads.iter().filter(|&&(_, n)| n > 0).count() >= 2);
    }

    #[test]
    fn short_work_returns_without_waiting_and_borrows_stay_valid() {
        // Many calls whose work is over before a helper wakes: the offers
        // are withdrawn, and a helper that starts late must not touch the
        // (by then gone) stack data of the call.
        let pool = pool(2);
        for round in 0..20_000usize {
            // On the heap, freed after each call.
            let data: Vec<usize> = std::iter::repeat_n(round, 4).collect();
            let sum = AtomicUsize::new(0);
            run_helped(&pool, 1, &|| {
                sum.fetch_add(data.iter().sum::<usize>(), Ordering::Relaxed);
            });
            let ran = sum.load(Ordering::Relaxed) / (4 * round.max(1));
            assert!(round == 0 || (1..=2).contains(&ran), "{round}: {ran}");
        }
    }

    #[test]
    fn a_panic_on_a_helper_is_resumed_on_the_caller() {
        let pool = pool(2);
        let caller = thread::current().id();
        let next = AtomicUsize::new(0);
        let payload = panic::catch_unwind(AssertUnwindSafe(|| {
            run_helped(&pool, 1, &|| {
                take_items(&next, 50, Duration::from_millis(1));
                if thread::current().id() != caller {
                    panic!("helper failed");
                }
            })
        }))
        .expect_err("the helper's panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"helper failed"));
    }
}
