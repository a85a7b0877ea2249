//! Panics in shards and in merges: the first panic in block order reaches
//! the caller with its payload unchanged, the blocks before it still run,
//! and nothing deadlocks.

mod common;

use std::collections::BTreeSet;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use common::{executors, explode_at, panic_text, threads, within_timeout};
use shardkit::parallelize;

// ---------------------------------------------------------------------------
// Panics in shards
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "shard 5 exploded")]
fn a_shard_panic_reaches_the_caller() {
    threads(3).install(|| explode_at(0..10, 5));
}

/// Which blocks panic (after how long), and which blocks finished.
struct Bombs {
    panics: Vec<(usize, Duration)>,
    finished: Mutex<BTreeSet<usize>>,
}

#[parallelize(split = "ids", reduce = "sum", block_size = 1)]
fn bombs(ids: Range<usize>, bombs: &Bombs) -> usize {
    let i = ids.start;
    if let Some(&(_, delay)) = bombs.panics.iter().find(|&&(b, _)| b == i) {
        thread::sleep(delay);
        panic!("block {i} panicked");
    }
    thread::sleep(Duration::from_millis(1));
    bombs.finished.lock().unwrap().insert(i);
    i
}

#[test]
fn the_earliest_panic_in_block_order_surfaces() {
    for (name, exec) in executors() {
        let exec = exec.clone();
        let name = name.clone();
        within_timeout(move || {
            // Block 9 panics at once; block 4 panics 50 ms later, but
            // comes first.
            let b = Bombs {
                panics: vec![(4, Duration::from_millis(50)), (9, Duration::ZERO)],
                finished: Mutex::new(BTreeSet::new()),
            };
            let text = panic_text(|| exec.install(|| bombs(0..20, &b)));
            assert_eq!(text, "block 4 panicked", "{name}");
            let finished = b.finished.lock().unwrap().clone();
            // The blocks before the panic all ran to completion.
            assert!(
                (0..4).all(|i| finished.contains(&i)),
                "{name}: finished {finished:?}"
            );
            // And the executor is still usable.
            assert_eq!(exec.install(|| explode_at(0..10, usize::MAX)), 45, "{name}");
        });
    }
}

#[test]
fn a_static_str_payload_is_passed_on_unchanged() {
    #[parallelize(split = "xs", reduce = "sum", block_size = 1)]
    fn plain(xs: &[u8]) -> u32 {
        if xs[0] == 2 {
            panic!("a static message");
        }
        u32::from(xs[0])
    }
    for (name, exec) in executors() {
        let payload =
            panic::catch_unwind(AssertUnwindSafe(|| exec.install(|| plain(&[0, 1, 2, 3]))))
                .expect_err("block 2 panics");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"a static message"),
            "{name}"
        );
    }
}

#[test]
fn a_panic_with_every_block_panicking_does_not_deadlock() {
    #[parallelize(split = "ids", reduce = "sum", block_size = 1)]
    fn all_panic(ids: Range<usize>) -> usize {
        panic!("block {} panicked", ids.start)
    }
    for (name, exec) in executors() {
        let exec = exec.clone();
        let name = name.clone();
        within_timeout(move || {
            let text = panic_text(|| exec.install(|| all_panic(0..100)));
            assert_eq!(text, "block 0 panicked", "{name}");
        });
    }
}

// ---------------------------------------------------------------------------
// Panics in merges
// ---------------------------------------------------------------------------

#[parallelize(split = "xs", reduce = "sum", block_size = 2)]
fn ragged(xs: &[f64]) -> Vec<f64> {
    xs.to_vec()
}

#[test]
#[should_panic(
    expected = "shardkit: `ragged` cannot combine results of different shapes: the earlier blocks gave shape [2], block 1 gave [1]"
)]
fn a_merge_panic_names_both_lengths() {
    threads(3).install(|| ragged(&[1.0, 2.0, 3.0]));
}

#[test]
fn a_merge_panic_is_the_same_everywhere() {
    for (name, exec) in executors() {
        let text = panic_text(|| exec.install(|| ragged(&[1.0, 2.0, 3.0, 4.0, 5.0])));
        assert!(
            text.contains("the earlier blocks gave shape [2], block 2 gave [1]"),
            "{name}: {text}"
        );
        // Equal lengths merge fine.
        assert_eq!(exec.install(|| ragged(&[1.0, 2.0, 3.0, 4.0])), [4.0, 6.0]);
    }
}
