//! Unknown keys are errors that list the valid keys (and suggest the likely one).
use shardkit::parallelize;

#[parallelize(splits = "xs", reduce = "sum")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
