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
//! `C = Σ_s F̃_s E[w_s]ᵀ` (`C·D × R`) are summed over *groups* of sessions
//! (256 from session 0, fewer when the memory budget holds fewer
//! posteriors): every group's part is one GEMM per tile (256 packed entries
//! of `A`, 8 components of `C`) and the parts are added exactly
//! ([`ExactSum`], the arithmetic of `reduce = "sum"`). Two passes do this
//! (see [`TvCommunication`](super::TvCommunication) for when each runs):
//!
//! - gathering ([`posterior_pass`], then [`gather_a`] / [`gather_c`] and
//!   [`round_a`] / [`round_c`]): the session pass writes each session's
//!   `E[w]` and packed `E[w wᵀ]` in place (under MPI they are gathered to
//!   every rank), then the tiles are split between workers, each tile
//!   summed by its one owner, so no accumulator is copied per worker;
//! - reducing ([`reduce_pass`]): a worker computes a group's posteriors and
//!   its parts of both accumulators, and the runtime sums the groups'
//!   parts exactly across workers and ranks, so only `A` and `C` travel.
//!
//! The products of a group have the same operands either way, so the two
//! give the same bits.

use std::ops::Range;
use std::sync::Mutex;

use faer::Mat;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};
use shardkit::{parallelize, ExactSum, Reduce};

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
/// what `what` asks into `second` (`S × K`, or `S × 0` for nothing), and
/// each session's term of the objective into `objective`. `sessions` are
/// the rows' indices in the whole set (for messages).
#[allow(clippy::too_many_arguments)]
#[parallelize(
    split = "sessions, zero, first, w, second, objective",
    reduce = "sum",
    block_size = SESSION_BLOCK
)]
pub(crate) fn posterior_pass(
    sessions: Range<usize>,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    w: ArrayViewMut2<'_, f64>,
    second: ArrayViewMut2<'_, f64>,
    objective: &mut [f64],
    model: &TvModel,
    pre: &Precomputed,
    what: Second,
) -> Result<PosteriorSums, IvectorError> {
    posterior_block(
        sessions, zero, first, w, second, objective, model, pre, what,
    )
}

/// [`posterior_pass`] for one block of sessions, on the calling thread.
#[allow(clippy::too_many_arguments)]
fn posterior_block(
    sessions: Range<usize>,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    w: ArrayViewMut2<'_, f64>,
    second: ArrayViewMut2<'_, f64>,
    objective: &mut [f64],
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
                let term = 0.5 * batch.b_dot_mean(lane) - 0.5 * batch.log_det(lane);
                objective[i] = term;
                sums.objective += term;
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

/// One group's part of `Aᵀ` for a tile of packed entries:
/// `out = E[wwᵀ]ᵀ · N` over the group's sessions, `out` the tile's
/// `entries × C`, `second` the group's `entries × n` (a row per packed
/// entry), `zero` its `n × C` statistics.
///
/// Both ways of summing the M-step's accumulators (see
/// [`Communication`](super::TvCommunication)) compute every group's tile
/// products with this call, on operands of the same shapes, and add them
/// exactly: that is what gives them the same bits.
fn group_a(out: ArrayViewMut2<'_, f64>, second: ArrayView2<'_, f64>, zero: ArrayView2<'_, f64>) {
    gemm(out, second, zero, false);
}

/// One group's part of `C = F̃ᵀ · E[w]` for the components `c0..c1`:
/// `out` is their `(c1 − c0)·D × R`, `first` and `zero` the group's
/// statistics, `w` its `E[w]` (`n × R`). See [`group_a`].
fn group_c(
    out: ArrayViewMut2<'_, f64>,
    components: Range<usize>,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
) {
    let mut out = out;
    let (c0, c1) = (components.start, components.end);
    let d = means.ncols();
    let r = w.ncols();
    // Σ_s F_s E[w_s]ᵀ − m_c (Σ_s N_sc E[w_s])ᵀ: see the module docs.
    gemm(
        out.view_mut(),
        first.slice(s![.., c0 * d..c1 * d]).t(),
        w,
        false,
    );
    let mut nw = Array2::zeros((c1 - c0, r));
    gemm(nw.view_mut(), zero.slice(s![.., c0..c1]).t(), w, false);
    for (i, nw) in nw.rows().into_iter().enumerate() {
        for (j, &m) in means.row(c0 + i).iter().enumerate() {
            out.row_mut(i * d + j).scaled_add(-m, &nw);
        }
    }
}

/// The groups of a range of sessions: `group` sessions each, counted from
/// session 0 (so a chunk that starts at a multiple of `group` cuts the same
/// groups as the whole set).
fn groups(sessions: Range<usize>, group: usize) -> impl Iterator<Item = Range<usize>> {
    (sessions.start..sessions.end)
        .step_by(group)
        .map(move |g| g..(g + group).min(sessions.end))
}

/// An exact sum per tile of an accumulator, made on first use: under MPI
/// a rank only ever adds to the tiles of its own blocks (the same blocks
/// in every pass, since blocks are cut from the sizes alone), so it holds
/// only those.
pub(crate) type TileSums = [Mutex<Option<ExactSum>>];

/// Tile `tile`'s sum, `len` numbers, made on first use.
fn tile_sum<'a>(
    sums: &'a TileSums,
    tile: usize,
    len: usize,
) -> std::sync::MutexGuard<'a, Option<ExactSum>> {
    let mut guard = sums[tile].lock().unwrap_or_else(|e| e.into_inner());
    guard.get_or_insert_with(|| ExactSum::new(len));
    guard
}

