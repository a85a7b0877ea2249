//! The one bridge between ndarray and faer: views both ways (any
//! strides, no copy), and a faer matrix copied out into an ndarray array.

use faer::{MatMut, MatRef};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

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

/// An owned ndarray copy of a faer matrix.
pub(crate) fn to_array(m: MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}
