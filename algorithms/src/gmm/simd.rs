//! Vectorised kernels of the E-step: in `f32` add-and-max, a polynomial
//! `exp` with its row sum, selection above a threshold and the `f32` to
//! `f64` accumulation; in `f64` the exact log-densities of a few components,
//! and the pruned E-step's kernels (log-densities of a frame's selected
//! components in the expanded form, a polynomial `f64` exponential with
//! the row's maximum and sum, and one component's statistics).
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
/// polynomial: within about 2 ulp of `f64::exp` (`exp64_accuracy` below);
/// `0` below [`EXP64_MIN`], NaN for NaN.
#[inline(always)]
fn exp64<const FMA: bool>(x: f64) -> f64 {
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

/// `row[i] = exp(row[i] − max)` with `max` the row's largest number
/// (NaNs skipped; `−∞` for none); returns `(max, Σ row[i])`, the sum in
/// four lanes (lane `i mod 4`) added pairwise.
#[inline(always)]
fn exp_max_sum_body<const FMA: bool>(row: &mut [f64]) -> (f64, f64) {
    const L: usize = 4;
    let mut mx = [f64::NEG_INFINITY; L];
    let mut chunks = row.chunks_exact(L);
    for c in &mut chunks {
        for i in 0..L {
            mx[i] = if c[i] > mx[i] { c[i] } else { mx[i] };
        }
    }
    for &v in chunks.remainder() {
        mx[0] = if v > mx[0] { v } else { mx[0] };
    }
    let max = mx
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let mut acc = [0.0f64; L];
    let mut chunks = row.chunks_exact_mut(L);
    for c in &mut chunks {
        for i in 0..L {
            let e = exp64::<FMA>(c[i] - max);
            c[i] = e;
            acc[i] += e;
        }
    }
    for v in chunks.into_remainder() {
        let e = exp64::<FMA>(*v - max);
        *v = e;
        acc[0] += e;
    }
    (max, (acc[0] + acc[2]) + (acc[1] + acc[3]))
}

/// For one frame `x` (`D`, `f64`): `u = [y, y²]` (`2D`) with
/// `y = x − offset`.
#[inline(always)]
fn expand_body(x: &[f64], offset: &[f64], u: &mut [f64]) {
    let d = x.len();
    assert!(offset.len() == d && u.len() == 2 * d);
    let (uy, usq) = u.split_at_mut(d);
    for (((&v, &c), a), b) in x.iter().zip(offset).zip(uy).zip(usq) {
        let y = v - c;
        *a = y;
        *b = y * y;
    }
}

/// `a·b + c` in `f64`, fused when the caller is compiled with FMA.
#[inline(always)]
fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `out[i] = konst[c] + Σ_l u_l·coef[c·L + l]` for `c = comps[i]`,
/// `L = u.len()` (a multiple of 4): each component's products are summed
/// in four lanes (lane `l mod 4`), in order, then
/// `(lane0 + lane1) + (lane2 + lane3)`: the operations of the AVX2
/// variant, so with FMA the same bits.
#[inline(always)]
fn dots_body<const FMA: bool>(
    u: &[f64],
    coef: &[f64],
    konst: &[f64],
    comps: &[u32],
    out: &mut [f64],
) {
    let l = u.len();
    assert!(l % 4 == 0 && out.len() >= comps.len());
    for (o, &c) in out.iter_mut().zip(comps) {
        let c = c as usize;
        let v = &coef[c * l..(c + 1) * l];
        let mut acc = [0.0f64; 4];
        for (uc, vc) in u.chunks_exact(4).zip(v.chunks_exact(4)) {
            for i in 0..4 {
                acc[i] = madd64::<FMA>(uc[i], vc[i], acc[i]);
            }
        }
        *o = konst[c] + ((acc[0] + acc[1]) + (acc[2] + acc[3]));
    }
}

/// `acc += g·[x², x, 1]` for each entry `(t, g)` of `entries`, in order,
/// with `x` frame `t` of `x` (row-major, `D` wide; `acc` is `2D + 1`
/// long): each element of `acc` gets `g·x_d²` (or `g·x_d`, `g`) added with
/// one (fused with FMA) multiply-add per entry, in the entries' order, as
/// the AVX2 variant does, so with FMA the same bits.
#[inline(always)]
fn moments_body<const FMA: bool>(acc: &mut [f64], entries: &[(u32, f64)], x: &[f64]) {
    let d = (acc.len() - 1) / 2;
    assert_eq!(acc.len(), 2 * d + 1);
    let (sq, rest) = acc.split_at_mut(d);
    let (lin, one) = rest.split_at_mut(d);
    for &(t, g) in entries {
        let xr = &x[t as usize * d..(t as usize + 1) * d];
        for (a, &v) in sq.iter_mut().zip(xr) {
            *a = madd64::<FMA>(g, v * v, *a);
        }
        for (a, &v) in lin.iter_mut().zip(xr) {
            *a = madd64::<FMA>(g, v, *a);
        }
        one[0] = madd64::<FMA>(g, 1.0, one[0]);
    }
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

    use super::{
        EXP64_MAX, EXP64_MIN, EXP_MAX, EXP_MIN, LN2_HI, LN2_HI64, LN2_LO, LN2_LO64, LOG2_E, Q,
        ROUNDER, ROUNDER64, TAYLOR64,
    };

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

    /// `dots_body` with explicit vectors: eight components at a time, one
    /// accumulator each (eight independent chains of fused multiply-adds,
    /// `u` loaded once per four elements for all eight), then the same
    /// lane sums. A short last group repeats its last component.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dots(
        u: &[f64],
        coef: &[f64],
        konst: &[f64],
        comps: &[u32],
        out: &mut [f64],
    ) {
        let l = u.len();
        assert!(l % 4 == 0 && out.len() >= comps.len());
        for &c in comps {
            assert!(
                (c as usize) < konst.len() && (c as usize + 1) * l <= coef.len(),
                "component {c} out of range"
            );
        }
        let n = comps.len();
        let up = u.as_ptr();
        let mut i = 0;
        while i < n {
            let mut idx = [0usize; 8];
            for (j, c) in idx.iter_mut().enumerate() {
                *c = comps[(i + j).min(n - 1)] as usize;
            }
            // SAFETY: every component's row `c·l..(c + 1)·l` is inside
            // `coef` (checked above).
            let p = idx.map(|c| coef.as_ptr().add(c * l));
            let mut a = [_mm256_setzero_pd(); 8];
            let mut q = 0;
            while q < l {
                let uq = _mm256_loadu_pd(up.add(q));
                for j in 0..8 {
                    a[j] = _mm256_fmadd_pd(uq, _mm256_loadu_pd(p[j].add(q)), a[j]);
                }
                q += 4;
            }
            let k = |j: usize| konst[idx[j]];
            let s0 = _mm256_add_pd(
                _mm256_set_pd(k(3), k(2), k(1), k(0)),
                sum4(a[0], a[1], a[2], a[3]),
            );
            let s1 = _mm256_add_pd(
                _mm256_set_pd(k(7), k(6), k(5), k(4)),
                sum4(a[4], a[5], a[6], a[7]),
            );
            if i + 8 <= n {
                // SAFETY: `out` has at least `n ≥ i + 8` elements.
                _mm256_storeu_pd(out.as_mut_ptr().add(i), s0);
                _mm256_storeu_pd(out.as_mut_ptr().add(i + 4), s1);
            } else {
                // The first `n − i` lanes (masked stores: a copy of a
                // variable length would be a call to `memcpy`).
                let rem = _mm256_set1_epi64x((n - i) as i64);
                let m0 = _mm256_cmpgt_epi64(rem, _mm256_setr_epi64x(0, 1, 2, 3));
                let m1 = _mm256_cmpgt_epi64(rem, _mm256_setr_epi64x(4, 5, 6, 7));
                // SAFETY: only lanes below `n − i` are written.
                _mm256_maskstore_pd(out.as_mut_ptr().add(i), m0, s0);
                _mm256_maskstore_pd(out.as_mut_ptr().add(i + 4), m1, s1);
            }
            i += 8;
        }
    }

    /// For each 8-bit mask, the lanes of its set bits in increasing order
    /// (then zeros): the permutation that left-packs them.
    static PACK: [[u32; 8]; 256] = pack_table();

    const fn pack_table() -> [[u32; 8]; 256] {
        let mut table = [[0u32; 8]; 256];
        let mut mask = 0;
        while mask < 256 {
            let (mut k, mut lane) = (0, 0);
            while lane < 8 {
                if mask & (1 << lane) != 0 {
                    table[mask][k] = lane as u32;
                    k += 1;
                }
                lane += 1;
            }
            mask += 1;
        }
        table
    }

    /// Writes the values of `vals[..n]` that are at least `thr` (NaNs never
    /// are), left-packed in order, to `out_v`, and their indices (`idx[i]`,
    /// or `i` where `idx` is null) to `out_i`; returns how many. Whole
    /// vectors are stored: the outputs need 8 elements of room past the
    /// count. They may be `vals` and `idx` themselves (each store is at or
    /// before the block just read).
    ///
    /// # Safety
    ///
    /// `vals` (and `idx` unless null) readable for `n` elements; `out_v`,
    /// `out_i` writable for the count plus 8.
    #[inline]
    #[target_feature(enable = "avx2,fma,popcnt")]
    unsafe fn pack_ge(
        vals: *const f32,
        idx: *const u32,
        n: usize,
        thr: f32,
        out_v: *mut f32,
        out_i: *mut u32,
    ) -> usize {
        let vthr = _mm256_set1_ps(thr);
        let mut lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let (mut k, mut i) = (0, 0);
        while i + 8 <= n {
            let v = _mm256_loadu_ps(vals.add(i));
            let ix = if idx.is_null() {
                lanes
            } else {
                _mm256_loadu_si256(idx.add(i) as *const __m256i)
            };
            let mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, vthr)) as usize;
            let perm = _mm256_loadu_si256(PACK[mask].as_ptr() as *const __m256i);
            _mm256_storeu_ps(out_v.add(k), _mm256_permutevar8x32_ps(v, perm));
            _mm256_storeu_si256(
                out_i.add(k) as *mut __m256i,
                _mm256_permutevar8x32_epi32(ix, perm),
            );
            k += mask.count_ones() as usize;
            lanes = _mm256_add_epi32(lanes, _mm256_set1_epi32(8));
            i += 8;
        }
        while i < n {
            let v = *vals.add(i);
            if v >= thr {
                *out_v.add(k) = v;
                *out_i.add(k) = if idx.is_null() { i as u32 } else { *idx.add(i) };
                k += 1;
            }
            i += 1;
        }
        k
    }

    /// Writes to `out` (in order) the indices `idx[j]` of the candidates
    /// `j < c` whose rank is below `out.len()`, the rank of `j` being the
    /// number of candidates before it in the order (value descending,
    /// position ascending): `#{i: v_i > v_j} + #{i < j: v_i = v_j}`. Ranks
    /// are distinct (NaN-free values), so exactly `out.len()` are kept if
    /// `c ≥ out.len()`; returns how many were (`usize::MAX` if more than
    /// `out.len()`).
    ///
    /// # Safety
    ///
    /// `vals` and `idx` readable for `c` rounded up to a multiple of 8.
    #[target_feature(enable = "avx2,fma,popcnt")]
    unsafe fn keep_top(vals: *const f32, idx: *const u32, c: usize, out: &mut [u32]) -> usize {
        let n = out.len();
        let (vn, vc) = (_mm256_set1_epi32(n as i32), _mm256_set1_epi32(c as i32));
        let mut k = 0;
        let mut jb = 0;
        while jb < c {
            let vj = _mm256_loadu_ps(vals.add(jb));
            let jl = _mm256_add_epi32(
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                _mm256_set1_epi32(jb as i32),
            );
            // `rank −= mask` counts the candidates ranked above each lane.
            let mut rank = _mm256_setzero_si256();
            for i in 0..jb {
                let m = _mm256_cmp_ps::<_CMP_GE_OQ>(_mm256_broadcast_ss(&*vals.add(i)), vj);
                rank = _mm256_sub_epi32(rank, _mm256_castps_si256(m));
            }
            for i in jb..(jb + 8).min(c) {
                let vi = _mm256_broadcast_ss(&*vals.add(i));
                let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(vi, vj);
                let eq = _mm256_cmp_ps::<_CMP_EQ_OQ>(vi, vj);
                let after =
                    _mm256_castsi256_ps(_mm256_cmpgt_epi32(jl, _mm256_set1_epi32(i as i32)));
                let m = _mm256_or_ps(gt, _mm256_and_ps(eq, after));
                rank = _mm256_sub_epi32(rank, _mm256_castps_si256(m));
            }
            for i in (jb + 8).min(c)..c {
                let m = _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_broadcast_ss(&*vals.add(i)), vj);
                rank = _mm256_sub_epi32(rank, _mm256_castps_si256(m));
            }
            let keep = _mm256_and_si256(_mm256_cmpgt_epi32(vn, rank), _mm256_cmpgt_epi32(vc, jl));
            let mask = _mm256_movemask_ps(_mm256_castsi256_ps(keep)) as usize;
            let cnt = mask.count_ones() as usize;
            if k + cnt > n {
                return usize::MAX;
            }
            let perm = _mm256_loadu_si256(PACK[mask].as_ptr() as *const __m256i);
            let ix = _mm256_loadu_si256(idx.add(jb) as *const __m256i);
            let first = _mm256_cmpgt_epi32(
                _mm256_set1_epi32(cnt as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            );
            // SAFETY: only the first `cnt` lanes are written, and
            // `k + cnt ≤ n` (checked above).
            _mm256_maskstore_epi32(
                out.as_mut_ptr().add(k) as *mut i32,
                first,
                _mm256_permutevar8x32_epi32(ix, perm),
            );
            k += cnt;
            jb += 8;
        }
        k
    }

    /// The `out.len()` largest values of `row` (ties to the lower index,
    /// NaNs never), their indices in increasing order into `out`; `max` is
    /// the row's maximum and `width` the first guess of the distance from
    /// it to the `n`-th largest, updated for the next row. Returns false,
    /// with `out` unspecified, where it does not apply: a maximum that is
    /// not finite, `n` not in `1..m`, or fewer than `n` numbers found.
    ///
    /// Candidates at least `max − w` are left-packed in one vectorised pass
    /// (`w` widened until there are `n`), narrowed by bisection on the
    /// packed values to at most `n + 8` (or as far as the values allow),
    /// then ranked against each other (vector compares, `c²/8`) and the
    /// first `n` kept.
    #[target_feature(enable = "avx2,fma,popcnt")]
    pub(super) unsafe fn top_n(
        row: &[f32],
        max: f32,
        width: &mut f64,
        cv: &mut Vec<f32>,
        ci: &mut Vec<u32>,
        out: &mut [u32],
    ) -> bool {
        let (m, n) = (row.len(), out.len());
        if !max.is_finite() || n == 0 || n >= m {
            return false;
        }
        // Room for every element plus a whole vector, and whole-vector
        // reads past the count (initialised).
        if cv.len() < m + 8 {
            cv.resize(m + 8, 0.0);
            ci.resize(m + 8, 0);
        }
        let (pv, pi) = (cv.as_mut_ptr(), ci.as_mut_ptr());
        let mut w = if width.is_finite() && *width > 0.0 {
            *width as f32
        } else {
            16.0
        };
        let mut tries = 0;
        let (mut c, mut lo) = loop {
            let thr = max - w;
            if !thr.is_finite() || tries == 8 {
                return false;
            }
            // SAFETY: `row` has `m` elements; `cv`, `ci` have `m + 8`.
            let c = pack_ge(row.as_ptr(), std::ptr::null(), m, thr, pv, pi);
            if c >= n {
                break (c, thr);
            }
            w *= 4.0;
            tries += 1;
        };
        let target = n + 8;
        if c > target {
            let (mut hi, mut c_lo) = (max, c);
            for _ in 0..12 {
                let mid = 0.5 * (lo + hi);
                if !(mid > lo && mid < hi) {
                    break;
                }
                // SAFETY: the first `c` of `cv` are the candidates (the
                // slice ends before `pack_ge` writes there again).
                let cm = count_ge(std::slice::from_raw_parts(pv, c), mid);
                if cm >= n {
                    lo = mid;
                    c_lo = cm;
                    if cm <= target {
                        break;
                    }
                } else {
                    hi = mid;
                }
            }
            if c_lo < c {
                // SAFETY: in place, as `pack_ge` allows.
                c = pack_ge(pv, pi, c, lo, pv, pi);
            }
        }
        // SAFETY: `cv`, `ci` are initialised to `m + 8 ≥ c` rounded up to 8.
        if keep_top(pv, pi, c, out) != n {
            return false;
        }
        let nth = out
            .iter()
            .map(|&i| row[i as usize])
            .fold(f32::INFINITY, |a, v| if v < a { v } else { a });
        *width = 1.25 * f64::from(max - nth) + 0.5;
        true
    }

    /// `(x0 + x1) + (x2 + x3)` for each `x` of `a`, `b`, `c`, `d`, in that
    /// order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sum4(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> __m256d {
        // [a0+a1, b0+b1, a2+a3, b2+b3] and the same for c, d.
        let ab = _mm256_hadd_pd(a, b);
        let cd = _mm256_hadd_pd(c, d);
        let lo = _mm256_permute2f128_pd::<0x20>(ab, cd);
        let hi = _mm256_permute2f128_pd::<0x31>(ab, cd);
        _mm256_add_pd(lo, hi)
    }

    /// Four `f64` exponentials: the operations of `exp64` as AVX2
    /// intrinsics (the same bits).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp4(x: __m256d) -> __m256d {
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

    /// `exp_max_sum_body` with explicit vectors (the same bits).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp_max_sum(row: &mut [f64]) -> (f64, f64) {
        let n = row.len();
        let whole = n - n % 4;
        let ptr = row.as_mut_ptr();
        let mut mx = _mm256_set1_pd(f64::NEG_INFINITY);
        let mut i = 0;
        while i < whole {
            // `max_pd(v, mx)` keeps `mx` when `v` is NaN, as the body's
            // `if v > mx { v } else { mx }`.
            mx = _mm256_max_pd(_mm256_loadu_pd(ptr.add(i)), mx);
            i += 4;
        }
        let mut lanes = [0.0f64; 4];
        _mm256_storeu_pd(lanes.as_mut_ptr(), mx);
        for &v in &row[whole..] {
            lanes[0] = if v > lanes[0] { v } else { lanes[0] };
        }
        let max = lanes
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        let shift = _mm256_set1_pd(max);
        let mut acc = _mm256_setzero_pd();
        let mut i = 0;
        while i < whole {
            let e = exp4(_mm256_sub_pd(_mm256_loadu_pd(ptr.add(i)), shift));
            _mm256_storeu_pd(ptr.add(i), e);
            acc = _mm256_add_pd(acc, e);
            i += 4;
        }
        _mm256_storeu_pd(lanes.as_mut_ptr(), acc);
        for v in &mut row[whole..] {
            let e = super::exp64::<true>(*v - max);
            *v = e;
            lanes[0] += e;
        }
        (max, (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]))
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn expand(x: &[f64], offset: &[f64], u: &mut [f64]) {
        super::expand_body(x, offset, u)
    }

    /// `moments_body` with the row held in registers sixteen dimensions
    /// at a time (eight accumulators: `Σγx²` and `Σγx` of those sixteen)
    /// while the entries pass (the same bits).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn moments(acc: &mut [f64], entries: &[(u32, f64)], x: &[f64]) {
        let d = (acc.len() - 1) / 2;
        assert_eq!(acc.len(), 2 * d + 1);
        for &(t, _) in entries {
            assert!((t as usize + 1) * d <= x.len(), "frame {t} out of range");
        }
        let ap = acc.as_mut_ptr();
        let xp = x.as_ptr();
        let mut j = 0;
        // SAFETY (all pointer accesses): `j + 16 ≤ d` (or `j + 4 ≤ d`), so
        // `acc[j..j + 16]`, `acc[d + j..d + j + 16]` and each entry's
        // `x[t·d + j..t·d + j + 16]` are in bounds (checked above).
        while j + 16 <= d {
            let mut s = [_mm256_setzero_pd(); 4];
            let mut l = [_mm256_setzero_pd(); 4];
            for q in 0..4 {
                s[q] = _mm256_loadu_pd(ap.add(j + 4 * q));
                l[q] = _mm256_loadu_pd(ap.add(d + j + 4 * q));
            }
            for &(t, g) in entries {
                let gv = _mm256_set1_pd(g);
                let row = xp.add(t as usize * d + j);
                for q in 0..4 {
                    let v = _mm256_loadu_pd(row.add(4 * q));
                    s[q] = _mm256_fmadd_pd(gv, _mm256_mul_pd(v, v), s[q]);
                    l[q] = _mm256_fmadd_pd(gv, v, l[q]);
                }
            }
            for q in 0..4 {
                _mm256_storeu_pd(ap.add(j + 4 * q), s[q]);
                _mm256_storeu_pd(ap.add(d + j + 4 * q), l[q]);
            }
            j += 16;
        }
        while j + 4 <= d {
            let mut s = _mm256_loadu_pd(ap.add(j));
            let mut l = _mm256_loadu_pd(ap.add(d + j));
            for &(t, g) in entries {
                let gv = _mm256_set1_pd(g);
                let v = _mm256_loadu_pd(xp.add(t as usize * d + j));
                s = _mm256_fmadd_pd(gv, _mm256_mul_pd(v, v), s);
                l = _mm256_fmadd_pd(gv, v, l);
            }
            _mm256_storeu_pd(ap.add(j), s);
            _mm256_storeu_pd(ap.add(d + j), l);
            j += 4;
        }
        for j in j..d {
            for &(t, g) in entries {
                let v = x[t as usize * d + j];
                acc[j] = g.mul_add(v * v, acc[j]);
                acc[d + j] = g.mul_add(v, acc[d + j]);
            }
        }
        for &(_, g) in entries {
            acc[2 * d] = g.mul_add(1.0, acc[2 * d]);
        }
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

