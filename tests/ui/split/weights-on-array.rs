//! `weights` weighs the items of a slice, `Vec` or range; arrays use `block_size`.
use ndarray::ArrayView2;
use shardkit::parallelize;

fn cost(_row: &f64) -> u64 {
    1
}

#[parallelize(split = "rows", reduce = "sum", weights = cost)]
fn total(rows: ArrayView2<f64>) -> f64 {
    rows.sum()
}

fn main() {}
