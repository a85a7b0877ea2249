//! Tiny inputs: an empty input runs the body once on an empty shard, of
//! every kind of split parameter; one item is one shard; fewer items than
//! threads give one shard each.

mod common;

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::executors;
use ndarray::{Array2, ArrayView2};
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
fn counted(xs: &[u8], calls: &AtomicUsize) -> usize {
    calls.fetch_add(1, Ordering::SeqCst);
    xs.len()
}

#[parallelize(split = "xs", reduce = "concat")]
fn shard_contents(xs: &[u8]) -> Vec<Vec<u8>> {
    vec![xs.to_vec()]
}

#[test]
fn empty_input_runs_the_body_once_with_an_empty_shard() {
    for (name, exec) in executors() {
        let calls = AtomicUsize::new(0);
        assert_eq!(exec.install(|| counted(&[], &calls)), 0, "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(
            exec.install(|| shard_contents(&[])),
            vec![Vec::<u8>::new()],
            "{name}"
        );
    }
}

#[test]
fn empty_input_of_every_split_kind() {
    #[parallelize(split = "v", reduce = "concat")]
    fn owned(v: Vec<String>) -> Vec<usize> {
        vec![v.len()]
    }
    #[parallelize(split = "r", reduce = "concat")]
    fn range(r: Range<usize>) -> Vec<Range<usize>> {
        vec![r]
    }
    #[parallelize(split = "rows", reduce = "concat")]
    fn rows(rows: ArrayView2<f64>) -> Vec<(usize, usize)> {
        vec![rows.dim()]
    }
    #[parallelize(split = "out", reduce = "none")]
    fn fill(out: &mut [u8]) {
        assert!(out.is_empty());
    }

    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(owned(Vec::new()), [0], "{name}");
            // The empty shard of `5..5` starts where the range does.
            assert_eq!(range(5..5), [Range { start: 5, end: 5 }], "{name}");
            assert_eq!(
                rows(Array2::<f64>::zeros((0, 3)).view()),
                [(0, 3)],
                "{name}"
            );
            fill(&mut []);
        });
    }
}

#[test]
fn one_item_is_one_shard() {
    for (name, exec) in executors() {
        let calls = AtomicUsize::new(0);
        assert_eq!(exec.install(|| counted(&[7], &calls)), 1, "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(exec.install(|| shard_contents(&[7])), [vec![7]], "{name}");
    }
}

#[test]
fn fewer_items_than_threads() {
    for (name, exec) in executors() {
        let calls = AtomicUsize::new(0);
        assert_eq!(exec.install(|| counted(&[1, 2, 3], &calls)), 3, "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "{name}");
        assert_eq!(
            exec.install(|| shard_contents(&[1, 2, 3])),
            [vec![1], vec![2], vec![3]],
            "{name}"
        );
    }
}
