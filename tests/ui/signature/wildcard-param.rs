//! `_` is not a parameter name; write `_unused` for a parameter the body ignores.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
fn total(xs: &[u64], _: u64) -> u64 {
    xs.iter().sum()
}

fn main() {}
