//! `split` must name at least one parameter.
use shardkit::parallelize;

#[parallelize(split = "", reduce = "sum")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
