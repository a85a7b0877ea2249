//! The kernel of a chunk's shifted sums and cross products,
//! `linalg::gemm::shifted_cross` (covariance, correlation, the normal
//! equations): Σ y and the lower triangle of Σ y·yᵀ for y = x − shift,
//! register-tiled with fused multiply-adds on AVX2 and AVX-512.

#![allow(clippy::needless_range_loop)]

use super::dispatch;

/// Rows of a chunk copied (shifted) into the kernel's buffer at a time:
/// 32 rows of up to 64 columns stay in L1 beside the accumulators.
const CROSS_ROWS: usize = 32;

dispatch! {
    /// The kernel of `linalg::gemm::shifted_cross`: `acc` (`dp × dp`, `dp` = `d`
    /// rounded up to 8) gets the lower triangle of Σ y·yᵀ (and some
    /// entries above it), `sum` gets Σ y.
    pub(crate) fn cross_kernel(x: &[f64], shift: &[f64], acc: &mut [f64], sum: &mut [f64]) {
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
                super::prefetch(line);
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
