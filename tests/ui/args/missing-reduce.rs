//! `reduce` is required: say how the shards' results combine.
use shardkit::parallelize;

#[parallelize(split = "xs")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
