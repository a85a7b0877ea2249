//! I-vector extraction.

use ndarray::{Array2, ArrayViewMut2};

use super::errors::IvectorError;
use super::estep::{posterior_pass, Precomputed, Second};
use super::model::TvModel;
use super::stats::SessionStats;
use super::train::check;
use crate::linalg::packed_len;

/// The i-vector (posterior mean `E[w] = L⁻¹ Tᵀ Σ⁻¹ F̃`) of every session,
/// `S × R`, on the ambient executor (the same bits on any number of
/// threads or ranks).
///
/// # Errors
///
/// [`IvectorError::StatsModel`] when the statistics do not fit the model;
/// [`IvectorError::NotPositiveDefinite`] naming a session.
pub fn extract(stats: &SessionStats, model: &TvModel) -> Result<Array2<f64>, IvectorError> {
    let mut out = Array2::zeros((stats.n_sessions(), model.rank()));
    extract_into(stats, model, out.view_mut(), None)?;
    Ok(out)
}

/// [`extract`] into `out` (`S × R`, any layout), and, when `covariances`
/// is given (`S × R(R+1)/2`), each session's posterior covariance `L⁻¹`
/// packed as its lower triangle row by row (`(0,0), (1,0), (1,1), (2,0),
/// …`). Both are split between the workers in place.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::ivector::{extract_into, SessionStats, TvModel};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // One component in one dimension, rank 1: L = 1 + N·t²/σ², w = t·F̃/σ² / L.
/// let model = TvModel::new(array![[2.0]], array![[0.0]], array![[1.0]])?;
/// let stats = SessionStats::new(array![[3.0]], array![[1.5]])?;
/// let (mut w, mut cov) = (Array2::zeros((1, 1)), Array2::zeros((1, 1)));
/// extract_into(&stats, &model, w.view_mut(), Some(cov.view_mut()))?;
/// assert!((w[[0, 0]] - 2.0 * 1.5 / 13.0).abs() < 1e-15);
/// assert!((cov[[0, 0]] - 1.0 / 13.0).abs() < 1e-15);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`extract`], and [`IvectorError::OutputShape`] when `out` or
/// `covariances` has another shape.
pub fn extract_into(
    stats: &SessionStats,
    model: &TvModel,
    out: ArrayViewMut2<'_, f64>,
    covariances: Option<ArrayViewMut2<'_, f64>>,
) -> Result<(), IvectorError> {
    check(stats, model)?;
    let (s, r) = (stats.n_sessions(), model.rank());
    let k = packed_len(r);
    if out.dim() != (s, r) {
        return Err(IvectorError::OutputShape {
            what: "i-vector",
            found: out.dim(),
            expected: (s, r),
            sessions: s,
            rank: r,
        });
    }
    if let Some(cov) = &covariances {
        if cov.dim() != (s, k) {
            return Err(IvectorError::OutputShape {
                what: "covariance (packed lower triangles)",
                found: cov.dim(),
                expected: (s, k),
                sessions: s,
                rank: r,
            });
        }
    }
    let pre = Precomputed::new(model);
    let mut none = Array2::zeros((s, 0));
    let (second, what) = match covariances {
        Some(cov) => (cov, Second::Covariance),
        None => (none.view_mut(), Second::Nothing),
    };
    posterior_pass(
        0..s,
        stats.zero.view(),
        stats.first.view(),
        out,
        second,
        &mut vec![0.0; s],
        model,
        &pre,
        what,
    )?;
    Ok(())
}
