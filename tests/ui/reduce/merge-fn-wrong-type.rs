//! A merge function takes and returns the function's result type: `fn(T, T) -> T`.
use shardkit::parallelize;

fn merge(a: u32, b: u32) -> u32 {
    a + b
}

#[parallelize(split = "xs", reduce = merge)]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
