//! A field merges with `sum` (the default), `min` or `max`.
use shardkit::Reduce;

#[derive(Reduce)]
struct Partial {
    count: u64,
    #[reduce(mean)]
    level: f64,
}

fn main() {}
