//! `#[parallelize]` annotates functions.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
struct Data {
    xs: Vec<u64>,
}

fn main() {}
