//! A `split` parameter must be a slice, `Vec`, `Range<usize>` or ndarray array.
use shardkit::parallelize;
use std::collections::HashMap;

#[parallelize(split = "counts", reduce = "sum")]
fn total(counts: HashMap<String, u64>) -> u64 {
    counts.values().sum()
}

fn main() {}