/// Adds, for a tile of packed entries (`PACKED_BLOCK` of them, each a
/// block), every group's [`group_a`] product to the tile's exact sum
/// (`sums[entries.start / PACKED_BLOCK]`, entries × `C`). `second` holds
/// the chunk's packed `E[w wᵀ]` (`n × K`), `zero` its statistics,
/// `offset` the index of its first session. [`round_a`] then writes the
/// sums out.
#[parallelize(split = "entries", reduce = "none", block_size = PACKED_BLOCK)]
pub(crate) fn gather_a(
    entries: Range<usize>,
    sums: &TileSums,
    second: ArrayView2<'_, f64>,
    zero: ArrayView2<'_, f64>,
    offset: usize,
    group: usize,
) -> Result<(), IvectorError> {
    let (n, c) = zero.dim();
    let mut sum = tile_sum(sums, entries.start / PACKED_BLOCK, entries.len() * c);
    let sum = sum.as_mut().expect("made above");
    let mut out = Array2::<f64>::zeros((entries.len(), c));
    for g in groups(offset..offset + n, group) {
        let local = g.start - offset..g.end - offset;
        group_a(
            out.view_mut(),
            second.slice(s![local.clone(), entries.clone()]).t(),
            zero.slice(s![local, ..]),
        );
        add_group(sum, &out, "A", g)?;
    }
    Ok(())
}

/// Adds a group's part of a tile (`out`, a new array) to the tile's exact
/// sum, or names the group and the accumulator (`what`) when a value is
/// one the exact sums cannot take.
fn add_group(
    sum: &mut ExactSum,
    out: &Array2<f64>,
    what: &'static str,
    sessions: Range<usize>,
) -> Result<(), IvectorError> {
    sum.add(out.as_slice().expect("a new array"))
        .map_err(|bad| IvectorError::Accumulator {
            what,
            sessions,
            value: bad.value,
        })
}

/// Writes the tiles' sums of [`gather_a`] into `at` (`K × C`, a tile's
/// rows per block: the blocks, and so the ranks, of `gather_a`).
#[parallelize(split = "entries, at", reduce = "none", block_size = PACKED_BLOCK)]
pub(crate) fn round_a(entries: Range<usize>, at: ArrayViewMut2<'_, f64>, sums: &TileSums) {
    let mut at = at;
    let c = at.ncols();
    let sum = tile_sum(sums, entries.start / PACKED_BLOCK, entries.len() * c);
    let values = sum.as_ref().expect("made above").to_vec();
    let values =
        ArrayView2::from_shape((entries.len(), c), &values).expect("a tile of entries × C");
    at.assign(&values);
}

