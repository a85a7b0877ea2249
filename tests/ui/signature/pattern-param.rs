//! Parameters are plain names; destructure inside the body.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
fn total(xs: &[u64], (scale, offset): (u64, u64)) -> u64 {
    xs.iter().map(|x| x * scale + offset).sum()
}

fn main() {}
