//! Dense symmetric factorisations (faer) on ndarray matrices, and the
//! checks every back end shares.

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, Par, Side};
use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::errors::BackendError;
use crate::linalg::{cholesky_lower, mat_ref, to_array};

/// `(a + aᵀ) / 2`, so that rounding leaves no asymmetry.
pub(crate) fn symmetrize(a: &mut Array2<f64>) {
    let n = a.nrows();
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (a[[i, j]] + a[[j, i]]);
            a[[i, j]] = m;
            a[[j, i]] = m;
        }
    }
}

/// The lower Cholesky factor `L` of `a = L Lᵀ`, or `None` if `a` is not
/// numerically positive definite: a pivot `L_ii²` below `1e-12` times the
/// largest diagonal entry of `a` counts as zero.
pub(crate) fn cholesky(a: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    let scale = a.diag().iter().fold(0.0f64, |m, &v| m.max(v));
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    let l = cholesky_lower(a).ok()?;
    if l.diag()
        .iter()
        .any(|&p| p.is_nan() || p * p <= 1e-12 * scale)
    {
        return None;
    }
    Some(l)
}

/// `L⁻¹` of a lower-triangular `L`.
pub(crate) fn lower_inverse(l: ArrayView2<'_, f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut x = Mat::<f64>::identity(n, n);
    solve_lower_triangular_in_place(mat_ref(&l), x.as_mut(), Par::Seq);
    to_array(x.as_ref())
}

/// The inverse of a positive definite `a` and `log |a|`, or `None` as
/// [`cholesky`].
pub(crate) fn spd_inverse(a: ArrayView2<'_, f64>) -> Option<(Array2<f64>, f64)> {
    let l = cholesky(a)?;
    let log_det = 2.0 * l.diag().iter().map(|p| p.ln()).sum::<f64>();
    let li = lower_inverse(l.view());
    let mut inv = li.t().dot(&li);
    symmetrize(&mut inv);
    Some((inv, log_det))
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric `a`.
pub(crate) fn eigh(
    a: ArrayView2<'_, f64>,
    what: &'static str,
) -> Result<(Vec<f64>, Array2<f64>), BackendError> {
    let evd = mat_ref(&a)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| BackendError::NoConvergence { what })?;
    let s = evd.S().column_vector();
    let values: Vec<f64> = (0..s.nrows()).map(|i| s[i]).collect();
    Ok((values, to_array(evd.U())))
}

/// Checks that `x` has rows and columns and only finite values.
pub(crate) fn check_vectors(
    x: ArrayView2<'_, f64>,
    what: &'static str,
) -> Result<(), BackendError> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(BackendError::Empty { what });
    }
    for ((row, column), &value) in x.indexed_iter() {
        if !value.is_finite() {
            return Err(BackendError::NonFinite {
                what,
                row,
                column,
                value,
            });
        }
    }
    Ok(())
}

/// Checks that `x` has `dim` columns.
pub(crate) fn check_dim(
    x: ArrayView2<'_, f64>,
    dim: usize,
    what: &'static str,
) -> Result<(), BackendError> {
    if x.ncols() != dim {
        return Err(BackendError::Dimension {
            what,
            expected: dim,
            found: x.ncols(),
        });
    }
    Ok(())
}

/// The mean row.
pub(crate) fn mean_row(x: ArrayView2<'_, f64>) -> Array1<f64> {
    x.mean_axis(Axis(0)).expect("checked non-empty")
}