/// As [`gather_a`] for `C`: a tile of `COMPONENT_BLOCK` components per
/// block (`sums[components.start / COMPONENT_BLOCK]`, their `D × R`
/// blocks), from the chunk's statistics and `E[w]`.
#[allow(clippy::too_many_arguments)]
#[parallelize(split = "components", reduce = "none", block_size = COMPONENT_BLOCK)]
pub(crate) fn gather_c(
    components: Range<usize>,
    sums: &TileSums,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    offset: usize,
    group: usize,
) -> Result<(), IvectorError> {
    let (d, r) = (means.ncols(), w.ncols());
    let n = zero.nrows();
    let len = components.len() * d * r;
    let mut sum = tile_sum(sums, components.start / COMPONENT_BLOCK, len);
    let sum = sum.as_mut().expect("made above");
    let mut out = Array2::<f64>::zeros((components.len() * d, r));
    for g in groups(offset..offset + n, group) {
        let local = g.start - offset..g.end - offset;
        group_c(
            out.view_mut(),
            components.clone(),
            zero.slice(s![local.clone(), ..]),
            first.slice(s![local.clone(), ..]),
            means,
            w.slice(s![local, ..]),
        );
        add_group(sum, &out, "C", g)?;
    }
    Ok(())
}

/// Writes the tiles' sums of [`gather_c`] into `c` (`C × D·R`, a tile's
/// rows per block: the blocks, and so the ranks, of `gather_c`).
#[parallelize(split = "components, c", reduce = "none", block_size = COMPONENT_BLOCK)]
pub(crate) fn round_c(components: Range<usize>, c: ArrayViewMut2<'_, f64>, sums: &TileSums) {
    let mut c = c;
    let sum = tile_sum(sums, components.start / COMPONENT_BLOCK, c.len());
    let values = sum.as_ref().expect("made above").to_vec();
    let values = ArrayView2::from_shape(c.dim(), &values).expect("a tile of components × D·R");
    c.assign(&values);
}

/// The tiles of `n` rows `size` at a time.
pub(crate) fn tiles(n: usize, size: usize) -> usize {
    n.div_ceil(size)
}

/// 2^84: exact sums take finite values below it (see [`ExactSum`]).
const EXACT_LIMIT: f64 = 19_342_813_113_834_066_795_298_816.0;

/// What a group of sessions adds to the M-step: its parts of `Aᵀ`
/// (`K × C`) and `C` (`C × D·R`), and its posterior sums. Summed exactly
/// over groups, threads and ranks by [`reduce_pass`].
#[derive(Reduce, Debug, Clone, PartialEq)]
pub(crate) struct Contribution {
    /// `Σ_s E[w wᵀ]_s N_sᵀ`, `K × C`.
    pub(crate) at: Array2<f64>,
    /// `Σ_s F̃_s E[w_s]ᵀ`, `C × D·R`.
    pub(crate) c: Array2<f64>,
    /// The posterior sums.
    pub(crate) sums: PosteriorSums,
}

