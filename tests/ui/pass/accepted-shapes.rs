//! The shapes `#[parallelize]` accepts, each called once.
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use shardkit::{parallelize, Reduce};
use std::ops::Range;
use std::path::PathBuf;

#[derive(Reduce, Debug, PartialEq)]
struct Stats {
    n: u64,
    sum: Array1<f64>,
    #[reduce(min)]
    lo: f64,
    #[reduce(max)]
    hi: f64,
}

#[derive(Reduce)]
struct Pair(u32, Vec<f32>);

#[derive(Reduce)]
struct Generic<T> {
    inner: Vec<T>,
}

// A free function with a `Result`, a derived accumulator and a broadcast reference.
#[parallelize(split = "rows", reduce = "sum")]
fn stats(rows: ArrayView2<'_, f64>, offset: &f64) -> Result<Stats, String> {
    if rows.iter().any(|x| x.is_nan()) {
        return Err("NaN".into());
    }
    let shifted = rows.mapv(|x| x + offset);
    Ok(Stats {
        n: rows.nrows() as u64,
        sum: shifted.sum_axis(ndarray::Axis(0)),
        lo: shifted.iter().copied().fold(f64::INFINITY, f64::min),
        hi: shifted.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

// Generics and lifetimes stay in scope in the body.
#[parallelize(split = "xs", reduce = "sum")]
fn scaled<'a, T>(xs: &'a [T], k: f64) -> f64
where
    T: Copy + Into<f64> + Sync,
{
    xs.iter().map(|&x| x.into() * k).sum()
}

// Several split parameters in lockstep, one an in-place output.
#[parallelize(split = "a, out", reduce = "none")]
fn double(a: ArrayView1<f32>, mut out: ArrayViewMut2<f32>) {
    for (row, x) in out.rows_mut().into_iter().zip(a.iter()) {
        for y in row {
            *y = 2.0 * x;
        }
    }
}

// A merge function, `Range<usize>`, and `block_size`.
fn keep_longest(a: String, b: String) -> String {
    if b.len() > a.len() {
        b
    } else {
        a
    }
}

#[parallelize(split = "ids", reduce = keep_longest, block_size = 3)]
fn longest_name(ids: Range<usize>, names: &[String]) -> String {
    ids.map(|i| names[i].clone()).fold(String::new(), keep_longest)
}

// Owned and `&Vec` splits, `concat`, `weights`.
#[parallelize(split = "files", reduce = "concat", weights = shardkit::weights::file_size)]
fn names(files: Vec<PathBuf>) -> Vec<String> {
    files.iter().map(|f| f.display().to_string()).collect()
}

#[parallelize(split = "xs", reduce = "max", weights = |x: &u32| u64::from(*x))]
fn largest(xs: &Vec<u32>) -> Option<u32> {
    xs.iter().copied().max()
}

// Side effects into a `&mut [T]` output, `Result<(), E>`.
#[parallelize(split = "out", reduce = "none")]
fn fill(out: &mut [u8], value: u8) -> Result<(), std::io::Error> {
    out.fill(value);
    Ok(())
}

// `&self` methods; `self` is broadcast.
struct Model {
    weights: Vec<f64>,
}

impl Model {
    #[parallelize(split = "rows", reduce = "concat")]
    pub fn score(&self, rows: &Array2<f64>) -> Vec<f64> {
        rows.rows()
            .into_iter()
            .map(|r| r.iter().zip(&self.weights).map(|(x, w)| x * w).sum())
            .collect()
    }
}

fn main() {
    let data = Array2::from_shape_fn((10, 3), |(i, j)| (i + j) as f64);
    let s = stats(data.view(), &1.0).unwrap();
    assert_eq!(s.n, 10);
    assert_eq!(scaled(&[1u8, 2, 3], 2.0), 12.0);
    let a = Array1::from(vec![1.0f32, 2.0]);
    let mut out = Array2::zeros((2, 4));
    double(a.view(), out.view_mut());
    assert_eq!(out[[1, 3]], 4.0);
    let words: Vec<String> = ["a", "ccc", "bb"].iter().map(|s| s.to_string()).collect();
    assert_eq!(longest_name(0..3, &words), "ccc");
    assert_eq!(names(vec![PathBuf::from("x")]), ["x"]);
    assert_eq!(largest(&vec![3, 9, 4]), Some(9));
    let mut buf = [0u8; 5];
    fill(&mut buf, 7).unwrap();
    assert_eq!(buf, [7; 5]);
    let m = Model { weights: vec![1.0, 0.0, 0.0] };
    assert_eq!(m.score(&data)[..3], [0.0, 1.0, 2.0]);
    let _ = (Pair::identity(), Generic::<u8>::identity());
}
