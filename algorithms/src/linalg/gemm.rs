//! GEMMs through faer on the calling thread (`Par::Seq`): shardkit's
//! blocks give the parallelism.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::traits::ComplexField;
use faer::{Accum, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};

use crate::simd::dispatch;

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

/// Rows of a chunk copied (shifted) into the kernel's buffer at a time:
/// 32 rows of up to 64 columns stay in L1 beside the accumulators.
const CROSS_ROWS: usize = 32;

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
    cross_kernel(x, &shift, &mut acc, &mut sum);
    let cross = Array2::from_shape_fn((d, d), |(i, j)| {
        if j <= i {
            acc[i * dp + j]
        } else {
            acc[j * dp + i]
        }
    });
    (Array1::from(sum), cross)
}

dispatch! {
    /// The kernel of [`shifted_cross`]: `acc` (`dp × dp`, `dp` = `d`
    /// rounded up to 8) gets the lower triangle of Σ y·yᵀ (and some
    /// entries above it), `sum` gets Σ y.
    fn cross_kernel(x: &[f64], shift: &[f64], acc: &mut [f64], sum: &mut [f64]) {
        portable => cross_portable(x, shift, acc, sum),
        avx2 => cross_blocked::<4>(x, shift, acc, sum),
        avx512 => cross_blocked::<8>(x, shift, acc, sum),
    }
}

/// One multiply and one add per element and row, no buffer.
#[inline(always)]
fn cross_portable(x: &[f64], shift: &[f64], acc: &mut [f64], sum: &mut [f64]) {
    let d = shift.len();
    let dp = d.div_ceil(8) * 8;
    let mut y = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for j in 0..d {
            y[j] = row[j] - shift[j];
            sum[j] += y[j];
        }
        for i in 0..d {
            let yi = y[i];
            let out = &mut acc[i * dp..i * dp + i + 1];
            for (o, &yj) in out.iter_mut().zip(&y[..=i]) {
                *o += yi * yj;
            }
        }
    }
}

/// Runs of [`CROSS_ROWS`] rows, shifted into a zero-padded buffer of `dp`
/// columns, then tiles of the lower triangle accumulated from the buffer
/// by fused multiply-adds: `LANES` = 8 (AVX-512: 8 rows × 16 columns) or
/// 4 (AVX2: 4 rows × 8 columns).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn cross_blocked<const LANES: usize>(x: &[f64], shift: &[f64], acc: &mut [f64], sum: &mut [f64]) {
    let d = shift.len();
    let dp = d.div_ceil(8) * 8;
    let blocks = dp / 8;
    assert!(acc.len() == dp * dp && sum.len() == d && x.len().is_multiple_of(d.max(1)));
    let mut buf = vec![0.0; CROSS_ROWS * dp];
    let step = CROSS_ROWS * d;
    // Tiles per run: Σ over the row blocks of ⌈(ib + 1)/2⌉ on AVX-512,
    // 2(ib + 1) on AVX2.
    let tiles: usize = (0..blocks)
        .map(|ib| if LANES == 8 { ib / 2 + 1 } else { 2 * (ib + 1) })
        .sum();
    for (r, run) in x.chunks(step).enumerate() {
        let n = run.len() / d;
        // The next run's rows come from memory while this one's tiles
        // run: one prefetch per cache line, a few after each tile (a
        // burst of them stalls on the line-fill buffers).
        let next = &x[((r + 1) * step).min(x.len())..((r + 2) * step).min(x.len())];
        let mut lines = next.iter().step_by(8);
        let per_tile = next.len().div_ceil(8).div_ceil(tiles);
        let mut prefetch = || {
            for line in lines.by_ref().take(per_tile) {
                // SAFETY: a prefetch of an address within `x`: it reads
                // nothing and cannot fault.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        std::ptr::from_ref(line).cast(),
                    );
                }
            }
        };
        for (row, out) in run.chunks_exact(d).zip(buf.chunks_exact_mut(dp)) {
            for j in 0..d {
                let y = row[j] - shift[j];
                out[j] = y;
                sum[j] += y;
            }
        }
        let buf = &buf[..n * dp];
        for ib in 0..blocks {
            let i0 = ib * 8;
            if LANES == 8 {
                let mut jb = 0;
                while jb < ib {
                    // SAFETY: LANES is 8 on the AVX-512 level only.
                    unsafe { tile512::<2>(buf, dp, i0, jb * 8, acc) };
                    prefetch();
                    jb += 2;
                }
                if jb == ib {
                    // SAFETY: as above.
                    unsafe { tile512::<1>(buf, dp, i0, jb * 8, acc) };
                    prefetch();
                }
            } else {
                for jb in 0..=ib {
                    // SAFETY: LANES is 4 on the AVX2 level only (AVX2
                    // and FMA).
                    unsafe { tile256(buf, dp, i0, jb * 8, acc) };
                    prefetch();
                    // SAFETY: as above.
                    unsafe { tile256(buf, dp, i0 + 4, jb * 8, acc) };
                    prefetch();
                }
            }
        }
    }
}

