//! A broadcast parameter cannot be `&mut`: split it, or return the values.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "none")]
fn square(xs: &[u64], out: &mut Vec<u64>) {
    out.extend(xs.iter().map(|x| x * x));
}

fn main() {}
