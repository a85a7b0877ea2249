//! Each key is given once; the error points at the second occurrence.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum", reduce = "max")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
