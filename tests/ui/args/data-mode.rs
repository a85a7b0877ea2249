//! `data` is `"same"` (the default: every MPI rank passes the same data) or `"local"` (each rank passes its own part).
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum", data = "distributed")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
