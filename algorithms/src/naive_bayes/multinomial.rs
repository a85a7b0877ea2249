//! Multinomial naive Bayes: daal4py's `multinomial_naive_bayes_training`
//! and `_prediction`, scikit-learn's `MultinomialNB`.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use shardkit::Reduce;

use super::{argmax_rows, check_classes, check_input, features_of, is_count, label};
use super::{normalise_rows, NbError};
use crate::npz::{NpzReader, NpzWriter};
use crate::simd::dispatch;
use crate::stats::pass::{self, ChunkPass};
use crate::stats::{StatsError, Table};

/// The settings of multinomial naive Bayes: the number of classes and the
/// additive (Laplace/Lidstone) smoothing `alpha`.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::naive_bayes::MultinomialNb;
/// use shardkit_algorithms::stats::Table;
///
/// // Counts of two words, then the class.
/// let x = array![[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 3.0, 1.0]];
/// let model = MultinomialNb::params().classes(2).alpha(0.5).fit(&Table::rows(x.view())?)?;
/// assert_eq!(model.class_count, array![2.0, 1.0]);
/// assert_eq!(model.feature_count, array![[3.0, 1.0], [0.0, 3.0]]);
/// // log((3 + 0.5) / (4 + 0.5·2)) and log(2/3)
/// assert!((model.feature_log_prob[[0, 0]] - (0.7f64).ln()).abs() < 1e-15);
/// assert!((model.class_log_prior[0] - (2.0f64 / 3.0).ln()).abs() < 1e-15);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultinomialNb {
    classes: usize,
    alpha: f64,
}

impl Default for MultinomialNb {
    fn default() -> Self {
        MultinomialNb {
            classes: 0,
            alpha: 1.0,
        }
    }
}

impl MultinomialNb {
    /// The defaults: `alpha` 1 (scikit-learn's), and the number of classes
    /// unset — [`classes`](MultinomialNb::classes) must set it.
    pub fn params() -> Self {
        Self::default()
    }

    /// The number of classes `k` (at least 2): labels are `0..k`.
    pub fn classes(mut self, k: usize) -> Self {
        self.classes = k;
        self
    }

    /// The smoothing added to every feature count (≥ 0, finite; 1 by
    /// default). With 0, a feature never seen in a class gives that class
    /// a log-probability of −∞ for every row holding the feature.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    fn check(&self) -> Result<(), NbError> {
        check_classes(self.classes)?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(NbError::Setting {
                name: "alpha",
                value: self.alpha.to_string(),
                expected: "the smoothing must be a finite number ≥ 0".into(),
            });
        }
        Ok(())
    }

    /// Trains on `table` (its last column the class label, the others
    /// counts), in one pass: [`MultinomialPartial::of`], then
    /// [`finish`](MultinomialPartial::finish).
    ///
    /// # Errors
    ///
    /// Those of [`MultinomialPartial::of`].
    pub fn fit(&self, table: &Table<'_>) -> Result<MultinomialModel, NbError> {
        Ok(MultinomialPartial::of(table, self)?.finish())
    }
}

/// A trained multinomial naive Bayes model (scikit-learn's attribute
/// names, without the trailing underscore).
///
/// For `k` classes and `d` features, with `N_c` the rows of class `c` and
/// `F_cj` the sum of feature `j` over them:
///
/// - `class_log_prior[c] = log(N_c / N)` — −∞ for a class without rows
///   (as scikit-learn), which is then never predicted;
/// - `feature_log_prob[c, j] = log((F_cj + α) / (Σ_j F_cj + α·d))` — for
///   a class whose counts are all 0 with `α = 0`, the limit `log(1/d)`.
///
/// A row `x` is predicted as the class of largest joint log-likelihood
/// `class_log_prior[c] + Σ_j x_j · feature_log_prob[c, j]` (a term with
/// `x_j = 0` counts 0 even where the log-probability is −∞), the lowest
/// class on ties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultinomialModel {
    /// The smoothing it was trained with.
    pub alpha: f64,
    /// Rows of each class (k).
    pub class_count: Array1<f64>,
    /// Sum of each feature over each class's rows (k × d).
    pub feature_count: Array2<f64>,
    /// log(rows of the class / rows) (k).
    pub class_log_prior: Array1<f64>,
    /// Smoothed log-probability of each feature within each class (k × d).
    pub feature_log_prob: Array2<f64>,
}

