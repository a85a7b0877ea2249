//! `block_size` counts the items of a block, so it is at least 1.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum", block_size = 0)]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
