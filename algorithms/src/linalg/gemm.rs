//! GEMMs through faer on the calling thread (`Par::Seq`): shardkit's
//! blocks give the parallelism.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::traits::ComplexField;
use faer::{Accum, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

use super::bridge::{mat_mut, mat_ref};

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

#[cfg(test)]
mod tests {
    use super::{gemm, gemm_lower};
    use ndarray::Array2;

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
