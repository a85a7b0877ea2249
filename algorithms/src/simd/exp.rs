//! The polynomial exponentials, in `f32` (the E-step's posteriors) and
//! `f64` (the pruned E-step's), as one scalar body and per-level vectors
//! with the same operations.
//!
//! # The `f32` exponential
//!
//! `exp(x) = 2^n · exp(r)` with `n = round(x·log₂e)` and
//! `r = x − n·ln 2 ∈ [−ln2/2, ln2/2]`; `n·ln 2` is subtracted in two parts
//! (the high part has 16 significant bits, so `n·LN2_HI` is exact for
//! `|n| < 2^8`), `exp(r) ≈ 1 + r + r²·q(r)` with `q` of degree 4, fitted to
//! the relative error of `exp` on Chebyshev nodes of the interval (the
//! polynomial alone is within 3.8e-9 of `exp` there, so the rounding of the
//! `f32` operations dominates), and `2^n` is built from its exponent bits.
//! `n` is rounded with the `1.5·2^23` trick, which needs no rounding
//! instruction, so the same code vectorises on plain SSE2.
//!
//! Measured against `f64::exp` (`tests/gmm_kernel.rs`, `exp_kernel_accuracy`,
//! 1.2 million points): the largest relative error is 8.1e-8 (under 1 ulp
//! of `f32`, 1.2e-7) for `x ∈ [−87, 88]` with FMA, within the test's bound
//! of 2 ulp (2.4e-7); the portable variant without FMA is checked to 3e-7
//! (unit test). Below −87 the result is `0` (the true value is below
//! 1.7e-38, far below anything a posterior probability can resolve); NaN
//! gives NaN.
//!
//! # The `f64` exponential
//!
//! The same reduction with a degree-13 Taylor polynomial: within about
//! 2 ulp of `f64::exp`; `0` below −708, NaN for NaN.

use super::{dispatch, madd, madd64};

/// `log₂ e`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` rounded to 16 significant bits: `45426 / 65536`.
const LN2_HI: f32 = 45426.0 / 65536.0;
/// `ln 2 − LN2_HI`.
const LN2_LO: f32 = 1.428_606_8e-6;
/// `1.5·2^23`: adding it rounds a float of magnitude below 2^22 to an
/// integer, which then sits in the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;
/// Below this, `exp` gives 0.
pub(crate) const EXP_MIN: f32 = -87.0;
/// Above this, `exp` is evaluated at this (no overflow to infinity).
const EXP_MAX: f32 = 88.0;
/// `q(r)` of `exp(r) ≈ 1 + r + r²·q(r)`, lowest degree first.
const Q: [f32; 5] = [
    0.499_999_88,
    0.166_665_18,
    0.041_669_53,
    0.008_368_916,
    0.001_375_162_2,
];

