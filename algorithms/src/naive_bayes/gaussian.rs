//! Gaussian naive Bayes: scikit-learn's `GaussianNB`, trained with exact
//! per-class sums.

use std::f64::consts::PI;
use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2, Zip};
use serde::{Deserialize, Serialize};
use shardkit::Reduce;

use super::{argmax_rows, check_classes, check_input, features_of, is_count, label};
use super::{normalise_rows, NbError};
use crate::npz::{NpzReader, NpzWriter};
use crate::stats::pass::{self, ChunkPass};
use crate::stats::{StatsError, Table};

/// The settings of Gaussian naive Bayes: the number of classes and
/// scikit-learn's `var_smoothing`, the fraction of the largest feature
/// variance (over all rows) added to every variance.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::naive_bayes::GaussianNb;
/// use shardkit_algorithms::stats::Table;
///
/// // One feature, then the class.
/// let x = array![[1.0, 0.0], [3.0, 0.0], [10.0, 1.0], [14.0, 1.0]];
/// let model = GaussianNb::params().classes(2).fit(&Table::rows(x.view())?)?;
/// assert_eq!(model.mean, array![[2.0], [12.0]]);
/// // Variance within the class (dividing by its rows), plus 1e-9 × 27.5,
/// // the variance of the whole column.
/// assert!((model.variance[[1, 0]] - (4.0 + 27.5e-9)).abs() < 1e-14);
/// assert_eq!(model.predict(array![[2.5], [9.0]].view())?, array![0, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianNb {
    classes: usize,
    var_smoothing: f64,
}

impl Default for GaussianNb {
    fn default() -> Self {
        GaussianNb {
            classes: 0,
            var_smoothing: 1e-9,
        }
    }
}

impl GaussianNb {
    /// The defaults: `var_smoothing` 1e-9 (scikit-learn's), and the number
    /// of classes unset — [`classes`](GaussianNb::classes) must set it.
    pub fn params() -> Self {
        Self::default()
    }

    /// The number of classes `k` (at least 2): labels are `0..k`.
    pub fn classes(mut self, k: usize) -> Self {
        self.classes = k;
        self
    }

    /// The fraction of the largest feature variance added to every
    /// variance (≥ 0, finite; 1e-9 by default), so that a feature constant
    /// within a class keeps a density.
    pub fn var_smoothing(mut self, var_smoothing: f64) -> Self {
        self.var_smoothing = var_smoothing;
        self
    }

    fn check(&self) -> Result<(), NbError> {
        check_classes(self.classes)?;
        if !(self.var_smoothing.is_finite() && self.var_smoothing >= 0.0) {
            return Err(NbError::Setting {
                name: "var_smoothing",
                value: self.var_smoothing.to_string(),
                expected: "the smoothing must be a finite number ≥ 0".into(),
            });
        }
        Ok(())
    }

    /// Trains on `table` (its last column the class label):
    /// [`GaussianPartial::of`], then [`finish`](GaussianPartial::finish).
    ///
    /// # Errors
    ///
    /// Those of [`GaussianPartial::of`] and [`GaussianPartial::finish`].
    pub fn fit(&self, table: &Table<'_>) -> Result<GaussianModel, NbError> {
        GaussianPartial::of(table, self)?.finish()
    }
}

/// A trained Gaussian naive Bayes model.
///
/// For class `c` with `N_c` rows out of `N`: `class_prior[c] = N_c / N`,
/// `mean[c, j]` the mean of feature `j` over its rows, `variance[c, j]`
/// their variance (dividing by `N_c`) plus `epsilon` (scikit-learn's
/// `theta_`, `var_` and `epsilon_`). A class without rows has prior 0, mean
/// 0 and variance `epsilon`, and is never predicted.
///
/// A row `x` is predicted as the class of largest joint log-likelihood
/// `log class_prior[c] − ½ Σ_j log(2π variance[c, j]) − ½ Σ_j (x_j −
/// mean[c, j])² / variance[c, j]`, the lowest class on ties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianModel {
    /// Rows of each class (k).
    pub class_count: Array1<f64>,
    /// Rows of each class / rows (k).
    pub class_prior: Array1<f64>,
    /// Mean of each feature within each class (k × d).
    pub mean: Array2<f64>,
    /// Variance of each feature within each class, plus `epsilon` (k × d).
    pub variance: Array2<f64>,
    /// What was added to every variance: `var_smoothing` × the largest
    /// variance of a feature over all rows.
    pub epsilon: f64,
}

