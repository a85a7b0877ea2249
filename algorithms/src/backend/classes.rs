//! Per-speaker sufficient statistics (counts and sums), speaker averages,
//! and the scatter matrices LDA, WCCN and PLDA start from.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use shardkit::parallelize;

use super::dense::{check_vectors, mean_row};
use super::errors::BackendError;

/// The hint of a singular within-class scatter (LDA, WCCN, PLDA).
pub(super) const SINGULAR_WITHIN: &str = "the within-class scatter has a direction of (almost) no \
    variation although there are enough vectors: some dimensions are linear combinations of \
    others, or vectors are repeated within speakers; reduce the dimension first (PCA)";

/// The zero- and first-order statistics of each speaker's vectors: how
/// many vectors, and their sum. Speakers are kept in increasing label
/// order.
///
/// This is the enrolment model of multi-session scoring: cosine scoring
/// uses the averages ([`ClassStats::means`]), PLDA the counts and sums
/// ([`Plda::score_stats`](super::Plda::score_stats)).
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::backend::ClassStats;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// let x = array![[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]];
/// let stats = ClassStats::from_labels(x.view(), &[7, 7, 2])?;
/// assert_eq!(stats.labels(), &[2, 7]);
/// assert_eq!(stats.counts(), &[1, 2]);
/// assert_eq!(stats.means(), array![[0.0, 5.0], [2.0, 1.0]]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClassStats {
    labels: Vec<usize>,
    counts: Vec<usize>,
    sums: Array2<f64>,
}

impl ClassStats {
    /// Groups the rows of `x` by speaker label (`labels[i]` is row `i`'s
    /// speaker; any numbers, not necessarily contiguous).
    ///
    /// # Errors
    ///
    /// [`BackendError::LabelCount`], [`BackendError::Empty`] or
    /// [`BackendError::NonFinite`].
    pub fn from_labels(x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<Self, BackendError> {
        check_vectors(x, "the vectors")?;
        if labels.len() != x.nrows() {
            return Err(BackendError::LabelCount {
                vectors: x.nrows(),
                labels: labels.len(),
            });
        }
        let mut distinct = labels.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut counts = vec![0; distinct.len()];
        let mut sums = Array2::zeros((distinct.len(), x.ncols()));
        for (row, &label) in x.rows().into_iter().zip(labels) {
            let k = distinct.binary_search(&label).expect("a label of the list");
            counts[k] += 1;
            let mut s = sums.row_mut(k);
            s += &row;
        }
        Ok(ClassStats {
            labels: distinct,
            counts,
            sums,
        })
    }

    /// Every row its own speaker (labels `0..n`, counts 1): single-session
    /// enrolment or test segments.
    ///
    /// # Errors
    ///
    /// [`BackendError::Empty`] or [`BackendError::NonFinite`].
    pub fn singles(x: ArrayView2<'_, f64>) -> Result<Self, BackendError> {
        check_vectors(x, "the vectors")?;
        Ok(ClassStats {
            labels: (0..x.nrows()).collect(),
            counts: vec![1; x.nrows()],
            sums: x.to_owned(),
        })
    }

    /// Speaker labels, increasing.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Vectors per speaker.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }

    /// Sum of each speaker's vectors, one row per speaker.
    pub fn sums(&self) -> ArrayView2<'_, f64> {
        self.sums.view()
    }

    /// Number of speakers.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no speakers (never, for statistics built by this
    /// type's constructors).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.sums.ncols()
    }

    /// Total number of vectors.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Each speaker's average vector, one row per speaker.
    pub fn means(&self) -> Array2<f64> {
        let mut m = self.sums.clone();
        for (mut row, &n) in m.rows_mut().into_iter().zip(&self.counts) {
            row /= n as f64;
        }
        m
    }
}

