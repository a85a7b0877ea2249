//! Methods take `&self`: shards run at once and cannot all hold `&mut self`.
use shardkit::parallelize;

struct Counter {
    seen: u64,
}

impl Counter {
    #[parallelize(split = "xs", reduce = "sum")]
    fn count(&mut self, xs: &[u64]) -> u64 {
        self.seen += xs.len() as u64;
        self.seen
    }
}

fn main() {}
