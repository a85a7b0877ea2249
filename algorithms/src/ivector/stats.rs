//! Baum-Welch statistics per session: what total-variability training and
//! i-vector extraction read.

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use shardkit::parallelize;

use super::IvectorError;
use crate::features::{read_features_with, ReadOptions};
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
    /// [`IvectorError::Shape`] when the parts do not have the same number
    /// of rows, or `first`'s width is not a multiple of `zero`'s;
    /// [`IvectorError::BadStatistics`] for a negative or non-finite
    /// zero-order statistic or a non-finite first-order one (naming the
    /// session).
    pub fn new(zero: Array2<f64>, first: Array2<f64>) -> Result<SessionStats, IvectorError> {
        let (s, c) = zero.dim();
        if first.nrows() != s || c == 0 || !first.ncols().is_multiple_of(c) || first.ncols() == 0 {
            return Err(IvectorError::Shape(format!(
                "statistics: zero-order {:?} and first-order {:?} need the same rows, and C·D columns for C > 0 components",
                zero.dim(),
                first.dim()
            )));
        }
        for (i, row) in zero.axis_iter(Axis(0)).enumerate() {
            if let Some(v) = row.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(IvectorError::BadStatistics {
                    session: i,
                    reason: format!("a zero-order statistic is {v}"),
                });
            }
        }
        for (i, row) in first.axis_iter(Axis(0)).enumerate() {
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(IvectorError::BadStatistics {
                    session: i,
                    reason: format!("a first-order statistic is {v}"),
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
        let mut npz = NpzWriter::new(path);
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

/// The statistics of each session in `sessions` (frames × `D` each) under
/// `ubm`, one row per session, on the ambient executor (sessions shared
/// out by length; the same bits on any number of threads or ranks).
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::gmm::DiagGmm;
/// use shardkit_algorithms::ivector::baum_welch;
///
/// let ubm = DiagGmm::new(array![0.5, 0.5], array![[-1.0], [1.0]], Array2::ones((2, 1)))?;
/// let a: Array2<f32> = array![[-1.0], [-1.2], [0.9]];
/// let b: Array2<f32> = array![[3.0]];
/// let stats = baum_welch(&[a.view(), b.view()], &ubm)?;
/// assert_eq!(stats.zero.dim(), (2, 2));
/// assert!((stats.zero.row(0).sum() - 3.0).abs() < 1e-6); // one per frame
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`IvectorError::Shape`] when a session's width is not the UBM's
/// dimension (naming the session).
pub fn baum_welch(
    sessions: &[ArrayView2<'_, f32>],
    ubm: &DiagGmm,
) -> Result<SessionStats, IvectorError> {
    let (c, d) = (ubm.n_components(), ubm.dim());
    if let Some((i, x)) = sessions.iter().enumerate().find(|(_, x)| x.ncols() != d) {
        return Err(IvectorError::Shape(format!(
            "session {i} has {} columns but the UBM has {d} dimensions",
            x.ncols()
        )));
    }
    let mut zero = Array2::zeros((sessions.len(), c));
    let mut first = Array2::zeros((sessions.len(), c * d));
    let model = ubm.prepare();
    session_stats(sessions, zero.view_mut(), first.view_mut(), &model);
    Ok(SessionStats { zero, first })
}

/// A session's cost: its frames (and a little for the session itself).
fn session_weight(x: &ArrayView2<'_, f32>) -> u64 {
    x.nrows() as u64 + 16
}

#[parallelize(
    split = "sessions, zero, first",
    reduce = "none",
    weights = session_weight
)]
fn session_stats(
    sessions: &[ArrayView2<'_, f32>],
    zero: ArrayViewMut2<'_, f64>,
    first: ArrayViewMut2<'_, f64>,
    model: &Prepared<f32>,
) {
    let (mut zero, mut first) = (zero, first);
    for (i, x) in sessions.iter().enumerate() {
        write_row(x.view(), model, zero.row_mut(i), first.row_mut(i));
    }
}

fn write_row(
    x: ArrayView2<'_, f32>,
    model: &Prepared<f32>,
    mut zero: ndarray::ArrayViewMut1<'_, f64>,
    mut first: ndarray::ArrayViewMut1<'_, f64>,
) {
    let stats = gmm::accumulate_block(x, model);
    zero.assign(&stats.zero);
    let flat = stats
        .first
        .as_slice()
        .expect("the statistics are in standard layout");
    first.assign(&ndarray::ArrayView1::from(flat));
}

/// [`baum_welch`] over feature files (`.npy` or HTK, read with `options`;
/// the expected dimension is the UBM's), one row per file in list order;
/// files are shared out by size and each worker holds one file at a time.
///
/// # Errors
///
/// A [`IvectorError::Features`] naming the first bad file (missing,
/// malformed, wrong dimension, …); under MPI every rank returns it.
pub fn baum_welch_files(
    files: &[PathBuf],
    ubm: &DiagGmm,
    options: &ReadOptions,
) -> Result<SessionStats, IvectorError> {
    let (c, d) = (ubm.n_components(), ubm.dim());
    let options = ReadOptions {
        expected_dim: Some(d),
        ..options.clone()
    };
    let mut zero = Array2::zeros((files.len(), c));
    let mut first = Array2::zeros((files.len(), c * d));
    let model = ubm.prepare();
    file_stats(files, zero.view_mut(), first.view_mut(), &model, &options)?;
    Ok(SessionStats { zero, first })
}

#[parallelize(
    split = "files, zero, first",
    reduce = "none",
    weights = shardkit::weights::file_size
)]
fn file_stats(
    files: &[PathBuf],
    zero: ArrayViewMut2<'_, f64>,
    first: ArrayViewMut2<'_, f64>,
    model: &Prepared<f32>,
    options: &ReadOptions,
) -> Result<(), IvectorError> {
    let (mut zero, mut first) = (zero, first);
    for (i, path) in files.iter().enumerate() {
        let x = read_features_with(path, options)?;
        write_row(x.view(), model, zero.row_mut(i), first.row_mut(i));
    }
    Ok(())
}
