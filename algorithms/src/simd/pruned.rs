//! The `f64` kernels of the pruned E-step and of the exact E-step's
//! refinement: exact log-densities of a few components (direct form),
//! the expanded form's dot products, the exponential with the row's
//! maximum and sum, and one component's statistics.
//!
//! The AVX-512 level runs the AVX2 intrinsics (four `f64` lanes per
//! component, as the bodies add them): the same bits as AVX2.

use super::exp::exp64;
use super::{dispatch, madd64};

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
            acc[i] = madd64::<FMA>(p[i] * t, t, acc[i]);
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

/// [`refine_body`] for a chunk's hits `t·M + c` (frame `t` of `xs`,
/// `b×D` row-major `f32`, widened into `x64`; component `c`), in their
/// order: the same operations per hit, so the same bits.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn refine_hits_body<const FMA: bool>(
    xs: &[f32],
    hits: &[u32],
    m: usize,
    means: &[f64],
    precisions: &[f64],
    log_norm: &[f64],
    x64: &mut [f64],
    out: &mut [f64],
) {
    let d = x64.len();
    let mut current = usize::MAX;
    for (o, &h) in out.iter_mut().zip(hits) {
        let (t, c) = (h as usize / m, h as usize % m);
        if t != current {
            for (y, &v) in x64.iter_mut().zip(&xs[t * d..(t + 1) * d]) {
                *y = f64::from(v);
            }
            current = t;
        }
        let range = c * d..(c + 1) * d;
        let q = weighted_sq_dist_body::<FMA>(x64, &means[range.clone()], &precisions[range]);
        *o = log_norm[c] - 0.5 * q;
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
    assert!(l.is_multiple_of(4) && out.len() >= comps.len());
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! `dots`, `exp_max_sum` and `moments` with AVX2 intrinsics.

    use std::arch::x86_64::*;

    use crate::simd::exp::x86::exp4;

    /// `refine_hits` with the eight lanes of `weighted_sq_dist_body` in one
    /// AVX-512 register (LLVM compiled the body's lanes as 128-bit pairs):
    /// the same operations per lane, the same tail and the same tree, so
    /// the same bits.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn refine_hits_avx512(
        xs: &[f32],
        hits: &[u32],
        m: usize,
        means: &[f64],
        precisions: &[f64],
        log_norm: &[f64],
        x64: &mut [f64],
        out: &mut [f64],
    ) {
        const L: usize = 8;
        let d = x64.len();
        let whole = d - d % L;
        let mut current = usize::MAX;
        for (o, &h) in out.iter_mut().zip(hits) {
            let (t, c) = (h as usize / m, h as usize % m);
            if t != current {
                for (y, &v) in x64.iter_mut().zip(&xs[t * d..(t + 1) * d]) {
                    *y = f64::from(v);
                }
                current = t;
            }
            let (mu, p) = (&means[c * d..(c + 1) * d], &precisions[c * d..(c + 1) * d]);
            let mut rest = 0.0;
            for j in whole..d {
                let t = x64[j] - mu[j];
                rest += p[j] * t * t;
            }
            let mut acc = _mm512_setzero_pd();
            for j in (0..whole).step_by(L) {
                // SAFETY: `j + 8 ≤ whole ≤ d`, the length of the three rows.
                let xv = unsafe { _mm512_loadu_pd(x64.as_ptr().wrapping_add(j)) };
                // SAFETY: as above.
                let mv = unsafe { _mm512_loadu_pd(mu.as_ptr().wrapping_add(j)) };
                // SAFETY: as above.
                let pv = unsafe { _mm512_loadu_pd(p.as_ptr().wrapping_add(j)) };
                let tv = _mm512_sub_pd(xv, mv);
                acc = _mm512_fmadd_pd(_mm512_mul_pd(pv, tv), tv, acc);
            }
            let mut lanes = [0.0f64; L];
            // SAFETY: `lanes` has 8 elements.
            unsafe { _mm512_storeu_pd(lanes.as_mut_ptr(), acc) };
            let mut k = L;
            while k > 1 {
                k /= 2;
                for i in 0..k {
                    lanes[i] += lanes[i + k];
                }
            }
            *o = log_norm[c] - 0.5 * (lanes[0] + rest);
        }
    }

    /// `(x0 + x1) + (x2 + x3)` for each `x` of `a`, `b`, `c`, `d`, in that
    /// order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sum4(a: __m256d, b: __m256d, c: __m256d, d: __m256d) -> __m256d {
        // [a0+a1, b0+b1, a2+a3, b2+b3] and the same for c, d.
        let ab = _mm256_hadd_pd(a, b);
        let cd = _mm256_hadd_pd(c, d);
        let lo = _mm256_permute2f128_pd::<0x20>(ab, cd);
        let hi = _mm256_permute2f128_pd::<0x31>(ab, cd);
        _mm256_add_pd(lo, hi)
    }

    /// `dots_body` with explicit vectors: eight components at a time, one
    /// accumulator each (eight independent chains of fused multiply-adds,
    /// `u` loaded once per four elements for all eight), then the same
    /// lane sums. A short last group repeats its last component.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dots(u: &[f64], coef: &[f64], konst: &[f64], comps: &[u32], out: &mut [f64]) {
        let l = u.len();
        assert!(l.is_multiple_of(4) && out.len() >= comps.len());
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
            // Every component's row `c·l..(c + 1)·l` is inside `coef`
            // (checked above).
            let p = idx.map(|c| coef[c * l..].as_ptr());
            let mut a = [_mm256_setzero_pd(); 8];
            let mut q = 0;
            while q < l {
                // SAFETY: `q + 4 ≤ l = u.len()`.
                let uq = unsafe { _mm256_loadu_pd(up.wrapping_add(q)) };
                for j in 0..8 {
                    // SAFETY: `q + 4 ≤ l`, inside the component's row.
                    let v = unsafe { _mm256_loadu_pd(p[j].wrapping_add(q)) };
                    a[j] = _mm256_fmadd_pd(uq, v, a[j]);
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
            let o = out[i..].as_mut_ptr();
            if i + 8 <= n {
                // SAFETY: `out` has at least `n ≥ i + 8` elements.
                unsafe { _mm256_storeu_pd(o, s0) };
                // SAFETY: as above.
                unsafe { _mm256_storeu_pd(o.wrapping_add(4), s1) };
            } else {
                // The first `n − i` lanes (masked stores: a copy of a
                // variable length would be a call to `memcpy`).
                let rem = _mm256_set1_epi64x((n - i) as i64);
                let m0 = _mm256_cmpgt_epi64(rem, _mm256_setr_epi64x(0, 1, 2, 3));
                let m1 = _mm256_cmpgt_epi64(rem, _mm256_setr_epi64x(4, 5, 6, 7));
                // SAFETY: only lanes below `n − i` are written.
                unsafe { _mm256_maskstore_pd(o, m0, s0) };
                // SAFETY: as above.
                unsafe { _mm256_maskstore_pd(o.wrapping_add(4), m1, s1) };
            }
            i += 8;
        }
    }

    /// `exp_max_sum_body` with explicit vectors (the same bits).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn exp_max_sum(row: &mut [f64]) -> (f64, f64) {
        let n = row.len();
        let whole = n - n % 4;
        let ptr = row.as_mut_ptr();
        let mut mx = _mm256_set1_pd(f64::NEG_INFINITY);
        for i in (0..whole).step_by(4) {
            // `max_pd(v, mx)` keeps `mx` when `v` is NaN, as the body's
            // `if v > mx { v } else { mx }`.
            // SAFETY: `i + 4 ≤ whole ≤ n`.
            mx = _mm256_max_pd(unsafe { _mm256_loadu_pd(ptr.wrapping_add(i)) }, mx);
        }
        let mut lanes = [0.0f64; 4];
        // SAFETY: `lanes` has 4 elements.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), mx) };
        for &v in &row[whole..] {
            lanes[0] = if v > lanes[0] { v } else { lanes[0] };
        }
        let max = lanes
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        let shift = _mm256_set1_pd(max);
        let mut acc = _mm256_setzero_pd();
        for i in (0..whole).step_by(4) {
            // SAFETY: `i + 4 ≤ whole ≤ n`.
            let e = exp4(_mm256_sub_pd(
                unsafe { _mm256_loadu_pd(ptr.wrapping_add(i)) },
                shift,
            ));
            // SAFETY: as above.
            unsafe { _mm256_storeu_pd(ptr.wrapping_add(i), e) };
            acc = _mm256_add_pd(acc, e);
        }
        // SAFETY: `lanes` has 4 elements.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), acc) };
        for v in &mut row[whole..] {
            let e = super::exp64::<true>(*v - max);
            *v = e;
            lanes[0] += e;
        }
        (max, (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]))
    }

    /// `moments_body` with the row held in registers sixteen dimensions
    /// at a time (eight accumulators: `Σγx²` and `Σγx` of those sixteen)
    /// while the entries pass (the same bits).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn moments(acc: &mut [f64], entries: &[(u32, f64)], x: &[f64]) {
        let d = (acc.len() - 1) / 2;
        assert_eq!(acc.len(), 2 * d + 1);
        for &(t, _) in entries {
            assert!((t as usize + 1) * d <= x.len(), "frame {t} out of range");
        }
        let ap = acc.as_mut_ptr();
        let xp = x.as_ptr();
        // Loads and stores at `acc[j + o]`, `acc[d + j + o]` and each
        // entry's `x[t·d + j + o]` for `o < W` with `j + W ≤ d`: in bounds
        // (the frames are checked above).
        let mut j = 0;
        while j + 16 <= d {
            let mut s = [_mm256_setzero_pd(); 4];
            let mut l = [_mm256_setzero_pd(); 4];
            for q in 0..4 {
                // SAFETY: `j + 16 ≤ d` (see above).
                s[q] = unsafe { _mm256_loadu_pd(ap.wrapping_add(j + 4 * q)) };
                // SAFETY: as above.
                l[q] = unsafe { _mm256_loadu_pd(ap.wrapping_add(d + j + 4 * q)) };
            }
            for &(t, g) in entries {
                let gv = _mm256_set1_pd(g);
                let row = xp.wrapping_add(t as usize * d + j);
                for q in 0..4 {
                    // SAFETY: as above.
                    let v = unsafe { _mm256_loadu_pd(row.wrapping_add(4 * q)) };
                    s[q] = _mm256_fmadd_pd(gv, _mm256_mul_pd(v, v), s[q]);
                    l[q] = _mm256_fmadd_pd(gv, v, l[q]);
                }
            }
            for q in 0..4 {
                // SAFETY: as above.
                unsafe { _mm256_storeu_pd(ap.wrapping_add(j + 4 * q), s[q]) };
                // SAFETY: as above.
                unsafe { _mm256_storeu_pd(ap.wrapping_add(d + j + 4 * q), l[q]) };
            }
            j += 16;
        }
        while j + 4 <= d {
            // SAFETY: `j + 4 ≤ d` (see above).
            let mut s = unsafe { _mm256_loadu_pd(ap.wrapping_add(j)) };
            // SAFETY: as above.
            let mut l = unsafe { _mm256_loadu_pd(ap.wrapping_add(d + j)) };
            for &(t, g) in entries {
                let gv = _mm256_set1_pd(g);
                // SAFETY: as above.
                let v = unsafe { _mm256_loadu_pd(xp.wrapping_add(t as usize * d + j)) };
                s = _mm256_fmadd_pd(gv, _mm256_mul_pd(v, v), s);
                l = _mm256_fmadd_pd(gv, v, l);
            }
            // SAFETY: as above.
            unsafe { _mm256_storeu_pd(ap.wrapping_add(j), s) };
            // SAFETY: as above.
            unsafe { _mm256_storeu_pd(ap.wrapping_add(d + j), l) };
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
}