impl GaussianModel {
    /// Classes.
    pub fn classes(&self) -> usize {
        self.class_prior.len()
    }

    /// Features (the training table's columns but the label).
    pub fn features(&self) -> usize {
        self.mean.ncols()
    }

    /// Each row's joint log-likelihood per class (rows × k).
    ///
    /// # Errors
    ///
    /// As [`predict`](GaussianModel::predict).
    pub fn joint_log_likelihood(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, NbError> {
        check_input(x, self.features(), false)?;
        let k = self.classes();
        let norm: Vec<f64> = (0..k)
            .map(|c| {
                let log_det: f64 = self
                    .variance
                    .row(c)
                    .iter()
                    .map(|&v| (2.0 * PI * v).ln())
                    .sum();
                self.class_prior[c].ln() - 0.5 * log_det
            })
            .collect();
        let mut jll = Array2::zeros((x.nrows(), k));
        for (row, mut out) in x.rows().into_iter().zip(jll.rows_mut()) {
            for c in 0..k {
                out[c] = if self.class_prior[c] == 0.0 {
                    f64::NEG_INFINITY
                } else {
                    let mut q = 0.0;
                    Zip::from(&row)
                        .and(self.mean.row(c))
                        .and(self.variance.row(c))
                        .for_each(|&x, &m, &v| q += (x - m) * (x - m) / v);
                    norm[c] - 0.5 * q
                };
            }
        }
        Ok(jll)
    }

    /// The most likely class of each row of `x`; ties go to the lowest
    /// class.
    ///
    /// # Errors
    ///
    /// [`NbError::Features`] when `x` has another number of columns than
    /// the model has features, [`NbError::Input`] for a value that is not
    /// finite, naming its row and column.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<usize>, NbError> {
        Ok(argmax_rows(&self.joint_log_likelihood(x)?))
    }

    /// The log-probability of each class for each row of `x` (rows × k).
    ///
    /// # Errors
    ///
    /// As [`predict`](GaussianModel::predict).
    pub fn predict_log_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, NbError> {
        Ok(normalise_rows(self.joint_log_likelihood(x)?))
    }

    /// Writes the model as an `.npz` archive (`class_count`,
    /// `class_prior`, `mean`, `variance`, and `epsilon` as a one-element
    /// array), atomically, by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NbError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("class_count", &self.class_count)?;
        npz.add("class_prior", &self.class_prior)?;
        npz.add("mean", &self.mean)?;
        npz.add("variance", &self.variance)?;
        npz.add("epsilon", &Array1::from(vec![self.epsilon]))?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a model written by [`save`](GaussianModel::save).
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] for a missing or damaged file, a missing array or
    /// shapes that disagree; [`NbError::BadFile`] for values no model
    /// holds (a count that is not one, a prior outside 0..=1, a variance
    /// that is not positive).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NbError> {
        let mut npz = NpzReader::open(path)?;
        let class_count: Array1<f64> = npz.read("class_count")?;
        let k = Some(class_count.len());
        let mean: Array2<f64> = npz.read_shaped("mean", &[k, None])?;
        let d = Some(mean.ncols());
        let epsilon: Array1<f64> = npz.read_shaped("epsilon", &[Some(1)])?;
        let model = GaussianModel {
            class_count,
            class_prior: npz.read_shaped("class_prior", &[k])?,
            mean,
            variance: npz.read_shaped("variance", &[k, d])?,
            epsilon: epsilon[0],
        };
        let bad = |reason: &str| NbError::BadFile {
            path: npz.path().to_path_buf(),
            reason: reason.to_string(),
        };
        if !model.class_count.iter().all(|&n| is_count(n)) {
            return Err(bad("`class_count` holds a value that is not a count"));
        }
        if !model.class_prior.iter().all(|&p| (0.0..=1.0).contains(&p)) {
            return Err(bad("`class_prior` holds a value outside 0..=1"));
        }
        if !model.mean.iter().all(|m| m.is_finite()) {
            return Err(bad("`mean` holds a value that is not finite"));
        }
        if !model.variance.iter().all(|&v| v > 0.0 && v.is_finite()) {
            return Err(bad("`variance` holds a value that is not finite and > 0"));
        }
        if !(model.epsilon.is_finite() && model.epsilon >= 0.0) {
            return Err(bad("`epsilon` is not a finite number ≥ 0"));
        }
        Ok(model)
    }
}

