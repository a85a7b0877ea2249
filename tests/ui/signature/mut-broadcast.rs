//! A broadcast parameter cannot be `mut`: copy it into a local in the body.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
fn total(xs: &[u64], mut scale: u64) -> u64 {
    scale += 1;
    xs.iter().map(|x| x * scale).sum()
}

fn main() {}