/// The average vector of each speaker and the speakers' labels
/// (increasing): enrolment models for cosine scoring from several
/// sessions. See [`ClassStats`].
///
/// # Errors
///
/// As [`ClassStats::from_labels`].
pub fn average_by_label(
    x: ArrayView2<'_, f64>,
    labels: &[usize],
) -> Result<(Array2<f64>, Vec<usize>), BackendError> {
    let stats = ClassStats::from_labels(x, labels)?;
    Ok((stats.means(), stats.labels))
}

/// `Σ (x_i − m_{c_i})(x_i − m_{c_i})ᵀ` over the rows of one shard, each
/// row centred on its class mean (`class[i]` indexes `means`), optionally
/// weighted by `weight[class]`.
#[parallelize(split = "rows, classes", reduce = "sum", block_size = 512)]
fn centred_scatter(
    rows: ArrayView2<f64>,
    classes: &[usize],
    means: &Array2<f64>,
    weights: &[f64],
) -> Array2<f64> {
    let mut centred = rows.to_owned();
    for (mut row, &c) in centred.rows_mut().into_iter().zip(classes) {
        row -= &means.row(c);
        row *= weights[c].sqrt();
    }
    centred.t().dot(&centred)
}

/// The scatter matrices of labelled vectors.
pub(crate) struct Scatter {
    /// Per-speaker statistics.
    pub(crate) stats: ClassStats,
    /// The mean of all vectors.
    pub(crate) mean: Array1<f64>,
    /// `Σ_s Σ_i w_s (x_i − m_s)(x_i − m_s)ᵀ`.
    pub(crate) within: Array2<f64>,
}

impl Scatter {
    /// The within-class scatter, each speaker's outer products weighted by
    /// `weight(count)`. One `#[parallelize(reduce = "sum")]` pass over the
    /// rows.
    pub(crate) fn new(
        x: ArrayView2<'_, f64>,
        labels: &[usize],
        weight: impl Fn(usize) -> f64,
    ) -> Result<Self, BackendError> {
        let stats = ClassStats::from_labels(x, labels)?;
        let means = stats.means();
        let classes: Vec<usize> = labels
            .iter()
            .map(|l| stats.labels.binary_search(l).expect("a label of the list"))
            .collect();
        let weights: Vec<f64> = stats.counts.iter().map(|&n| weight(n)).collect();
        let mut within = centred_scatter(x, &classes, &means, &weights);
        super::dense::symmetrize(&mut within);
        Ok(Scatter {
            mean: mean_row(x),
            stats,
            within,
        })
    }

    /// `Σ_s n_s (m_s − m)(m_s − m)ᵀ`.
    pub(crate) fn between(&self) -> Array2<f64> {
        let mut d = self.stats.means();
        for (mut row, &n) in d.rows_mut().into_iter().zip(&self.stats.counts) {
            row -= &self.mean;
            row *= (n as f64).sqrt();
        }
        d.t().dot(&d)
    }

    /// Checks `N − S ≥ dim`: otherwise the within-class scatter is
    /// singular whatever the data.
    pub(crate) fn check_rank(&self, what: &'static str) -> Result<(), BackendError> {
        let (n, s, d) = (self.stats.total(), self.stats.len(), self.stats.dim());
        if n - s < d {
            return Err(BackendError::RankDeficient {
                what,
                kind: "within-class scatter",
                vectors: n,
                speakers: s,
                rank: n - s,
                dim: d,
                needed: d + s,
            });
        }
        Ok(())
    }

    /// Checks there are at least `needed` speakers.
    pub(crate) fn check_speakers(
        &self,
        what: &'static str,
        needed: usize,
    ) -> Result<(), BackendError> {
        if self.stats.len() < needed {
            return Err(BackendError::TooFewSpeakers {
                what,
                needed,
                found: self.stats.len(),
            });
        }
        Ok(())
    }
}

/// The sum of squares of the rows of `x` against each other: `Xᵀ X`.
pub(crate) fn gram(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut g = x.t().dot(&x);
    super::dense::symmetrize(&mut g);
    g
}

/// The row-wise dot products of two matrices of the same shape.
pub(crate) fn row_dots(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array1<f64> {
    (a.to_owned() * b).sum_axis(Axis(1))
}
