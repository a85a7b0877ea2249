//! `block_size` and `weights` corner cases: a block larger than the input,
//! a block size of zero, and weights that are all zero.

mod common;

use common::{executors, threads};
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "concat", block_size = size)]
fn sizes_in_blocks(xs: &[u8], size: usize) -> Vec<usize> {
    vec![xs.len()]
}

#[test]
fn block_size_larger_than_the_input() {
    for (name, exec) in executors() {
        assert_eq!(
            exec.install(|| sizes_in_blocks(&[0; 5], 100)),
            [5],
            "{name}"
        );
        assert_eq!(exec.install(|| sizes_in_blocks(&[], 3)), [0], "{name}");
        assert_eq!(
            exec.install(|| sizes_in_blocks(&[0; 7], 3)),
            [3, 3, 1],
            "{name}"
        );
    }
}

#[test]
#[should_panic(expected = "`block_size` must be at least 1")]
fn block_size_zero_panics() {
    threads(3).install(|| sizes_in_blocks(&[0; 5], 0));
}

#[test]
fn all_zero_weights_cut_even_blocks() {
    fn nothing(_: &u8) -> u64 {
        0
    }
    #[parallelize(split = "xs", reduce = "concat", weights = nothing)]
    fn weightless(xs: &[u8]) -> Vec<usize> {
        vec![xs.len()]
    }
    for len in [0, 1, 3, 300] {
        let want: Vec<usize> = shardkit::Plan::even(len, None).sizes().collect();
        for (name, exec) in executors() {
            assert_eq!(exec.install(|| weightless(&vec![0; len])), want, "{name}");
        }
    }
}
