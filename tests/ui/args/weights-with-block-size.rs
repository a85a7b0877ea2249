//! `weights` and `block_size` each decide the blocks; give one of them.
use shardkit::parallelize;

fn cost(x: &u64) -> u64 {
    *x
}

#[parallelize(split = "xs", reduce = "sum", weights = cost, block_size = 8)]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
