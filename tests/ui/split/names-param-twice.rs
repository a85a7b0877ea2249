//! A parameter is named once in `split`.
use shardkit::parallelize;

#[parallelize(split = "xs, xs", reduce = "sum")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
