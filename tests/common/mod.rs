//! Helpers shared by the behaviour tests: the executors every test runs
//! on (built once per test binary), a timeout that turns a deadlock into a
//! failure, the text of a panic, and three small `#[parallelize]` functions
//! that several files call.
//!
//! Declared with `mod common;` by each test file; a file uses only some of
//! these, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::any::Any;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use shardkit::{parallelize, Executor};

/// The serial reference first, then pools of 1, 2, 3 and 7 threads; built
/// once for the whole test binary.
pub(crate) fn executors() -> &'static [(String, Executor)] {
    static EXECUTORS: OnceLock<Vec<(String, Executor)>> = OnceLock::new();
    EXECUTORS.get_or_init(|| {
        let mut all = vec![("serial".to_string(), Executor::serial())];
        for n in [1, 2, 3, 7] {
            let pool = Executor::threads(n).expect("a small thread pool starts");
            assert_eq!(pool.workers(), n);
            all.push((format!("threads({n})"), pool));
        }
        all
    })
}

/// The pool of `n` threads among [`executors`].
pub(crate) fn threads(n: usize) -> &'static Executor {
    let (_, exec) = executors()
        .iter()
        .find(|(name, _)| *name == format!("threads({n})"))
        .expect("a pool of that size is built");
    exec
}

/// Runs `f` on another thread and fails if it does not finish in time: a
/// deadlock fails the test instead of hanging it.
pub(crate) fn within_timeout<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(r) => {
            worker.join().expect("the worker already sent its result");
            r
        }
        Err(_) => panic!("the call did not return within 30 s: deadlock?"),
    }
}

/// The text of a panic payload (`panic!("literal")` or `panic!("{x}")`).
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("a panic payload that is not a string")
    }
}

/// Runs `f`, which must panic, and returns its payload's text.
pub(crate) fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("the call returned instead of panicking"),
        Err(payload) => payload_text(&*payload),
    }
}

/// Returns the sum of its items, one block per item, and panics with
/// "shard {i} exploded" in the block of item `at`.
#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
pub(crate) fn explode_at(ids: Range<usize>, at: usize) -> usize {
    let i = ids.start;
    if i == at {
        panic!("shard {i} exploded");
    }
    i
}

/// The dot product of two slices cut in lockstep.
#[parallelize(split = "xs, ys", reduce = "sum")]
pub(crate) fn dot(xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter().zip(ys).map(|(x, y)| x * y).sum()
}

/// The threads that ran the shards of one call of [`thread_names`], and how
/// many different ones its shards wait for.
pub(crate) struct Meeting {
    want: usize,
    since: Instant,
    seen: Mutex<Vec<ThreadId>>,
}

impl Meeting {
    /// Shards wait until `want` different threads have run one (at most
    /// 10 s in all).
    pub(crate) fn new(want: usize) -> Meeting {
        Meeting {
            want,
            since: Instant::now(),
            seen: Mutex::new(Vec::new()),
        }
    }

    fn arrive(&self) {
        let me = thread::current().id();
        loop {
            let mut seen = self.seen.lock().unwrap();
            if !seen.contains(&me) {
                seen.push(me);
            }
            if seen.len() >= self.want || self.since.elapsed() > Duration::from_secs(10) {
                return;
            }
            drop(seen);
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The name of the thread that ran each item (one block per item). Each
/// shard first waits until `met.want` different threads have run shards of
/// the call, so that on a pool its own threads visibly take part, however
/// quickly the calling thread (which takes blocks too) could run them all.
#[parallelize(split = "xs", reduce = "concat", block_size = 1)]
pub(crate) fn thread_names(xs: &[u8], met: &Meeting) -> Vec<Option<String>> {
    met.arrive();
    vec![thread::current().name().map(str::to_string); xs.len()]
}

/// Whether every name in `names` is the calling thread's or a pool
/// thread's (`shardkit-*`), and at least one is a pool thread's.
pub(crate) fn on_pool_and_caller(names: &[Option<String>]) -> bool {
    let caller = thread::current().name().map(str::to_string);
    let pooled = |n: &Option<String>| n.as_deref().is_some_and(|n| n.starts_with("shardkit-"));
    names.iter().all(|n| *n == caller || pooled(n)) && names.iter().any(pooled)
}