/// `acc[i0..i0+8, j0..j0+8·V] += Σ_rows buf[r, i]·buf[r, j]`, AVX-512.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn tile512<const V: usize>(buf: &[f64], dp: usize, i0: usize, j0: usize, acc: &mut [f64]) {
    use std::arch::x86_64::{
        __m512d, _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_storeu_pd,
    };
    assert!(i0 + 8 <= dp && j0 + 8 * V <= dp && acc.len() == dp * dp);
    assert!(buf.len().is_multiple_of(dp));
    // Every load and store below is within `acc` (rows i0..i0+8, columns
    // j0..j0+8V of a dp × dp matrix) or within `buf` (row r < rows,
    // columns below dp), as asserted.
    let c = acc.as_mut_ptr();
    let mut t: [[__m512d; V]; 8] = [[_mm512_set1_pd(0.0); V]; 8];
    for (a, ta) in t.iter_mut().enumerate() {
        for (v, tv) in ta.iter_mut().enumerate() {
            // SAFETY: within `acc` (above).
            *tv = unsafe { _mm512_loadu_pd(c.wrapping_add((i0 + a) * dp + j0 + 8 * v)) };
        }
    }
    for row in buf.chunks_exact(dp) {
        let p = row.as_ptr();
        let mut b: [__m512d; V] = [_mm512_set1_pd(0.0); V];
        for (v, bv) in b.iter_mut().enumerate() {
            // SAFETY: within `row` (above).
            *bv = unsafe { _mm512_loadu_pd(p.wrapping_add(j0 + 8 * v)) };
        }
        for (a, ta) in t.iter_mut().enumerate() {
            // SAFETY: within `row` (above).
            let s = _mm512_set1_pd(unsafe { *p.wrapping_add(i0 + a) });
            for (tv, &bv) in ta.iter_mut().zip(&b) {
                *tv = _mm512_fmadd_pd(s, bv, *tv);
            }
        }
    }
    for (a, ta) in t.iter().enumerate() {
        for (v, &tv) in ta.iter().enumerate() {
            // SAFETY: within `acc` (above).
            unsafe { _mm512_storeu_pd(c.wrapping_add((i0 + a) * dp + j0 + 8 * v), tv) };
        }
    }
}

/// `acc[i0..i0+4, j0..j0+8] += Σ_rows buf[r, i]·buf[r, j]`, AVX2.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
fn tile256(buf: &[f64], dp: usize, i0: usize, j0: usize, acc: &mut [f64]) {
    use std::arch::x86_64::{
        __m256d, _mm256_fmadd_pd, _mm256_loadu_pd, _mm256_set1_pd, _mm256_storeu_pd,
    };
    assert!(i0 + 4 <= dp && j0 + 8 <= dp && acc.len() == dp * dp);
    assert!(buf.len().is_multiple_of(dp));
    // As in `tile512`: rows i0..i0+4, columns j0..j0+8.
    let c = acc.as_mut_ptr();
    let mut t: [[__m256d; 2]; 4] = [[_mm256_set1_pd(0.0); 2]; 4];
    for (a, ta) in t.iter_mut().enumerate() {
        for (v, tv) in ta.iter_mut().enumerate() {
            // SAFETY: within `acc` (above).
            *tv = unsafe { _mm256_loadu_pd(c.wrapping_add((i0 + a) * dp + j0 + 4 * v)) };
        }
    }
    for row in buf.chunks_exact(dp) {
        let p = row.as_ptr();
        // SAFETY: within `row` (above).
        let b0 = unsafe { _mm256_loadu_pd(p.wrapping_add(j0)) };
        // SAFETY: within `row` (above).
        let b1 = unsafe { _mm256_loadu_pd(p.wrapping_add(j0 + 4)) };
        for (a, ta) in t.iter_mut().enumerate() {
            // SAFETY: within `row` (above).
            let s = _mm256_set1_pd(unsafe { *p.wrapping_add(i0 + a) });
            ta[0] = _mm256_fmadd_pd(s, b0, ta[0]);
            ta[1] = _mm256_fmadd_pd(s, b1, ta[1]);
        }
    }
    for (a, ta) in t.iter().enumerate() {
        for (v, &tv) in ta.iter().enumerate() {
            // SAFETY: within `acc` (above).
            unsafe { _mm256_storeu_pd(c.wrapping_add((i0 + a) * dp + j0 + 4 * v), tv) };
        }
    }
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