/// The polynomial exponential of one value (see the module docs).
#[inline(always)]
pub(crate) fn exp1<const FMA: bool>(x: f32) -> f32 {
    let under = x < EXP_MIN;
    let xc = if x < EXP_MIN { EXP_MIN } else { x };
    let xc = if xc > EXP_MAX { EXP_MAX } else { xc };
    let t = madd::<FMA>(xc, LOG2_E, ROUNDER);
    let n = t - ROUNDER;
    // The low bits of `t` hold n (as a two's complement offset from the
    // rounder's bits); 2^n's biased exponent is n + 127.
    let k = (t.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    let scale = f32::from_bits(((k + 127) << 23) as u32);
    let r = madd::<FMA>(n, -LN2_HI, xc);
    let r = madd::<FMA>(n, -LN2_LO, r);
    let q = madd::<FMA>(Q[4], r, Q[3]);
    let q = madd::<FMA>(q, r, Q[2]);
    let q = madd::<FMA>(q, r, Q[1]);
    let q = madd::<FMA>(q, r, Q[0]);
    let p = madd::<FMA>(q, r * r, r) + 1.0;
    if under {
        0.0
    } else {
        p * scale
    }
}

#[inline(always)]
fn exp_slice_body<const FMA: bool>(xs: &mut [f32]) {
    for x in xs {
        *x = exp1::<FMA>(*x);
    }
}

dispatch! {
    /// `exp` of every element, in place (see the module docs for accuracy).
    pub fn exp_in_place(xs: &mut [f32]) {
        portable => exp_slice_body::<false>(xs),
        avx2 => exp_slice_body::<true>(xs),
        avx512 => exp_slice_body::<true>(xs),
    }
}

/// `ln 2` to 32 significant bits (fdlibm's `ln2_hi`): `n·LN2_HI64` is exact
/// for `|n| < 2^21`.
const LN2_HI64: f64 = 0.693_147_180_369_123_8;
/// `ln 2 − LN2_HI64`.
const LN2_LO64: f64 = 1.908_214_929_270_587_7e-10;
/// `1.5·2^52`, the rounder of the `f64` exponential.
const ROUNDER64: f64 = 6_755_399_441_055_744.0;
/// Below this, the `f64` exponential gives 0 (the true value is below
/// 3.3e-308).
const EXP64_MIN: f64 = -708.0;
/// Above this, the `f64` exponential is evaluated at this.
const EXP64_MAX: f64 = 709.0;
/// `1/k!` for `k = 13, 12, …, 2`: the Taylor polynomial of `exp(r)` of
/// degree 13, whose remainder on `|r| ≤ ln2/2` is below 4e-18 relative.
const TAYLOR64: [f64; 12] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// The `f64` exponential of one value, as [`exp1`] with a degree-13
/// polynomial: within about 2 ulp of `f64::exp`; `0` below −708, NaN for
/// NaN.
#[inline(always)]
pub(crate) fn exp64<const FMA: bool>(x: f64) -> f64 {
    let under = x < EXP64_MIN;
    let xc = if x < EXP64_MIN { EXP64_MIN } else { x };
    let xc = if xc > EXP64_MAX { EXP64_MAX } else { xc };
    let t = madd64::<FMA>(xc, std::f64::consts::LOG2_E, ROUNDER64);
    let n = t - ROUNDER64;
    let k = (t.to_bits() as i64).wrapping_sub(ROUNDER64.to_bits() as i64);
    let scale = f64::from_bits(((k + 1023) << 52) as u64);
    let r = madd64::<FMA>(n, -LN2_HI64, xc);
    let r = madd64::<FMA>(n, -LN2_LO64, r);
    let mut p = TAYLOR64[0];
    for &c in &TAYLOR64[1..] {
        p = madd64::<FMA>(p, r, c);
    }
    let p = madd64::<FMA>(p, r, 1.0);
    let p = madd64::<FMA>(p, r, 1.0);
    if under {
        0.0
    } else {
        p * scale
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    //! The exponentials on vectors: the operations of [`exp1`](super::exp1)
    //! and [`exp64`](super::exp64), lane by lane (the same bits as those
    //! bodies with FMA).

    use std::arch::x86_64::*;

    use super::{
        EXP64_MAX, EXP64_MIN, EXP_MAX, EXP_MIN, LN2_HI, LN2_HI64, LN2_LO, LN2_LO64, LOG2_E, Q,
        ROUNDER, ROUNDER64, TAYLOR64,
    };

    /// The reduction and polynomial of the `f32` exponential of the
    /// clamped `xc` with one instruction set's intrinsics: `(p, 2^n)`, with
    /// `exp(xc) = p·2^n`. One text for [`exp8`] and [`exp16`], so that they
    /// keep the same operations (and the operations of `exp1` with FMA).
    macro_rules! exp_core {
        ($xc:expr; $set1:ident, $set1_epi32:ident, $fmadd:ident, $fnmadd:ident, $sub:ident,
         $mul:ident, $add:ident, $to_int:ident, $to_float:ident, $sub_epi32:ident,
         $add_epi32:ident, $slli_epi32:ident) => {{
            let xc = $xc;
            let rounder = $set1(ROUNDER);
            let t = $fmadd(xc, $set1(LOG2_E), rounder);
            let n = $sub(t, rounder);
            let k = $sub_epi32($to_int(t), $set1_epi32(ROUNDER.to_bits() as i32));
            let scale = $to_float($slli_epi32::<23>($add_epi32(k, $set1_epi32(127))));
            let r = $fnmadd(n, $set1(LN2_HI), xc);
            let r = $fnmadd(n, $set1(LN2_LO), r);
            let q = $fmadd($set1(Q[4]), r, $set1(Q[3]));
            let q = $fmadd(q, r, $set1(Q[2]));
            let q = $fmadd(q, r, $set1(Q[1]));
            let q = $fmadd(q, r, $set1(Q[0]));
            let p = $fmadd(q, $mul(r, r), r);
            ($add(p, $set1(1.0)), scale)
        }};
    }

    /// Eight `f32` exponentials.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn exp8(x: __m256) -> __m256 {
        let min = _mm256_set1_ps(EXP_MIN);
        let under = _mm256_cmp_ps::<_CMP_LT_OQ>(x, min);
        // `max_ps`/`min_ps` return their second operand when one is NaN:
        // NaN stays NaN.
        let xc = _mm256_min_ps(_mm256_set1_ps(EXP_MAX), _mm256_max_ps(min, x));
        let (p, scale) = exp_core!(xc; _mm256_set1_ps, _mm256_set1_epi32, _mm256_fmadd_ps,
            _mm256_fnmadd_ps, _mm256_sub_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_castps_si256,
            _mm256_castsi256_ps, _mm256_sub_epi32, _mm256_add_epi32, _mm256_slli_epi32);
        _mm256_andnot_ps(under, _mm256_mul_ps(p, scale))
    }

    /// Sixteen `f32` exponentials: [`exp8`] on one AVX-512 register.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn exp16(x: __m512) -> __m512 {
        let min = _mm512_set1_ps(EXP_MIN);
        let keep = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, min);
        // As in `exp8`: NaN stays NaN (and is kept: not below the minimum).
        let xc = _mm512_min_ps(_mm512_set1_ps(EXP_MAX), _mm512_max_ps(min, x));
        let (p, scale) = exp_core!(xc; _mm512_set1_ps, _mm512_set1_epi32, _mm512_fmadd_ps,
            _mm512_fnmadd_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_castps_si512,
            _mm512_castsi512_ps, _mm512_sub_epi32, _mm512_add_epi32, _mm512_slli_epi32);
        // +0.0 below the minimum, as `andnot` gives in `exp8`.
        _mm512_maskz_mul_ps(keep, p, scale)
    }

    /// Four `f64` exponentials.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn exp4(x: __m256d) -> __m256d {
        let min = _mm256_set1_pd(EXP64_MIN);
        let under = _mm256_cmp_pd::<_CMP_LT_OQ>(x, min);
        // `max_pd`/`min_pd` return their second operand when one is NaN:
        // NaN stays NaN.
        let xc = _mm256_min_pd(_mm256_set1_pd(EXP64_MAX), _mm256_max_pd(min, x));
        let rounder = _mm256_set1_pd(ROUNDER64);
        let t = _mm256_fmadd_pd(xc, _mm256_set1_pd(std::f64::consts::LOG2_E), rounder);
        let n = _mm256_sub_pd(t, rounder);
        let k = _mm256_sub_epi64(
            _mm256_castpd_si256(t),
            _mm256_set1_epi64x(ROUNDER64.to_bits() as i64),
        );
        let scale = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(
            k,
            _mm256_set1_epi64x(1023),
        )));
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_HI64), xc);
        let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_LO64), r);
        let mut p = _mm256_set1_pd(TAYLOR64[0]);
        for &c in &TAYLOR64[1..] {
            p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c));
        }
        let one = _mm256_set1_pd(1.0);
        let p = _mm256_fmadd_pd(p, r, one);
        let p = _mm256_fmadd_pd(p, r, one);
        _mm256_andnot_pd(under, _mm256_mul_pd(p, scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels, Level};

    #[test]
    fn every_level_is_accurate_and_avx512_has_the_bits_of_avx2() {
        let mut xs: Vec<f32> = (0..2001).map(|i| -87.0 + i as f32 * 0.0435).collect();
        xs.extend([-87.5, -1e30, f32::NEG_INFINITY, f32::NAN, 0.0, 100.0, 88.5]);
        let mut by_level = Vec::new();
        for level in levels() {
            let mut a = xs.clone();
            at(level, || exp_in_place(&mut a));
            for (x, got) in xs.iter().zip(&a).take(2001) {
                let want = f64::from(*x).exp();
                let rel = (f64::from(*got) - want).abs() / want;
                assert!(rel < 3e-7, "{level:?}: exp({x}) = {got}, want {want}");
            }
            let edges = &a[2001..];
            assert_eq!(&edges[..3], &[0.0, 0.0, 0.0]);
            assert!(edges[3].is_nan());
            assert_eq!(edges[4], 1.0);
            assert!(edges[5].is_finite() && edges[5] > 1e38);
            by_level.push((level, a));
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let fma: Vec<_> = by_level.iter().filter(|(l, _)| *l >= Level::Avx2).collect();
        for w in fma.windows(2) {
            assert_eq!(bits(&w[0].1), bits(&w[1].1), "{:?} vs {:?}", w[0].0, w[1].0);
        }
        // The scalar body with FMA is what the vectors compute.
        if let Some((_, v)) = fma.first() {
            let mut b = xs.clone();
            exp_slice_body::<true>(&mut b);
            assert_eq!(bits(v), bits(&b));
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_exponentials_have_the_bits_of_the_fma_bodies() {
        let mut xs: Vec<f32> = (0..4096).map(|i| -90.0 + i as f32 * 0.0447).collect();
        xs.extend([
            f32::NAN,
            f32::NEG_INFINITY,
            f32::INFINITY,
            -87.0,
            88.0,
            -0.0,
        ]);
        while !xs.len().is_multiple_of(16) {
            xs.push(-1.5);
        }
        // Bits, with every NaN as one (scalar and vector NaNs may differ in
        // sign).
        let bits = |v: &[f32]| -> Vec<u32> {
            v.iter()
                .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
                .collect()
        };
        let want = bits(&xs.iter().map(|&x| exp1::<true>(x)).collect::<Vec<_>>());
        if crate::simd::detected() >= Level::Avx2 {
            let mut got = vec![0.0f32; xs.len()];
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { exp8_all(&xs, &mut got) };
            assert_eq!(bits(&got), want);
        }
        if crate::simd::detected() >= Level::Avx512 {
            let mut got = vec![0.0f32; xs.len()];
            // SAFETY: the CPU has AVX-512F (checked above).
            unsafe { exp16_all(&xs, &mut got) };
            assert_eq!(bits(&got), want);
        }
        let ys: Vec<f64> = (0..4000)
            .map(|i| -720.0 + i as f64 * 0.181)
            .chain([f64::NAN, f64::NEG_INFINITY, 0.0, -0.0])
            .collect();
        if crate::simd::detected() >= Level::Avx2 {
            let mut got = vec![0.0f64; ys.len()];
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { exp4_all(&ys, &mut got) };
            {
                for (g, &y) in got.iter().zip(&ys) {
                    let w = exp64::<true>(y);
                    assert!(
                        g.to_bits() == w.to_bits() || g.is_nan() && w.is_nan(),
                        "exp({y})"
                    );
                }
            }
        }
    }

    /// `o = exp(x)` eight at a time with [`x86::exp8`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn exp8_all(x: &[f32], o: &mut [f32]) {
        use std::arch::x86_64::*;
        for (x, o) in x.chunks_exact(8).zip(o.chunks_exact_mut(8)) {
            // SAFETY: a chunk has 8 elements.
            let v = unsafe { _mm256_loadu_ps(x.as_ptr()) };
            let e = x86::exp8(v);
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(o.as_mut_ptr(), e) };
        }
    }

    /// `o = exp(x)` sixteen at a time with [`x86::exp16`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn exp16_all(x: &[f32], o: &mut [f32]) {
        use std::arch::x86_64::*;
        for (x, o) in x.chunks_exact(16).zip(o.chunks_exact_mut(16)) {
            // SAFETY: a chunk has 16 elements.
            let v = unsafe { _mm512_loadu_ps(x.as_ptr()) };
            let e = x86::exp16(v);
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(o.as_mut_ptr(), e) };
        }
    }

    /// `o = exp(x)` four at a time with [`x86::exp4`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn exp4_all(x: &[f64], o: &mut [f64]) {
        use std::arch::x86_64::*;
        for (x, o) in x.chunks_exact(4).zip(o.chunks_exact_mut(4)) {
            // SAFETY: a chunk has 4 elements.
            let v = unsafe { _mm256_loadu_pd(x.as_ptr()) };
            let e = x86::exp4(v);
            // SAFETY: as above.
            unsafe { _mm256_storeu_pd(o.as_mut_ptr(), e) };
        }
    }
}
