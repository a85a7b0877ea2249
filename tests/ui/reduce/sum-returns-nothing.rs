//! A merging reduction needs a result; side-effect functions use `reduce = "none"`.
use shardkit::parallelize;

#[parallelize(split = "xs", reduce = "sum")]
fn show(xs: &[u64]) {
    println!("{xs:?}");
}

fn main() {}
