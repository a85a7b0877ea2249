//! Tall-skinny QR (TSQR): the R factor of a table of many rows and few
//! columns, in one pass.
//!
//! Each chunk factors its rows (a Householder QR); the chunks' R factors
//! are gathered in chunk order and merged in a fixed binary tree
//! (neighbours first: chunks 0+1, 2+3, …, then their results pairwise),
//! each merge the R of two stacked R's. The tree depends on the number of
//! chunks only, so R has the same bits on any number of threads or ranks;
//! its diagonal is made non-negative, which makes R unique for a table of
//! full column rank.
//!
//! # The kernel
//!
//! A chunk (or a merge) *folds* its rows into an upper-triangular R, 64
//! rows at a time: the Householder QR of `[R; B]` for a block `B` of rows,
//! which keeps R's triangle and costs 2·rows·cols² flops in all, as a
//! dense Householder QR of the chunk does. Its reflectors are taken eight
//! columns at a time (a panel of one 8-lane vector per row) and applied to
//! the columns right of the panel at once (compact WY, `I − V·T·Vᵀ`), in
//! loops over 8-lane arrays that LLVM vectorises, compiled per instruction
//! set ([`crate::simd`]): about 2.5 times faer's blocked QR (`qr_in_place`,
//! any block size) on a 4096 × 60 chunk on this project's AVX-512 Xeon.
//! Rows are read once, row-major, with the shift and the column of ones
//! applied as they are copied into the block. Fewer rows than columns go
//! to faer's QR, which gives the thin (rows × columns) R.

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};

use super::errors::StatsError;
use super::pass::{self, ChunkPass};
use super::table::Table;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor;
use faer::{Mat, Par};

use crate::linalg::mat_ref;
use crate::simd::{dispatch, madd64};

/// What a chunk's QR factors: its rows, less a shift, after an optional
/// column of ones.
pub(crate) struct Tsqr<'a> {
    /// Subtracted from every row first (a value near the data keeps the
    /// column of ones and the data well apart in scale).
    pub(crate) shift: Option<&'a Array1<f64>>,
    /// Whether a first column of ones is factored with the data (whose R
    /// then holds, below its first row, the R of the centred data).
    pub(crate) ones: bool,
}

impl Tsqr<'_> {
    fn width(&self, cols: usize) -> usize {
        cols + usize::from(self.ones)
    }

    /// The rows as factored.
    fn matrix(&self, rows: ArrayView2<'_, f64>) -> Array2<f64> {
        let (n, d) = rows.dim();
        let lead = usize::from(self.ones);
        let mut m = Array2::zeros((n, d + lead));
        if self.ones {
            m.column_mut(0).fill(1.0);
        }
        let mut data = m.slice_mut(s![.., lead..]);
        data.assign(&rows);
        if let Some(shift) = self.shift {
            data -= shift;
        }
        m
    }
}

impl ChunkPass for Tsqr<'_> {
    type Out = Array2<f64>;

    fn chunk(
        &self,
        rows: ArrayView2<'_, f64>,
        _: &str,
        _: usize,
    ) -> Result<Array2<f64>, StatsError> {
        let width = self.width(rows.ncols());
        if rows.nrows() < width || width == 0 {
            return Ok(thin_r(self.matrix(rows).view()));
        }
        let mut fold = Fold::new(width);
        fold.rows(
            rows,
            self.ones,
            self.shift.map(|s| s.as_slice().expect("a fresh array")),
        );
        Ok(fold.finish())
    }
}

/// Lanes of a column block: one AVX-512 vector of `f64`, two AVX2 ones.
const LANES: usize = 8;
type Lanes = [f64; LANES];
/// Rows folded at a time: a block of 64 rows × 64 columns is 32 KiB.
const FOLD_ROWS: usize = 64;

/// An upper-triangular R that rows are folded into (see the module docs),
/// with its scratch: R and the block of rows are row-major, each row
/// `blocks` vectors of [`LANES`] (the columns padded with zeros).
struct Fold {
    cols: usize,
    blocks: usize,
    r: Vec<Lanes>,
    b: Vec<Lanes>,
    v: Vec<Lanes>,
}

impl Fold {
    /// R = 0, `cols` columns.
    fn new(cols: usize) -> Fold {
        let blocks = cols.div_ceil(LANES);
        Fold {
            cols,
            blocks,
            r: vec![[0.0; LANES]; cols * blocks],
            b: vec![[0.0; LANES]; FOLD_ROWS * blocks],
            v: vec![[0.0; LANES]; FOLD_ROWS],
        }
    }

    /// Starts from `top` (at most `cols` rows, upper trapezoidal) as R.
    fn from_r(top: ArrayView2<'_, f64>) -> Fold {
        let mut fold = Fold::new(top.ncols());
        let np = fold.blocks * LANES;
        let flat = fold.r.as_flattened_mut();
        for (i, row) in top.rows().into_iter().enumerate() {
            for (d, &x) in flat[i * np..].iter_mut().zip(row) {
                *d = x;
            }
        }
        fold
    }

