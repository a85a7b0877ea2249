//! Selection in `f32` rows: counting and collecting the elements at or
//! above a threshold, and the `n` largest of a row (the pruned E-step's
//! selection pass). Results are integers, so every level gives the same.

use super::dispatch;
use super::rows::LANES;

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
        super::rows::push_bits(out, (c * LANES) as u32, bits);
    }
    for (i, &v) in row[base..].iter().enumerate() {
        if v >= threshold {
            out.push((base + i) as u32);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Masks per sixteen elements (two AVX2 `movemask`s, or one AVX-512
    //! compare), and the vectorised top-`n` search.

    use std::arch::x86_64::*;

    /// The hit mask of the 16 elements at `p` (AVX2: two `movemask`s).
    ///
    /// # Safety
    ///
    /// `p` readable for 16 elements.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn ge_mask16(p: *const f32, vthr: __m256) -> u32 {
        // SAFETY: the caller's 16 elements.
        let h0 = _mm256_cmp_ps::<_CMP_GE_OQ>(unsafe { _mm256_loadu_ps(p) }, vthr);
        // SAFETY: as above.
        let h1 = _mm256_cmp_ps::<_CMP_GE_OQ>(unsafe { _mm256_loadu_ps(p.wrapping_add(8)) }, vthr);
        (_mm256_movemask_ps(h0) | (_mm256_movemask_ps(h1) << 8)) as u32
    }

    /// `count_ge` with `movemask` and `popcnt` per sixteen elements.
    #[target_feature(enable = "avx2,fma,popcnt")]
    pub(super) fn count_ge_avx2(row: &[f32], threshold: f32) -> usize {
        let whole = row.len() - row.len() % 16;
        let vthr = _mm256_set1_ps(threshold);
        let mut count = 0u32;
        for i in (0..whole).step_by(16) {
            // SAFETY: `i + 16 ≤ whole ≤ row.len()`.
            count += unsafe { ge_mask16(row.as_ptr().wrapping_add(i), vthr) }.count_ones();
        }
        count as usize + row[whole..].iter().filter(|&&v| v >= threshold).count()
    }

    /// `count_ge` with one AVX-512 compare per sixteen elements.
    #[target_feature(enable = "avx512f,avx2,fma,popcnt")]
    pub(super) fn count_ge_avx512(row: &[f32], threshold: f32) -> usize {
        let whole = row.len() - row.len() % 16;
        let vthr = _mm512_set1_ps(threshold);
        let mut count = 0u32;
        for i in (0..whole).step_by(16) {
            // SAFETY: `i + 16 ≤ whole ≤ row.len()`.
            let v = unsafe { _mm512_loadu_ps(row.as_ptr().wrapping_add(i)) };
            count += _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, vthr).count_ones();
        }
        count as usize + row[whole..].iter().filter(|&&v| v >= threshold).count()
    }

    /// Appends `base + b` for each set bit `b` of `mask` into reserved room.
    ///
    /// # Safety
    ///
    /// `out` has room for `mask.count_ones()` more elements.
    #[inline(always)]
    unsafe fn append_bits(out: &mut Vec<u32>, base: u32, mut mask: u32) {
        let mut len = out.len();
        let dst = out.as_mut_ptr();
        while mask != 0 {
            // SAFETY: within the room the caller promised.
            unsafe { dst.wrapping_add(len).write(base + mask.trailing_zeros()) };
            len += 1;
            mask &= mask - 1;
        }
        // SAFETY: the first `len` elements are initialised.
        unsafe { out.set_len(len) };
    }

    /// `collect_ge` with a mask per sixteen elements, into reserved room.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn collect_ge_avx2(row: &[f32], threshold: f32, out: &mut Vec<u32>) {
        let whole = row.len() - row.len() % 16;
        let vthr = _mm256_set1_ps(threshold);
        out.reserve(row.len());
        for i in (0..whole).step_by(16) {
            // SAFETY: `i + 16 ≤ whole ≤ row.len()`.
            let mask = unsafe { ge_mask16(row.as_ptr().wrapping_add(i), vthr) };
            // SAFETY: at most `row.len()` indices are appended in all,
            // and that much room was reserved.
            unsafe { append_bits(out, i as u32, mask) };
        }
        super::collect_tail(row, whole, threshold, out);
    }

    /// `collect_ge` with one AVX-512 compare per sixteen elements.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn collect_ge_avx512(row: &[f32], threshold: f32, out: &mut Vec<u32>) {
        let whole = row.len() - row.len() % 16;
        let vthr = _mm512_set1_ps(threshold);
        out.reserve(row.len());
        for i in (0..whole).step_by(16) {
            // SAFETY: `i + 16 ≤ whole ≤ row.len()`.
            let v = unsafe { _mm512_loadu_ps(row.as_ptr().wrapping_add(i)) };
            let mask = u32::from(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, vthr));
            // SAFETY: as in `collect_ge_avx2`.
            unsafe { append_bits(out, i as u32, mask) };
        }
        super::collect_tail(row, whole, threshold, out);
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

    /// The left-packing permutation of `mask` (8 bits).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pack_perm(mask: usize) -> __m256i {
        // SAFETY: a row of the table is 8 `u32`s.
        unsafe { _mm256_loadu_si256(PACK[mask].as_ptr().cast()) }
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
            // SAFETY: `i + 8 ≤ n` elements of `vals` (and `idx`).
            let v = unsafe { _mm256_loadu_ps(vals.wrapping_add(i)) };
            let ix = if idx.is_null() {
                lanes
            } else {
                // SAFETY: as above.
                unsafe { _mm256_loadu_si256(idx.wrapping_add(i).cast()) }
            };
            let mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, vthr)) as usize;
            let perm = pack_perm(mask);
            let kept = _mm256_permutevar8x32_ps(v, perm);
            // SAFETY: `k ≤ i` values were kept so far, and the outputs
            // have room for the count plus 8.
            unsafe { _mm256_storeu_ps(out_v.wrapping_add(k), kept) };
            let packed = _mm256_permutevar8x32_epi32(ix, perm);
            // SAFETY: as above.
            unsafe { _mm256_storeu_si256(out_i.wrapping_add(k).cast(), packed) };
            k += mask.count_ones() as usize;
            lanes = _mm256_add_epi32(lanes, _mm256_set1_epi32(8));
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`.
            let v = unsafe { *vals.wrapping_add(i) };
            if v >= thr {
                // SAFETY: `k ≤ i < n`; the outputs have room for the count.
                unsafe { *out_v.wrapping_add(k) = v };
                let index = if idx.is_null() {
                    i as u32
                } else {
                    // SAFETY: `idx` (unless null) has `n` elements, `i < n`.
                    unsafe { *idx.wrapping_add(i) }
                };
                // SAFETY: as for `out_v`.
                unsafe { *out_i.wrapping_add(k) = index };
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
        let val = |i: usize| {
            // SAFETY: every caller passes `i < c`.
            let v = unsafe { *vals.wrapping_add(i) };
            _mm256_set1_ps(v)
        };
        let (vn, vc) = (_mm256_set1_epi32(n as i32), _mm256_set1_epi32(c as i32));
        let mut k = 0;
        let mut jb = 0;
        while jb < c {
            // SAFETY: `jb < c`, and 8 elements from `jb` are readable.
            let vj = unsafe { _mm256_loadu_ps(vals.wrapping_add(jb)) };
            let jl = _mm256_add_epi32(
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                _mm256_set1_epi32(jb as i32),
            );
            // `rank −= mask` counts the candidates ranked above each lane.
            let mut rank = _mm256_setzero_si256();
            for i in 0..jb {
                let m = _mm256_cmp_ps::<_CMP_GE_OQ>(val(i), vj);
                rank = _mm256_sub_epi32(rank, _mm256_castps_si256(m));
            }
            for i in jb..(jb + 8).min(c) {
                let vi = val(i);
                let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(vi, vj);
                let eq = _mm256_cmp_ps::<_CMP_EQ_OQ>(vi, vj);
                let after =
                    _mm256_castsi256_ps(_mm256_cmpgt_epi32(jl, _mm256_set1_epi32(i as i32)));
                let m = _mm256_or_ps(gt, _mm256_and_ps(eq, after));
                rank = _mm256_sub_epi32(rank, _mm256_castps_si256(m));
            }
            for i in (jb + 8).min(c)..c {
                let m = _mm256_cmp_ps::<_CMP_GT_OQ>(val(i), vj);
                rank = _mm256_sub_epi32(rank, _mm256_castps_si256(m));
            }
            let keep = _mm256_and_si256(_mm256_cmpgt_epi32(vn, rank), _mm256_cmpgt_epi32(vc, jl));
            let mask = _mm256_movemask_ps(_mm256_castsi256_ps(keep)) as usize;
            let cnt = mask.count_ones() as usize;
            if k + cnt > n {
                return usize::MAX;
            }
            // SAFETY: 8 elements from `jb` are readable.
            let ix = unsafe { _mm256_loadu_si256(idx.wrapping_add(jb).cast()) };
            let first = _mm256_cmpgt_epi32(
                _mm256_set1_epi32(cnt as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            );
            let packed = _mm256_permutevar8x32_epi32(ix, pack_perm(mask));
            // SAFETY: only the first `cnt` lanes are written, and
            // `k + cnt ≤ n` (checked above).
            unsafe {
                _mm256_maskstore_epi32(out.as_mut_ptr().wrapping_add(k).cast(), first, packed)
            };
            k += cnt;
            jb += 8;
        }
        k
    }

    /// The vectorised `top_n` (see [`super::top_n`]).
    ///
    /// Candidates at least `max − w` are left-packed in one vectorised pass
    /// (`w` widened until there are `n`), narrowed by bisection on the
    /// packed values to at most `n + 8` (or as far as the values allow),
    /// then ranked against each other (vector compares, `c²/8`) and the
    /// first `n` kept.
    #[target_feature(enable = "avx2,fma,popcnt")]
    pub(super) fn top_n_avx2(
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
            let c = unsafe { pack_ge(row.as_ptr(), std::ptr::null(), m, thr, pv, pi) };
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
                // SAFETY: the first `c ≤ m` of `cv` are the candidates
                // (the slice ends before `pack_ge` writes there again).
                let cm = count_ge_avx2(unsafe { std::slice::from_raw_parts(pv, c) }, mid);
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
                // SAFETY: in place, as `pack_ge` allows; `c ≤ m`.
                c = unsafe { pack_ge(pv, pi, c, lo, pv, pi) };
            }
        }
        // SAFETY: `cv`, `ci` are initialised to `m + 8 ≥ c` rounded up to 8.
        if unsafe { keep_top(pv, pi, c, out) } != n {
            return false;
        }
        let nth = out
            .iter()
            .map(|&i| row[i as usize])
            .fold(f32::INFINITY, |a, v| if v < a { v } else { a });
        *width = 1.25 * f64::from(max - nth) + 0.5;
        true
    }
}

/// `collect_ge`'s elements `whole..`, one by one.
#[inline(always)]
fn collect_tail(row: &[f32], whole: usize, threshold: f32, out: &mut Vec<u32>) {
    for (j, &v) in row.iter().enumerate().skip(whole) {
        if v >= threshold {
            out.push(j as u32);
        }
    }
}

dispatch! {
    /// The number of elements of `row` that are at least `threshold`.
    pub(crate) fn count_ge(row: &[f32], threshold: f32) -> usize {
        portable => count_ge_body(row, threshold),
        avx2 => x86::count_ge_avx2(row, threshold),
        avx512 => x86::count_ge_avx512(row, threshold),
    }
}

dispatch! {
    /// Appends to `out` the indices (in increasing order) of the elements
    /// of `row` that are at least `threshold` (NaNs never are).
    pub(crate) fn collect_ge(row: &[f32], threshold: f32, out: &mut Vec<u32>) {
        portable => collect_ge_body(row, threshold, out),
        avx2 => x86::collect_ge_avx2(row, threshold, out),
        avx512 => x86::collect_ge_avx512(row, threshold, out),
    }
}

dispatch! {
    /// The `out.len()` largest values of `row` (whose maximum is `max`;
    /// ties to the lower index, NaNs never), their indices in increasing
    /// order into `out`; `width` is the guess of the distance from the
    /// maximum to the `n`-th largest value, updated for the next row.
    /// Returns false (`out` unspecified) on the portable level, for a
    /// maximum that is not finite, for `n` not in `1..row.len()` or for
    /// fewer than `n` numbers near the maximum: the caller then uses its
    /// portable search. The AVX-512 level runs the AVX2 search (its
    /// left-packing by table and ranking are as fast as the AVX-512
    /// compress instructions on rows of 512).
    pub(crate) fn top_n(
        row: &[f32],
        max: f32,
        width: &mut f64,
        cv: &mut Vec<f32>,
        ci: &mut Vec<u32>,
        out: &mut [u32],
    ) -> bool {
        portable => {
            let _ = (row, max, width, cv, ci, out);
            false
        },
        avx2 => x86::top_n_avx2(row, max, width, cv, ci, out),
        avx512 => x86::top_n_avx2(row, max, width, cv, ci, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels};

    #[test]
    fn counts_and_collections_agree_on_every_level() {
        let mut s = 0x1234_5678u32;
        for len in [0usize, 1, 15, 16, 17, 33, 100, 512, 519] {
            let mut row: Vec<f32> = (0..len)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    (s % 1000) as f32 * 0.1 - 50.0
                })
                .collect();
            if len > 8 {
                row[3] = f32::NAN;
                row[len - 2] = f32::INFINITY;
                row[len / 3] = f32::NEG_INFINITY;
            }
            for thr in [-60.0f32, -10.0, 0.0, 49.9, f32::NEG_INFINITY, f32::NAN] {
                let want: Vec<u32> = (0..len as u32)
                    .filter(|&i| row[i as usize] >= thr)
                    .collect();
                for level in levels() {
                    at(level, || {
                        assert_eq!(count_ge(&row, thr), want.len(), "{level:?} len {len}");
                        let mut got = vec![7u32];
                        collect_ge(&row, thr, &mut got);
                        assert_eq!(got[0], 7);
                        assert_eq!(&got[1..], &want[..], "{level:?} len {len} thr {thr}");
                    });
                }
            }
        }
    }
}
