//! Row reductions of the E-step's log-sum-exp, in `f32` with [`LANES`]
//! independent accumulators: add-and-max, the exponential with its sum,
//! the exponential split at a threshold, and the `f32` to `f64`
//! accumulation.

use super::dispatch;
use super::exp::exp1;

/// Lanes of independent accumulators: one AVX-512 vector of `f32`, two
/// AVX2 ones.
pub(crate) const LANES: usize = 16;

/// The sum of the lanes, pairwise: lane `i` plus lane `i + 8`, then
/// `((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7))` of those.
#[inline(always)]
pub(crate) fn lane_sum(mut acc: [f32; LANES]) -> f32 {
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            acc[i] += acc[i + n];
        }
    }
    acc[0]
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
/// elements is returned (the portable variant: the tail's terms join lane
/// 0 before the lanes are summed).
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
            push_bits(out, ((g * GROUP + c) * LANES) as u32, mask);
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

/// Appends `base + b` for every set bit `b` of `mask`, in increasing order.
#[inline(always)]
pub(crate) fn push_bits(out: &mut Vec<u32>, base: u32, mut mask: u32) {
    while mask != 0 {
        out.push(base + mask.trailing_zeros());
        mask &= mask - 1;
    }
}

/// The tail of the vector `exp_split`s: elements `whole..` one by one,
/// their terms added to `sum` in order.
#[inline(always)]
fn exp_split_tail(
    row: &mut [f32],
    whole: usize,
    shift: f32,
    threshold: f32,
    out: &mut Vec<u32>,
    mut sum: f32,
) -> f32 {
    for (j, r) in row.iter_mut().enumerate().skip(whole) {
        let v = *r;
        let e = exp1::<true>(v - shift);
        *r = e;
        if v >= threshold {
            out.push(j as u32);
        } else {
            sum += e;
        }
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! `exp_split` with explicit vectors: one mask per sixteen elements
    //! finds the rare components at or above the threshold.

    use std::arch::x86_64::*;

    use super::{exp_split_tail, lane_sum, LANES};
    use crate::simd::exp::x86::{exp16, exp8};

    /// Appends the set bits of `mask` (out of line: hits are rare).
    #[cold]
    #[inline(never)]
    fn push_bits(out: &mut Vec<u32>, base: u32, mask: u32) {
        super::push_bits(out, base, mask)
    }

    /// Two AVX2 vectors of lanes `0..8` and `8..16`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn exp_split_avx2(
        row: &mut [f32],
        shift: f32,
        threshold: f32,
        out: &mut Vec<u32>,
    ) -> f32 {
        let n = row.len();
        let whole = n - n % LANES;
        let ptr = row.as_mut_ptr();
        let (vshift, vthr) = (_mm256_set1_ps(shift), _mm256_set1_ps(threshold));
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i < whole {
            // SAFETY: `i + 16 ≤ whole ≤ row.len()`.
            let v0 = unsafe { _mm256_loadu_ps(ptr.wrapping_add(i)) };
            // SAFETY: as above.
            let v1 = unsafe { _mm256_loadu_ps(ptr.wrapping_add(i + 8)) };
            let h0 = _mm256_cmp_ps::<_CMP_GE_OQ>(v0, vthr);
            let h1 = _mm256_cmp_ps::<_CMP_GE_OQ>(v1, vthr);
            let e0 = exp8(_mm256_sub_ps(v0, vshift));
            let e1 = exp8(_mm256_sub_ps(v1, vshift));
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(ptr.wrapping_add(i), e0) };
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(ptr.wrapping_add(i + 8), e1) };
            acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(h0, e0));
            acc1 = _mm256_add_ps(acc1, _mm256_andnot_ps(h1, e1));
            let mask = (_mm256_movemask_ps(h0) | (_mm256_movemask_ps(h1) << 8)) as u32;
            if mask != 0 {
                push_bits(out, i as u32, mask);
            }
            i += LANES;
        }
        let mut lanes = [0.0f32; LANES];
        // SAFETY: `lanes` has 16 elements.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc0) };
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr().wrapping_add(8), acc1) };
        exp_split_tail(row, whole, shift, threshold, out, lane_sum(lanes))
    }

    /// One AVX-512 vector of the sixteen lanes: the operations of
    /// [`exp_split_avx2`], lane by lane (the same bits).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn exp_split_avx512(
        row: &mut [f32],
        shift: f32,
        threshold: f32,
        out: &mut Vec<u32>,
    ) -> f32 {
        let whole = row.len() - row.len() % LANES;
        let (vshift, vthr) = (_mm512_set1_ps(shift), _mm512_set1_ps(threshold));
        let mut acc = _mm512_setzero_ps();
        for (c, chunk) in row[..whole].chunks_exact_mut(LANES).enumerate() {
            // SAFETY: a chunk has 16 elements.
            let v = unsafe { _mm512_loadu_ps(chunk.as_ptr()) };
            let hit = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, vthr);
            let e = exp16(_mm512_sub_ps(v, vshift));
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(chunk.as_mut_ptr(), e) };
            // Lanes that hit add +0.0, as `andnot` in the AVX2 variant.
            acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(!hit, e));
            if hit != 0 {
                push_bits(out, (c * LANES) as u32, u32::from(hit));
            }
        }
        let mut lanes = [0.0f32; LANES];
        // SAFETY: `lanes` has 16 elements.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), acc) };
        exp_split_tail(row, whole, shift, threshold, out, lane_sum(lanes))
    }

    /// `add_max` with one AVX-512 vector of the sixteen lanes (the same
    /// bits: maxima are exact).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn add_max_avx512(row: &mut [f32], add: &[f32]) -> f32 {
        assert_eq!(row.len(), add.len());
        let n = row.len();
        let whole = n - n % LANES;
        let (rp, ap) = (row.as_mut_ptr(), add.as_ptr());
        let mut acc = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i < whole {
            // SAFETY: `i + 16 ≤ whole`, and both slices have `n` elements.
            let a = unsafe { _mm512_loadu_ps(ap.wrapping_add(i)) };
            // SAFETY: as above.
            let v = _mm512_add_ps(unsafe { _mm512_loadu_ps(rp.wrapping_add(i)) }, a);
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(rp.wrapping_add(i), v) };
            // `max(v, acc)` is `acc` when `v` is NaN: the body's
            // `if v > acc { v } else { acc }`.
            acc = _mm512_max_ps(v, acc);
            i += LANES;
        }
        let mut lanes = [0.0f32; LANES];
        // SAFETY: `lanes` has 16 elements.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), acc) };
        for (r, &a) in row[whole..].iter_mut().zip(&add[whole..]) {
            let v = *r + a;
            *r = v;
            lanes[0] = if v > lanes[0] { v } else { lanes[0] };
        }
        lanes
            .iter()
            .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
    }
}

