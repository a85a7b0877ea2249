//! Vectorised kernels of the E-step: in `f32` add-and-max, a polynomial
//! `exp` with its row sum, selection above a threshold and the `f32` to
//! `f64` accumulation; in `f64` the exact log-densities of a few components.
//!
//! # The exponential
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
//! of `f32`, 1.2e-7) for `x ∈ [−87, 88]` with FMA, within the test's bound of 2 ulp
//! (2.4e-7); the portable variant without FMA is checked to 3e-7 (unit test).
//! Below −87 the result is `0` (the true value is below 1.7e-38, far below
//! anything a posterior probability can resolve); NaN gives NaN.
//!
//! # Dispatch
//!
//! The build target is baseline x86-64 (SSE2). Each kernel is one generic
//! `#[inline(always)]` body, written with independent accumulator lanes so
//! that LLVM vectorises it without reassociating floating point, and
//! compiled twice: as is, and inside a `#[target_feature(enable =
//! "avx2,fma")]` wrapper (8-wide, with fused multiply-adds), chosen at run
//! time by `is_x86_feature_detected!` (a cached load). Two variants need no
//! dependency; AVX-512 is not used because its target feature needs Rust
//! 1.89 (the workspace supports 1.85), and on the machines measured
//! (AMD Zen 4) it has the same floating-point width per cycle as AVX2.

/// Lanes of independent accumulators: two AVX2 vectors of `f32`.
const LANES: usize = 16;

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

