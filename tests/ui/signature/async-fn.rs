//! Shards run on threads and ranks, so an `async fn` cannot be parallelized.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
async fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
