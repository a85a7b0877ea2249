//! Small dense kernels shared by the algorithms: GEMM (faer, one thread —
//! shardkit's blocks give the parallelism), Cholesky factorisations and
//! symmetric matrices packed as their lower triangle.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

/// A faer view of an ndarray view (any strides).
pub(crate) fn mat_ref<'a, T>(a: &ArrayView2<'a, T>) -> MatRef<'a, T> {
    let s = a.strides();
    // SAFETY: pointer, shape and strides come from a live ndarray view that
    // outlives the result ('a).
    unsafe { MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), s[0], s[1]) }
}

/// A mutable faer view of an ndarray view (any strides).
pub(crate) fn mat_mut<'a, T>(a: &'a mut ArrayViewMut2<'_, T>) -> MatMut<'a, T> {
    let (m, n) = a.dim();
    let s = a.strides();
    let (s0, s1) = (s[0], s[1]);
    // SAFETY: as `mat_ref`, and the view is borrowed mutably for 'a, so
    // nothing else reaches these elements meanwhile.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), m, n, s0, s1) }
}

/// `c = a · b` (or `c += a · b` with `add`), on the calling thread. Any
/// strides.
///
/// # Panics
///
/// If the shapes do not agree (`a`: m × k, `b`: k × n, `c`: m × n).
pub(crate) fn gemm<T: ComplexField + Copy>(
    mut c: ArrayViewMut2<'_, T>,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    add: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "gemm shapes: a {:?}, b {:?}, c {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    let accum = if add { Accum::Add } else { Accum::Replace };
    matmul(
        mat_mut(&mut c),
        accum,
        mat_ref(&a),
        mat_ref(&b),
        T::one_impl(),
        Par::Seq,
    );
}

/// The lower triangle (diagonal included) of `c = a · b`, where the
/// product is known to be symmetric (`a = xᵀ`, `b = y` with `y = Dx` for
/// a diagonal `D`): half the flops of [`gemm`]. The strict upper triangle
/// of `c` is left as it is. Any strides.
///
/// # Panics
///
/// If the shapes do not agree (`a`: n × k, `b`: k × n, `c`: n × n).
pub(crate) fn gemm_lower(
    mut c: ArrayViewMut2<'_, f64>,
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
) {
    let n = c.nrows();
    assert!(
        c.ncols() == n && a.nrows() == n && b.ncols() == n && a.ncols() == b.nrows(),
        "gemm_lower shapes: a {:?}, b {:?}, c {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    triangular::matmul(
        mat_mut(&mut c),
        BlockStructure::TriangularLower,
        Accum::Replace,
        mat_ref(&a),
        BlockStructure::Rectangular,
        mat_ref(&b),
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

/// `c = a · b` in f32, on the calling thread. Any strides.
///
/// # Panics
///
/// If the shapes do not agree (`a`: m × k, `b`: k × n, `c`: m × n).
pub(crate) fn gemm_f32(c: ArrayViewMut2<'_, f32>, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) {
    gemm(c, a, b, false);
}

/// The length of a packed `r × r` symmetric matrix: `r(r+1)/2`.
pub(crate) const fn packed_len(r: usize) -> usize {
    r * (r + 1) / 2
}

/// Writes the lower triangle of `m` (row by row: `(0,0), (1,0), (1,1),
/// (2,0), …`) into `out`, the inverse of [`unpack_lower`].
pub(crate) fn pack_lower(m: ArrayView2<'_, f64>, out: &mut [f64]) {
    let r = m.nrows();
    assert_eq!(out.len(), packed_len(r));
    let mut k = 0;
    for (i, row) in m.rows().into_iter().enumerate() {
        for (o, &v) in out[k..=k + i].iter_mut().zip(row.iter()) {
            *o = v;
        }
        k += i + 1;
    }
}

/// Fills the lower triangle of `m` from a packed matrix (the upper
/// triangle is left as it is: the factorisations read the lower one).
pub(crate) fn unpack_lower(p: &[f64], mut m: MatMut<'_, f64>) {
    let r = m.nrows();
    debug_assert_eq!(p.len(), packed_len(r));
    let mut k = 0;
    for i in 0..r {
        for j in 0..=i {
            m[(i, j)] = p[k];
            k += 1;
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::{gemm, gemm_lower, pack_lower, packed_len, unpack_lower};
    use ndarray::Array2;

    #[test]
    fn pack_lower_and_unpack_lower_round_trip_by_rows() {
        let r = 5;
        let m = Array2::from_shape_fn((r, r), |(i, j)| (10 * i + j) as f64);
        let mut packed = vec![0.0; packed_len(r)];
        pack_lower(m.view(), &mut packed);
        assert_eq!(&packed[..6], &[0.0, 10.0, 11.0, 20.0, 21.0, 22.0]);
        let mut back = faer::Mat::<f64>::zeros(r, r);
        unpack_lower(&packed, back.as_mut());
        for i in 0..r {
            for j in 0..=i {
                assert_eq!(back[(i, j)], m[[i, j]]);
            }
        }
    }

    #[test]
    fn gemm_lower_is_the_lower_triangle_of_the_symmetric_product() {
        let (n, k) = (37, 11);
        let x = Array2::from_shape_fn((k, n), |(i, j)| ((i * 7 + j * 3) % 13) as f64 - 6.0);
        let y = Array2::from_shape_fn((k, n), |(i, j)| x[[i, j]] / (1.0 + i as f64));
        let mut full = Array2::zeros((n, n));
        gemm(full.view_mut(), x.t(), y.view(), false);
        let mut lower = Array2::from_elem((n, n), f64::NAN);
        gemm_lower(lower.view_mut(), x.t(), y.view());
        for i in 0..n {
            for j in 0..n {
                if j <= i {
                    assert!((lower[[i, j]] - full[[i, j]]).abs() < 1e-12, "({i}, {j})");
                } else {
                    assert!(lower[[i, j]].is_nan(), "({i}, {j}) written");
                }
            }
        }
    }
}
