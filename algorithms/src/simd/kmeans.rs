//! The k-means kernels: the assignment's argmax over a chunk's scores,
//! exact squared distances in `f64` (with the update step's sums), the
//! candidates' cross terms for gathered rows, and k-means||'s nearest-so-far
//! update.
//!
//! Every reduction runs in a fixed order ([`LANES`] lanes combined in a
//! fixed tree), so the bits of a row's results depend on the row alone,
//! and no kernel here has a multiply-add to fuse: every level gives the
//! same bits.
//!
//! The AVX-512 level runs the AVX2 code: compiled for AVX-512 (and with
//! explicit mask registers for the argmax), the argmax took 7.4–9.2 % of
//! a 10-iteration run against 6.9 % for AVX2 (the scores come from L2),
//! and the others were no faster.

// Index loops over fixed-size lanes are what vectorises here.
#![allow(clippy::needless_range_loop)]

use ndarray::ArrayView2;

use super::dispatch;

/// Lanes of the `f64` reductions.
pub(crate) const LANES: usize = 8;

/// The argmax's lanes: one AVX-512 vector of `f32`.
const ARGMAX_LANES: usize = 16;

#[inline(always)]
fn argmax_rows_body(scores: &[f32], k: usize, half: &[f32], labels: &mut [u32]) {
    const W: usize = ARGMAX_LANES;
    let full = k / W * W;
    for (row, label) in scores.chunks_exact(k).zip(labels.iter_mut()) {
        // W running maxima, lane l seeing columns l, l+W, l+2W, ...; a
        // strict `>` keeps each lane's first maximum. The index update is
        // written with masks so that it vectorises as the values do.
        let mut best = [f32::NEG_INFINITY; W];
        let mut arg = [0u32; W];
        let mut idx: [u32; W] = std::array::from_fn(|l| l as u32);
        for (s, h) in row[..full]
            .chunks_exact(W)
            .zip(half[..full].chunks_exact(W))
        {
            for l in 0..W {
                let v = s[l] - h[l];
                let mask = u32::from(v > best[l]).wrapping_neg();
                best[l] = if v > best[l] { v } else { best[l] };
                arg[l] = (idx[l] & mask) | (arg[l] & !mask);
                idx[l] += W as u32;
            }
        }
        let (mut b, mut a) = (f32::NEG_INFINITY, 0u32);
        for l in 0..W {
            if best[l] > b || (best[l] == b && arg[l] < a) {
                b = best[l];
                a = arg[l];
            }
        }
        for j in full..k {
            let v = row[j] - half[j];
            if v > b {
                b = v;
                a = j as u32;
            }
        }
        *label = a;
    }
}

dispatch! {
    /// `labels[i] = argmax_k(scores[i, k] − half[k])`, the lowest `k` on
    /// ties (`scores` is rows × `k`, row-major).
    pub(crate) fn argmax_rows(scores: &[f32], k: usize, half: &[f32], labels: &mut [u32]) {
        portable => argmax_rows_body(scores, k, half, labels),
        avx2 => argmax_rows_body(scores, k, half, labels),
        avx512 => avx2,
    }
}

/// `Σ xᵢ²` in f64, eight lanes added in a fixed order.
#[inline]
pub(crate) fn sq_norm<T: Copy + Into<f64>>(x: &[T]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let v: f64 = c[l].into();
            acc[l] += v * v;
        }
    }
    let mut s = fold_lanes(acc);
    for &v in tail {
        let v: f64 = v.into();
        s += v * v;
    }
    s
}

