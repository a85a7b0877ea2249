//! A merge function is written as a path, without quotes.
use shardkit::parallelize;

fn merge(a: u64, b: u64) -> u64 {
    a + b
}

#[parallelize(split = "xs", reduce = "merge")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
