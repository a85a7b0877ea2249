//! The lane operations of the total-variability E-step's batched
//! small-matrix kernels (`ivector::batch`): [`LANES`] sessions' matrices
//! interleaved entry by entry, so that every scalar operation of a
//! Cholesky factorisation, solve or inverse is one operation on a
//! [`V`] of independent sessions.
//!
//! The bodies that use these are generic over a level `L` ([`PORTABLE`],
//! [`AVX2`], [`AVX512`]) and compiled once per level by
//! [`dispatch!`](super::dispatch): `V` is two AVX2 vectors or one AVX-512
//! vector, with the same operations per lane (fused multiply-adds on both),
//! so AVX-512 gives the bits of AVX2.

// The lane loops (`for l in 0..LANES`) index several arrays in step: that
// is the form the vectoriser turns into one vector operation.
#![allow(clippy::needless_range_loop)]

/// Sessions per batch: one AVX-512 vector of `f64`, two AVX2 ones.
pub(crate) const LANES: usize = 8;

/// One packed entry of `LANES` sessions.
pub(crate) type V = [f64; LANES];

/// The zero entry.
pub(crate) const ZERO: V = [0.0; LANES];

/// The level parameter of the portable bodies (no FMA).
pub(crate) const PORTABLE: u8 = 0;
/// The level parameter of the bodies compiled for AVX2 + FMA.
pub(crate) const AVX2: u8 = 1;
/// The level parameter of the bodies compiled for AVX-512.
pub(crate) const AVX512: u8 = 2;

