use shardkit::{parallelize, Executor};
use ndarray::{Array2, ArrayView2, ArrayViewMut1};
use std::ops::Range;

#[parallelize(split = "xs", reduce = "sum")]
fn total(xs: &[u64]) -> u64 {
    xs.iter().sum()
}

#[parallelize(split = "xs, ys", reduce = "concat")]
fn pairs(xs: &[u32], ys: Vec<char>, sep: &str) -> Vec<String> {
    xs.iter().zip(&ys).map(|(x, y)| format!("{x}{sep}{y}")).collect()
}

#[parallelize(split = "rows, out", reduce = "none")]
fn row_sums(rows: ArrayView2<f64>, mut out: ArrayViewMut1<f64>) {
    for (o, r) in out.iter_mut().zip(rows.rows()) {
        *o = r.sum();
    }
}

#[parallelize(split = "r", reduce = "max")]
fn biggest(r: Range<usize>) -> Result<usize, String> {
    if r.contains(&13) { return Err(format!("13 in {r:?}")); }
    Ok(r.max().unwrap_or(0))
}

struct Model { scale: f64 }
impl Model {
    #[parallelize(split = "xs", reduce = "sum")]
    fn scaled(&self, xs: &Vec<f64>) -> f64 {
        xs.iter().map(|x| x * self.scale).sum()
    }
}

#[test]
fn smoke() {
    let xs: Vec<u64> = (0..1000).collect();
    assert_eq!(total(&xs), 499500);
    assert_eq!(pairs(&[1, 2], vec!['a', 'b'], "-"), ["1-a", "2-b"]);
    let a = Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f64);
    let mut out = ndarray::Array1::zeros(5);
    row_sums(a.view(), out.view_mut());
    assert_eq!(out.to_vec(), [3.0, 12.0, 21.0, 30.0, 39.0]);
    assert_eq!(biggest(0..10), Ok(9));
    assert!(biggest(0..100).unwrap_err().contains("13 in"));
    let m = Model { scale: 2.0 };
    assert_eq!(m.scaled(&vec![1.0, 2.0]), 6.0);
    assert_eq!(Executor::serial().install(|| total(&xs)), 499500);
}
