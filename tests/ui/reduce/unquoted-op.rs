//! Named reductions are strings: `reduce = "sum"`, not `reduce = sum`.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = sum)]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