/// The `out.len()` largest values of `row` (whose maximum is `max`; ties
/// to the lower index, NaNs never), their indices in increasing order into
/// `out`, with AVX2; `width` is the guess of the distance from the maximum
/// to the `n`-th largest value, updated for the next row. Returns false
/// (`out` unspecified) without AVX2, for a maximum that is not finite, for
/// `n` not in `1..row.len()` or for fewer than `n` numbers near the
/// maximum: the caller then uses its portable search.
pub(crate) fn top_n(
    row: &[f32],
    max: f32,
    width: &mut f64,
    cv: &mut Vec<f32>,
    ci: &mut Vec<u32>,
    out: &mut [u32],
) -> bool {
    dispatch!(top_n(row, max, width, cv, ci, out), {
        let _ = (row, max, width, cv, ci, out);
        false
    })
}

/// `out[i] = konst[c] + Σ_l u_l·coef[c·L + l]` for `c = comps[i]`, with
/// `L = u.len()` a multiple of 4 (`coef` is `M×L` row-major): the pruned
/// E-step's `f64` log-densities of a frame's selected components. A
/// component's value depends only on `u` and its own row (not on the
/// others listed).
///
/// # Panics
///
/// If `L` is not a multiple of 4, `out` is shorter than `comps`, or a
/// component's row is outside `coef` or `konst`.
pub(crate) fn dots(u: &[f64], coef: &[f64], konst: &[f64], comps: &[u32], out: &mut [f64]) {
    dispatch!(
        dots(u, coef, konst, comps, out),
        dots_body::<false>(u, coef, konst, comps, out)
    )
}

