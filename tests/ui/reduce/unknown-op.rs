//! `reduce` is one of `sum`, `concat`, `min`, `max`, `none`, or a merge function.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "avg")]
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn main() {}
