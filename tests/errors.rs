//! `Result` bodies: the first error in block order wins, whatever finished
//! first; blocks after it are skipped when they run in order; `reduce =
//! "none"` with `Result`; and errors meeting panics.

mod common;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{executors, panic_text, threads};
use shardkit::{parallelize, Executor};

// ---------------------------------------------------------------------------
// `Result`: the first error in block order
// ---------------------------------------------------------------------------

/// Which blocks fail (after how long), and which blocks ran.
struct Script {
    failures: Vec<(usize, Duration)>,
    ran: Vec<AtomicBool>,
}

impl Script {
    fn new(blocks: usize, failures: &[(usize, u64)]) -> Script {
        Script {
            failures: failures
                .iter()
                .map(|&(i, ms)| (i, Duration::from_millis(ms)))
                .collect(),
            ran: (0..blocks).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn ran(&self) -> Vec<usize> {
        (0..self.ran.len())
            .filter(|&i| self.ran[i].load(Ordering::SeqCst))
            .collect()
    }
}

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn scripted(ids: Range<usize>, script: &Script) -> Result<usize, String> {
    let i = ids.start;
    script.ran[i].store(true, Ordering::SeqCst);
    match script.failures.iter().find(|&&(f, _)| f == i) {
        Some(&(_, delay)) => {
            thread::sleep(delay);
            Err(format!("block {i} failed"))
        }
        None => Ok(i),
    }
}

#[test]
fn no_error_merges_every_block() {
    for (name, exec) in executors() {
        let script = Script::new(40, &[]);
        assert_eq!(exec.install(|| scripted(0..40, &script)), Ok(780), "{name}");
        assert_eq!(script.ran(), (0..40).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn first_error_in_block_order_wins_over_an_earlier_finishing_one() {
    for (name, exec) in executors() {
        // Block 11 fails at once; block 3 fails 50 ms later, but comes first.
        let script = Script::new(40, &[(3, 50), (11, 0), (30, 0)]);
        let got = exec.install(|| scripted(0..40, &script));
        assert_eq!(got, Err("block 3 failed".to_string()), "{name}");
        let ran = script.ran();
        assert!(ran.starts_with(&[0, 1, 2, 3]), "{name}: ran {ran:?}");
    }
}

#[test]
fn first_and_last_blocks_fail() {
    for (name, exec) in executors() {
        let script = Script::new(40, &[(0, 20), (5, 0), (39, 0)]);
        assert_eq!(
            exec.install(|| scripted(0..40, &script)),
            Err("block 0 failed".to_string()),
            "{name}"
        );
        let script = Script::new(40, &[(39, 0)]);
        assert_eq!(
            exec.install(|| scripted(0..40, &script)),
            Err("block 39 failed".to_string()),
            "{name}"
        );
        assert_eq!(script.ran(), (0..40).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn blocks_after_an_error_are_skipped_when_run_in_order() {
    // On the calling thread blocks run one by one, so none after the
    // failing one has started when it fails: all of them are skipped.
    for exec in [Executor::serial(), threads(1).clone()] {
        let script = Script::new(1000, &[(3, 0), (500, 0)]);
        assert_eq!(
            exec.install(|| scripted(0..1000, &script)),
            Err("block 3 failed".to_string()),
            "{exec:?}"
        );
        assert_eq!(script.ran(), [0, 1, 2, 3], "{exec:?}");
    }
}

// ---------------------------------------------------------------------------
// `reduce = "none"` with `Result`, and errors meeting panics
// ---------------------------------------------------------------------------

#[parallelize(split = "xs, out", reduce = "none", block_size = 10)]
fn checked_copy(xs: &[i32], out: &mut [i32]) -> Result<(), String> {
    for (o, &x) in out.iter_mut().zip(xs) {
        if x < 0 {
            return Err(format!("negative: {x}"));
        }
        *o = x;
    }
    Ok(())
}

#[test]
fn none_with_result_returns_the_first_error() {
    let good: Vec<i32> = (0..100).collect();
    let mut bad = good.clone();
    bad[95] = -95;
    bad[42] = -42;
    for (name, exec) in executors() {
        let mut out = vec![-1; 100];
        assert_eq!(exec.install(|| checked_copy(&good, &mut out)), Ok(()));
        assert_eq!(out, good, "{name}");
        let mut out = vec![-1; 100];
        assert_eq!(
            exec.install(|| checked_copy(&bad, &mut out)),
            Err("negative: -42".to_string()),
            "{name}"
        );
        // The blocks before the failing one were written.
        assert_eq!(out[..40], good[..40], "{name}");
    }
}

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn error_or_panic(ids: Range<usize>, error_at: usize, panic_at: usize) -> Result<usize, String> {
    let i = ids.start;
    if i == error_at {
        thread::sleep(Duration::from_millis(30));
        return Err(format!("error at {i}"));
    }
    if i == panic_at {
        thread::sleep(Duration::from_millis(30));
        panic!("panic at {i}");
    }
    Ok(i)
}

#[test]
fn an_error_before_a_panic_wins() {
    for (name, exec) in executors() {
        let got = exec.install(|| error_or_panic(0..30, 4, 9));
        assert_eq!(got, Err("error at 4".to_string()), "{name}");
    }
}

#[test]
fn a_panic_before_an_error_wins() {
    for (name, exec) in executors() {
        let text = panic_text(|| exec.install(|| error_or_panic(0..30, 9, 4)));
        assert_eq!(text, "panic at 4", "{name}");
    }
}