    /// Folds `rows` (less `shift`, after a column of ones when `ones`)
    /// into R, [`FOLD_ROWS`] at a time.
    fn rows(&mut self, rows: ArrayView2<'_, f64>, ones: bool, shift: Option<&[f64]>) {
        let lead = usize::from(ones);
        let np = self.blocks * LANES;
        for block in rows.axis_chunks_iter(Axis(0), FOLD_ROWS) {
            let m = block.nrows();
            let flat = self.b.as_flattened_mut();
            for (i, row) in block.rows().into_iter().enumerate() {
                let dst = &mut flat[i * np..i * np + self.cols];
                if ones {
                    dst[0] = 1.0;
                }
                let dst = &mut dst[lead..];
                match (row.as_slice(), shift) {
                    (Some(x), Some(s)) => {
                        for ((d, &x), &s) in dst.iter_mut().zip(x).zip(s) {
                            *d = x - s;
                        }
                    }
                    (Some(x), None) => dst.copy_from_slice(x),
                    (None, _) => {
                        for (j, (d, &x)) in dst.iter_mut().zip(row).enumerate() {
                            *d = x - shift.map_or(0.0, |s| s[j]);
                        }
                    }
                }
            }
            fold_rows(
                &mut self.r,
                &mut self.b[..m * self.blocks],
                &mut self.v[..m],
                self.cols,
            );
        }
    }

    /// R, `cols` × `cols`.
    fn finish(&self) -> Array2<f64> {
        let np = self.blocks * LANES;
        let flat = self.r.as_flattened();
        Array2::from_shape_fn((self.cols, self.cols), |(i, j)| {
            if j >= i {
                flat[i * np + j]
            } else {
                0.0
            }
        })
    }
}

dispatch! {
    /// Folds the block `b` (rows × blocks vectors) into `r` (`cols` rows ×
    /// blocks vectors): R := R of `[R; b]`, by Householder reflectors (the
    /// multiplies and adds fused on the AVX2 and AVX-512 levels, in the
    /// same order: the same bits on both). `v` is scratch, a vector per
    /// row of `b`; `b` is left overwritten.
    fn fold_rows(r: &mut [Lanes], b: &mut [Lanes], v: &mut [Lanes], cols: usize) {
        portable => fold_body::<false>(r, b, v, cols),
        avx2 => fold_body::<true>(r, b, v, cols),
        avx512 => fold_body::<true>(r, b, v, cols),
    }
}

/// The sum of four partial sums, pairwise. (Sums over a block's rows keep
/// four accumulators, rows `i % 4`, in loops unrolled by four: a runtime
/// index would put them in memory; so would any array indexed by a lane
/// number known only at run time, which is why the loops below run over
/// every lane and test it.)
#[inline(always)]
fn sum4(a: &[Lanes; 4]) -> Lanes {
    std::array::from_fn(|l| (a[0][l] + a[1][l]) + (a[2][l] + a[3][l]))
}

