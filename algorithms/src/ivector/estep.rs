//! The data passes of total-variability EM and i-vector extraction.
//!
//! Notation: `S` sessions, `C` components, `D` dimensions, rank `R`,
//! `K = R(R+1)/2` (a symmetric `R × R` matrix packed as its lower
//! triangle). With `N_s` the zero-order and `F̃_s = F_s − N_s m` the
//! centred first-order statistics of session `s`, and
//! `P_c = T_cᵀ Σ_c⁻¹ T_c`:
//!
//! ```text
//! L_s = I + Σ_c N_sc P_c         (one GEMM per block: N · P, P packed C × K)
//! b_s = Tᵀ Σ⁻¹ F̃_s               (F · Σ⁻¹T − N · Q, Q_c = m_cᵀ Σ_c⁻¹ T_c)
//! E[w_s] = L_s⁻¹ b_s,  E[w_s w_sᵀ] = L_s⁻¹ + E[w_s] E[w_s]ᵀ
//! ```
//!
//! The per-session `C·D × R` products `Σ⁻¹ T N_s` are never formed, and
//! neither are the centred statistics: `b` and the M-step's `C` are
//! computed from the raw `F` with a rank-`C` correction (a `S × C × R`
//! GEMM), which saves writing and reading a copy of `F` per pass. The
//! price is cancellation when a mean is large against the spread of the
//! data around it: the relative error of `b` is about `ε·|N m|/|F̃|`
//! (`ε = 2⁻⁵³`), 1e-14 for a mean 10 standard deviations from zero over
//! 1,000 frames, far below what the EM can resolve.
//!
//! The per-session factorisations run [`LANES`](super::batch::LANES)
//! sessions at a time (see [`super::batch`]).
//!
//! The M-step's accumulators `A_c = Σ_s N_sc E[w wᵀ]_s` (`C × K`) and
//! `C = Σ_s F̃_s E[w_s]ᵀ` (`C·D × R`) are large, so they are not summed
//! per worker: the session pass writes each session's `E[w]` and packed
//! `E[w wᵀ]` in place, then `Aᵀ = E[wwᵀ]ᵀ · N` is computed split over the
//! `K` packed entries and `C` split over components — each element has one
//! owner, so nothing large is reduced and every worker reads its share of
//! the session data once.

use std::ops::Range;

use faer::Mat;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};
use shardkit::{parallelize, Reduce};

use super::batch::{Batch, LANES};
use super::errors::IvectorError;
use super::model::TvModel;
use crate::linalg::{factor_lower, gemm, gemm_lower, pack_lower, packed_len, unpack_lower};
use crate::scratch::{aligned_rows, with_scratch};

/// Sessions per block of the session pass: the `N·P` GEMM (`K × C` by
/// `C × 256`) ran at 52 GFLOP/s here against 49 with 128 sessions and 40
/// with 64 (a whole iteration: 1.5 % faster than with 128), and the
/// block's scratch (`K × 256` precisions, 10 MB at `R = 100`) stays in L3.
pub(crate) const SESSION_BLOCK: usize = 256;
/// Components per block of the component passes.
pub(crate) const COMPONENT_BLOCK: usize = 8;
/// Packed entries of `E[w wᵀ]` per block of the `Aᵀ` pass.
pub(crate) const PACKED_BLOCK: usize = 256;

/// What the session pass writes for each session besides `E[w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Second {
    /// Nothing (plain extraction).
    Nothing,
    /// The posterior covariance `L⁻¹`, packed.
    Covariance,
    /// The second moment `E[w wᵀ] = L⁻¹ + E[w]E[w]ᵀ`, packed (training).
    Moment,
}

/// The model's per-iteration precomputation: `P_c = T_cᵀ Σ_c⁻¹ T_c`
/// (packed, `C × K`), `Σ⁻¹ T` (`C·D × R`) and `−Q`, `Q_c = m_cᵀ Σ_c⁻¹ T_c`
/// (`C × R`).
pub(crate) struct Precomputed {
    p: Array2<f64>,
    tsig: Array2<f64>,
    neg_q: Array2<f64>,
}

impl Precomputed {
    pub(crate) fn new(model: &TvModel) -> Precomputed {
        let mut pre = Precomputed {
            p: Array2::zeros((0, 0)),
            tsig: Array2::zeros((0, 0)),
            neg_q: Array2::zeros((0, 0)),
        };
        pre.update(model);
        pre
    }