/// `row[i] = exp(row[i] − max)`, `max` the row's largest number (NaNs
/// skipped, `−∞` for none), with an `f64` polynomial exponential within
/// about 2 ulp of `f64::exp` (0 below `−708`); returns `(max, Σ row[i])`.
pub(crate) fn exp_max_sum(row: &mut [f64]) -> (f64, f64) {
    dispatch!(exp_max_sum(row), exp_max_sum_body::<false>(row))
}

/// For one frame `x` (`D`): `u = [y, y²]` with `y = x − offset`, in
/// `f64`.
///
/// # Panics
///
/// If `offset` is not `D` long, or `u` not `2D`.
pub(crate) fn expand(x: &[f64], offset: &[f64], u: &mut [f64]) {
    dispatch!(expand(x, offset, u), expand_body(x, offset, u))
}

/// `acc += g·[x², x, 1]` in `f64` for each entry `(t, g)` of `entries`,
/// in order, with `x` frame `t` of `x` (row-major, `D` wide; `acc` is
/// `2D + 1` long): one component's pruned statistics `[Σγx², Σγx, Σγ]`,
/// fused with FMA where the CPU has it. Each element of `acc` gets the
/// entries added one after the other, as entry-by-entry calls would.
///
/// # Panics
///
/// If `acc` has an even length, or an entry's frame is outside `x`.
pub(crate) fn moments(acc: &mut [f64], entries: &[(u32, f64)], x: &[f64]) {
    dispatch!(
        moments(acc, entries, x),
        moments_body::<false>(acc, entries, x)
    )
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
    fn exp64_accuracy() {
        // Within 2 ulp of `f64::exp` (relative 2^-51) on [−708, 0], in
        // both variants.
        let mut worst = [0.0f64; 2];
        let xs: Vec<f64> = (0..200_001)
            .map(|i| (-708.0 + i as f64 * 0.003_54).min(0.0))
            .collect();
        for chunk in xs.chunks(37) {
            let mut a = chunk.to_vec();
            a.push(0.0); // the maximum, so the shift is 0
            let mut b = a.clone();
            let mut f = a.clone();
            let (max, sum) = exp_max_sum(&mut a);
            assert_eq!(max, 0.0);
            exp_max_sum_body::<false>(&mut b);
            if avx2() {
                // The AVX2 variant has the bits of the body with FMA.
                assert_eq!(exp_max_sum_body::<true>(&mut f), (max, sum));
                assert_eq!(a, f);
            }
            for ((x, a), b) in chunk.iter().zip(&a).zip(&b) {
                let want = x.exp();
                for (w, got) in worst.iter_mut().zip([a, b]) {
                    *w = w.max((got - want).abs() / want);
                }
            }
        }
        assert!(worst.iter().all(|&w| w <= 2.0 * f64::EPSILON), "{worst:?}");
        let mut edge = [f64::NEG_INFINITY, -709.0, f64::NAN, -1e300, 0.0];
        let (max, sum) = exp_max_sum(&mut edge);
        assert_eq!(max, 0.0);
        assert!(sum.is_nan());
        assert_eq!(edge[0], 0.0);
        assert_eq!(edge[1], 0.0);
        assert!(edge[2].is_nan());
        assert_eq!(edge[3], 0.0);
        assert_eq!(edge[4], 1.0);
    }

    #[test]
    fn dots_match_plain_loops_in_both_variants() {
        let (m, l) = (13usize, 12usize);
        let u: Vec<f64> = (0..l).map(|i| (i as f64 * 0.37).sin()).collect();
        let coef: Vec<f64> = (0..m * l).map(|i| (i as f64 * 0.11).cos()).collect();
        let konst: Vec<f64> = (0..m).map(|i| -(i as f64)).collect();
        for n in [0usize, 1, 7, 8, 9, 17] {
            let comps: Vec<u32> = (0..n as u32).map(|i| (i * 5) % m as u32).collect();
            let mut a = vec![0.0; n];
            let mut b = vec![0.0; n];
            dots(&u, &coef, &konst, &comps, &mut a);
            dots_body::<false>(&u, &coef, &konst, &comps, &mut b);
            if avx2() {
                // The AVX2 variant adds in the order of the body with FMA.
                let mut f = vec![0.0; n];
                dots_body::<true>(&u, &coef, &konst, &comps, &mut f);
                assert_eq!(a, f, "n = {n}");
            }
            for (i, &c) in comps.iter().enumerate() {
                let c = c as usize;
                let want: f64 = konst[c] + (0..l).map(|j| u[j] * coef[c * l + j]).sum::<f64>();
                assert!((a[i] - want).abs() <= 1e-14, "{} vs {want}", a[i]);
                assert!((b[i] - want).abs() <= 1e-14, "{} vs {want}", b[i]);
            }
            // A component's value does not depend on its neighbours.
            for (i, &c) in comps.iter().enumerate() {
                let mut one = [0.0];
                dots(&u, &coef, &konst, &[c], &mut one);
                assert_eq!(one[0].to_bits(), a[i].to_bits());
            }
        }
    }

    #[test]
    fn moments_add_entries_in_order_with_the_bits_of_the_body() {
        for d in [1usize, 3, 4, 15, 16, 21, 60] {
            let x: Vec<f64> = (0..7 * d).map(|i| (i as f64 * 0.77).sin() * 40.0).collect();
            let entries: Vec<(u32, f64)> = [3u32, 0, 6, 3, 1]
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, 0.1 + i as f64 * 0.17))
                .collect();
            let init: Vec<f64> = (0..2 * d + 1).map(|i| i as f64 * 0.5).collect();
            let mut a = init.clone();
            moments(&mut a, &entries, &x);
            let mut b = init.clone();
            let mut c = init.clone();
            for e in &entries {
                moments_body::<true>(&mut b, std::slice::from_ref(e), &x);
                moments_body::<false>(&mut c, std::slice::from_ref(e), &x);
            }
            if avx2() {
                assert_eq!(a, b, "d = {d}");
            }
            for (a, c) in a.iter().zip(&c) {
                assert!((a - c).abs() <= 1e-12 * c.abs().max(1.0), "d = {d}");
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
