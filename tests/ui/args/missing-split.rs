//! `split` is required: it names the parameters to shard.
use shardkit::parallelize;

#[parallelize(reduce = "sum")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

fn main() {}