/// `a·b + c`, fused when the caller is compiled with FMA.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The polynomial exponential of one value (see the module docs).
#[inline(always)]
fn exp1<const FMA: bool>(x: f32) -> f32 {
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

#[inline(always)]
fn add_max_body(row: &mut [f32], add: &[f32]) -> f32 {
    assert_eq!(row.len(), add.len());
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut rows = row.chunks_exact_mut(LANES);
    let mut adds = add.chunks_exact(LANES);
    for (r, a) in (&mut rows).zip(&mut adds) {
        for i in 0..LANES {
            let v = r[i] + a[i];
            r[i] = v;
            acc[i] = if v > acc[i] { v } else { acc[i] };
        }
    }
    for (r, a) in rows.into_remainder().iter_mut().zip(adds.remainder()) {
        let v = *r + a;
        *r = v;
        acc[0] = if v > acc[0] { v } else { acc[0] };
    }
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

#[inline(always)]
fn exp_sum_body<const FMA: bool>(row: &mut [f32], shift: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut rows = row.chunks_exact_mut(LANES);
    for r in &mut rows {
        for i in 0..LANES {
            let e = exp1::<FMA>(r[i] - shift);
            r[i] = e;
            acc[i] += e;
        }
    }
    for r in rows.into_remainder() {
        let e = exp1::<FMA>(*r - shift);
        *r = e;
        acc[0] += e;
    }
    lane_sum(acc)
}

#[inline(always)]
fn add_to_f64_body(src: &[f32], dst: &mut [f64]) {
    assert_eq!(src.len(), dst.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += f64::from(s);
    }
}

/// `row[i] = exp(row[i] − shift)`; the indices of the elements that were
/// at least `threshold` go to `out`, and the sum of the *other* new
/// elements is returned.
#[inline(always)]
fn exp_split_body<const FMA: bool>(
    row: &mut [f32],
    shift: f32,
    threshold: f32,
    out: &mut Vec<u32>,
) -> f32 {
    /// Chunks whose hit masks are kept before they are turned into indices
    /// (no call inside the vector loop, so the sums stay in registers).
    const GROUP: usize = 32;
    let mut acc = [0.0f32; LANES];
    let base = row.len() - row.len() % LANES;
    let (whole, tail) = row.split_at_mut(base);
    for (g, group) in whole.chunks_mut(GROUP * LANES).enumerate() {
        let mut masks = [0u32; GROUP];
        for (r, mask) in group.chunks_exact_mut(LANES).zip(&mut masks) {
            let mut bits = 0u32;
            for i in 0..LANES {
                let v = r[i];
                let hit = v >= threshold;
                let e = exp1::<FMA>(v - shift);
                r[i] = e;
                acc[i] += if hit { 0.0 } else { e };
                bits |= u32::from(hit) << i;
            }
            *mask = bits;
        }
        for (c, &mask) in masks.iter().enumerate() {
            let mut bits = mask;
            while bits != 0 {
                out.push(((g * GROUP + c) * LANES) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }
    for (i, r) in tail.iter_mut().enumerate() {
        let v = *r;
        *r = exp1::<FMA>(v - shift);
        if v >= threshold {
            out.push((base + i) as u32);
        } else {
            acc[0] += *r;
        }
    }
    lane_sum(acc)
}

/// The number of elements of `row` that are at least `threshold`.
#[inline(always)]
fn count_ge_body(row: &[f32], threshold: f32) -> usize {
    let mut acc = [0u32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for i in 0..LANES {
            acc[i] += u32::from(chunk[i] >= threshold);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .filter(|&&v| v >= threshold)
        .count();
    acc.iter().map(|&c| c as usize).sum::<usize>() + tail
}

/// Appends to `out` the indices of the elements of `row` that are at
/// least `threshold`, in increasing order.
#[inline(always)]
fn collect_ge_body(row: &[f32], threshold: f32, out: &mut Vec<u32>) {
    let base = row.len() - row.len() % LANES;
    for (c, chunk) in row[..base].chunks_exact(LANES).enumerate() {
        let mut bits = 0u32;
        for (i, &v) in chunk.iter().enumerate() {
            bits |= u32::from(v >= threshold) << i;
        }
        while bits != 0 {
            out.push((c * LANES) as u32 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    for (i, &v) in row[base..].iter().enumerate() {
        if v >= threshold {
            out.push((base + i) as u32);
        }
    }
}

/// The sum of the lanes, pairwise.
#[inline(always)]
fn lane_sum(mut acc: [f32; LANES]) -> f32 {
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            acc[i] += acc[i + n];
        }
    }
    acc[0]
}

/// For each of the `b` frames of `x` (`b×D` row-major): `y = x − offset`,
/// and the frame's row of `a` (`b×2D`) is `[y², y]`.
#[inline(always)]
fn centre_body(x: &[f32], offset: &[f32], a: &mut [f32]) {
    let d = offset.len();
    for (xr, ar) in x.chunks_exact(d).zip(a.chunks_exact_mut(2 * d)) {
        let (sq, lin) = ar.split_at_mut(d);
        for (((&xv, &c), s), l) in xr.iter().zip(offset).zip(sq).zip(lin) {
            let y = xv - c;
            *s = y * y;
            *l = y;
        }
    }
}

/// For each of the `b` frames: the frame's row of `a2` (`b×(2D+1)`) is its
/// row of `a` (`b×2D`) times `inv[t]`, then `inv[t]`.
#[inline(always)]
fn scale_body(a: &[f32], inv: &[f32], a2: &mut [f32]) {
    let w = a2.len() / inv.len().max(1);
    for ((ar, a2r), &s) in a.chunks_exact(w - 1).zip(a2.chunks_exact_mut(w)).zip(inv) {
        let (head, last) = a2r.split_at_mut(w - 1);
        for (o, &v) in head.iter_mut().zip(ar) {
            *o = v * s;
        }
        last[0] = s;
    }
}

#[inline(always)]
fn widen_body(src: &[f32], dst: &mut [f64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f64::from(s);
    }
}

/// `Σ_d p_d·(x_d − μ_d)²` in `f64`, with eight independent lanes.
#[inline(always)]
fn weighted_sq_dist_body<const FMA: bool>(x: &[f64], mu: &[f64], p: &[f64]) -> f64 {
    const L: usize = 8;
    assert!(mu.len() == x.len() && p.len() == x.len());
    let mut acc = [0.0f64; L];
    let (xs, mus, ps) = (x.chunks_exact(L), mu.chunks_exact(L), p.chunks_exact(L));
    let tail = xs
        .remainder()
        .iter()
        .zip(mus.remainder())
        .zip(ps.remainder());
    let mut rest = 0.0;
    for ((&x, &mu), &p) in tail {
        let t = x - mu;
        rest += p * t * t;
    }
    for ((x, mu), p) in xs.zip(mus).zip(ps) {
        for i in 0..L {
            let t = x[i] - mu[i];
            let pt = p[i] * t;
            acc[i] = if FMA {
                pt.mul_add(t, acc[i])
            } else {
                pt * t + acc[i]
            };
        }
    }
    let mut k = L;
    while k > 1 {
        k /= 2;
        for i in 0..k {
            acc[i] += acc[i + k];
        }
    }
    acc[0] + rest
}

/// `out[i] = Σ_d p_d·(x[r_i]_d − μ_d)²` for the rows `r_i = rows[i]` of
/// `x` (row-major, width `mu.len()`): one component against many frames,
/// with the same operations as [`refine_body`] (so the same bits).
#[inline(always)]
fn sq_dists_body<const FMA: bool>(x: &[f64], rows: &[u32], mu: &[f64], p: &[f64], out: &mut [f64]) {
    let d = mu.len();
    for (o, &r) in out.iter_mut().zip(rows) {
        let r = r as usize;
        *o = weighted_sq_dist_body::<FMA>(&x[r * d..(r + 1) * d], mu, p);
    }
}

/// `acc += g·[x², x, 1]` (`acc` is `2D + 1` long), fused with FMA (which
/// changes the last bit, never the result's determinism on one machine).
#[inline(always)]
fn moments_body<const FMA: bool>(acc: &mut [f64], g: f64, x: &[f64]) {
    let d = x.len();
    assert_eq!(acc.len(), 2 * d + 1);
    let (sq, rest) = acc.split_at_mut(d);
    let (lin, one) = rest.split_at_mut(d);
    let f = |a: f64, z: f64| if FMA { g.mul_add(z, a) } else { g * z + a };
    for (a, &v) in sq.iter_mut().zip(x) {
        *a = f(*a, v * v);
    }
    for (a, &v) in lin.iter_mut().zip(x) {
        *a = f(*a, v);
    }
    one[0] = f(one[0], 1.0);
}

#[inline(always)]
fn refine_body<const FMA: bool>(
    x: &[f64],
    components: &[u32],
    means: &[f64],
    precisions: &[f64],
    log_norm: &[f64],
    out: &mut [f64],
) {
    let d = x.len();
    for (o, &m) in out.iter_mut().zip(components) {
        let m = m as usize;
        let range = m * d..(m + 1) * d;
        let q = weighted_sq_dist_body::<FMA>(x, &means[range.clone()], &precisions[range]);
        *o = log_norm[m] - 0.5 * q;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The same bodies compiled for AVX2 with FMA, and `exp_split` written
    //! with intrinsics.

    use std::arch::x86_64::*;

    use super::{EXP_MAX, EXP_MIN, LN2_HI, LN2_LO, LOG2_E, Q, ROUNDER};

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_slice(xs: &mut [f32]) {
        super::exp_slice_body::<true>(xs)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add_max(row: &mut [f32], add: &[f32]) -> f32 {
        super::add_max_body(row, add)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_sum(row: &mut [f32], shift: f32) -> f32 {
        super::exp_sum_body::<true>(row, shift)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add_to_f64(src: &[f32], dst: &mut [f64]) {
        super::add_to_f64_body(src, dst)
    }

    /// Eight `exp`s: the operations of `exp1` as AVX2 intrinsics.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp8(x: __m256) -> __m256 {
        let min = _mm256_set1_ps(EXP_MIN);
        let under = _mm256_cmp_ps::<_CMP_LT_OQ>(x, min);
        // `max_ps`/`min_ps` return their second operand when one is NaN:
        // NaN stays NaN.
        let xc = _mm256_min_ps(_mm256_set1_ps(EXP_MAX), _mm256_max_ps(min, x));
        let rounder = _mm256_set1_ps(ROUNDER);
        let t = _mm256_fmadd_ps(xc, _mm256_set1_ps(LOG2_E), rounder);
        let n = _mm256_sub_ps(t, rounder);
        let k = _mm256_sub_epi32(
            _mm256_castps_si256(t),
            _mm256_set1_epi32(ROUNDER.to_bits() as i32),
        );
        let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            k,
            _mm256_set1_epi32(127),
        )));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let q = _mm256_fmadd_ps(_mm256_set1_ps(Q[4]), r, _mm256_set1_ps(Q[3]));
        let q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q[2]));
        let q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q[1]));
        let q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(Q[0]));
        let p = _mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r);
        let p = _mm256_add_ps(p, _mm256_set1_ps(1.0));
        _mm256_andnot_ps(under, _mm256_mul_ps(p, scale))
    }

    /// `exp_split_body` with explicit vectors: one `movemask` per eight
    /// elements finds the rare components at or above the threshold.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_split(
        row: &mut [f32],
        shift: f32,
        threshold: f32,
        out: &mut Vec<u32>,
    ) -> f32 {
        let n = row.len();
        let whole = n - n % 16;
        let ptr = row.as_mut_ptr();
        let (vshift, vthr) = (_mm256_set1_ps(shift), _mm256_set1_ps(threshold));
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i < whole {
            let v0 = _mm256_loadu_ps(ptr.add(i));
            let v1 = _mm256_loadu_ps(ptr.add(i + 8));
            let h0 = _mm256_cmp_ps::<_CMP_GE_OQ>(v0, vthr);
            let h1 = _mm256_cmp_ps::<_CMP_GE_OQ>(v1, vthr);
            let e0 = exp8(_mm256_sub_ps(v0, vshift));
            let e1 = exp8(_mm256_sub_ps(v1, vshift));
            _mm256_storeu_ps(ptr.add(i), e0);
            _mm256_storeu_ps(ptr.add(i + 8), e1);
            acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(h0, e0));
            acc1 = _mm256_add_ps(acc1, _mm256_andnot_ps(h1, e1));
            let mask = (_mm256_movemask_ps(h0) | (_mm256_movemask_ps(h1) << 8)) as u32;
            if mask != 0 {
                push_bits(out, i as u32, mask);
            }
            i += 16;
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(acc0, acc1));
        let mut sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
            + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for (j, r) in row.iter_mut().enumerate().skip(whole) {
            let v = *r;
            let e = super::exp1::<true>(v - shift);
            *r = e;
            if v >= threshold {
                out.push(j as u32);
            } else {
                sum += e;
            }
        }
        sum
    }

    /// `count_ge_body` with `movemask` and `popcnt` per sixteen elements.
    #[target_feature(enable = "avx2,fma,popcnt")]
    pub(super) unsafe fn count_ge(row: &[f32], threshold: f32) -> usize {
        let n = row.len();
        let whole = n - n % 16;
        let ptr = row.as_ptr();
        let vthr = _mm256_set1_ps(threshold);
        let mut count = 0u32;
        let mut i = 0;
        while i < whole {
            let h0 = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_loadu_ps(ptr.add(i)), vthr);
            let h1 = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_loadu_ps(ptr.add(i + 8)), vthr);
            let mask = (_mm256_movemask_ps(h0) | (_mm256_movemask_ps(h1) << 8)) as u32;
            count += mask.count_ones();
            i += 16;
        }
        count as usize + row[whole..].iter().filter(|&&v| v >= threshold).count()
    }

    /// `collect_ge_body` with one `movemask` per eight elements, writing
    /// into reserved room.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn collect_ge(row: &[f32], threshold: f32, out: &mut Vec<u32>) {
        let n = row.len();
        let whole = n - n % 16;
        let ptr = row.as_ptr();
        let vthr = _mm256_set1_ps(threshold);
        out.reserve(n);
        let mut len = out.len();
        let dst = out.as_mut_ptr();
        let mut i = 0;
        while i < whole {
            let h0 = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_loadu_ps(ptr.add(i)), vthr);
            let h1 = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_loadu_ps(ptr.add(i + 8)), vthr);
            let mut mask = (_mm256_movemask_ps(h0) | (_mm256_movemask_ps(h1) << 8)) as u32;
            while mask != 0 {
                // SAFETY: at most `n` indices are written after the `len`
                // already there, and `n` more were reserved.
                dst.add(len).write(i as u32 + mask.trailing_zeros());
                len += 1;
                mask &= mask - 1;
            }
            i += 16;
        }
        // SAFETY: the first `len` elements are initialised.
        out.set_len(len);
        for (j, &v) in row.iter().enumerate().skip(whole) {
            if v >= threshold {
                out.push(j as u32);
            }
        }
    }

    /// Appends `base + b` for every set bit `b` of `mask`.
    #[cold]
    #[inline(never)]
    fn push_bits(out: &mut Vec<u32>, base: u32, mut mask: u32) {
        while mask != 0 {
            out.push(base + mask.trailing_zeros());
            mask &= mask - 1;
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn centre(x: &[f32], offset: &[f32], a: &mut [f32]) {
        super::centre_body(x, offset, a)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn scale(a: &[f32], inv: &[f32], a2: &mut [f32]) {
        super::scale_body(a, inv, a2)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn widen(src: &[f32], dst: &mut [f64]) {
        super::widen_body(src, dst)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sq_dists(x: &[f64], rows: &[u32], mu: &[f64], p: &[f64], out: &mut [f64]) {
        super::sq_dists_body::<true>(x, rows, mu, p, out)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn moments(acc: &mut [f64], g: f64, x: &[f64]) {
        super::moments_body::<true>(acc, g, x)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn refine(
        x: &[f64],
        components: &[u32],
        means: &[f64],
        precisions: &[f64],
        log_norm: &[f64],
        out: &mut [f64],
    ) {
        super::refine_body::<true>(x, components, means, precisions, log_norm, out)
    }
}

/// Whether the AVX2 + FMA variants can run here (every CPU with AVX2 also
/// has `popcnt`, which `count_ge` uses; it is checked all the same).
#[inline]
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

macro_rules! dispatch {
    ($name:ident($($arg:expr),*), $portable:expr) => {{
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: the CPU has AVX2, FMA and popcnt (checked just above).
            return unsafe { avx2::$name($($arg),*) };
        }
        $portable
    }};
}

/// `exp` of every element, in place (see the module docs for accuracy).
pub fn exp_in_place(xs: &mut [f32]) {
    dispatch!(exp_slice(xs), exp_slice_body::<false>(xs))
}

/// `row[i] += add[i]`; returns the maximum of the new row (`-∞` for an
/// empty row; NaNs are skipped).
///
/// # Panics
///
/// If the slices differ in length.
pub(crate) fn add_max(row: &mut [f32], add: &[f32]) -> f32 {
    dispatch!(add_max(row, add), add_max_body(row, add))
}

/// `row[i] = exp(row[i] − shift)`; returns the sum of the new row.
pub(crate) fn exp_sum(row: &mut [f32], shift: f32) -> f32 {
    dispatch!(exp_sum(row, shift), exp_sum_body::<false>(row, shift))
}

/// `dst[i] += src[i]` in `f64`.
///
/// # Panics
///
/// If the slices differ in length.
pub(crate) fn add_to_f64(src: &[f32], dst: &mut [f64]) {
    dispatch!(add_to_f64(src, dst), add_to_f64_body(src, dst))
}

/// `row[i] = exp(row[i] − shift)`; appends to `out` the indices (in
/// increasing order) of the elements that were at least `threshold`, and
/// returns the sum of the other new elements.
pub(crate) fn exp_split(row: &mut [f32], shift: f32, threshold: f32, out: &mut Vec<u32>) -> f32 {
    dispatch!(
        exp_split(row, shift, threshold, out),
        exp_split_body::<false>(row, shift, threshold, out)
    )
}

/// The number of elements of `row` that are at least `threshold`.
pub(crate) fn count_ge(row: &[f32], threshold: f32) -> usize {
    dispatch!(count_ge(row, threshold), count_ge_body(row, threshold))
}

/// Appends to `out` the indices (in increasing order) of the elements of
/// `row` that are at least `threshold` (NaNs never are).
pub(crate) fn collect_ge(row: &[f32], threshold: f32, out: &mut Vec<u32>) {
    dispatch!(
        collect_ge(row, threshold, out),
        collect_ge_body(row, threshold, out)
    )
}

/// `a` (`b×2D`) gets `[y², y]` with `y = x − offset` for each of the `b`
/// frames of `x` (`b×D`, row-major).
pub(crate) fn centre(x: &[f32], offset: &[f32], a: &mut [f32]) {
    dispatch!(centre(x, offset, a), centre_body(x, offset, a))
}

/// `a2` (`b×(2D+1)`) gets each row of `a` (`b×2D`) times `inv[t]`, then
/// `inv[t]`.
pub(crate) fn scale(a: &[f32], inv: &[f32], a2: &mut [f32]) {
    dispatch!(scale(a, inv, a2), scale_body(a, inv, a2))
}

/// `dst[i] = src[i]` in `f64`.
pub(crate) fn widen(src: &[f32], dst: &mut [f64]) {
    dispatch!(widen(src, dst), widen_body(src, dst))
}

/// The exact log-densities of frame `x` under the listed components:
/// `out[i] = log_norm[m] − ½·Σ_d precisions[m,d]·(x_d − means[m,d])²` for
/// `m = components[i]`, in `f64` (`means` and `precisions` are `M×D`
/// row-major).
pub(crate) fn refine(
    x: &[f64],
    components: &[u32],
    means: &[f64],
    precisions: &[f64],
    log_norm: &[f64],
    out: &mut [f64],
) {
    dispatch!(
        refine(x, components, means, precisions, log_norm, out),
        refine_body::<false>(x, components, means, precisions, log_norm, out)
    )
}

/// `out[i] = Σ_d p_d·(x[r]_d − μ_d)²` for each row `r = rows[i]` of `x`
/// (row-major, `D = mu.len()` wide): one component against many frames, in
/// `f64`, with the bits of [`refine`] for that component.
///
/// # Panics
///
/// If a row is out of `x`, or `mu` and `p` differ in length.
pub(crate) fn sq_dists(x: &[f64], rows: &[u32], mu: &[f64], p: &[f64], out: &mut [f64]) {
    dispatch!(
        sq_dists(x, rows, mu, p, out),
        sq_dists_body::<false>(x, rows, mu, p, out)
    )
}

/// `acc += g·[x², x, 1]` in `f64` (`acc` is `2D + 1` long; the pruned
/// E-step's statistics), fused with FMA where the CPU has it.
///
/// # Panics
///
/// If `acc` is not `2·x.len() + 1` long.
pub(crate) fn moments(acc: &mut [f64], g: f64, x: &[f64]) {
    dispatch!(moments(acc, g, x), moments_body::<false>(acc, g, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_and_dispatched_agree_closely() {
        let xs: Vec<f32> = (0..2000).map(|i| -87.0 + i as f32 * 0.0435).collect();
        let mut a = xs.clone();
        let mut b = xs.clone();
        exp_in_place(&mut a);
        exp_slice_body::<false>(&mut b);
        for ((x, a), b) in xs.iter().zip(&a).zip(&b) {
            let want = f64::from(*x).exp();
            for got in [a, b] {
                let rel = (f64::from(*got) - want).abs() / want;
                assert!(rel < 3e-7, "exp({x}) = {got}, want {want}");
            }
        }
    }

    #[test]
    fn edges() {
        let mut v = [-87.5f32, -1e30, f32::NEG_INFINITY, f32::NAN, 0.0, 100.0];
        exp_in_place(&mut v);
        assert_eq!(&v[..3], &[0.0, 0.0, 0.0]);
        assert!(v[3].is_nan());
        assert_eq!(v[4], 1.0);
        assert!(v[5].is_finite() && v[5] > 1e38);
    }

    #[test]
    fn row_kernels() {
        let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).sin()).collect();
        let add: Vec<f32> = (0..37).map(|i| i as f32 * 0.01).collect();
        let want: Vec<f32> = row.iter().zip(&add).map(|(r, a)| r + a).collect();
        let max = add_max(&mut row, &add);
        assert_eq!(row, want);
        assert_eq!(max, want.iter().cloned().fold(f32::MIN, f32::max));
        let sum = exp_sum(&mut row, max);
        let want_sum: f64 = want.iter().map(|&v| f64::from(v - max).exp()).sum();
        assert!((f64::from(sum) - want_sum).abs() < 1e-6 * want_sum);
        let before = row.clone();
        let mut hits = Vec::new();
        let rest = exp_split(&mut row, 0.1, 0.5, &mut hits);
        let want: Vec<u32> = (0..37u32).filter(|&i| before[i as usize] >= 0.5).collect();
        assert_eq!(hits, want);
        let want_rest: f64 = before
            .iter()
            .filter(|&&v| v < 0.5)
            .map(|&v| f64::from(v - 0.1).exp())
            .sum();
        assert!((f64::from(rest) - want_rest).abs() < 1e-6 * want_rest);
        // The portable body finds the same components.
        let mut again = before.clone();
        let mut portable_hits = Vec::new();
        let portable_rest = exp_split_body::<false>(&mut again, 0.1, 0.5, &mut portable_hits);
        assert_eq!(portable_hits, hits);
        assert!((portable_rest - rest).abs() < 1e-6 * rest);
        for (a, b) in again.iter().zip(&row) {
            assert!((a - b).abs() <= 3e-7 * b.abs());
        }
        // NaN stays NaN in the vector loop and the tail, and is no hit.
        let mut nan = vec![0.0f32; 21];
        nan[3] = f32::NAN;
        nan[20] = f32::NAN;
        let mut nan_hits = Vec::new();
        let nan_rest = exp_split(&mut nan, 0.0, 0.5, &mut nan_hits);
        assert!(nan[3].is_nan() && nan[20].is_nan() && nan_rest.is_nan());
        assert!(nan_hits.is_empty());
        let mut acc = vec![1.0f64; 37];
        add_to_f64(&row, &mut acc);
        assert_eq!(acc[5], 1.0 + f64::from(row[5]));
    }
}