    /// Recomputes for `model`, reusing the arrays when their shapes fit
    /// (every element is overwritten).
    pub(crate) fn update(&mut self, model: &TvModel) {
        let (c, d, r) = (model.n_components(), model.dim(), model.rank());
        ensure_shape(&mut self.p, (c, packed_len(r)));
        ensure_shape(&mut self.tsig, (c * d, r));
        ensure_shape(&mut self.neg_q, (c, r));
        precompute(
            by_component(model.t(), c),
            model.variances(),
            model.means(),
            self.p.view_mut(),
            by_component_mut(self.tsig.view_mut(), c),
            self.neg_q.view_mut(),
        );
    }
}

/// Makes `a` a `shape` array: kept as it is (contents and all) when it
/// has that shape already, else a new zero array.
pub(crate) fn ensure_shape(a: &mut Array2<f64>, shape: (usize, usize)) {
    if a.dim() != shape {
        *a = Array2::zeros(shape);
    }
}

/// `C·D × R` (standard layout) seen as `C × D·R`: one row per component.
pub(crate) fn by_component(t: ArrayView2<'_, f64>, c: usize) -> ArrayView2<'_, f64> {
    let len = t.len();
    t.into_shape_with_order((c, len / c))
        .expect("T is in standard layout")
}

/// The mutable [`by_component`].
pub(crate) fn by_component_mut(t: ArrayViewMut2<'_, f64>, c: usize) -> ArrayViewMut2<'_, f64> {
    let len = t.len();
    t.into_shape_with_order((c, len / c))
        .expect("T is in standard layout")
}

/// One component's `D × R` block of a `C × D·R` row.
fn block(row: ndarray::ArrayView1<'_, f64>, r: usize) -> ArrayView2<'_, f64> {
    let d = row.len() / r;
    row.into_shape_with_order((d, r))
        .expect("rows of a standard-layout array are contiguous")
}

#[parallelize(
    split = "t, variances, means, p, tsig, neg_q",
    reduce = "none",
    block_size = COMPONENT_BLOCK
)]
fn precompute(
    t: ArrayView2<'_, f64>,
    variances: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    p: ArrayViewMut2<'_, f64>,
    tsig: ArrayViewMut2<'_, f64>,
    neg_q: ArrayViewMut2<'_, f64>,
) {
    let (mut p, mut tsig, mut neg_q) = (p, tsig, neg_q);
    let r = packed_rank(p.ncols());
    let mut full = Array2::<f64>::zeros((r, r));
    for c in 0..t.nrows() {
        let tc = block(t.row(c), r);
        let mut sc = tsig
            .row_mut(c)
            .into_shape_with_order((tc.nrows(), r))
            .expect("contiguous row");
        let mut q = neg_q.row_mut(c);
        q.fill(0.0);
        for (((mut out, row), &v), &m) in sc
            .rows_mut()
            .into_iter()
            .zip(tc.rows())
            .zip(variances.row(c))
            .zip(means.row(c))
        {
            out.zip_mut_with(&row, |o, &x| *o = x / v);
            q.scaled_add(-m, &out);
        }
        // P_c is symmetric: its lower triangle is all that is packed.
        gemm_lower(full.view_mut(), tc.t(), sc.view());
        pack_lower(
            full.view(),
            p.row_mut(c).into_slice().expect("contiguous row"),
        );
    }
}

/// `R` from `K = R(R+1)/2`.
fn packed_rank(k: usize) -> usize {
    let r = (((8 * k + 1) as f64).sqrt() as usize).saturating_sub(1) / 2;
    debug_assert_eq!(packed_len(r), k);
    r
}

/// What the session pass adds up over sessions.
#[derive(Reduce, Debug, Clone, PartialEq)]
pub(crate) struct PosteriorSums {
    /// `Σ_s E[w_s]`, `R`.
    pub(crate) first: Array1<f64>,
    /// `Σ_s E[w_s w_sᵀ]`, packed (zeros unless the second moment is asked).
    pub(crate) second: Array1<f64>,
    /// `Σ_s (½ b_sᵀ E[w_s] − ½ log det L_s)`: the log-likelihood of the
    /// statistics up to terms that do not depend on `T`.
    pub(crate) objective: f64,
    /// Sessions seen.
    pub(crate) sessions: u64,
}

/// The posterior of every session's i-vector: `E[w]` into `w` (`S × R`),
/// and what `what` asks into `second` (`S × K`, or `S × 0` for nothing).
/// `sessions` are the rows' indices in the whole set (for messages).
#[allow(clippy::too_many_arguments)]
#[parallelize(
    split = "sessions, zero, first, w, second",
    reduce = "sum",
    block_size = SESSION_BLOCK
)]
pub(crate) fn posterior_pass(
    sessions: Range<usize>,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    w: ArrayViewMut2<'_, f64>,
    second: ArrayViewMut2<'_, f64>,
    model: &TvModel,
    pre: &Precomputed,
    what: Second,
) -> Result<PosteriorSums, IvectorError> {
    let (mut w, mut second) = (w, second);
    let n = zero.nrows();
    let r = model.rank();
    let k = packed_len(r);
    let mut sums = PosteriorSums {
        first: Array1::zeros(r),
        second: Array1::zeros(if what == Second::Moment { k } else { 0 }),
        objective: 0.0,
        sessions: n as u64,
    };
    with_scratch(|scratch: &mut Scratch| {
        scratch.b.resize(n * r, 0.0);
        scratch.row.resize(r, 0.0);
        let batch = Batch::in_slot(&mut scratch.batch, r);
        // The precisions transposed (`K × n`): a row holds one entry of
        // every session of the block, so a batch loads whole cache lines.
        let mut lp = aligned_rows(&mut scratch.lp, k, n);
        let mut b =
            ArrayViewMut2::from_shape((n, r), &mut scratch.b[..n * r]).expect("scratch of n × R");
        gemm(lp.view_mut(), pre.p.t(), zero.t(), false);
        gemm(b.view_mut(), first, pre.tsig.view(), false);
        gemm(b.view_mut(), zero, pre.neg_q.view(), true);
        let (lp, b) = (lp.view(), b.view());
        let row = &mut scratch.row;
        for g0 in (0..n).step_by(LANES) {
            let lanes = LANES.min(n - g0);
            let rhs: [&[f64]; LANES] =
                std::array::from_fn(|l| contiguous(b.row(g0 + l.min(lanes - 1))));
            batch.load_columns(lp.slice(s![.., g0..g0 + lanes]), true);
            // The next batch's rows come in while this one computes.
            let next = (g0 + LANES).min(n)..(g0 + 2 * LANES).min(n);
            batch.prefetch_input(lp.slice(s![.., next.clone()]));
            if what != Second::Nothing {
                batch.prefetch_output(second.slice(s![next, ..]));
            }
            batch.set_rhs(&rhs[..lanes]);
            batch
                .factor_and_solve()
                .map_err(|bad| IvectorError::NotPositiveDefinite {
                    session: sessions.start + g0 + bad.lane,
                    pivot: bad.pivot,
                })?;
            for lane in 0..lanes {
                let i = g0 + lane;
                batch.mean(lane, &mut row[..r]);
                for (j, &x) in row[..r].iter().enumerate() {
                    w[[i, j]] = x;
                    sums.first[j] += x;
                }
                sums.objective += 0.5 * batch.b_dot_mean(lane) - 0.5 * batch.log_det(lane);
            }
            if what == Second::Nothing {
                continue;
            }
            batch.inverse();
            let moment = what == Second::Moment;
            let sum = moment.then(|| sums.second.as_slice_mut().expect("a new array"));
            batch.write_inverses(second.slice_mut(s![g0..g0 + lanes, ..]), moment, sum);
        }
        Ok(sums)
    })
}