dispatch! {
    /// The exact log-densities of frame `x` under the listed components:
    /// `out[i] = log_norm[m] − ½·Σ_d precisions[m,d]·(x_d − means[m,d])²`
    /// for `m = components[i]`, in `f64` (`means` and `precisions` are
    /// `M×D` row-major).
    pub(crate) fn refine(
        x: &[f64],
        components: &[u32],
        means: &[f64],
        precisions: &[f64],
        log_norm: &[f64],
        out: &mut [f64],
    ) {
        portable => refine_body::<false>(x, components, means, precisions, log_norm, out),
        avx2 => refine_body::<true>(x, components, means, precisions, log_norm, out),
        avx512 => refine_body::<true>(x, components, means, precisions, log_norm, out),
    }
}

dispatch! {
    /// The exact log-densities of [`refine`] for a chunk's hits `t·M + c`
    /// (frame `t` of `xs`, `b×D` row-major, component `c`), in their order;
    /// `x64` (`D`) is scratch. The tiled E-step lists its hits tile after
    /// tile, so one tile's means and precisions (32 rows) stay in L1
    /// while its frames go by.
    ///
    /// # Panics
    ///
    /// If a hit's frame or component is outside the operands.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn refine_hits(
        xs: &[f32],
        hits: &[u32],
        m: usize,
        means: &[f64],
        precisions: &[f64],
        log_norm: &[f64],
        x64: &mut [f64],
        out: &mut [f64],
    ) {
        portable => refine_hits_body::<false>(xs, hits, m, means, precisions, log_norm, x64, out),
        avx2 => refine_hits_body::<true>(xs, hits, m, means, precisions, log_norm, x64, out),
        avx512 => x86::refine_hits_avx512(xs, hits, m, means, precisions, log_norm, x64, out),
    }
}

