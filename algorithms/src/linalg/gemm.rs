//! GEMMs through faer on the calling thread (`Par::Seq`): shardkit's
//! blocks give the parallelism.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::traits::ComplexField;
use faer::{Accum, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};

use crate::simd;

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

/// The sums of a chunk of rows around `shift`: `(Σ y, Σ y·yᵀ)` with
/// `y = x − shift` for each row `x` of `rows` (`n × d`), the second as a
/// full symmetric `d × d` matrix (the lower triangle computed, mirrored).
///
/// Every element is one chain over the rows in order, so the bits depend
/// on the rows alone: `Σ y` adds row after row, and each `Σ yᵢyⱼ` is a
/// fused multiply-add per row on the AVX2 and AVX-512 levels (the same
/// bits on both), a multiply then an add on the portable one. Measured
/// on one core of this project's Sapphire Rapids machine (d = 60, chunks
/// of 4096 rows, in cache): about 40 GFlop/s of the triangle's flops on
/// AVX-512, twice faer's triangular GEMM on a shifted copy (about 20).
///
/// # Panics
///
/// If `shift` is not `d` long.
pub(crate) fn shifted_cross(
    rows: ArrayView2<'_, f64>,
    shift: ArrayView1<'_, f64>,
) -> (Array1<f64>, Array2<f64>) {
    let d = rows.ncols();
    assert_eq!(
        shift.len(),
        d,
        "shifted_cross: shift of {} for {d} columns",
        shift.len()
    );
    let rows = rows.as_standard_layout();
    let shift = shift.to_vec();
    let x = rows.as_slice().expect("standard layout");
    let dp = d.div_ceil(8) * 8;
    let mut acc = vec![0.0; dp * dp];
    let mut sum = vec![0.0; d];
    simd::cross::cross_kernel(x, &shift, &mut acc, &mut sum);
    let cross = Array2::from_shape_fn((d, d), |(i, j)| {
        if j <= i {
            acc[i * dp + j]
        } else {
            acc[j * dp + i]
        }
    });
    (Array1::from(sum), cross)
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
    use super::{gemm, gemm_lower, shifted_cross};
    use crate::simd;
    use ndarray::{Array1, Array2};

    #[test]
    fn shifted_cross_is_the_sum_of_outer_products_with_the_same_bits_on_fma_levels() {
        for (n, d) in [
            (0, 3),
            (1, 1),
            (37, 5),
            (100, 8),
            (77, 60),
            (129, 62),
            (33, 17),
        ] {
            let x =
                Array2::from_shape_fn((n, d), |(i, j)| ((i * 7 + j * 3) % 13) as f64 / 3.0 - 2.0);
            let shift = Array1::from_shape_fn(d, |j| j as f64 / 7.0);
            let mut want = Array2::<f64>::zeros((d, d));
            let mut want_sum = Array1::<f64>::zeros(d);
            for r in 0..n {
                let y = &x.row(r) - &shift;
                want_sum += &y;
                for i in 0..d {
                    for j in 0..d {
                        want[[i, j]] += y[i] * y[j];
                    }
                }
            }
            let mut bits = None;
            for level in simd::levels() {
                let (sum, cross) = simd::at(level, || shifted_cross(x.view(), shift.view()));
                assert_eq!(sum, want_sum, "{level:?} n {n} d {d}");
                for i in 0..d {
                    for j in 0..d {
                        assert_eq!(cross[[i, j]].to_bits(), cross[[j, i]].to_bits());
                        assert!(
                            (cross[[i, j]] - want[[i, j]]).abs() < 1e-9,
                            "{level:?} ({i}, {j})"
                        );
                    }
                }
                if level > simd::Level::Portable {
                    let b: Vec<u64> = cross.iter().map(|v| v.to_bits()).collect();
                    match &bits {
                        None => bits = Some(b),
                        Some(prev) => assert_eq!(prev, &b, "{level:?} n {n} d {d}"),
                    }
                }
            }
        }
        // Not standard layout.
        let x = Array2::from_shape_fn((9, 4), |(i, j)| (i + j) as f64);
        let (s, c) = shifted_cross(x.t().t(), Array1::zeros(4).view());
        let (s2, c2) = shifted_cross(x.reversed_axes().t(), Array1::zeros(4).view());
        assert_eq!((s, c), (s2, c2));
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