// Reflectors and panels index several arrays by the same lane.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn fold_body<const FMA: bool>(r: &mut [Lanes], b: &mut [Lanes], v: &mut [Lanes], cols: usize) {
    let nc = r.len() / cols;
    let nb = v.len();
    debug_assert_eq!(b.len(), nb * nc);
    let quads = nb / 4 * 4;
    for c in 0..nc {
        let k0 = c * LANES;
        let p = LANES.min(cols - k0);
        let mut tau = [0.0; LANES];
        v.fill([0.0; LANES]);
        // Squares of the panel's columns in the block.
        let mut acc = [[0.0; LANES]; 4];
        for i in (0..quads).step_by(4) {
            for a in 0..4 {
                let x = b[(i + a) * nc + c];
                for m in 0..LANES {
                    acc[a][m] = madd64::<FMA>(x[m], x[m], acc[a][m]);
                }
            }
        }
        for i in quads..nb {
            let x = b[i * nc + c];
            for m in 0..LANES {
                acc[0][m] = madd64::<FMA>(x[m], x[m], acc[0][m]);
            }
        }
        let mut squares = sum4(&acc);
        // The panel, one reflector (column) at a time.
        for l in 0..p {
            let k = k0 + l;
            let sigma = squares[l];
            if sigma == 0.0 {
                continue;
            }
            let rk = k * nc + c;
            let alpha = r[rk][l];
            let norm = (alpha * alpha + sigma).sqrt();
            let beta = if alpha >= 0.0 { -norm } else { norm };
            let t = (beta - alpha) / beta;
            let scale = 1.0 / (alpha - beta);
            tau[l] = t;
            r[rk][l] = beta;
            // w = R[k, panel] + vᵀ·B[.., panel], on the lanes after l.
            let mut acc = [[0.0; LANES]; 4];
            for i in (0..quads).step_by(4) {
                for a in 0..4 {
                    // Through a reference: a copy indexed by `l` would go
                    // through memory (a store-forwarding stall).
                    let x = &b[(i + a) * nc + c];
                    let s = x[l] * scale;
                    v[i + a][l] = s;
                    for m in 0..LANES {
                        acc[a][m] = madd64::<FMA>(s, x[m], acc[a][m]);
                    }
                }
            }
            for i in quads..nb {
                let x = &b[i * nc + c];
                let s = x[l] * scale;
                v[i][l] = s;
                for m in 0..LANES {
                    acc[0][m] = madd64::<FMA>(s, x[m], acc[0][m]);
                }
            }
            let sum = sum4(&acc);
            let row = r[rk];
            let mut w = [0.0; LANES];
            for m in 0..LANES {
                w[m] = if m > l { (row[m] + sum[m]) * t } else { 0.0 };
            }
            for m in 0..LANES {
                r[rk][m] = row[m] - w[m];
            }
            r[rk][l] = beta;
            let mut acc = [[0.0; LANES]; 4];
            for i in (0..quads).step_by(4) {
                for a in 0..4 {
                    let s = -v[i + a][l];
                    let x = &mut b[(i + a) * nc + c];
                    for m in 0..LANES {
                        x[m] = madd64::<FMA>(s, w[m], x[m]);
                        acc[a][m] = madd64::<FMA>(x[m], x[m], acc[a][m]);
                    }
                }
            }
            for i in quads..nb {
                let s = -v[i][l];
                let x = &mut b[i * nc + c];
                for m in 0..LANES {
                    x[m] = madd64::<FMA>(s, w[m], x[m]);
                    acc[0][m] = madd64::<FMA>(x[m], x[m], acc[0][m]);
                }
            }
            squares = sum4(&acc);
        }
        if c + 1 == nc {
            break;
        }
        // T of the panel's reflectors, H₀·H₁·…·H₇ = I − V·T·Vᵀ, from the
        // Gram matrix of their parts in the block (their parts in R are
        // distinct unit vectors).
        let mut g = [[0.0; LANES]; LANES];
        for vi in v.iter() {
            for a in 0..LANES {
                for m in 0..LANES {
                    g[a][m] = madd64::<FMA>(vi[a], vi[m], g[a][m]);
                }
            }
        }
        let mut tm = [[0.0; LANES]; LANES];
        for q in 0..LANES {
            tm[q][q] = tau[q];
            for a in 0..q {
                let mut s = 0.0;
                for e in a..q {
                    s = madd64::<FMA>(tm[a][e], g[e][q], s);
                }
                tm[a][q] = -tau[q] * s;
            }
        }
        // The columns right of the panel, a vector of lanes at a time:
        // W = R[panel rows, ..] + Vᵀ·B, U = Tᵀ·W, R −= U, B −= V·U.
        for c2 in c + 1..nc {
            let mut w = [[0.0; LANES]; LANES];
            for q in 0..LANES {
                if q < p {
                    w[q] = r[(k0 + q) * nc + c2];
                }
            }
            for i in 0..nb {
                let x = b[i * nc + c2];
                let vi = v[i];
                for q in 0..LANES {
                    for m in 0..LANES {
                        w[q][m] = madd64::<FMA>(vi[q], x[m], w[q][m]);
                    }
                }
            }
            let mut u = [[0.0; LANES]; LANES];
            for q in 0..LANES {
                for a in 0..=q {
                    for m in 0..LANES {
                        u[q][m] = madd64::<FMA>(tm[a][q], w[a][m], u[q][m]);
                    }
                }
            }
            for q in 0..LANES {
                if q < p {
                    let row = &mut r[(k0 + q) * nc + c2];
                    for m in 0..LANES {
                        row[m] -= u[q][m];
                    }
                }
            }
            for i in 0..nb {
                let vi = v[i];
                let x = &mut b[i * nc + c2];
                for q in 0..LANES {
                    for m in 0..LANES {
                        x[m] = madd64::<FMA>(-vi[q], u[q][m], x[m]);
                    }
                }
            }
        }
    }
}

/// The thin R factor of `a` (min(rows, cols) × cols), by faer's
/// Householder QR on the calling thread (`Par::Seq`). faer's `Mat::qr`
/// would take its global parallelism, which (with faer's `rayon` feature,
/// as in this crate's tests) splits the work by the ambient rayon pool's
/// size: other bits on other thread counts.
fn thin_r(a: ArrayView2<'_, f64>) -> Array2<f64> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Array2::zeros((0, n));
    }
    let mut f = mat_ref(&a).to_owned();
    let block = factor::recommended_block_size::<f64>(m, n);
    let mut coeff = Mat::<f64>::zeros(block, k);
    let scratch = factor::qr_in_place_scratch::<f64>(m, n, block, Par::Seq, Default::default());
    factor::qr_in_place(
        f.as_mut(),
        coeff.as_mut(),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    );
    Array2::from_shape_fn((k, n), |(i, j)| if j >= i { f[(i, j)] } else { 0.0 })
}