#[inline(always)]
fn fold_lanes(a: [f64; LANES]) -> f64 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// `‖x − c‖²` in f64, and `sums += x` (the update step's accumulation), in
/// one sweep over the row.
#[inline(always)]
fn distance_and_add(x: &[f32], c: &[f64], sums: &mut [f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let n = x.len() / LANES * LANES;
    for ((xc, cc), sc) in x[..n]
        .chunks_exact(LANES)
        .zip(c[..n].chunks_exact(LANES))
        .zip(sums[..n].chunks_exact_mut(LANES))
    {
        for l in 0..LANES {
            let v = f64::from(xc[l]);
            let d = v - cc[l];
            acc[l] += d * d;
            sc[l] += v;
        }
    }
    let mut s = fold_lanes(acc);
    for j in n..x.len() {
        let v = f64::from(x[j]);
        let d = v - c[j];
        s += d * d;
        sums[j] += v;
    }
    s
}

/// `‖x − c‖²` in f64.
#[inline(always)]
pub(crate) fn distance(x: &[f32], c: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let n = x.len() / LANES * LANES;
    for (xc, cc) in x[..n].chunks_exact(LANES).zip(c[..n].chunks_exact(LANES)) {
        for l in 0..LANES {
            let d = f64::from(xc[l]) - cc[l];
            acc[l] += d * d;
        }
    }
    let mut s = fold_lanes(acc);
    for j in n..x.len() {
        let d = f64::from(x[j]) - c[j];
        s += d * d;
    }
    s
}

#[inline(always)]
fn accumulate_body(
    x: ArrayView2<'_, f32>,
    centroids: &[f64],
    labels: &[u32],
    counts: &mut [u64],
    sums: &mut [f64],
) -> f64 {
    let d = x.ncols();
    let mut inertia = 0.0;
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let l = l as usize;
        let row = row.to_slice().expect("rows are contiguous");
        counts[l] += 1;
        inertia += distance_and_add(row, &centroids[l * d..][..d], &mut sums[l * d..][..d]);
    }
    inertia
}

dispatch! {
    /// The update step's sums for the rows of `x` (contiguous rows, `D`
    /// columns) with their `labels`: `counts[l] += 1`, `sums[l] += x`
    /// (`sums` and `centroids` are `K × D` row-major), and the exact
    /// squared distances to the assigned centroids, returned summed.
    pub(crate) fn accumulate(
        x: ArrayView2<'_, f32>,
        centroids: &[f64],
        labels: &[u32],
        counts: &mut [u64],
        sums: &mut [f64],
    ) -> f64 {
        portable => accumulate_body(x, centroids, labels, counts, sums),
        avx2 => accumulate_body(x, centroids, labels, counts, sums),
        avx512 => avx2,
    }
}

#[inline(always)]
fn row_dots_body(rows: &[f32], dim: usize, ct8: &[f32], tp: usize, out: &mut Vec<f32>) {
    const R: usize = 4;
    let g = rows.len() / dim;
    out.clear();
    out.resize(g.div_ceil(R) * R * tp, 0.0);
    let mut x = [[0.0f32; 64]; R];
    for (block, o) in out.chunks_exact_mut(R * tp).enumerate() {
        for group in 0..tp / LANES {
            let mut acc = [[0.0f32; LANES]; R];
            for k0 in (0..dim).step_by(64) {
                let kn = (dim - k0).min(64);
                for (q, xq) in x.iter_mut().enumerate() {
                    let r = block * R + q;
                    if r < g {
                        xq[..kn].copy_from_slice(&rows[r * dim + k0..][..kn]);
                    } else {
                        xq[..kn].fill(0.0);
                    }
                }
                for k in 0..kn {
                    let cv = &ct8[(k0 + k) * tp + group * LANES..][..LANES];
                    for q in 0..R {
                        let xv = x[q][k];
                        for l in 0..LANES {
                            acc[q][l] += xv * cv[l];
                        }
                    }
                }
            }
            for q in 0..R {
                o[q * tp + group * LANES..][..LANES].copy_from_slice(&acc[q]);
            }
        }
    }
}