/// What one pass over a training table keeps: the rows of each class and
/// the sums of each feature and of its square over them, relative to a
/// per-class *shift* (the class's first row), added exactly. Partial
/// results [`merge`](GaussianPartial::merge),
/// [`save`](GaussianPartial::save) and [`load`](GaussianPartial::load)
/// for data in batches, and give the model at the end
/// ([`finish`](GaussianPartial::finish)).
///
/// Subtracting a row of the class before squaring keeps the variance of
/// features far from zero, or of classes far apart, as accurate as that of
/// centred data. Finding the shifts costs a first, lighter pass (of the
/// label column, and one row per class).
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::naive_bayes::{GaussianNb, GaussianPartial};
/// use shardkit_algorithms::stats::Table;
///
/// let params = GaussianNb::params().classes(2);
/// let a = array![[1.0, 0.0], [10.0, 1.0]];
/// let b = array![[3.0, 0.0], [14.0, 1.0]];
/// let mut partial = GaussianPartial::of(&Table::rows(a.view())?, &params)?;
/// partial.merge(GaussianPartial::of(&Table::rows(b.view())?, &params)?)?;
/// let model = partial.finish()?;
/// assert_eq!(model.mean, array![[2.0], [12.0]]);
/// assert_eq!(model.class_prior, array![0.5, 0.5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianPartial {
    var_smoothing: f64,
    /// Each class's shift (k × d; zeros for a class without rows).
    shift: Array2<f64>,
    sums: Sums,
}

/// The summed part of [`GaussianPartial`].
#[derive(Debug, Clone, PartialEq, Reduce, Serialize, Deserialize)]
struct Sums {
    /// Rows of each class.
    count: Array1<u64>,
    /// Σ (x − shift) over each class's rows (k × d).
    sum: Array2<f64>,
    /// Σ (x − shift)² over each class's rows (k × d).
    sum_sq: Array2<f64>,
}

/// The first row of each class in a chunk (every label checked).
struct FirstRows {
    classes: usize,
    features: usize,
}

impl ChunkPass for FirstRows {
    type Out = Vec<Option<Vec<f64>>>;

    fn chunk(
        &self,
        rows: ArrayView2<'_, f64>,
        part: &str,
        first: usize,
    ) -> Result<Self::Out, StatsError> {
        let d = self.features;
        let mut found = vec![None; self.classes];
        for (i, row) in rows.rows().into_iter().enumerate() {
            let c = label(row[d], self.classes, part, first + i + 1, d + 1)?;
            if found[c].is_none() {
                found[c] = Some(row.iter().take(d).copied().collect());
            }
        }
        Ok(found)
    }
}

/// One chunk's [`Sums`].
struct SumPass<'a> {
    shift: &'a Array2<f64>,
}

impl ChunkPass for SumPass<'_> {
    type Out = Sums;

    fn chunk(
        &self,
        rows: ArrayView2<'_, f64>,
        part: &str,
        first: usize,
    ) -> Result<Sums, StatsError> {
        let (k, d) = self.shift.dim();
        let mut s = Sums {
            count: Array1::zeros(k),
            sum: Array2::zeros((k, d)),
            sum_sq: Array2::zeros((k, d)),
        };
        for (i, row) in rows.rows().into_iter().enumerate() {
            let c = label(row[d], k, part, first + i + 1, d + 1)?;
            s.count[c] += 1;
            Zip::from(s.sum.row_mut(c))
                .and(s.sum_sq.row_mut(c))
                .and(self.shift.row(c))
                .and(&row.slice(ndarray::s![..d]))
                .for_each(|sum, sq, &shift, &x| {
                    let y = x - shift;
                    *sum += y;
                    *sq += y * y;
                });
        }
        Ok(s)
    }
}

