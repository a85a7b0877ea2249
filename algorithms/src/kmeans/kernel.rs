//! The arithmetic of one chunk of rows: the assignment GEMM, the argmin,
//! exact squared distances, candidate distances.
//!
//! Distances to the centroids come from `‖x‖² − 2x·c + ‖c‖²` with the
//! cross terms `x·c` from one f32 GEMM per chunk. The nearest centroid only
//! needs `x·c − ½‖c‖²` (its largest value), so `‖x‖²` is not computed for
//! the assignment; the squared distance to the chosen centroid is then
//! recomputed exactly in f64 from the coordinates (`D` operations per row,
//! against `K·D` for the GEMM), so inertia and the sums of the update step
//! carry no GEMM rounding. Candidate distances (k-means++ and k-means||)
//! use the whole formula in f64 from the f32 cross terms, floored at 0:
//! rounding can make the distance of a point to itself slightly negative.
//!
//! Every reduction here runs in a fixed order (eight lanes combined in a
//! fixed tree), so the bits of a row's results depend on the row alone.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

use crate::linalg::gemm_f32;

/// Rows per GEMM: the chunk's score matrix (`CHUNK × K` f32) stays in the
/// L2 cache for the argmin that reads it back.
pub(crate) const CHUNK: usize = 256;

const LANES: usize = 8;

/// Centroids ready for the assignment: an f32 copy, transposed for the
/// GEMM, and their halved squared norms.
#[derive(Debug, Clone)]
pub(crate) struct Centroids {
    /// Clusters × columns, the exact (f64) centroids.
    pub(crate) c64: Array2<f64>,
    /// Columns × clusters, rounded to f32.
    ct32: Array2<f32>,
    /// `½‖c‖²` of the f32 centroids (computed in f64, rounded once).
    half_norms: Vec<f32>,
}

impl Centroids {
    pub(crate) fn new(c64: Array2<f64>) -> Self {
        let c32 = c64.mapv(|v| v as f32);
        let half_norms = c32
            .rows()
            .into_iter()
            .map(|r| (0.5 * sq_norm(r.as_slice().expect("owned rows are contiguous"))) as f32)
            .collect();
        let ct32 = c32.t().as_standard_layout().into_owned();
        Self {
            c64,
            ct32,
            half_norms,
        }
    }

    pub(crate) fn k(&self) -> usize {
        self.c64.nrows()
    }

    pub(crate) fn dim(&self) -> usize {
        self.c64.ncols()
    }
}

/// Scratch space reused from chunk to chunk of a block.
#[derive(Debug, Default)]
pub(crate) struct Work {
    scores: Vec<f32>,
    pub(crate) labels: Vec<u32>,
}

/// `x·Cᵀ` for a chunk, into `work.scores` (rows × cols, row-major).
fn cross_terms<'w>(
    x: ArrayView2<'_, f32>,
    ct: ArrayView2<'_, f32>,
    scores: &'w mut Vec<f32>,
) -> ArrayViewMut2<'w, f32> {
    let (m, n) = (x.nrows(), ct.ncols());
    scores.clear();
    scores.resize(m * n, 0.0);
    let mut out = ArrayViewMut2::from_shape((m, n), scores.as_mut_slice()).expect("sized above");
    gemm_f32(out.view_mut(), x, ct);
    out
}

/// Nearest centroid of each row of `x` (ties: the lowest index), into
/// `work.labels`.
pub(crate) fn assign(x: ArrayView2<'_, f32>, c: &Centroids, work: &mut Work) {
    let k = c.k();
    let scores = cross_terms(x, c.ct32.view(), &mut work.scores);
    work.labels.clear();
    work.labels.resize(x.nrows(), 0);
    let scores = scores.into_slice().expect("standard layout");
    argmax_rows(scores, k, &c.half_norms, &mut work.labels);
}

/// `labels[i] = argmax_k(scores[i, k] − half[k])`, the lowest `k` on ties.
fn argmax_rows(scores: &[f32], k: usize, half: &[f32], labels: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { argmax_rows_avx2(scores, k, half, labels) };
    }
    argmax_rows_generic(scores, k, half, labels)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn argmax_rows_avx2(scores: &[f32], k: usize, half: &[f32], labels: &mut [u32]) {
    argmax_rows_generic(scores, k, half, labels)
}

