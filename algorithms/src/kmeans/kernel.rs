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

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::linalg::gemm_f32;

/// Rows per GEMM: the chunk's score matrix (`CHUNK × K` f32) stays in the
/// L2 cache for the argmin that reads it back; a multiple of 96, the row
/// tile of faer's AVX-512 f32 kernels.
pub(crate) const CHUNK: usize = 384;

const LANES: usize = 8;

/// Centroids ready for the assignment: an f32 copy, transposed for the
/// GEMM, and their halved squared norms.
#[derive(Debug, Clone)]
pub(crate) struct Centroids {
    /// Clusters × columns, the exact (f64) centroids.
    pub(crate) c64: Array2<f64>,
    /// Clusters × columns, rounded to f32.
    c32: Array2<f32>,
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
        Self {
            c64,
            c32,
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
    // Row-major output and the centroids as a column-major right operand:
    // the layout faer runs fastest for these shapes (no packing of the
    // centroids for each chunk).
    let scores = cross_terms(x, c.c32.t(), &mut work.scores);
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
    const W: usize = 16;
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
/// Rows need not be contiguous; the result does not depend on the layout.
pub(crate) fn row_norms(x: ArrayView2<'_, f32>, norms: &mut Vec<f64>) {
    norms.clear();
    let mut buf: Vec<f32> = Vec::with_capacity(x.ncols());
    norms.extend(x.rows().into_iter().map(|r| match r.to_slice() {
        Some(r) => sq_norm(r),
        None => {
            buf.clear();
            buf.extend(r.iter());
            sq_norm(&buf)
        }
    }));
}

/// Points tried as centroids by k-means++ and k-means||: their
/// coordinates (f32: they are rows of the data), their squared norms, and
/// their global row indices.
#[derive(Debug, Clone)]
pub(crate) struct Candidates {
    pub(crate) points: Array2<f32>,
    /// Columns × candidates: the layout faer runs fastest for the skinny
    /// products of the initialisation (about 4× faster than `points`).
    ct: Array2<f32>,
    /// Columns × candidates padded with zeros to a multiple of eight,
    /// row-major: the right operand of [`row_dots`].
    ct8: Vec<f32>,
    pub(crate) norms: Vec<f64>,
    pub(crate) index: Vec<usize>,
}

impl Candidates {
    pub(crate) fn new(points: Array2<f32>, index: Vec<usize>) -> Self {
        let norms = points
            .rows()
            .into_iter()
            .map(|r| sq_norm(r.to_slice().expect("owned rows")))
            .collect();
        let ct = points.t().as_standard_layout().into_owned();
        let (t, dim) = points.dim();
        let tp = t.div_ceil(LANES) * LANES;
        let mut ct8 = vec![0.0; dim * tp];
        for ((j, k), &v) in points.indexed_iter() {
            ct8[k * tp + j] = v;
        }
        Self {
            points,
            ct,
            ct8,
            norms,
            index,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.points.nrows()
    }

    /// The number of candidates rounded up to a multiple of eight.
    pub(crate) fn padded(&self) -> usize {
        self.len().div_ceil(LANES) * LANES
    }

    /// Rows of a chunk per GEMM: the candidates × rows cross terms (f32)
    /// stay within about 1 MiB.
    pub(crate) fn chunk_rows(&self) -> usize {
        (262_144 / self.len().max(1)).clamp(CHUNK, 4 * CHUNK) / CHUNK * CHUNK
    }

    /// The cross terms `c·x` of every candidate with every row of the
    /// chunk: candidates × rows, row-major, so that a candidate's terms are
    /// contiguous.
    pub(crate) fn cross<'w>(&self, x: ArrayView2<'_, f32>, scores: &'w mut Vec<f32>) -> &'w [f32] {
        let (t, m) = (self.len(), x.nrows());
        scores.clear();
        scores.resize(t * m, 0.0);
        let out = ArrayViewMut2::from_shape((t, m), scores.as_mut_slice()).expect("sized above");
        gemm_f32(out, self.ct.t(), x.t());
        scores
    }

    /// Rows of the chunk `first..first + m` that are candidates themselves:
    /// `(candidate, row in chunk)`, whose distance is exactly 0.
    pub(crate) fn within(
        &self,
        first: usize,
        m: usize,
    ) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.index
            .iter()
            .enumerate()
            .filter(move |(_, &i)| (first..first + m).contains(&i))
            .map(move |(j, &i)| (j, i - first))
    }
}

/// The cross terms of `g` gathered rows (row-major, `dim` columns each)
/// with the candidates, into `out` (rows × `padded()` candidates,
/// row-major). Four rows at a time against eight candidates at a time, so
/// that the products vectorise; each term is summed over the columns in
/// order, so a row's terms do not depend on which rows were gathered.
pub(crate) fn row_dots(rows: &[f32], dim: usize, c: &Candidates, out: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { row_dots_avx2(rows, dim, c, out) };
    }
    row_dots_generic(rows, dim, c, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_dots_avx2(rows: &[f32], dim: usize, c: &Candidates, out: &mut Vec<f32>) {
    row_dots_generic(rows, dim, c, out)
}

// Index loops over fixed-size lanes are what vectorises here.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn row_dots_generic(rows: &[f32], dim: usize, c: &Candidates, out: &mut Vec<f32>) {
    const R: usize = 4;
    let tp = c.padded();
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
                    let cv = &c.ct8[(k0 + k) * tp + group * LANES..][..LANES];
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

/// k-means||'s update for one candidate: where the candidate is nearer
/// than the nearest so far (strictly), it becomes the nearest.
pub(crate) fn nearer(dot: &[f32], xx: &[f64], cc: f64, id: f64, d2: &mut [f64], near: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { nearer_avx2(dot, xx, cc, id, d2, near) };
    }
    nearer_generic(dot, xx, cc, id, d2, near)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn nearer_avx2(dot: &[f32], xx: &[f64], cc: f64, id: f64, d2: &mut [f64], near: &mut [f64]) {
    nearer_generic(dot, xx, cc, id, d2, near)
}

#[inline(always)]
fn nearer_generic(dot: &[f32], xx: &[f64], cc: f64, id: f64, d2: &mut [f64], near: &mut [f64]) {
    let m = d2.len();
    let (dot, xx, near) = (&dot[..m], &xx[..m], &mut near[..m]);
    for i in 0..m {
        let d = (xx[i] + cc - 2.0 * f64::from(dot[i])).max(0.0);
        let closer = d < d2[i];
        d2[i] = if closer { d } else { d2[i] };
        near[i] = if closer { id } else { near[i] };
    }
}

/// Scratch space for candidate distances.
#[derive(Debug, Default)]
pub(crate) struct CandidateWork {
    pub(crate) scores: Vec<f32>,
    pub(crate) norms: Vec<f64>,
}

/// Rows per block for `n` rows: about 32 blocks (enough to keep a few
/// threads busy to the end), at least one GEMM chunk and at most 16
/// chunks — a block's exact-sum packing (one fixed-point conversion per
/// accumulator value) must stay small beside its GEMM work.
pub(crate) fn block_rows(n: usize) -> usize {
    n.div_ceil(32).div_ceil(CHUNK).clamp(1, 16) * CHUNK
}
