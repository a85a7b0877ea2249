//! A `split` parameter needs a named type: each shard gets a value of that type.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
fn total(xs: impl AsRef<[u64]>) -> u64 {
    xs.as_ref().iter().sum()
}

fn main() {}