dispatch! {
    /// `out[i] = konst[c] + Σ_l u_l·coef[c·L + l]` for `c = comps[i]`, with
    /// `L = u.len()` a multiple of 4 (`coef` is `M×L` row-major): the
    /// pruned E-step's `f64` log-densities of a frame's selected
    /// components. A component's value depends only on `u` and its own row
    /// (not on the others listed).
    ///
    /// # Panics
    ///
    /// If `L` is not a multiple of 4, `out` is shorter than `comps`, or a
    /// component's row is outside `coef` or `konst`.
    pub(crate) fn dots(u: &[f64], coef: &[f64], konst: &[f64], comps: &[u32], out: &mut [f64]) {
        portable => dots_body::<false>(u, coef, konst, comps, out),
        avx2 => x86::dots(u, coef, konst, comps, out),
        avx512 => x86::dots(u, coef, konst, comps, out),
    }
}

dispatch! {
    /// `row[i] = exp(row[i] − max)`, `max` the row's largest number (NaNs
    /// skipped, `−∞` for none), with an `f64` polynomial exponential within
    /// about 2 ulp of `f64::exp` (0 below `−708`); returns
    /// `(max, Σ row[i])`.
    pub(crate) fn exp_max_sum(row: &mut [f64]) -> (f64, f64) {
        portable => exp_max_sum_body::<false>(row),
        avx2 => x86::exp_max_sum(row),
        avx512 => x86::exp_max_sum(row),
    }
}