dispatch! {
    /// The cross terms of `g` gathered rows (row-major, `dim` columns each)
    /// with the candidates `ct8` (`dim × tp`, row-major, `tp` a multiple of
    /// eight), into `out` (rows rounded up to four × `tp`, row-major). Four
    /// rows at a time against eight candidates at a time, so that the
    /// products vectorise; each term is summed over the columns in order,
    /// so a row's terms do not depend on which rows were gathered.
    pub(crate) fn row_dots(rows: &[f32], dim: usize, ct8: &[f32], tp: usize, out: &mut Vec<f32>) {
        portable => row_dots_body(rows, dim, ct8, tp, out),
        avx2 => row_dots_body(rows, dim, ct8, tp, out),
        avx512 => avx2,
    }
}

#[inline(always)]
fn nearer_body(dot: &[f32], xx: &[f64], cc: f64, id: f64, d2: &mut [f64], near: &mut [f64]) {
    let m = d2.len();
    let (dot, xx, near) = (&dot[..m], &xx[..m], &mut near[..m]);
    for i in 0..m {
        let d = (xx[i] + cc - 2.0 * f64::from(dot[i])).max(0.0);
        let closer = d < d2[i];
        d2[i] = if closer { d } else { d2[i] };
        near[i] = if closer { id } else { near[i] };
    }
}

dispatch! {
    /// k-means||'s update for one candidate: where the candidate is nearer
    /// than the nearest so far (strictly), it becomes the nearest.
    pub(crate) fn nearer(dot: &[f32], xx: &[f64], cc: f64, id: f64, d2: &mut [f64], near: &mut [f64]) {
        portable => nearer_body(dot, xx, cc, id, d2, near),
        avx2 => nearer_body(dot, xx, cc, id, d2, near),
        avx512 => avx2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels};

    #[test]
    fn every_level_gives_the_same_bits() {
        let (n, k, d) = (37usize, 45usize, 11usize);
        let wave = |i: usize, f: f32| ((i as f32) * f).sin() * 3.0;
        let mut scores: Vec<f32> = (0..n * k).map(|i| wave(i, 0.37)).collect();
        scores[5] = f32::NAN;
        scores[k + 3] = scores[k + 20]; // a tie
        let half: Vec<f32> = (0..k).map(|i| wave(i, 0.11).abs()).collect();
        let x: Vec<f32> = (0..n * d).map(|i| wave(i, 0.23)).collect();
        let xv = ArrayView2::from_shape((n, d), &x).unwrap();
        let cent: Vec<f64> = (0..k * d).map(|i| f64::from(wave(i, 0.05))).collect();
        let tp = 16;
        let ct8: Vec<f32> = (0..d * tp).map(|i| wave(i, 0.71)).collect();
        let run = || {
            let mut labels = vec![0u32; n];
            argmax_rows(&scores, k, &half, &mut labels);
            let mut counts = vec![0u64; k];
            let mut sums = vec![0.5f64; k * d];
            let inertia = accumulate(xv, &cent, &labels, &mut counts, &mut sums);
            let mut dots = Vec::new();
            row_dots(&x[..7 * d], d, &ct8, tp, &mut dots);
            let xx: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let mut d2 = vec![f64::INFINITY; n];
            let mut near = vec![-1.0; n];
            nearer(&scores[..n], &xx, 2.0, 3.0, &mut d2, &mut near);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let dots: Vec<u32> = dots.iter().map(|x| x.to_bits()).collect();
            (
                labels,
                counts,
                bits(&sums),
                inertia.to_bits(),
                dots,
                bits(&d2),
                bits(&near),
            )
        };
        let all: Vec<_> = levels().into_iter().map(|l| at(l, run)).collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]));
        // Row 1's tie goes to the lower index, as a plain search finds.
        let row = &scores[k..2 * k];
        let mut best = (f32::NEG_INFINITY, 0);
        for (j, (&s, &h)) in row.iter().zip(&half).enumerate() {
            if s - h > best.0 {
                best = (s - h, j as u32);
            }
        }
        assert_eq!(all[0].0[1], best.1);
    }
}