dispatch! {
    /// `row[i] += add[i]`; returns the maximum of the new row (`-∞` for an
    /// empty row; NaNs are skipped).
    ///
    /// # Panics
    ///
    /// If the slices differ in length.
    pub(crate) fn add_max(row: &mut [f32], add: &[f32]) -> f32 {
        portable => add_max_body(row, add),
        avx2 => add_max_body(row, add),
        avx512 => x86::add_max_avx512(row, add),
    }
}

dispatch! {
    /// `row[i] = exp(row[i] − shift)`; returns the sum of the new row. (The
    /// AVX-512 level compiles the body too: the explicit `exp16`
    /// would flip the sign of NaNs, as `exp_split`'s vectors do.)
    pub(crate) fn exp_sum(row: &mut [f32], shift: f32) -> f32 {
        portable => exp_sum_body::<false>(row, shift),
        avx2 => exp_sum_body::<true>(row, shift),
        avx512 => exp_sum_body::<true>(row, shift),
    }
}

dispatch! {
    /// `dst[i] += src[i]` in `f64`.
    ///
    /// # Panics
    ///
    /// If the slices differ in length.
    pub(crate) fn add_to_f64(src: &[f32], dst: &mut [f64]) {
        portable => add_to_f64_body(src, dst),
        avx2 => add_to_f64_body(src, dst),
        avx512 => add_to_f64_body(src, dst),
    }
}