impl GaussianPartial {
    /// Two passes over `table` (over every rank's table, when it is
    /// [local](Table::local)): the first row of each class (the shifts),
    /// then the exact per-class sums.
    ///
    /// # Errors
    ///
    /// [`NbError::Setting`] for fewer than 2 classes or a `var_smoothing`
    /// that is negative or not finite; [`NbError::TooFewColumns`] for a
    /// table without feature columns; [`NbError::Stats`] for a table
    /// without rows (or ranks of different widths), and, naming part, row
    /// and column, a label that is not an integer in `0..classes`.
    pub fn of(table: &Table<'_>, params: &GaussianNb) -> Result<Self, NbError> {
        params.check()?;
        let survey = pass::survey(table)?;
        let features = features_of(survey.cols)?;
        let classes = params.classes;
        let firsts = pass::each(table, &FirstRows { classes, features })?;
        let mut shift = Array2::zeros((classes, features));
        for (c, mut out) in shift.rows_mut().into_iter().enumerate() {
            if let Some(row) = firsts.iter().find_map(|chunk| chunk[c].as_ref()) {
                out.assign(&Array1::from(row.clone()));
            }
        }
        let sums = pass::sum(table, &SumPass { shift: &shift })?;
        Ok(GaussianPartial {
            var_smoothing: params.var_smoothing,
            shift,
            sums,
        })
    }

    /// Classes.
    pub fn classes(&self) -> usize {
        self.shift.nrows()
    }

    /// Features.
    pub fn features(&self) -> usize {
        self.shift.ncols()
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.sums.count.sum()
    }

    /// Adds `other`'s rows to these (in `f64`: merging is exact only
    /// within one pass). A class's sums in `other` are re-expressed around
    /// this partial's shift, or, for a class this partial has not seen,
    /// taken with their shift.
    ///
    /// # Errors
    ///
    /// [`NbError::Mismatch`] when the partial results have other classes,
    /// features or `var_smoothing`.
    pub fn merge(&mut self, other: GaussianPartial) -> Result<(), NbError> {
        let mine = (self.classes(), self.features(), self.var_smoothing);
        let theirs = (other.classes(), other.features(), other.var_smoothing);
        if mine.0 != theirs.0 || mine.1 != theirs.1 || mine.2.to_bits() != theirs.2.to_bits() {
            return Err(NbError::Mismatch(format!(
                "Gaussian naive Bayes of {} classes, {} features, var_smoothing {} and of {} \
                 classes, {} features, var_smoothing {}",
                mine.0, mine.1, mine.2, theirs.0, theirs.1, theirs.2
            )));
        }
        for c in 0..self.classes() {
            let n = other.sums.count[c];
            if n == 0 {
                continue;
            }
            if self.sums.count[c] == 0 {
                self.shift.row_mut(c).assign(&other.shift.row(c));
                self.sums.sum.row_mut(c).assign(&other.sums.sum.row(c));
                self.sums
                    .sum_sq
                    .row_mut(c)
                    .assign(&other.sums.sum_sq.row(c));
            } else {
                // x − s = (x − s') + δ, with δ = s' − s.
                let n = n as f64;
                Zip::from(self.sums.sum.row_mut(c))
                    .and(self.sums.sum_sq.row_mut(c))
                    .and(other.sums.sum.row(c))
                    .and(other.sums.sum_sq.row(c))
                    .and(self.shift.row(c))
                    .and(other.shift.row(c))
                    .for_each(|sum, sq, &osum, &osq, &s, &os| {
                        let delta = os - s;
                        *sq += osq + 2.0 * delta * osum + n * delta * delta;
                        *sum += osum + n * delta;
                    });
            }
            self.sums.count[c] += other.sums.count[c];
        }
        Ok(())
    }