#[inline(always)]
fn argmax_rows_generic(scores: &[f32], k: usize, half: &[f32], labels: &mut [u32]) {
    let full = k / LANES * LANES;
    for (row, label) in scores.chunks_exact(k).zip(labels.iter_mut()) {
        // Eight running maxima, lane l seeing columns l, l+8, l+16, ...;
        // a strict `>` keeps each lane's first maximum.
        let mut best = [f32::NEG_INFINITY; LANES];
        let mut arg = [0u32; LANES];
        for (j, (s, h)) in row[..full]
            .chunks_exact(LANES)
            .zip(half[..full].chunks_exact(LANES))
            .enumerate()
        {
            for l in 0..LANES {
                let v = s[l] - h[l];
                let better = v > best[l];
                best[l] = if better { v } else { best[l] };
                arg[l] = if better {
                    (j * LANES + l) as u32
                } else {
                    arg[l]
                };
            }
        }
        let (mut b, mut a) = (f32::NEG_INFINITY, 0u32);
        for l in 0..LANES {
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

/// The update step's sums for a chunk whose labels are in `work.labels`:
/// `counts[l] += 1`, `sums[l] += x`, and the exact squared distances to
/// the assigned centroids, returned summed.
pub(crate) fn accumulate(
    x: ArrayView2<'_, f32>,
    c: &Centroids,
    labels: &[u32],
    counts: &mut [u64],
    sums: &mut Array2<f64>,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { accumulate_avx2(x, c, labels, counts, sums) };
    }
    accumulate_generic(x, c, labels, counts, sums)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_avx2(
    x: ArrayView2<'_, f32>,
    c: &Centroids,
    labels: &[u32],
    counts: &mut [u64],
    sums: &mut Array2<f64>,
) -> f64 {
    accumulate_generic(x, c, labels, counts, sums)
}

#[inline(always)]
fn accumulate_generic(
    x: ArrayView2<'_, f32>,
    c: &Centroids,
    labels: &[u32],
    counts: &mut [u64],
    sums: &mut Array2<f64>,
) -> f64 {
    let d = c.dim();
    let centroids = c.c64.as_slice().expect("owned, standard layout");
    let sums = sums.as_slice_mut().expect("owned, standard layout");
    let mut inertia = 0.0;
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let l = l as usize;
        let row = row.to_slice().expect("rows are contiguous");
        counts[l] += 1;
        inertia += distance_and_add(row, &centroids[l * d..][..d], &mut sums[l * d..][..d]);
    }
    inertia
}

/// Squared norms of the rows of `x`, into `work.norms`.
pub(crate) fn row_norms(x: ArrayView2<'_, f32>, norms: &mut Vec<f64>) {
    norms.clear();
    norms.extend(
        x.rows()
            .into_iter()
            .map(|r| sq_norm(r.to_slice().expect("rows are contiguous"))),
    );
}

/// Points tried as centroids by k-means++ and k-means||: their
/// coordinates (f32: they are rows of the data), transposed for the GEMM,
/// their squared norms, and their global row indices.
#[derive(Debug, Clone)]
pub(crate) struct Candidates {
    pub(crate) points: Array2<f32>,
    ct: Array2<f32>,
    norms: Vec<f64>,
    pub(crate) index: Vec<usize>,
}

impl Candidates {
    pub(crate) fn new(points: Array2<f32>, index: Vec<usize>) -> Self {
        let ct = points.t().as_standard_layout().into_owned();
        let norms = points
            .rows()
            .into_iter()
            .map(|r| sq_norm(r.to_slice().expect("owned rows")))
            .collect();
        Self {
            points,
            ct,
            norms,
            index,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.points.nrows()
    }

    /// Squared distances of the chunk's rows (squared norms `norms`, first
    /// global index `first`) to every candidate, row-major rows × candidates,
    /// floored at 0; a candidate's distance to itself is exactly 0.
    pub(crate) fn distances<'w>(
        &self,
        x: ArrayView2<'_, f32>,
        norms: &[f64],
        first: usize,
        scores: &'w mut Vec<f32>,
        out: &'w mut Vec<f64>,
    ) -> ArrayViewMut2<'w, f64> {
        let (m, t) = (x.nrows(), self.len());
        let dots = cross_terms(x, self.ct.view(), scores);
        out.clear();
        out.reserve(m * t);
        for (row, &xx) in dots.axis_iter(Axis(0)).zip(norms) {
            for (&dot, &cc) in row.iter().zip(&self.norms) {
                out.push((xx + cc - 2.0 * f64::from(dot)).max(0.0));
            }
        }
        let mut d = ArrayViewMut2::from_shape((m, t), out.as_mut_slice()).expect("sized above");
        for (j, &i) in self.index.iter().enumerate() {
            if (first..first + m).contains(&i) {
                d[(i - first, j)] = 0.0;
            }
        }
        d
    }
}

/// Scratch space for candidate distances.
#[derive(Debug, Default)]
pub(crate) struct CandidateWork {
    pub(crate) scores: Vec<f32>,
    pub(crate) dists: Vec<f64>,
    pub(crate) norms: Vec<f64>,
}
