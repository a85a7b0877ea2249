//! Naive Bayes classifiers trained over a [`Table`](crate::stats::Table):
//! daal4py's `multinomial_naive_bayes_training` / `_prediction`, and
//! Gaussian naive Bayes, with scikit-learn's formulas (`MultinomialNB`,
//! `GaussianNB`).
//!
//! # The table
//!
//! The **last column is the class label**: an integer `0..classes` stored
//! as a float (`0.0`, `1.0`, …), as in daal4py's example CSV files. The
//! other columns are the features: counts or frequencies (≥ 0) for
//! [`MultinomialNb`], any values for [`GaussianNb`]. A label that is not an
//! integer in `0..classes` (2.5, −1, `classes`), or a negative count, is an
//! error naming the part (file), row and column.
//!
//! # The same bits everywhere
//!
//! Training is a pass of [`stats`](crate::stats): per chunk of rows the
//! class counts and the per-class sums of the features, added exactly. So
//! a model has the same bits on 1 thread or 16, on 1 MPI rank or 4, for a
//! table the same on every rank or each rank's own share
//! ([`Table::local`](crate::stats::Table::local)). The partial results
//! ([`MultinomialPartial`], [`GaussianPartial`]) merge and save, for data
//! that arrives in batches.
//!
//! ```
//! use ndarray::array;
//! use shardkit_algorithms::naive_bayes::MultinomialNb;
//! use shardkit_algorithms::stats::Table;
//!
//! // Word counts of four documents; the last column is the class.
//! let docs = array![
//!     [3.0, 0.0, 1.0, 0.0],
//!     [2.0, 1.0, 0.0, 0.0],
//!     [0.0, 4.0, 1.0, 1.0],
//!     [0.0, 2.0, 3.0, 1.0],
//! ];
//! let model = MultinomialNb::params().classes(2).alpha(1.0).fit(&Table::rows(docs.view())?)?;
//! // Class 0 saw 5, 1 and 1 of the words: (5 + 1) / (7 + 3).
//! assert!((model.feature_log_prob[[0, 0]] - (0.6f64).ln()).abs() < 1e-15);
//! let new = array![[4.0, 0.0, 0.0], [0.0, 3.0, 1.0]];
//! assert_eq!(model.predict(new.view())?, array![0, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod errors;
mod gaussian;
mod multinomial;

pub use errors::NbError;
pub use gaussian::{GaussianModel, GaussianNb, GaussianPartial};
pub use multinomial::{MultinomialModel, MultinomialNb, MultinomialPartial};

use ndarray::{Array1, Array2, ArrayView2};

use crate::stats::StatsError;

/// The class of a label `value` at (`part`, `row`, `column`), counted from
/// 1: an integer in `0..classes`.
fn label(
    value: f64,
    classes: usize,
    part: &str,
    row: usize,
    column: usize,
) -> Result<usize, StatsError> {
    if value >= 0.0 && value < classes as f64 && value.fract() == 0.0 {
        Ok(value as usize)
    } else {
        Err(StatsError::Value {
            name: part.to_string(),
            row,
            column,
            value,
            problem: format!(
                "is not a class label: the last column holds the class as an integer 0..={} \
                 (classes = {classes})",
                classes - 1
            ),
        })
    }
}

/// Checks the `classes` setting.
fn check_classes(classes: usize) -> Result<(), NbError> {
    if classes < 2 {
        return Err(NbError::Setting {
            name: "classes",
            value: classes.to_string(),
            expected: "the number of classes must be at least 2 (set it with .classes(k))".into(),
        });
    }
    Ok(())
}

/// The features of a table of `cols` columns (the last is the label).
fn features_of(cols: usize) -> Result<usize, NbError> {
    if cols < 2 {
        return Err(NbError::TooFewColumns { found: cols });
    }
    Ok(cols - 1)
}

/// Checks rows to predict: `features` columns, finite values, and, when
/// `counts`, none negative.
fn check_input(x: ArrayView2<'_, f64>, features: usize, counts: bool) -> Result<(), NbError> {
    if x.ncols() != features {
        return Err(NbError::Features {
            found: x.ncols(),
            expected: features,
        });
    }
    for ((i, j), &value) in x.indexed_iter() {
        let problem = if !value.is_finite() {
            "is not a finite number"
        } else if counts && value < 0.0 {
            "is negative; multinomial naive Bayes takes counts or frequencies ≥ 0"
        } else {
            continue;
        };
        return Err(NbError::Input {
            row: i + 1,
            column: j + 1,
            value,
            problem,
        });
    }
    Ok(())
}

/// Each row's class of largest joint log-likelihood (ties: the lowest
/// class).
fn argmax_rows(jll: &Array2<f64>) -> Array1<usize> {
    jll.rows()
        .into_iter()
        .map(|row| {
            let mut best = 0;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// Each row minus its log-sum-exp: log posteriors from joint
/// log-likelihoods.
fn normalise_rows(mut jll: Array2<f64>) -> Array2<f64> {
    for mut row in jll.rows_mut() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = if max == f64::NEG_INFINITY {
            max
        } else {
            max + row.iter().map(|&v| (v - max).exp()).sum::<f64>().ln()
        };
        row.mapv_inplace(|v| v - lse);
    }
    jll
}

/// A count read back from a file: a non-negative integer below 2^53.
fn is_count(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53)
}