    /// The model of every row seen.
    ///
    /// # Errors
    ///
    /// [`NbError::ZeroVariance`] when a feature is constant within a class
    /// with rows and the smoothing adds nothing (every feature is constant
    /// over all rows, or `var_smoothing` is 0).
    pub fn finish(&self) -> Result<GaussianModel, NbError> {
        let (k, d) = self.shift.dim();
        let count = self.sums.count.mapv(|n| n as f64);
        let rows: f64 = count.sum();
        let mut mean = Array2::zeros((k, d));
        let mut variance = Array2::zeros((k, d));
        for c in 0..k {
            let n = count[c];
            if n == 0.0 {
                continue;
            }
            Zip::from(mean.row_mut(c))
                .and(variance.row_mut(c))
                .and(self.sums.sum.row(c))
                .and(self.sums.sum_sq.row(c))
                .and(self.shift.row(c))
                .for_each(|m, v, &sum, &sq, &s| {
                    *m = s + sum / n;
                    *v = ((sq - sum * sum / n) / n).max(0.0);
                });
        }
        // Each feature's variance over all rows, from the classes':
        // within-class spread plus the spread of the class means.
        let mut largest = 0.0f64;
        for j in 0..d {
            let grand: f64 = (0..k).map(|c| count[c] * mean[[c, j]]).sum::<f64>() / rows;
            let total: f64 = (0..k)
                .map(|c| {
                    let between = mean[[c, j]] - grand;
                    count[c] * (variance[[c, j]] + between * between)
                })
                .sum::<f64>()
                / rows;
            largest = largest.max(total);
        }
        let epsilon = self.var_smoothing * largest;
        variance += epsilon;
        for c in (0..k).filter(|&c| count[c] > 0.0) {
            if let Some(j) = variance.row(c).iter().position(|&v| v <= 0.0) {
                return Err(NbError::ZeroVariance {
                    class: c,
                    column: j + 1,
                    epsilon,
                });
            }
        }
        Ok(GaussianModel {
            class_prior: &count / rows,
            class_count: count,
            mean,
            variance,
            epsilon,
        })
    }

    /// Writes this partial result as an `.npz` archive (`var_smoothing`,
    /// `shift`, `count`, `sum`, `sum_sq`; sums relative to `shift`), by
    /// rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NbError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("var_smoothing", &Array1::from(vec![self.var_smoothing]))?;
        npz.add("shift", &self.shift)?;
        npz.add("count", &self.sums.count.mapv(|n| n as f64))?;
        npz.add("sum", &self.sums.sum)?;
        npz.add("sum_sq", &self.sums.sum_sq)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a partial result written by [`save`](GaussianPartial::save).
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] for a missing or damaged file, a missing array or
    /// shapes that disagree; [`NbError::BadFile`] for a count that is not
    /// one, a value that is not finite or a bad `var_smoothing`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NbError> {
        let mut npz = NpzReader::open(path)?;
        let var_smoothing: Array1<f64> = npz.read_shaped("var_smoothing", &[Some(1)])?;
        let shift: Array2<f64> = npz.read("shift")?;
        let (k, d) = (Some(shift.nrows()), Some(shift.ncols()));
        let count: Array1<f64> = npz.read_shaped("count", &[k])?;
        let sum: Array2<f64> = npz.read_shaped("sum", &[k, d])?;
        let sum_sq: Array2<f64> = npz.read_shaped("sum_sq", &[k, d])?;
        let bad = |reason: &str| NbError::BadFile {
            path: npz.path().to_path_buf(),
            reason: reason.to_string(),
        };
        let var_smoothing = var_smoothing[0];
        if !(var_smoothing.is_finite() && var_smoothing >= 0.0) {
            return Err(bad("`var_smoothing` is not a finite number ≥ 0"));
        }
        if count.len() < 2 || !count.iter().all(|&n| is_count(n)) {
            return Err(bad("`count` is not a count for each of 2 or more classes"));
        }
        let finite = |a: &Array2<f64>| a.iter().all(|v| v.is_finite());
        if !finite(&shift) || !finite(&sum) || !finite(&sum_sq) {
            return Err(bad(
                "`shift`, `sum` or `sum_sq` holds a value that is not finite",
            ));
        }
        Ok(GaussianPartial {
            var_smoothing,
            shift,
            sums: Sums {
                count: count.mapv(|n| n as u64),
                sum,
                sum_sq,
            },
        })
    }
}

crate::stats::streaming::reduce_by_merge!(
    GaussianPartial,
    identity: GaussianPartial { var_smoothing: f64::NAN, shift: Array2::zeros((0, 0)), sums: <Sums as shardkit::Reduce>::identity() },
    empty: |p| p.classes() == 0,
);