/// Every group's [`Contribution`], summed: the posteriors of a group stay
/// on the worker that computes them, and only the sums travel between
/// ranks (`K·C + C·D·R + K + R + 2` numbers, however many sessions).
/// Groups are `group` sessions from session 0, as [`gather_a`] and
/// [`gather_c`] cut them, and every product has the same operands, so the
/// sums have the same bits as theirs.
#[parallelize(split = "sessions, zero, first", reduce = "sum", block_size = group)]
pub(crate) fn reduce_pass(
    sessions: Range<usize>,
    zero: ArrayView2<'_, f64>,
    first: ArrayView2<'_, f64>,
    model: &TvModel,
    pre: &Precomputed,
    group: usize,
) -> Result<Contribution, IvectorError> {
    let n = zero.nrows();
    let (c, d, r) = (model.n_components(), model.dim(), model.rank());
    let k = packed_len(r);
    with_scratch(|scratch: &mut GroupScratch| {
        scratch.w.resize(n * r, 0.0);
        scratch.objective.resize(n, 0.0);
        let mut w =
            ArrayViewMut2::from_shape((n, r), &mut scratch.w[..n * r]).expect("scratch of n × R");
        // Stored `K × n`, as in the gathered pass (`gather_a` reads it so).
        let mut second = aligned_rows(&mut scratch.second, k, n);
        posterior_block(
            sessions.clone(),
            zero,
            first,
            w.view_mut(),
            second.view_mut().reversed_axes(),
            &mut scratch.objective[..n],
            model,
            pre,
            Second::Moment,
        )?;
        let sums = group_sums(w.view(), second.view(), &scratch.objective[..n]);
        let mut at = Array2::<f64>::zeros((k, c));
        for tile in 0..tiles(k, PACKED_BLOCK) {
            let entries = tile * PACKED_BLOCK..((tile + 1) * PACKED_BLOCK).min(k);
            group_a(
                at.slice_mut(s![entries.clone(), ..]),
                second.slice(s![entries, ..]),
                zero,
            );
        }
        let mut cacc = Array2::<f64>::zeros((c, d * r));
        for tile in 0..tiles(c, COMPONENT_BLOCK) {
            let components = tile * COMPONENT_BLOCK..((tile + 1) * COMPONENT_BLOCK).min(c);
            let rows = cacc.slice_mut(s![components.clone(), ..]);
            let out = rows
                .into_shape_with_order((components.len() * d, r))
                .expect("rows of a new array are contiguous");
            group_c(out, components, zero, first, model.means(), w.view());
        }
        // The runtime's exact sum would panic on such a value: name the
        // group instead.
        for (what, part) in [("A", &at), ("C", &cacc)] {
            if let Some(&value) = part
                .iter()
                .find(|v| !v.is_finite() || v.abs() >= EXACT_LIMIT)
            {
                return Err(IvectorError::Accumulator {
                    what,
                    sessions: sessions.clone(),
                    value,
                });
            }
        }
        Ok(Contribution { at, c: cacc, sums })
    })
}

/// Buffers of [`reduce_pass`], kept per thread between groups.
#[derive(Default)]
struct GroupScratch {
    w: Vec<f64>,
    second: Vec<f64>,
    objective: Vec<f64>,
}

/// A group's posterior sums, added in session order from what the session
/// pass wrote (`w`: `n × R`; `second`: `K × n`, a row per packed entry;
/// each session's objective term), so that both ways of summing see the
/// same per-group numbers.
pub(crate) fn group_sums(
    w: ArrayView2<'_, f64>,
    second: ArrayView2<'_, f64>,
    objective: &[f64],
) -> PosteriorSums {
    let mut first = Array1::<f64>::zeros(w.ncols());
    for row in w.rows() {
        first += &row;
    }
    let second = second
        .rows()
        .into_iter()
        .map(|row| row.iter().sum::<f64>())
        .collect();
    PosteriorSums {
        first,
        second,
        objective: objective.iter().sum(),
        sessions: objective.len() as u64,
    }
}

impl PosteriorSums {
    /// The sums as numbers for an [`ExactSum`]: `first`, `second`,
    /// `objective`.
    pub(crate) fn numbers(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.first.len() + self.second.len() + 1);
        out.extend(self.first.iter());
        out.extend(self.second.iter());
        out.push(self.objective);
        out
    }

    /// The inverse of [`numbers`](PosteriorSums::numbers), for `r` and
    /// `sessions`.
    pub(crate) fn from_numbers(numbers: &[f64], r: usize, sessions: u64) -> PosteriorSums {
        PosteriorSums {
            first: Array1::from(numbers[..r].to_vec()),
            second: Array1::from(numbers[r..numbers.len() - 1].to_vec()),
            objective: numbers[numbers.len() - 1],
            sessions,
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