/// `a·b + c`, fused above the portable level.
#[inline(always)]
pub(crate) fn madd<const L: u8>(a: f64, b: f64, c: f64) -> f64 {
    if L > PORTABLE {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `Σ a[k]·b[k]` per lane, over the shorter length, in four interleaved
/// partial sums (`k mod 4`) combined as `(s0 + s1) + (s2 + s3)`.
///
/// Above the portable level the same sums, in the same order, through
/// explicit intrinsics: LLVM's own vectorisation of the `[f64; 8]` loops
/// mixed vector and scalar operations in some call sites.
#[inline(always)]
pub(crate) fn dot<const L: u8>(a: &[V], b: &[V]) -> V {
    #[cfg(target_arch = "x86_64")]
    {
        if L == AVX512 {
            // SAFETY: bodies with `L = AVX512` are only compiled into the
            // AVX-512 arms of `dispatch!`, which run only where the CPU
            // has AVX-512.
            return unsafe { x86::dot_avx512(a, b) };
        }
        if L == AVX2 {
            // SAFETY: as above, for the AVX2 arms.
            return unsafe { x86::dot_avx2(a, b) };
        }
    }
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [ZERO; 4];
    let mut ac = a.chunks_exact(4);
    let mut bc = b.chunks_exact(4);
    for (a4, b4) in (&mut ac).zip(&mut bc) {
        for u in 0..4 {
            for l in 0..LANES {
                acc[u][l] = madd::<L>(a4[u][l], b4[u][l], acc[u][l]);
            }
        }
    }
    for (u, (av, bv)) in ac.remainder().iter().zip(bc.remainder()).enumerate() {
        for l in 0..LANES {
            acc[u][l] = madd::<L>(av[l], bv[l], acc[u][l]);
        }
    }
    let mut out = ZERO;
    for l in 0..LANES {
        out[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    }
    out
}

/// The four dot products `[a0·b0, a0·b1, a1·b0, a1·b1]` per lane over
/// `a0.len()` entries: each loaded entry feeds two products (a 2 × 2
/// register tile), and the four sums are independent vector chains. Above
/// the portable level, intrinsics as in [`dot`].
#[inline(always)]
pub(crate) fn dot2x2<const L: u8>(a0: &[V], a1: &[V], b0: &[V], b1: &[V]) -> [V; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        if L == AVX512 {
            // SAFETY: as in `dot`.
            return unsafe { x86::dot2x2_avx512(a0, a1, b0, b1) };
        }
        if L == AVX2 {
            // SAFETY: as in `dot`.
            return unsafe { x86::dot2x2_avx2(a0, a1, b0, b1) };
        }
    }
    let n = a0.len();
    let (a1, b0, b1) = (&a1[..n], &b0[..n], &b1[..n]);
    let mut acc = [ZERO; 4];
    for (((x0, x1), y0), y1) in a0.iter().zip(a1).zip(b0).zip(b1) {
        for l in 0..LANES {
            acc[0][l] = madd::<L>(x0[l], y0[l], acc[0][l]);
            acc[1][l] = madd::<L>(x0[l], y1[l], acc[1][l]);
            acc[2][l] = madd::<L>(x1[l], y0[l], acc[2][l]);
            acc[3][l] = madd::<L>(x1[l], y1[l], acc[3][l]);
        }
    }
    acc
}

/// `(v − s) · f` per lane.
#[inline(always)]
pub(crate) fn sub_mul(v: V, s: V, f: V) -> V {
    let mut out = ZERO;
    for l in 0..LANES {
        out[l] = (v[l] - s[l]) * f[l];
    }
    out
}

/// `s + a·b` per lane.
#[inline(always)]
pub(crate) fn add_prod<const L: u8>(s: V, a: V, b: V) -> V {
    let mut out = ZERO;
    for l in 0..LANES {
        out[l] = madd::<L>(a[l], b[l], s[l]);
    }
    out
}

/// `−s · f` per lane.
#[inline(always)]
pub(crate) fn neg_mul(s: V, f: V) -> V {
    let mut out = ZERO;
    for l in 0..LANES {
        out[l] = -s[l] * f[l];
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! `dot` and `dot2x2` on two AVX2 vectors per entry, or one AVX-512.

    use std::arch::x86_64::*;

    use super::{V, ZERO};

    /// The two halves of an entry.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load2(v: &V) -> (__m256d, __m256d) {
        // SAFETY: `v` has 8 elements.
        let lo = unsafe { _mm256_loadu_pd(v.as_ptr()) };
        // SAFETY: as above.
        let hi = unsafe { _mm256_loadu_pd(v.as_ptr().wrapping_add(4)) };
        (lo, hi)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store2(lo: __m256d, hi: __m256d) -> V {
        let mut out = ZERO;
        // SAFETY: `out` has 8 elements.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), lo) };
        // SAFETY: as above.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr().wrapping_add(4), hi) };
        out
    }

    /// An entry in one vector.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(v: &V) -> __m512d {
        // SAFETY: `v` has 8 elements.
        unsafe { _mm512_loadu_pd(v.as_ptr()) }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store(x: __m512d) -> V {
        let mut out = ZERO;
        // SAFETY: `out` has 8 elements.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), x) };
        out
    }

    /// [`super::dot`] on AVX2.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) fn dot_avx2(a: &[V], b: &[V]) -> V {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut lo = [_mm256_setzero_pd(); 4];
        let mut hi = [_mm256_setzero_pd(); 4];
        let mut ac = a.chunks_exact(4);
        let mut bc = b.chunks_exact(4);
        for (a4, b4) in (&mut ac).zip(&mut bc) {
            for u in 0..4 {
                let (xl, xh) = load2(&a4[u]);
                let (yl, yh) = load2(&b4[u]);
                lo[u] = _mm256_fmadd_pd(xl, yl, lo[u]);
                hi[u] = _mm256_fmadd_pd(xh, yh, hi[u]);
            }
        }
        for (u, (x, y)) in ac.remainder().iter().zip(bc.remainder()).enumerate() {
            let (xl, xh) = load2(x);
            let (yl, yh) = load2(y);
            lo[u] = _mm256_fmadd_pd(xl, yl, lo[u]);
            hi[u] = _mm256_fmadd_pd(xh, yh, hi[u]);
        }
        store2(
            _mm256_add_pd(_mm256_add_pd(lo[0], lo[1]), _mm256_add_pd(lo[2], lo[3])),
            _mm256_add_pd(_mm256_add_pd(hi[0], hi[1]), _mm256_add_pd(hi[2], hi[3])),
        )
    }

    /// [`super::dot`] on AVX-512: [`dot_avx2`] with each entry in one
    /// vector (the same bits).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(super) fn dot_avx512(a: &[V], b: &[V]) -> V {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [_mm512_setzero_pd(); 4];
        let mut ac = a.chunks_exact(4);
        let mut bc = b.chunks_exact(4);
        for (a4, b4) in (&mut ac).zip(&mut bc) {
            for u in 0..4 {
                acc[u] = _mm512_fmadd_pd(load(&a4[u]), load(&b4[u]), acc[u]);
            }
        }
        for (u, (x, y)) in ac.remainder().iter().zip(bc.remainder()).enumerate() {
            acc[u] = _mm512_fmadd_pd(load(x), load(y), acc[u]);
        }
        store(_mm512_add_pd(
            _mm512_add_pd(acc[0], acc[1]),
            _mm512_add_pd(acc[2], acc[3]),
        ))
    }

    /// [`super::dot2x2`] on AVX2.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) fn dot2x2_avx2(a0: &[V], a1: &[V], b0: &[V], b1: &[V]) -> [V; 4] {
        let n = a0.len();
        let (a1, b0, b1) = (&a1[..n], &b0[..n], &b1[..n]);
        let mut acc = [_mm256_setzero_pd(); 8];
        for (((x0, x1), y0), y1) in a0.iter().zip(a1).zip(b0).zip(b1) {
            let (x0l, x0h) = load2(x0);
            let (x1l, x1h) = load2(x1);
            let (y0l, y0h) = load2(y0);
            let (y1l, y1h) = load2(y1);
            acc[0] = _mm256_fmadd_pd(x0l, y0l, acc[0]);
            acc[1] = _mm256_fmadd_pd(x0h, y0h, acc[1]);
            acc[2] = _mm256_fmadd_pd(x0l, y1l, acc[2]);
            acc[3] = _mm256_fmadd_pd(x0h, y1h, acc[3]);
            acc[4] = _mm256_fmadd_pd(x1l, y0l, acc[4]);
            acc[5] = _mm256_fmadd_pd(x1h, y0h, acc[5]);
            acc[6] = _mm256_fmadd_pd(x1l, y1l, acc[6]);
            acc[7] = _mm256_fmadd_pd(x1h, y1h, acc[7]);
        }
        [
            store2(acc[0], acc[1]),
            store2(acc[2], acc[3]),
            store2(acc[4], acc[5]),
            store2(acc[6], acc[7]),
        ]
    }

    /// [`super::dot2x2`] on AVX-512 (the same bits as [`dot2x2_avx2`]).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(super) fn dot2x2_avx512(a0: &[V], a1: &[V], b0: &[V], b1: &[V]) -> [V; 4] {
        let n = a0.len();
        let (a1, b0, b1) = (&a1[..n], &b0[..n], &b1[..n]);
        let mut acc = [_mm512_setzero_pd(); 4];
        for (((x0, x1), y0), y1) in a0.iter().zip(a1).zip(b0).zip(b1) {
            let (x0, x1, y0, y1) = (load(x0), load(x1), load(y0), load(y1));
            acc[0] = _mm512_fmadd_pd(x0, y0, acc[0]);
            acc[1] = _mm512_fmadd_pd(x0, y1, acc[1]);
            acc[2] = _mm512_fmadd_pd(x1, y0, acc[2]);
            acc[3] = _mm512_fmadd_pd(x1, y1, acc[3]);
        }
        [store(acc[0]), store(acc[1]), store(acc[2]), store(acc[3])]
    }
}