/// R of `top` stacked on `bottom`.
fn merge(top: &Array2<f64>, bottom: &Array2<f64>) -> Array2<f64> {
    let cols = top.ncols();
    if cols > 0 && top.nrows() + bottom.nrows() >= cols {
        let mut fold = Fold::from_r(top.view());
        fold.rows(bottom.view(), false, None);
        return fold.finish();
    }
    let stacked = concatenate(Axis(0), &[top.view(), bottom.view()])
        .expect("R factors of one table have equal widths");
    thin_r(stacked.view())
}

/// Merges the chunks' R factors in the fixed tree, and makes the diagonal
/// non-negative; the result is square (`cols` × `cols`), with zero rows
/// below the rank when the table has fewer rows than columns.
pub(crate) fn merge_tree(mut level: Vec<Array2<f64>>, cols: usize) -> Array2<f64> {
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut it = level.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => merge(&a, &b),
                None => a,
            });
        }
        level = next;
    }
    let r = level.pop().unwrap_or_else(|| Array2::zeros((0, cols)));
    let mut square = Array2::zeros((cols, cols));
    let k = r.nrows().min(cols);
    square.slice_mut(s![..k, ..]).assign(&r.slice(s![..k, ..]));
    for i in 0..k {
        if square[[i, i]] < 0.0 {
            square.row_mut(i).mapv_inplace(|v| -v);
        }
    }
    square
}

/// The R factor of `table` as `spec` says (width: columns, plus one with
/// ones), over every rank's rows when the table is local.
///
/// # Errors
///
/// Those of the pass (a table without rows, ranks of different widths).
pub(crate) fn tsqr(table: &Table<'_>, spec: &Tsqr<'_>) -> Result<Array2<f64>, StatsError> {
    let survey = pass::survey(table)?;
    tsqr_surveyed(table, spec, survey.cols)
}

/// [`tsqr`] of a table already surveyed (`cols`: its columns), without
/// surveying it again.
///
/// # Errors
///
/// Those of the pass.
pub(crate) fn tsqr_surveyed(
    table: &Table<'_>,
    spec: &Tsqr<'_>,
    cols: usize,
) -> Result<Array2<f64>, StatsError> {
    let rs = pass::each(table, spec)?;
    Ok(merge_tree(rs, spec.width(cols)))
}

/// The thin R factor of `a` (min(rows, cols) × cols), as a chunk's is
/// computed: for the final QR of a ridge fit's R stacked on √α·I.
pub(crate) fn r_factor(a: ArrayView2<'_, f64>) -> Array2<f64> {
    thin_r(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels, Level};

    /// Seeded rows in [−0.5, 0.5).
    fn rows(n: usize, d: usize) -> Array2<f64> {
        let mut s = 0x9e37_79b9_7f4a_7c15_u64;
        Array2::from_shape_fn((n, d), |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    fn folded(x: &Array2<f64>, ones: bool) -> Array2<f64> {
        let mut fold = Fold::new(x.ncols() + usize::from(ones));
        fold.rows(x.view(), ones, None);
        fold.finish()
    }

    #[test]
    fn the_fold_is_faers_r_up_to_signs_and_avx2_and_avx512_agree() {
        // 13 and 17 columns: panels of 8 with a partial last one; 203 rows:
        // blocks of 64 and a short one, quads and a remainder.
        for d in [13, 17] {
            let x = rows(203, d);
            let mut with_ones = Array2::ones((203, d + 1));
            with_ones.slice_mut(s![.., 1..]).assign(&x);
            let reference = thin_r(with_ones.view());
            let mut by_level = Vec::new();
            for level in levels() {
                let r = at(level, || folded(&x, true));
                for i in 0..=d {
                    let sign = (r[[i, i]] * reference[[i, i]]).signum();
                    for j in i..=d {
                        let diff = (r[[i, j]] - sign * reference[[i, j]]).abs();
                        assert!(diff < 1e-12, "{level:?} d {d} ({i}, {j}): {diff:e}");
                    }
                }
                by_level.push((level, r));
            }
            let fused: Vec<_> = by_level
                .iter()
                .filter(|(l, _)| *l != Level::Portable)
                .collect();
            for pair in fused.windows(2) {
                assert_eq!(pair[0].1, pair[1].1, "{:?} vs {:?}", pair[0].0, pair[1].0);
            }
        }
    }
}