dispatch! {
    /// `row[i] = exp(row[i] − shift)`; appends to `out` the indices (in
    /// increasing order) of the elements that were at least `threshold`,
    /// and returns the sum of the other new elements.
    pub(crate) fn exp_split(row: &mut [f32], shift: f32, threshold: f32, out: &mut Vec<u32>) -> f32 {
        portable => exp_split_body::<false>(row, shift, threshold, out),
        avx2 => x86::exp_split_avx2(row, shift, threshold, out),
        avx512 => x86::exp_split_avx512(row, shift, threshold, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels, Level};

    /// A row with values in `[−40, 10]`, NaNs and infinities where `odd`.
    fn row(len: usize, seed: u32, odd: bool) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761) | 1;
        let mut v: Vec<f32> = (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 5000) as f32 * 0.01 - 40.0
            })
            .collect();
        if odd && len > 5 {
            v[1] = f32::NAN;
            v[len - 1] = f32::NEG_INFINITY;
            v[len / 2] = f32::INFINITY;
        }
        v
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn row_kernels_are_right_on_every_level() {
        for level in levels() {
            at(level, || {
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
            });
        }
    }

    #[test]
    fn avx512_has_the_bits_of_avx2_and_portable_is_close() {
        for (case, len) in [0usize, 1, 15, 16, 17, 31, 64, 100, 512, 515]
            .into_iter()
            .enumerate()
        {
            for odd in [false, true] {
                let input = row(len, case as u32 + 7, odd);
                let add = row(len, case as u32 + 99, false);
                let max0 = input
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
                let thr = max0 - 3.0;
                let run = |level: Level| {
                    at(level, || {
                        let mut a = input.clone();
                        let m = add_max(&mut a, &add);
                        let mut e = a.clone();
                        let s = exp_sum(&mut e, m);
                        let mut x = input.clone();
                        let mut hits = Vec::new();
                        let rest = exp_split(&mut x, max0, thr, &mut hits);
                        let mut acc: Vec<f64> = (0..len).map(|i| i as f64).collect();
                        add_to_f64(&e, &mut acc);
                        let acc: Vec<u64> = acc.iter().map(|v| v.to_bits()).collect();
                        (
                            bits(&a),
                            m.to_bits(),
                            bits(&e),
                            s.to_bits(),
                            bits(&x),
                            rest,
                            hits,
                            acc,
                        )
                    })
                };
                let results: Vec<_> = levels().into_iter().map(|l| (l, run(l))).collect();
                let fma: Vec<_> = results.iter().filter(|(l, _)| *l >= Level::Avx2).collect();
                for w in fma.windows(2) {
                    let (a, b) = (&w[0].1, &w[1].1);
                    assert_eq!(a.5.to_bits(), b.5.to_bits(), "len {len}");
                    assert_eq!(
                        (&a.0, a.1, &a.2, a.3, &a.4, &a.6, &a.7),
                        (&b.0, b.1, &b.2, b.3, &b.4, &b.6, &b.7),
                        "len {len}"
                    );
                }
                // The portable level finds the same hits and the same maxima.
                let p = &results[0].1;
                for (_, r) in &results[1..] {
                    assert_eq!((&p.0, p.1, &p.6), (&r.0, r.1, &r.6), "len {len}");
                    let (a, b) = (f32::from_bits(p.3), f32::from_bits(r.3));
                    assert!(a == b || (a - b).abs() <= 1e-6 * a.abs() || a.is_nan() && b.is_nan());
                }
            }
        }
    }

    #[test]
    fn the_avx2_sums_add_the_tail_after_the_lanes() {
        // exp_split's vector variants add the tail after the lane tree
        // (bits that differ from the body's, which adds it to lane 0):
        // pinned so that a change to either shows.
        if crate::simd::detected() < Level::Avx2 {
            return;
        }
        let mut a = row(37, 3, false);
        let mut b = a.clone();
        let (mut ha, mut hb) = (Vec::new(), Vec::new());
        let sa = at(Level::Avx2, || exp_split(&mut a, 0.0, 1e9, &mut ha));
        let sb = exp_split_body::<true>(&mut b, 0.0, 1e9, &mut hb);
        assert_eq!(bits(&a), bits(&b));
        assert!((sa - sb).abs() <= 1e-6 * sa.abs());
    }
}
