//! Every mistake in one signature is reported in one compile.
use shardkit::parallelize;

#[parallelize(split = "rows", reduce = "sum")]
fn total(xs: &[u64], _: u64, out: &mut u64) -> u64 {
    *out = xs.iter().sum();
    *out
}

fn main() {}