impl MultinomialModel {
    /// The model of `counts`, smoothed by `alpha`.
    fn from_counts(alpha: f64, counts: &Counts) -> Self {
        let (k, d) = counts.feature_count.dim();
        let class_count = counts.class_count.mapv(|n| n as f64);
        let rows: f64 = class_count.sum();
        let class_log_prior = class_count.mapv(|n| n.ln() - rows.ln());
        let mut feature_log_prob = Array2::zeros((k, d));
        for (c, fc) in counts.feature_count.rows().into_iter().enumerate() {
            // Σ_j (F_cj + α), as scikit-learn sums it.
            let total: f64 = fc.iter().map(|&f| f + alpha).sum();
            let mut out = feature_log_prob.row_mut(c);
            if total == 0.0 {
                // α = 0 and no counts: the limit of (0 + α) / (0 + α·d).
                out.fill(-(d as f64).ln());
            } else {
                let log_total = total.ln();
                out.zip_mut_with(&fc, |p, &f| *p = (f + alpha).ln() - log_total);
            }
        }
        MultinomialModel {
            alpha,
            class_count,
            feature_count: counts.feature_count.clone(),
            class_log_prior,
            feature_log_prob,
        }
    }

    /// Classes.
    pub fn classes(&self) -> usize {
        self.class_log_prior.len()
    }

    /// Features (the training table's columns but the label).
    pub fn features(&self) -> usize {
        self.feature_log_prob.ncols()
    }

    /// Each row's joint log-likelihood per class (rows × k).
    ///
    /// # Errors
    ///
    /// As [`predict`](MultinomialModel::predict).
    pub fn joint_log_likelihood(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, NbError> {
        check_input(x, self.features(), true)?;
        let k = self.classes();
        let mut jll = Array2::zeros((x.nrows(), k));
        for (row, mut out) in x.rows().into_iter().zip(jll.rows_mut()) {
            for c in 0..k {
                let lp = self.feature_log_prob.row(c);
                let mut sum = self.class_log_prior[c];
                for (&v, &p) in row.iter().zip(lp.iter()) {
                    if v != 0.0 {
                        sum += v * p;
                    }
                }
                out[c] = sum;
            }
        }
        Ok(jll)
    }

    /// The most likely class of each row of `x` (counts of the model's
    /// features); ties go to the lowest class.
    ///
    /// # Errors
    ///
    /// [`NbError::Features`] when `x` has another number of columns than
    /// the model has features, [`NbError::Input`] for a value that is not
    /// finite or is negative, naming its row and column.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<usize>, NbError> {
        Ok(argmax_rows(&self.joint_log_likelihood(x)?))
    }

    /// The log-probability of each class for each row of `x` (rows × k):
    /// the joint log-likelihoods less their log-sum-exp. (A row for which
    /// every class's likelihood is 0, possible only with `alpha` 0, gives
    /// NaN, as in scikit-learn.)
    ///
    /// # Errors
    ///
    /// As [`predict`](MultinomialModel::predict).
    pub fn predict_log_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, NbError> {
        Ok(normalise_rows(self.joint_log_likelihood(x)?))
    }

    /// Writes the model as an `.npz` archive (`alpha` as a one-element
    /// array, `class_count`, `feature_count`, `class_log_prior`,
    /// `feature_log_prob`), atomically, by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NbError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("alpha", &Array1::from(vec![self.alpha]))?;
        npz.add("class_count", &self.class_count)?;
        npz.add("feature_count", &self.feature_count)?;
        npz.add("class_log_prior", &self.class_log_prior)?;
        npz.add("feature_log_prob", &self.feature_log_prob)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a model written by [`save`](MultinomialModel::save).
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] for a missing or damaged file, a missing array or
    /// arrays whose shapes disagree; [`NbError::BadFile`] for values no
    /// model holds (a NaN, a count that is not one).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NbError> {
        let mut npz = NpzReader::open(path)?;
        let alpha: Array1<f64> = npz.read_shaped("alpha", &[Some(1)])?;
        let class_count: Array1<f64> = npz.read("class_count")?;
        let k = Some(class_count.len());
        let feature_count: Array2<f64> = npz.read_shaped("feature_count", &[k, None])?;
        let d = Some(feature_count.ncols());
        let model = MultinomialModel {
            alpha: alpha[0],
            class_count,
            feature_count,
            class_log_prior: npz.read_shaped("class_log_prior", &[k])?,
            feature_log_prob: npz.read_shaped("feature_log_prob", &[k, d])?,
        };
        let bad = |reason: &str| NbError::BadFile {
            path: npz.path().to_path_buf(),
            reason: reason.to_string(),
        };
        if !(model.alpha.is_finite() && model.alpha >= 0.0) {
            return Err(bad("`alpha` is not a finite number ≥ 0"));
        }
        if !model.class_count.iter().all(|&n| is_count(n)) {
            return Err(bad("`class_count` holds a value that is not a count"));
        }
        if model
            .feature_count
            .iter()
            .any(|&f| !(f >= 0.0 && f.is_finite()))
        {
            return Err(bad("`feature_count` holds a negative or non-finite value"));
        }
        let log_prob = |v: &f64| !v.is_nan() && *v <= 0.0;
        if !model.class_log_prior.iter().all(log_prob)
            || !model.feature_log_prob.iter().all(log_prob)
        {
            return Err(bad("a log-probability is NaN or above 0"));
        }
        Ok(model)
    }
}

