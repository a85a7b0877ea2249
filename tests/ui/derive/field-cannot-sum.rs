//! Every field of a `#[derive(Reduce)]` struct must itself be summable.
use shardkit::Reduce;

#[derive(Reduce)]
struct Partial {
    count: u64,
    label: String,
}

fn main() {}
