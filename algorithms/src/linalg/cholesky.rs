//! The one Cholesky factorisation: faer's, in place, on the calling
//! thread, with reusable memory.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::reborrow::ReborrowMut;
use faer::{Mat, MatMut, Par};
use ndarray::{Array2, ArrayView2};

/// Reusable memory for [`cholesky`] of `r × r`
/// matrices.
pub(crate) struct CholWork {
    buffer: MemBuffer,
}

impl CholWork {
    pub(crate) fn new(r: usize) -> CholWork {
        let req = llt::factor::cholesky_in_place_scratch::<f64>(r, Par::Seq, Default::default());
        CholWork {
            buffer: MemBuffer::new(req),
        }
    }
}

/// Factors the symmetric positive definite matrix whose lower triangle is
/// in `a`, in place: `a`'s lower triangle becomes `G` with `G·Gᵀ = a`
/// (its upper triangle is left as it was). Returns `log det a`.
///
/// # Errors
///
/// The index of the first pivot that is not positive (the matrix is not
/// positive definite, or holds NaN).
pub(crate) fn cholesky(a: MatMut<'_, f64>, work: &mut CholWork) -> Result<f64, usize> {
    let stack = MemStack::new(&mut work.buffer);
    let mut a = a;
    llt::factor::cholesky_in_place(
        a.rb_mut(),
        Default::default(),
        Par::Seq,
        stack,
        Default::default(),
    )
    .map_err(|llt::factor::LltError::NonPositivePivot { index }| index)?;
    let log_det = (0..a.nrows()).map(|i| a[(i, i)].ln()).sum::<f64>() * 2.0;
    if log_det.is_finite() {
        Ok(log_det)
    } else {
        Err((0..a.nrows())
            .find(|&i| !a[(i, i)].is_finite())
            .unwrap_or(0))
    }
}

/// The lower Cholesky factor `G` (`n × n`, zeros above the diagonal) of
/// the symmetric positive definite matrix whose lower triangle is in `m`.
///
/// # Errors
///
/// As [`cholesky`].
pub(crate) fn factor_lower(mut m: Mat<f64>) -> Result<Array2<f64>, usize> {
    let n = m.nrows();
    cholesky(m.as_mut(), &mut CholWork::new(n))?;
    Ok(Array2::from_shape_fn((n, n), |(i, j)| {
        if j <= i {
            m[(i, j)]
        } else {
            0.0
        }
    }))
}

/// [`factor_lower`] of the lower triangle of `a` (`n × n`; the upper
/// triangle is not read).
///
/// # Errors
///
/// As [`cholesky`].
pub(crate) fn cholesky_lower(a: ArrayView2<'_, f64>) -> Result<Array2<f64>, usize> {
    let n = a.nrows();
    assert_eq!(a.ncols(), n, "cholesky of a {:?} matrix", a.dim());
    factor_lower(Mat::from_fn(
        n,
        n,
        |i, j| if j <= i { a[[i, j]] } else { 0.0 },
    ))
}