/// What one pass over a training table keeps: the rows of each class and
/// each feature's sum over them, added exactly. Partial results
/// [`merge`](MultinomialPartial::merge), [`save`](MultinomialPartial::save)
/// and [`load`](MultinomialPartial::load), so that batches arriving over
/// time, or read by several jobs, give one model at the end
/// ([`finish`](MultinomialPartial::finish)).
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::naive_bayes::{MultinomialNb, MultinomialPartial};
/// use shardkit_algorithms::stats::Table;
///
/// let params = MultinomialNb::params().classes(2);
/// let a = array![[2.0, 0.0, 0.0], [1.0, 1.0, 0.0]];
/// let b = array![[0.0, 3.0, 1.0]];
/// let mut partial = MultinomialPartial::of(&Table::rows(a.view())?, &params)?;
/// partial.merge(MultinomialPartial::of(&Table::rows(b.view())?, &params)?)?;
///
/// let all = array![[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 3.0, 1.0]];
/// assert_eq!(partial.finish(), params.fit(&Table::rows(all.view())?)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultinomialPartial {
    alpha: f64,
    counts: Counts,
}

/// The summed part of [`MultinomialPartial`].
#[derive(Debug, Clone, PartialEq, Reduce, Serialize, Deserialize)]
struct Counts {
    /// Rows of each class.
    class_count: Array1<u64>,
    /// Σ x over each class's rows (k × d).
    feature_count: Array2<f64>,
}

/// One chunk's [`Counts`].
struct CountPass {
    classes: usize,
    features: usize,
}

impl ChunkPass for CountPass {
    type Out = Counts;

    fn chunk(
        &self,
        rows: ArrayView2<'_, f64>,
        part: &str,
        first: usize,
    ) -> Result<Counts, StatsError> {
        let (k, d) = (self.classes, self.features);
        let mut class_count = vec![0u64; k];
        let mut feature_count = vec![0.0; k * d];
        let rows = rows.as_standard_layout();
        let x = rows.as_slice().expect("standard layout");
        // The fast loop checks nothing but the labels it needs; a bad
        // label or a negative count sends the chunk to `first_error`,
        // which names the first problem in row order.
        if !count_rows(x, k, &mut class_count, &mut feature_count) {
            return Err(first_error(rows.view(), k, part, first));
        }
        Ok(Counts {
            class_count: Array1::from(class_count),
            feature_count: Array2::from_shape_vec((k, d), feature_count).expect("k × d counts"),
        })
    }
}

dispatch! {
    /// Adds each row of `x` (rows of `d` features and a label, `d + 1`
    /// wide) to its class's `counts` (`k × d`) and `rows`; `false` (the
    /// sums then unspecified) when a label is not an integer in `0..k`
    /// or a feature is negative. Plain adds, row after row: the same bits
    /// on every level.
    fn count_rows(x: &[f64], k: usize, rows: &mut [u64], counts: &mut [f64]) -> bool {
        portable => count_rows_body(x, k, rows, counts),
        avx2 => count_rows_body(x, k, rows, counts),
        avx512 => count_rows_body(x, k, rows, counts),
    }
}

#[inline(always)]
fn count_rows_body(x: &[f64], k: usize, rows: &mut [u64], counts: &mut [f64]) -> bool {
    let d = counts.len() / k;
    // The smallest value of each column (plain comparisons vectorise).
    let mut low = vec![0.0f64; d];
    for row in x.chunks_exact(d + 1) {
        let (features, label) = (&row[..d], row[d]);
        if !(label >= 0.0 && label < k as f64 && label.fract() == 0.0) {
            return false;
        }
        let c = label as usize;
        rows[c] += 1;
        let sums = &mut counts[c * d..(c + 1) * d];
        for ((s, l), &v) in sums.iter_mut().zip(low.iter_mut()).zip(features) {
            *s += v;
            *l = if v < *l { v } else { *l };
        }
    }
    low.iter().all(|&v| v >= 0.0)
}

/// The first bad label or negative count of `rows`, in row order (the
/// label of a row before its features).
fn first_error(rows: ArrayView2<'_, f64>, k: usize, part: &str, first: usize) -> StatsError {
    let d = rows.ncols() - 1;
    for (i, row) in rows.rows().into_iter().enumerate() {
        let row_number = first + i + 1;
        if let Err(e) = label(row[d], k, part, row_number, d + 1) {
            return e;
        }
        if let Some(j) = row.iter().take(d).position(|&x| x < 0.0) {
            return StatsError::Value {
                name: part.to_string(),
                row: row_number,
                column: j + 1,
                value: row[j],
                problem: "is negative; multinomial naive Bayes takes counts or frequencies ≥ 0"
                    .into(),
            };
        }
    }
    unreachable!("count_rows found a bad label or count in these rows")
}

