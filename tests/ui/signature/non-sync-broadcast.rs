//! Broadcast parameters are shared by every shard's thread, so they must be `Sync`.
use shardkit::parallelize;
use std::cell::Cell;

#[parallelize(split = "xs", reduce = "sum")]
fn total(xs: &[u64], calls: &Cell<u32>) -> u64 {
    calls.set(calls.get() + 1);
    xs.iter().sum()
}

fn main() {}