dispatch! {
    /// `acc += g·[x², x, 1]` in `f64` for each entry `(t, g)` of `entries`,
    /// in order, with `x` frame `t` of `x` (row-major, `D` wide; `acc` is
    /// `2D + 1` long): one component's pruned statistics
    /// `[Σγx², Σγx, Σγ]`, fused with FMA where the CPU has it. Each element
    /// of `acc` gets the entries added one after the other, as
    /// entry-by-entry calls would.
    ///
    /// # Panics
    ///
    /// If `acc` has an even length, or an entry's frame is outside `x`.
    pub(crate) fn moments(acc: &mut [f64], entries: &[(u32, f64)], x: &[f64]) {
        portable => moments_body::<false>(acc, entries, x),
        avx2 => x86::moments(acc, entries, x),
        avx512 => x86::moments(acc, entries, x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels, Level};

    /// The levels with FMA (whose bits must agree with the FMA bodies).
    fn fma_levels() -> Vec<Level> {
        levels().into_iter().filter(|&l| l >= Level::Avx2).collect()
    }

    #[test]
    fn refine_hits_is_refine_per_hit_on_every_level() {
        let (b, d, m) = (5usize, 21usize, 7usize);
        let xs: Vec<f32> = (0..b * d).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let means: Vec<f64> = (0..m * d).map(|i| (i as f64 * 0.11).cos() * 8.0).collect();
        let prec: Vec<f64> = (0..m * d).map(|i| 0.5 + (i % 5) as f64 * 0.1).collect();
        let norm: Vec<f64> = (0..m).map(|i| -(i as f64)).collect();
        let hits: Vec<u32> = [(0, 3), (0, 6), (2, 0), (4, 1), (4, 2), (1, 3)]
            .iter()
            .map(|&(t, c)| (t * m + c) as u32)
            .collect();
        for level in levels() {
            let (mut x64, mut got) = (vec![0.0; d], vec![0.0; hits.len()]);
            at(level, || {
                refine_hits(&xs, &hits, m, &means, &prec, &norm, &mut x64, &mut got)
            });
            for (&h, &g) in hits.iter().zip(&got) {
                let (t, c) = (h as usize / m, h as usize % m);
                let x: Vec<f64> = xs[t * d..(t + 1) * d]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let mut want = [0.0];
                at(level, || {
                    refine(&x, &[c as u32], &means, &prec, &norm, &mut want)
                });
                assert_eq!(g.to_bits(), want[0].to_bits(), "{level:?}, hit {h}");
            }
        }
    }

    #[test]
    fn exp_max_sum_is_accurate_and_has_the_bits_of_the_fma_body() {
        // Within 2 ulp of `f64::exp` (relative 2^-51) on [−708, 0], on
        // every level.
        let xs: Vec<f64> = (0..200_001)
            .map(|i| (-708.0 + i as f64 * 0.003_54).min(0.0))
            .collect();
        for level in levels() {
            let mut worst = 0.0f64;
            for chunk in xs.chunks(37) {
                let mut a = chunk.to_vec();
                a.push(0.0); // the maximum, so the shift is 0
                let mut f = a.clone();
                let (max, sum) = at(level, || exp_max_sum(&mut a));
                assert_eq!(max, 0.0);
                if level >= Level::Avx2 {
                    assert_eq!(exp_max_sum_body::<true>(&mut f), (max, sum));
                    assert_eq!(a, f);
                }
                for (x, a) in chunk.iter().zip(&a) {
                    let want = x.exp();
                    worst = worst.max((a - want).abs() / want);
                }
            }
            assert!(worst <= 2.0 * f64::EPSILON, "{level:?}: {worst}");
            let mut edge = [f64::NEG_INFINITY, -709.0, f64::NAN, -1e300, 0.0];
            let (max, sum) = at(level, || exp_max_sum(&mut edge));
            assert_eq!(max, 0.0);
            assert!(sum.is_nan());
            assert_eq!(edge[0], 0.0);
            assert_eq!(edge[1], 0.0);
            assert!(edge[2].is_nan());
            assert_eq!(edge[3], 0.0);
            assert_eq!(edge[4], 1.0);
        }
    }

    #[test]
    fn dots_match_plain_loops_on_every_level() {
        let (m, l) = (13usize, 12usize);
        let u: Vec<f64> = (0..l).map(|i| (i as f64 * 0.37).sin()).collect();
        let coef: Vec<f64> = (0..m * l).map(|i| (i as f64 * 0.11).cos()).collect();
        let konst: Vec<f64> = (0..m).map(|i| -(i as f64)).collect();
        for n in [0usize, 1, 7, 8, 9, 17] {
            let comps: Vec<u32> = (0..n as u32).map(|i| (i * 5) % m as u32).collect();
            for level in levels() {
                let mut a = vec![0.0; n];
                at(level, || dots(&u, &coef, &konst, &comps, &mut a));
                if level >= Level::Avx2 {
                    // The vectors add in the order of the body with FMA.
                    let mut f = vec![0.0; n];
                    dots_body::<true>(&u, &coef, &konst, &comps, &mut f);
                    assert_eq!(a, f, "n = {n}");
                }
                for (i, &c) in comps.iter().enumerate() {
                    let c = c as usize;
                    let want: f64 = konst[c] + (0..l).map(|j| u[j] * coef[c * l + j]).sum::<f64>();
                    assert!((a[i] - want).abs() <= 1e-14, "{} vs {want}", a[i]);
                }
                // A component's value does not depend on its neighbours.
                for (i, &c) in comps.iter().enumerate() {
                    let mut one = [0.0];
                    at(level, || dots(&u, &coef, &konst, &[c], &mut one));
                    assert_eq!(one[0].to_bits(), a[i].to_bits());
                }
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
            let mut b = init.clone();
            let mut c = init.clone();
            for e in &entries {
                moments_body::<true>(&mut b, std::slice::from_ref(e), &x);
                moments_body::<false>(&mut c, std::slice::from_ref(e), &x);
            }
            for level in levels() {
                let mut a = init.clone();
                at(level, || moments(&mut a, &entries, &x));
                if level >= Level::Avx2 {
                    assert_eq!(a, b, "d = {d}");
                } else {
                    assert_eq!(a, c, "d = {d}");
                }
                for (a, c) in a.iter().zip(&c) {
                    assert!((a - c).abs() <= 1e-12 * c.abs().max(1.0), "d = {d}");
                }
            }
        }
    }

    #[test]
    fn refine_is_the_direct_form_with_the_same_bits_on_fma_levels() {
        let (m, d) = (5usize, 21usize);
        let x: Vec<f64> = (0..d).map(|i| (i as f64 * 0.3).cos() * 3.0).collect();
        let means: Vec<f64> = (0..m * d).map(|i| (i as f64 * 0.05).sin()).collect();
        let prec: Vec<f64> = (0..m * d).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
        let norm: Vec<f64> = (0..m).map(|i| -(i as f64) * 0.5).collect();
        let comps = [4u32, 0, 2];
        let mut outs = Vec::new();
        for level in fma_levels() {
            let mut out = [0.0; 3];
            at(level, || refine(&x, &comps, &means, &prec, &norm, &mut out));
            outs.push(out.map(f64::to_bits));
        }
        assert!(outs.windows(2).all(|w| w[0] == w[1]));
        let mut out = [0.0; 3];
        at(Level::Portable, || {
            refine(&x, &comps, &means, &prec, &norm, &mut out)
        });
        for (o, &c) in out.iter().zip(&comps) {
            let c = c as usize;
            let q: f64 = (0..d)
                .map(|j| prec[c * d + j] * (x[j] - means[c * d + j]).powi(2))
                .sum();
            assert!((o - (norm[c] - 0.5 * q)).abs() < 1e-12);
        }
    }
}
