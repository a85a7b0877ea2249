//! `reduce = "none"` discards results, so the function must return `()` or `Result<(), E>`.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "none")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