/// A row of a standard-layout scratch matrix as a slice.
fn contiguous<'a>(row: ndarray::ArrayView1<'a, f64>) -> &'a [f64] {
    row.to_slice().expect("rows of the scratch are contiguous")
}

/// Buffers of the session pass, kept per thread between blocks (a fresh
/// `SESSION_BLOCK × K` buffer per block costs page faults that show in
/// profiles).
#[derive(Default)]
struct Scratch {
    lp: Vec<f64>,
    b: Vec<f64>,
    row: Vec<f64>,
    batch: Option<Batch>,
}

/// `Aᵀ += E[wwᵀ]ᵀ · N` (`=` when not `add`) for a range of packed
/// entries: `at` is `K × C` (a block of its rows), `second` the sessions'
/// packed `E[w wᵀ]` (`S × K`, all of them; fastest stored `K × S`, which
/// makes the GEMM's left operand row-major: 7 % faster here), `zero`
/// their zero-order statistics (`S × C`).
#[parallelize(split = "entries, at", reduce = "none", block_size = PACKED_BLOCK)]
pub(crate) fn accumulate_a(
    entries: Range<usize>,
    at: ArrayViewMut2<'_, f64>,
    second: ArrayView2<'_, f64>,
    zero: ArrayView2<'_, f64>,
    add: bool,
) {
    let rows = second.slice(s![.., entries]);
    gemm(at, rows.t(), zero, add);
}

