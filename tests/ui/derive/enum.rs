//! `#[derive(Reduce)]` merges structs field by field; an enum needs a merge function.
use shardkit::Reduce;

#[derive(Reduce)]
enum Partial {
    Count(u64),
    Nothing,
}

fn main() {}
