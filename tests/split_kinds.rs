//! Every kind of `split` parameter: lockstep parameters (equal lengths, or
//! a panic that names both), outputs written in place (`&mut [T]`,
//! `ArrayViewMut`), owned and borrowed `Vec`s, ranges, borrowed and owned
//! arrays.

mod common;

use std::ops::Range;

use common::{dot, executors, threads};
use ndarray::{arr2, Array2, ArrayView2, ArrayViewMut2, Axis};
use shardkit::{parallelize, Executor};

// ---------------------------------------------------------------------------
// Lockstep split parameters of unequal lengths
// ---------------------------------------------------------------------------

#[parallelize(split = "a, b, c", reduce = "concat")]
fn triples(a: &[u8], b: Vec<char>, c: Range<usize>) -> Vec<(u8, char, usize)> {
    a.iter()
        .zip(&b)
        .zip(c)
        .map(|((&a, &b), c)| (a, b, c))
        .collect()
}

#[test]
fn lockstep_parameters_of_equal_lengths() {
    assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
    assert_eq!(
        threads(3).install(|| triples(&[1, 2], vec!['a', 'b'], 10..12)),
        [(1, 'a', 10), (2, 'b', 11)]
    );
}

#[test]
#[should_panic(
    expected = "shardkit: `dot` splits `xs` and `ys` in lockstep, so they must have equal lengths, but `xs` has 3 items and `ys` has 2"
)]
fn lockstep_lengths_differ() {
    threads(3).install(|| dot(&[1.0, 2.0, 3.0], &[4.0, 5.0]));
}

#[test]
#[should_panic(expected = "but `a` has 2 items and `c` has 3")]
fn lockstep_third_parameter_differs() {
    triples(&[1, 2], vec!['a', 'b'], 0..3);
}

#[test]
#[should_panic(expected = "but `xs` has 0 items and `ys` has 1")]
fn lockstep_empty_against_one() {
    Executor::serial().install(|| dot(&[], &[1.0]));
}

// ---------------------------------------------------------------------------
// Outputs written in place
// ---------------------------------------------------------------------------

#[parallelize(split = "xs, out", reduce = "none")]
fn double_into(xs: &[f64], out: &mut [f64]) {
    for (o, x) in out.iter_mut().zip(xs) {
        *o = 2.0 * x;
    }
}

#[parallelize(split = "rows, out", reduce = "none")]
fn scale_rows(rows: ArrayView2<f64>, mut out: ArrayViewMut2<f64>, factor: f64) {
    for (i, mut row) in out.rows_mut().into_iter().enumerate() {
        row.assign(&(&rows.row(i) * factor));
    }
}

#[test]
fn mutable_slice_output_filled_in_place() {
    for len in [0, 1, 3, 256, 1000] {
        let xs: Vec<f64> = (0..len).map(|i| i as f64).collect();
        for (name, exec) in executors() {
            let mut out = vec![-1.0; len];
            exec.install(|| double_into(&xs, &mut out));
            let want: Vec<f64> = xs.iter().map(|x| 2.0 * x).collect();
            assert_eq!(out, want, "{name}, {len} items");
        }
    }
}

#[test]
fn array_view_mut_output_filled_in_place() {
    let a = Array2::from_shape_fn((300, 4), |(i, j)| (i * 4 + j) as f64);
    for (name, exec) in executors() {
        let mut out = Array2::from_elem((300, 4), f64::NAN);
        exec.install(|| scale_rows(a.view(), out.view_mut(), 0.5));
        assert_eq!(out, &a * 0.5, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Every kind of split parameter
// ---------------------------------------------------------------------------

#[parallelize(split = "words", reduce = "concat")]
fn lengths(words: Vec<String>) -> Vec<usize> {
    words.into_iter().map(|w| w.len()).collect()
}

#[allow(clippy::ptr_arg)]
#[parallelize(split = "words", reduce = "sum")]
fn total_length(words: &Vec<String>) -> usize {
    words.iter().map(String::len).sum()
}

#[parallelize(split = "r", reduce = "concat", block_size = 4)]
fn ranges(r: Range<usize>) -> Vec<Range<usize>> {
    vec![r]
}

#[parallelize(split = "r", reduce = "concat")]
fn squares(r: Range<usize>) -> Vec<usize> {
    r.map(|i| i * i).collect()
}

#[parallelize(split = "a", reduce = "concat")]
fn row_sums(a: &Array2<f64>) -> Vec<f64> {
    a.sum_axis(Axis(1)).to_vec()
}

#[parallelize(split = "a", reduce = "concat", block_size = 2)]
fn negated(a: Array2<i32>) -> Array2<i32> {
    -a
}

#[test]
fn owned_vec_split() {
    let words: Vec<String> = (0..500).map(|i| "x".repeat(i % 13)).collect();
    let want: Vec<usize> = words.iter().map(String::len).collect();
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| lengths(words.clone())), want, "{name}");
    }
}

#[test]
fn borrowed_vec_split() {
    let words: Vec<String> = (0..500).map(|i| "x".repeat(i % 13)).collect();
    let want: usize = words.iter().map(String::len).sum();
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| total_length(&words)), want, "{name}");
    }
}

#[test]
fn range_split_keeps_its_offset() {
    for (name, exec) in executors() {
        exec.install(|| {
            assert_eq!(ranges(10..20), [10..14, 14..18, 18..20], "{name}");
            assert_eq!(ranges(3..3), [Range { start: 3, end: 3 }], "{name}");
            let want: Vec<usize> = (1000..1600).map(|i| i * i).collect();
            assert_eq!(squares(1000..1600), want, "{name}");
        });
    }
}

#[test]
fn borrowed_array_split() {
    let a = Array2::from_shape_fn((700, 3), |(i, j)| (i + j) as f64);
    let want = a.sum_axis(Axis(1)).to_vec();
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| row_sums(&a)), want, "{name}");
    }
}

#[test]
fn owned_array_split_concatenates_rows() {
    let a = arr2(&[[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
    for (name, exec) in executors() {
        assert_eq!(exec.install(|| negated(a.clone())), -a.clone(), "{name}");
    }
}
