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
//! fixed tree), so the bits of a row's results depend on the row alone; the
//! vectorised loops are in [`crate::simd::kmeans`].

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::linalg::gemm_f32;
use crate::simd::kmeans::{argmax_rows, sq_norm, LANES};
pub(crate) use crate::simd::kmeans::{distance, nearer};

/// Rows per GEMM: the chunk's score matrix (`CHUNK × K` f32) stays in the
/// L2 cache for the argmin that reads it back; a multiple of 96, the row
/// tile of faer's AVX-512 f32 kernels.
pub(crate) const CHUNK: usize = 384;

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
    crate::simd::kmeans::accumulate(
        x,
        c.c64.as_slice().expect("owned, standard layout"),
        labels,
        counts,
        sums.as_slice_mut().expect("owned, standard layout"),
    )
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
    crate::simd::kmeans::row_dots(rows, dim, &c.ct8, c.padded(), out)
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
