//! The result is merged, so its type must be named, not `impl Trait`.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "concat")]
fn evens(xs: &[u64]) -> impl Iterator<Item = u64> {
    xs.to_vec().into_iter().filter(|x| x % 2 == 0)
}

fn main() {}
