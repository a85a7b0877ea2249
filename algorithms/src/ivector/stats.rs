//! Baum-Welch statistics per session: what total-variability training and
//! i-vector extraction read.

use std::ops::Range;
use std::path::Path;

use ndarray::{Array2, ArrayViewMut2, Axis};
use shardkit::parallelize;

use super::errors::{IvectorError, Statistic};
use crate::frames::Frames;
use crate::gmm::{self, DiagGmm, Prepared};
use crate::npz::{NpzReader, NpzWriter};

/// Zero- and first-order statistics of sessions (utterances) under a UBM
/// of `C` components in `D` dimensions, one session per row, in `f64`.
///
/// With posteriors `γ_tc` of component `c` for frame `x_t` of a session:
/// `zero[s, c] = Σ_t γ_tc` and `first[s, c·D + d] = Σ_t γ_tc·x_td`
/// (uncentred; component-major columns, SIDEKIT's `stat1` layout).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStats {
    /// `S × C` zero-order statistics.
    pub zero: Array2<f64>,
    /// `S × C·D` first-order statistics, uncentred.
    pub first: Array2<f64>,
}

impl SessionStats {
    /// Statistics from their parts.
    ///
    /// # Errors
    ///
    /// [`IvectorError::StatsParts`] when the parts do not have the same
    /// number of rows, or `first`'s width is not a multiple of `zero`'s;
    /// [`IvectorError::BadStatistics`] for a negative or non-finite
    /// zero-order statistic or a non-finite first-order one (naming the
    /// session).
    pub fn new(zero: Array2<f64>, first: Array2<f64>) -> Result<SessionStats, IvectorError> {
        let (s, c) = zero.dim();
        if first.nrows() != s || c == 0 || !first.ncols().is_multiple_of(c) || first.ncols() == 0 {
            return Err(IvectorError::StatsParts {
                zero: zero.dim(),
                first: first.dim(),
            });
        }
        let parts = [
            (
                Statistic::Zero,
                &zero,
                (|v| v.is_finite() && v >= 0.0) as fn(f64) -> bool,
            ),
            (Statistic::First, &first, f64::is_finite),
        ];
        for (statistic, a, ok) in parts {
            if let Some(((session, _), &value)) = a.indexed_iter().find(|(_, v)| !ok(**v)) {
                return Err(IvectorError::BadStatistics {
                    session,
                    statistic,
                    value,
                });
            }
        }
        Ok(SessionStats { zero, first })
    }

    /// The number of sessions `S`.
    pub fn n_sessions(&self) -> usize {
        self.zero.nrows()
    }

    /// The number of UBM components `C`.
    pub fn n_components(&self) -> usize {
        self.zero.ncols()
    }

    /// The feature dimension `D`.
    pub fn dim(&self) -> usize {
        self.first.ncols() / self.zero.ncols().max(1)
    }

    /// The statistics of the sessions `rows`, in that order.
    ///
    /// # Panics
    ///
    /// If a row is out of range.
    pub fn select(&self, rows: &[usize]) -> SessionStats {
        SessionStats {
            zero: self.zero.select(Axis(0), rows),
            first: self.first.select(Axis(0), rows),
        }
    }

    /// Saves the statistics as float64 arrays `zero` and `first` of an
    /// `.npz` archive, atomically.
    ///
    /// # Errors
    ///
    /// [`IvectorError::Npz`] naming the file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), IvectorError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("zero", &self.zero)?;
        npz.add("first", &self.first)?;
        npz.finish()?;
        Ok(())
    }

    /// Loads statistics saved by [`save`](SessionStats::save).
    ///
    /// # Errors
    ///
    /// [`IvectorError::Npz`] naming the file and array, or the checks of
    /// [`SessionStats::new`].
    pub fn load(path: impl AsRef<Path>) -> Result<SessionStats, IvectorError> {
        let mut npz = NpzReader::open(path)?;
        let zero: Array2<f64> = npz.read("zero")?;
        let first: Array2<f64> = npz.read_shaped("first", &[Some(zero.nrows()), None])?;
        SessionStats::new(zero, first)
    }
}

/// The statistics of each segment (session) of `sessions` under `ubm`,
/// one row per segment, on the ambient executor: segments are shared out
/// by size (a `#[parallelize(split = "index, zero, first", reduce =
/// "none")]` pass that writes each session's row in place), and each
/// worker holds one segment at a time. The same bits on any number of
/// threads or ranks.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::frames::Frames;
/// use shardkit_algorithms::gmm::DiagGmm;
/// use shardkit_algorithms::ivector::baum_welch;
///
/// let ubm = DiagGmm::new(array![0.5, 0.5], array![[-1.0], [1.0]], Array2::ones((2, 1)))?;
/// let a: Array2<f32> = array![[-1.0], [-1.2], [0.9]];
/// let b: Array2<f32> = array![[3.0]];
/// let stats = baum_welch(&Frames::segments(&[a.view(), b.view()]), &ubm)?;
/// assert_eq!(stats.zero.dim(), (2, 2));
/// assert!((stats.zero.row(0).sum() - 3.0).abs() < 1e-6); // one per frame
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A [`IvectorError::Frames`] naming the first segment that cannot be read
/// or fails its checks (missing, malformed, another dimension than the
/// UBM's, …); under MPI every rank returns it.
pub fn baum_welch(sessions: &Frames<'_>, ubm: &DiagGmm) -> Result<SessionStats, IvectorError> {
    let (c, d) = (ubm.n_components(), ubm.dim());
    let sessions = sessions.expect_dim(d);
    let n = sessions.len();
    let mut zero = Array2::zeros((n, c));
    let mut first = Array2::zeros((n, c * d));
    let model = ubm.prepare();
    session_stats(0..n, zero.view_mut(), first.view_mut(), &model, &sessions)?;
    Ok(SessionStats { zero, first })
}

#[parallelize(
    split = "index, zero, first",
    reduce = "none",
    weights = |&i: &usize| sessions.weight(i)
)]
fn session_stats(
    index: Range<usize>,
    zero: ArrayViewMut2<'_, f64>,
    first: ArrayViewMut2<'_, f64>,
    model: &Prepared<f32>,
    sessions: &Frames<'_>,
) -> Result<(), IvectorError> {
    let (mut zero, mut first) = (zero, first);
    for (row, i) in index.enumerate() {
        let x = sessions.segment(i)?;
        let stats = gmm::accumulate_block(x.view(), model);
        zero.row_mut(row).assign(&stats.zero);
        let flat = stats
            .first
            .as_slice()
            .expect("the statistics are in standard layout");
        first.row_mut(row).assign(&ndarray::ArrayView1::from(flat));
    }
    Ok(())
}