/// `C += F̃ᵀ · E[w]` (`=` when not `add`) for a range of components: `c`
/// is `C × D·R` (a block of its rows, each a component's `D × R`), the
/// session data whole.
#[parallelize(split = "components, c", reduce = "none", block_size = COMPONENT_BLOCK)]
pub(crate) fn accumulate_c(
    components: Range<usize>,
    c: ArrayViewMut2<'_, f64>,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    add: bool,
) {
    let (c0, c1) = (components.start, components.end);
    let d = means.ncols();
    let r = w.ncols();
    let mut c = c
        .into_shape_with_order(((c1 - c0) * d, r))
        .expect("a block of standard-layout rows is contiguous");
    // Σ_s F_s E[w_s]ᵀ − m_c (Σ_s N_sc E[w_s])ᵀ: see the module docs.
    gemm(
        c.view_mut(),
        first.slice(s![.., c0 * d..c1 * d]).t(),
        w,
        add,
    );
    let mut nw = Array2::zeros((c1 - c0, r));
    gemm(nw.view_mut(), zero.slice(s![.., c0..c1]).t(), w, false);
    for (i, nw) in nw.rows().into_iter().enumerate() {
        for (j, &m) in means.row(c0 + i).iter().enumerate() {
            c.row_mut(i * d + j).scaled_add(-m, &nw);
        }
    }
}

/// The M-step: `T_c = C_c A_c⁻¹` for a range of components (then `· G`,
/// the minimum-divergence rotation, when given). A component whose `A_c`
/// is not positive definite (no session uses it) keeps its rows of `old`
/// (rotated alike). Returns how many components kept their rows.
///
/// The `A_c` are inverted [`LANES`] at a time by [`Batch`] (one `R × R`
/// inverse per component costs `R³` flops, like the `2·D·R²` of a solve
/// with `D` right-hand sides at `R ≈ 2.5·D`, but runs several times faster
/// batched), then `C_c·A_c⁻¹` is a GEMM.
#[allow(clippy::too_many_arguments)]
#[parallelize(split = "components, c, old, t", reduce = "sum", block_size = COMPONENT_BLOCK)]
pub(crate) fn solve_components(
    components: Range<usize>,
    c: ArrayView2<'_, f64>,
    old: ArrayView2<'_, f64>,
    t: ArrayViewMut2<'_, f64>,
    at: ArrayView2<'_, f64>,
    r: usize,
    rotation: Option<&Array2<f64>>,
) -> u64 {
    let d = old.ncols() / r;
    let n = components.len();
    // The block's rows of T as one `n·D × R` matrix; unrotated into
    // `plain` first when there is a rotation (then one GEMM rotates them
    // all).
    let mut t = t
        .into_shape_with_order((n * d, r))
        .expect("a block of standard-layout rows is contiguous");
    let mut plain = Array2::<f64>::zeros(if rotation.is_some() {
        (n * d, r)
    } else {
        (0, r)
    });
    let mut inv = Array2::<f64>::zeros((r, r));
    let kept = with_scratch(|slot: &mut Option<Batch>| {
        let batch = Batch::in_slot(slot, r);
        let mut kept = 0;
        for g0 in (0..n).step_by(LANES) {
            let lanes = LANES.min(n - g0);
            let first = components.start + g0;
            batch.load_columns(at.slice(s![.., first..first + lanes]), false);
            let next = (first + LANES).min(components.end)..(first + 2 * LANES).min(components.end);
            batch.prefetch_input(at.slice(s![.., next]));
            let bad = batch.factor_each();
            batch.inverse();
            for (l, bad) in bad.iter().take(lanes).enumerate() {
                let i = g0 + l;
                let rows = i * d..(i + 1) * d;
                let mut target = match rotation {
                    Some(_) => plain.slice_mut(s![rows, ..]),
                    None => t.slice_mut(s![rows, ..]),
                };
                if bad.is_some() {
                    // A_c singular: the previous rows.
                    kept += 1;
                    target.assign(&block(old.row(i), r));
                    continue;
                }
                batch.write_symmetric(l, inv.view_mut());
                gemm(target, block(c.row(i), r), inv.view(), false);
            }
        }
        kept
    });
    if let Some(g) = rotation {
        gemm(t, plain.view(), g.view(), false);
    }
    kept
}

/// The lower Cholesky factor `G` (full `R × R`, zeros above the diagonal)
/// of a packed symmetric positive definite matrix.
pub(crate) fn cholesky_factor(packed: &[f64], r: usize) -> Result<Array2<f64>, usize> {
    let mut m = Mat::<f64>::zeros(r, r);
    unpack_lower(packed, m.as_mut());
    factor_lower(m)
}

/// The session rows `range` of the statistics.
pub(crate) fn rows(a: ArrayView2<'_, f64>, range: Range<usize>) -> ArrayView2<'_, f64> {
    a.slice_move(s![range, ..])
}
