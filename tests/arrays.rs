//! ndarray in and out: array results summed element-wise, arrays of one,
//! three and dynamic dimensions, and the 0-dimensional array that has no
//! rows to cut.

mod common;

use common::executors;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use shardkit::{parallelize, Executor};

// ---------------------------------------------------------------------------
// Arrays in and out
// ---------------------------------------------------------------------------

#[test]
fn array_results_sum_element_wise() {
    #[parallelize(split = "rows", reduce = "sum")]
    fn gram(rows: ArrayView2<f64>) -> Array2<f64> {
        rows.t().dot(&rows)
    }
    #[parallelize(split = "rows", reduce = "max")]
    fn column_max(rows: ArrayView2<f64>) -> Array1<f64> {
        rows.fold_axis(Axis(0), f64::NEG_INFINITY, |&a, &b| a.max(b))
    }
    let a = Array2::from_shape_fn((500, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(gram(a.view()), a.t().dot(&a), "{name}");
            assert_eq!(column_max(a.view()).to_vec(), [10.0, 10.0, 10.0], "{name}");
        });
    }
}

// ---------------------------------------------------------------------------
// Arrays of other dimensions
// ---------------------------------------------------------------------------

#[parallelize(split = "a", reduce = "sum")]
fn dyn_total(a: ndarray::ArrayViewD<f64>) -> f64 {
    a.sum()
}

#[test]
fn arrays_of_one_three_and_dynamic_dimensions() {
    #[parallelize(split = "a", reduce = "concat")]
    fn copy1(a: ndarray::ArrayView1<f64>) -> Array1<f64> {
        a.to_owned()
    }
    #[parallelize(split = "a", reduce = "sum", block_size = 2)]
    fn sum3(a: ndarray::ArrayView3<f64>) -> Array2<f64> {
        a.sum_axis(Axis(0))
    }
    let a1 = Array1::from_iter((0..500).map(f64::from));
    let empty = Array1::<f64>::zeros(0);
    let a3 = ndarray::Array3::from_shape_fn((5, 2, 3), |(i, j, k)| (i * 6 + j * 3 + k) as f64);
    let ad = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[300, 2]), 0.5);
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(copy1(a1.view()), a1, "{name}");
            assert_eq!(copy1(empty.view()), empty, "{name}");
            assert_eq!(sum3(a3.view()), a3.sum_axis(Axis(0)), "{name}");
            assert_eq!(dyn_total(ad.view()), 300.0, "{name}");
        });
    }
}

/// A 0-dimensional array has no rows to cut: the call says so.
#[test]
#[should_panic(expected = "cannot split a 0-dimensional array")]
fn a_zero_dimensional_array_cannot_be_split() {
    let scalar = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[]), 5.0);
    assert_eq!(Executor::serial().install(|| dyn_total(scalar.view())), 5.0);
}