impl MultinomialPartial {
    /// One pass over `table` (over every rank's table, when it is
    /// [local](Table::local)): the exact class counts and per-class
    /// feature sums of its chunks.
    ///
    /// # Errors
    ///
    /// [`NbError::Setting`] for fewer than 2 classes or an `alpha` that is
    /// negative or not finite; [`NbError::TooFewColumns`] for a table
    /// without feature columns; [`NbError::Stats`] for a table without rows
    /// (or ranks of different widths), and, naming part, row and column,
    /// a label that is not an integer in `0..classes` or a negative count.
    pub fn of(table: &Table<'_>, params: &MultinomialNb) -> Result<Self, NbError> {
        params.check()?;
        let survey = pass::survey(table)?;
        let features = features_of(survey.cols)?;
        let counts = pass::sum(
            table,
            &CountPass {
                classes: params.classes,
                features,
            },
        )?;
        Ok(MultinomialPartial {
            alpha: params.alpha,
            counts,
        })
    }

    /// Classes.
    pub fn classes(&self) -> usize {
        self.counts.class_count.len()
    }

    /// Features.
    pub fn features(&self) -> usize {
        self.counts.feature_count.ncols()
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.counts.class_count.sum()
    }

    /// Adds `other`'s rows to these. Class counts add exactly; feature
    /// sums in `f64` (exact for integer counts below 2^53).
    ///
    /// # Errors
    ///
    /// [`NbError::Mismatch`] when the partial results have other classes,
    /// features or `alpha`.
    pub fn merge(&mut self, other: MultinomialPartial) -> Result<(), NbError> {
        let mine = (self.classes(), self.features(), self.alpha);
        let theirs = (other.classes(), other.features(), other.alpha);
        if mine.0 != theirs.0 || mine.1 != theirs.1 || mine.2.to_bits() != theirs.2.to_bits() {
            return Err(NbError::Mismatch(format!(
                "multinomial naive Bayes of {} classes, {} features, alpha {} and of {} \
                 classes, {} features, alpha {}",
                mine.0, mine.1, mine.2, theirs.0, theirs.1, theirs.2
            )));
        }
        self.counts.merge(other.counts);
        Ok(())
    }

    /// The model of every row seen.
    pub fn finish(&self) -> MultinomialModel {
        MultinomialModel::from_counts(self.alpha, &self.counts)
    }

    /// Writes this partial result as an `.npz` archive (`alpha`,
    /// `class_count`, `feature_count`), by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NbError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("alpha", &Array1::from(vec![self.alpha]))?;
        npz.add("class_count", &self.counts.class_count.mapv(|n| n as f64))?;
        npz.add("feature_count", &self.counts.feature_count)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a partial result written by [`save`](MultinomialPartial::save).
    ///
    /// # Errors
    ///
    /// [`NbError::Npz`] for a missing or damaged file, a missing array or
    /// shapes that disagree; [`NbError::BadFile`] for a count that is not
    /// one, a negative feature sum or a bad `alpha`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NbError> {
        let mut npz = NpzReader::open(path)?;
        let alpha: Array1<f64> = npz.read_shaped("alpha", &[Some(1)])?;
        let class_count: Array1<f64> = npz.read("class_count")?;
        let k = Some(class_count.len());
        let feature_count: Array2<f64> = npz.read_shaped("feature_count", &[k, None])?;
        let bad = |reason: &str| NbError::BadFile {
            path: npz.path().to_path_buf(),
            reason: reason.to_string(),
        };
        let alpha = alpha[0];
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(bad("`alpha` is not a finite number ≥ 0"));
        }
        if class_count.len() < 2 || !class_count.iter().all(|&n| is_count(n)) {
            return Err(bad(
                "`class_count` is not a count for each of 2 or more classes",
            ));
        }
        if feature_count.iter().any(|&f| !(f >= 0.0 && f.is_finite())) {
            return Err(bad("`feature_count` holds a negative or non-finite value"));
        }
        Ok(MultinomialPartial {
            alpha,
            counts: Counts {
                class_count: class_count.mapv(|n| n as u64),
                feature_count,
            },
        })
    }
}

crate::stats::streaming::reduce_by_merge!(
    MultinomialPartial,
    identity: MultinomialPartial { alpha: f64::NAN, counts: <Counts as shardkit::Reduce>::identity() },
    empty: |p| p.classes() == 0,
);
