//! `&self` is shared by every shard's thread, so `Self` must be `Sync`.
use shardkit::parallelize;
use std::cell::Cell;

struct Counter {
    calls: Cell<u32>,
}

impl Counter {
    #[parallelize(split = "xs", reduce = "sum")]
    fn total(&self, xs: &[u64]) -> u64 {
        self.calls.set(self.calls.get() + 1);
        xs.iter().sum()
    }
}

fn main() {}
