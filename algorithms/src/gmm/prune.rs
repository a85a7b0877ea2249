//! The pruned E-step: Kaldi-style Gaussian selection.
//!
//! The block kernels behind [`select`](super::select),
//! [`accumulate_pruned`](super::accumulate_pruned) and
//! [`select_and_accumulate`](super::select_and_accumulate); the settings
//! ([`Pruning`]) and their errors ([`PruneError`]). The method and what it
//! leaves out are described on [`Pruning`].

use std::any::Any;

use ndarray::{s, ArrayView2, ArrayViewMut2};

use super::prepared::Prepared;
use super::real::Real;
use super::stats::GmmStats;
use crate::scratch::with_scratch;
use crate::simd::convert::expand;
use crate::simd::pruned::{dots, exp_max_sum, moments};
use crate::simd::select::top_n;

/// The default [`Pruning::top_n`]: Kaldi's `num_gselect` in
/// `sid/train_diag_ubm.sh`.
pub const DEFAULT_TOP_N: usize = 30;

/// The default [`Pruning::min_posterior`].
pub const DEFAULT_MIN_POSTERIOR: f64 = 1e-4;

/// The default [`Pruning::reselect_every`]: 0, select once per stage, as
/// Kaldi's `sid/train_diag_ubm.sh` does (`gmm-gselect` once with the
/// initial model, before the iterations, whose
/// `gmm-global-acc-stats --gselect=…` all reuse that selection).
pub const DEFAULT_RESELECT_EVERY: usize = 0;

/// The pruned ("Gaussian selection") E-step, as Kaldi trains diagonal UBMs
/// (`gmm-gselect --n=30` once, then `gmm-global-acc-stats --gselect=…`).
///
/// # What is pruned
///
/// 1. **Selection pass** (a full pass, about half an exact E-step): the
///    log-densities `log w_m + log N(x_t; μ_m, σ²_m)` of every frame under
///    every component are computed by the exact E-step's first GEMM (in
///    `f32`), and each frame keeps the [`top_n`](Pruning::top_n)
///    components with the largest ones (ties to the lower index). The
///    selection is stored (`4·top_n` bytes per frame) and reused.
/// 2. **Pruned pass** (every iteration, including the one that selects):
///    for each frame, only its selected components are evaluated, in
///    `f64` (`top_n·D` work per frame instead of `M·D`; the expanded form
///    `k + [y, y²]·[ν/σ², −½/σ²]` on centred frames, within about 1e-13
///    of the direct one, with a polynomial `exp` within 2 ulp). The frame's
///    log-likelihood is the log-sum-exp over the selected components (a
///    lower bound of the exact one: the components left out are missing
///    from the sum), and the posteriors are normalised over them.
///    Posteriors below [`min_posterior`](Pruning::min_posterior) are then
///    dropped and the others renormalised to sum to 1 (the frame's largest
///    posterior is always kept); the statistics `n`, `Σγx`, `Σγx²` of the
///    kept components are accumulated in `f64`, directly (uncentred, no
///    `f32` GEMM), with exact block sums as in the exact E-step, so the
///    statistics have the same bits on any number of threads.
///
/// Between selection passes, the selection comes from an older model:
/// EM (in [`ubm::em`](crate::gmm::ubm::em) and [`ubm::train_ubm`](crate::gmm::ubm::train_ubm))
/// selects on the first iteration and after every split (the components
/// change), as Kaldi's `train_diag_ubm.sh` selects once before its
/// iterations; [`reselect_every`](Pruning::reselect_every) `= R > 0` also
/// re-selects every `R` iterations of a stage. The exact E-step is used where it would cost no more: a
/// model with at most `top_n` components.
///
/// # Accuracy
///
/// The log-likelihood left out is that of the components outside each
/// frame's selection; with a model whose posteriors sit on a few
/// components per frame (a UBM on MFCCs), it is far below `1e-3` relative
/// (`tests/gmm_prune.rs` checks `1e-3` through EM). Models whose
/// posteriors spread over more than `top_n` components lose more; raise
/// `top_n` for them.
///
/// # Measured
///
/// ```text
/// cargo bench -p shardkit-algorithms --bench measure_gmm_em -- \
///     --generate 200000 --out /tmp/gmm-bench --components 512 --iters 10 --threads 1 --compare
/// python scripts/peers/gmm_numpy.py --list /tmp/gmm-bench/list.txt \
///     --init /tmp/gmm-bench/init.npz --threads 1 --reps 3
/// ```
///
/// (and the same with `--threads 2`; `--prune --no-peak` for the pruned
/// mode alone). `N = 200,000` MFCC-like frames, `D = 60`, `M = 512`, 10 EM
/// iterations from 512 random frames with the global variance, these
/// defaults (one selection pass, then 9 pruned passes); the NumPy
/// `float32` E-step on the same files and initial model, run in the same
/// minute, on a 2-core AMD EPYC (Zen 4) with nothing else running (load
/// average under 1), best of the iterations:
///
/// | per iteration                              | 1 thread | 2 threads |
/// |--------------------------------------------|----------|-----------|
/// | NumPy `float32` E-step                     | 0.824 s  | 0.539 s   |
/// | exact                                      | 0.641 s  | 0.313 s   |
/// | pruned, with the selection pass            | 0.568 s  | 0.285 s   |
/// | pruned, without                            | 0.164 s  | 0.087 s   |
/// | pruned, average of 10 (1 selection pass)   | 0.216 s  | 0.121 s   |
/// | NumPy ÷ pruned average                     | 3.8×     | 4.5×      |
///
/// The average log-likelihood of each
/// pruned iteration was within `2.9e-7` relative of the exact mode's. A
/// pruned pass is about 0.8 µs per frame: each frame's 30 log-densities
/// in `f64`, eight components per AVX2 pass over their 960-byte rows of
/// the expanded form (about a third of the time, bound by the loads of
/// those rows from L2), a vectorised `exp`, and the statistics of each
/// 512-frame chunk one component at a time, its row in registers. The
/// selection pass adds about 2.5 pruned passes, half of it the `f32` GEMM
/// (the top-`n` search is vectorised: left-packed candidates ranked
/// against each other).
///
/// ```
/// use shardkit_algorithms::gmm::{Pruning, PruneError};
///
/// let pruning = Pruning { top_n: 20, ..Pruning::default() };
/// assert!(pruning.check(512).is_ok());
/// assert_eq!(
///     Pruning { top_n: 0, ..pruning }.check(512),
///     Err(PruneError::TopNZero)
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pruning {
    /// Components kept per frame by the selection pass (default
    /// [`DEFAULT_TOP_N`], 30); at least 1 and at most the model's `M`.
    pub top_n: usize,
    /// Posteriors (normalised over the selected components) below this are
    /// left out of the statistics; in `[0, 1)`, 0 keeps every selected
    /// component (default [`DEFAULT_MIN_POSTERIOR`], `1e-4`).
    pub min_posterior: f64,
    /// In EM, the selection is redone every this many iterations of a stage
    /// (and always on a stage's first iteration); 0 selects only once per
    /// stage, as Kaldi does (default [`DEFAULT_RESELECT_EVERY`], 0).
    pub reselect_every: usize,
}

impl Default for Pruning {
    fn default() -> Self {
        Pruning {
            top_n: DEFAULT_TOP_N,
            min_posterior: DEFAULT_MIN_POSTERIOR,
            reselect_every: DEFAULT_RESELECT_EVERY,
        }
    }
}

impl Pruning {
    /// Checks the settings that do not depend on the model: `top_n ≥ 1`
    /// and `min_posterior` in `[0, 1)`.
    ///
    /// # Errors
    ///
    /// [`PruneError::TopNZero`] or [`PruneError::MinPosterior`].
    pub fn check_options(&self) -> Result<(), PruneError> {
        if self.top_n == 0 {
            return Err(PruneError::TopNZero);
        }
        check_min_posterior(self.min_posterior)
    }

    /// Checks the settings for a model of `n_components` components:
    /// [`check_options`](Pruning::check_options) and `top_n ≤ M`.
    ///
    /// # Errors
    ///
    /// [`PruneError::TopNZero`], [`PruneError::TopNTooLarge`] or
    /// [`PruneError::MinPosterior`].
    pub fn check(&self, n_components: usize) -> Result<(), PruneError> {
        self.check_options()?;
        check_top_n(self.top_n, n_components)
    }
}

pub(crate) fn check_top_n(top_n: usize, n_components: usize) -> Result<(), PruneError> {
    if top_n == 0 {
        Err(PruneError::TopNZero)
    } else if top_n > n_components {
        Err(PruneError::TopNTooLarge {
            top_n,
            components: n_components,
        })
    } else {
        Ok(())
    }
}

pub(crate) fn check_min_posterior(value: f64) -> Result<(), PruneError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(PruneError::MinPosterior { value })
    }
}

/// What is wrong with pruning settings or a selection.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PruneError {
    /// `top_n` is 0.
    #[error("top_n is 0: the pruned E-step keeps each frame's top_n best components, so it needs at least 1 (Kaldi uses 30)")]
    TopNZero,
    /// `top_n` is larger than the model.
    #[error("top_n is {top_n}, but the model has only {components} components: use at most {components} (or the exact E-step, which is as fast for so few)")]
    TopNTooLarge {
        /// The requested `top_n`.
        top_n: usize,
        /// The model's `M`.
        components: usize,
    },
    /// `min_posterior` is not in `[0, 1)`.
    #[error("min_posterior is {value}: it must be in [0, 1) (0 keeps every selected component; Kaldi's i-vector recipes use 0.025)")]
    MinPosterior {
        /// The value given.
        value: f64,
    },
    /// The selection does not have one row per frame.
    #[error("the selection has {found} rows, but there are {expected} frames: select on the same frames (one row per frame)")]
    SelectionRows {
        /// Frames.
        expected: usize,
        /// Rows of the selection.
        found: usize,
    },
    /// The selection has no columns.
    #[error("the selection has 0 columns: each frame needs at least one selected component")]
    SelectionEmpty,
    /// The selection names a component the model does not have.
    #[error("the selection names component {component} for frame {frame}, but the model has {components} components: select with this model")]
    SelectionComponent {
        /// The frame.
        frame: usize,
        /// The component named.
        component: u32,
        /// The model's `M`.
        components: usize,
    },
}

/// Checks that `selection` fits `n_frames` frames and a model of
/// `n_components` components.
pub(crate) fn check_selection(
    selection: &ArrayView2<u32>,
    n_frames: usize,
    n_components: usize,
) -> Result<(), PruneError> {
    if selection.nrows() != n_frames {
        return Err(PruneError::SelectionRows {
            expected: n_frames,
            found: selection.nrows(),
        });
    }
    if selection.ncols() == 0 && n_frames > 0 {
        return Err(PruneError::SelectionEmpty);
    }
    for (frame, row) in selection.rows().into_iter().enumerate() {
        if let Some(&component) = row.iter().find(|&&c| c as usize >= n_components) {
            return Err(PruneError::SelectionComponent {
                frame,
                component,
                components: n_components,
            });
        }
    }
    Ok(())
}

/// Frames per chunk of the selection pass (its log-densities, `chunk × M`,
/// stay in L2, as in the exact E-step).
const SELECT_CHUNK: usize = 256;

/// Buffers of the selection pass, per thread.
struct Scratch<T> {
    /// `[y², y]`, `chunk × 2D`.
    a: Vec<T>,
    /// Log-densities, `chunk × M`.
    l: Vec<T>,
    /// Candidates of one frame.
    cand: Vec<u32>,
    /// Their values.
    vals: Vec<T>,
    /// The candidates' values and components in the `f32` search.
    cv: Vec<f32>,
    ci: Vec<u32>,
    /// The beam of the candidate search, carried from frame to frame.
    beam: f64,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            a: Vec::new(),
            l: Vec::new(),
            cand: Vec::new(),
            vals: Vec::new(),
            cv: Vec::new(),
            ci: Vec::new(),
            beam: 16.0,
        }
    }
}

/// Whether fewer than `n` values are within `b` of `max` (the search above
/// stopped on its iteration limit below `n`).
fn c_lt_n_after<T: Real>(row: &[T], max: f64, b: &mut f64, n: usize) -> bool {
    b.is_finite() && T::count_ge(row, T::from_f64(max - *b)) < n
}

/// The next frame's first beam from this frame's gap between its best and
/// `n`-th best value.
fn next_beam(gap: f64) -> f64 {
    1.1 * gap + 0.1
}
/// Writes into `out` the `out.len()` components with the largest values in
/// `row` (whose maximum is `max`; ties to the lower index), in increasing
/// component order. NaNs are never selected before a number.
///
/// The candidates are the values within `beam` of the maximum, collected
/// by one vectorised pass (widened until there are enough); the `n`-th
/// largest candidate value `v` is found by selection, and the result is
/// every candidate above `v` plus the first (by index) of those equal to
/// `v`. `beam` is carried to the next frame: a little more than this
/// frame's gap between its best and `n`-th best.
fn top_of_row<T: Real>(
    row: &[T],
    max: f64,
    beam: &mut f64,
    cand: &mut Vec<u32>,
    vals: &mut Vec<T>,
    out: &mut [u32],
) {
    let n = out.len();
    let m = row.len();
    debug_assert!(n >= 1 && n <= m);
    if n == m {
        for (i, o) in out.iter_mut().enumerate() {
            *o = i as u32;
        }
        return;
    }
    // A beam with between n and about 1.5·n values in it: counted (cheap,
    // vectorised) while the bounds close in, then collected once.
    let mut b = if beam.is_finite() && *beam > 0.0 {
        *beam
    } else {
        16.0
    };
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let want_max = n + n / 2 + 4;
    for _ in 0..12 {
        let c = T::count_ge(row, T::from_f64(max - b));
        if c < n {
            lo = b;
        } else if c > want_max {
            hi = b;
        } else {
            break;
        }
        b = if hi.is_finite() {
            0.5 * (lo + hi)
        } else {
            2.0 * b.max(0.25)
        };
        if !(max - b).is_finite() || b > 1e30 {
            b = f64::INFINITY;
            break;
        }
    }
    if c_lt_n_after(row, max, &mut b, n) {
        b = f64::INFINITY;
    }
    cand.clear();
    let thr = max - b;
    if !thr.is_finite() || !max.is_finite() {
        // Every number qualifies; NaNs (never `>=`) go last, by index.
        T::collect_ge(row, T::from_f64(f64::NEG_INFINITY), cand);
        if cand.len() < n {
            let nan =
                (0..m as u32).filter(|&i| row[i as usize].partial_cmp(&row[i as usize]).is_none());
            cand.extend(nan.take(n - cand.len()));
            cand.sort_unstable();
            out.copy_from_slice(&cand[..n]);
            return;
        }
    } else {
        T::collect_ge(row, T::from_f64(thr), cand);
    }
    if cand.len() == n {
        out.copy_from_slice(cand);
        let nth = cand
            .iter()
            .map(|&i| row[i as usize].to_f64())
            .fold(f64::INFINITY, f64::min);
        *beam = next_beam(max - nth);
        return;
    }
    // The n-th largest candidate value.
    vals.clear();
    vals.extend(cand.iter().map(|&i| row[i as usize]));
    let (_, &mut nth, _) = vals.select_nth_unstable_by(n - 1, |a, b| {
        b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal)
    });
    let above = cand.iter().filter(|&&i| row[i as usize] > nth).count();
    let mut ties = n - above;
    let mut k = 0;
    for &i in cand.iter() {
        let v = row[i as usize];
        let take = if v > nth {
            true
        } else if v == nth && ties > 0 {
            ties -= 1;
            true
        } else {
            false
        };
        if take {
            out[k] = i;
            k += 1;
        }
    }
    debug_assert_eq!(k, n);
    let gap = max - nth.to_f64();
    *beam = if gap.is_finite() {
        next_beam(gap)
    } else {
        16.0
    };
}

/// The selection of one block of frames into `out` (`N × top_n`): the
/// `top_n` components with the largest `f32` (or `T`) log-densities per
/// frame, ties to the lower index, in increasing component order. The block
/// kernel of [`select`](super::select).
///
/// # Panics
///
/// If the frames' width is not the model's dimension, `out` does not have
/// one row per frame, or its width (`top_n`) is 0 or above `M`.
pub fn select_block<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    mut out: ArrayViewMut2<u32>,
) {
    let (n, d) = frames.dim();
    let m = model.n_components;
    let top = out.ncols();
    assert_eq!(
        d, model.dim,
        "frames have {d} columns but the model has {} dimensions",
        model.dim
    );
    assert_eq!(out.nrows(), n, "the selection needs one row per frame");
    assert!(top >= 1 && top <= m, "top_n must be in 1..={m}, not {top}");
    let d2 = 2 * d;
    with_scratch(|s: &mut Scratch<T>| {
        let chunk = SELECT_CHUNK.min(n.max(1));
        if s.a.len() < chunk * d2 {
            s.a.resize(chunk * d2, T::default());
        }
        if s.l.len() < chunk * m {
            s.l.resize(chunk * m, T::default());
        }
        let mut ordered = vec![0u32; top];
        let mut xbuf = Vec::new();
        for start in (0..n).step_by(SELECT_CHUNK) {
            let end = (start + SELECT_CHUNK).min(n);
            let b = end - start;
            let x = frames.slice(s![start..end, ..]);
            let xs: &[T] = match x.as_slice() {
                Some(xs) => xs,
                None => {
                    xbuf.clear();
                    xbuf.extend(x.iter().copied());
                    &xbuf
                }
            };
            T::centre(xs, &model.offset, &mut s.a[..b * d2]);
            {
                let av = ArrayView2::from_shape((b, d2), &s.a[..b * d2]).expect("chunk shape");
                let lv = ArrayViewMut2::from_shape((b, m), &mut s.l[..b * m]).expect("chunk shape");
                T::gemm(lv, false, av, model.projection.view());
            }
            for t in 0..b {
                let rows = t * m..(t + 1) * m;
                let max = T::add_max(&mut s.l[rows.clone()], &model.constants).to_f64();
                // `f32` rows: the vectorised search where it applies.
                let fast = (&s.l as &dyn Any)
                    .downcast_ref::<Vec<f32>>()
                    .is_some_and(|l| {
                        top_n(
                            &l[rows.clone()],
                            max as f32,
                            &mut s.beam,
                            &mut s.cv,
                            &mut s.ci,
                            &mut ordered,
                        )
                    });
                if !fast {
                    top_of_row(
                        &s.l[rows],
                        max,
                        &mut s.beam,
                        &mut s.cand,
                        &mut s.vals,
                        &mut ordered,
                    );
                }
                for (o, &c) in out.row_mut(start + t).iter_mut().zip(&ordered) {
                    *o = c;
                }
            }
        }
    });
}

/// The pruned statistics of one block of frames with its selection (`N ×
/// n`, one row per frame): the block kernel of
/// [`accumulate_pruned`](super::accumulate_pruned). See [`Pruning`] for
/// what is computed.
///
/// # Panics
///
/// If the frames' width is not the model's dimension, the selection does
/// not have one row per frame, or names a component the model does not
/// have.
pub fn accumulate_pruned_block<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    selection: ArrayView2<u32>,
    min_posterior: f64,
) -> GmmStats {
    let (n, d) = frames.dim();
    let m = model.n_components;
    assert_eq!(
        d, model.dim,
        "frames have {d} columns but the model has {} dimensions",
        model.dim
    );
    assert_eq!(
        selection.nrows(),
        n,
        "the selection needs one row per frame"
    );
    let k = selection.ncols();
    let w = 2 * d + 1;
    let mut acc = vec![0.0f64; m * w];
    let mut log_lik = 0.0f64;
    if k == 0 || n == 0 {
        // No frames, or none with a selected component (log-likelihood −∞).
        if n > 0 {
            log_lik = f64::NEG_INFINITY;
        }
        return finish(acc, m, d, log_lik, n);
    }
    let coefs = Expanded::new(model);
    let lw = coefs.width;
    let chunk = PRUNE_CHUNK.min(n);
    // The frame's `[y, y², 0…]` (`y = x − c`, `lw` long).
    let mut u = vec![0.0f64; lw];
    // The chunk's frames in `f64`, `chunk × D`.
    let mut x64 = vec![0.0f64; chunk * d];
    // One frame's selection (when the rows are not contiguous).
    let mut sel_buf = vec![0u32; k];
    // Per slot of one frame: the log-density, then `exp(· − max)`.
    let mut dens = vec![0.0f64; k];
    // The chunk's kept (component, frame, weight) entries, in frame order
    // (`nkept` of them; written before it is known whether they are kept),
    // then grouped by component (frame order within a component).
    let mut kept: Vec<(u32, u32, f64)> = vec![(0, 0, 0.0); chunk * k];
    let mut grouped: Vec<(u32, f64)> = vec![(0, 0.0); chunk * k];
    let mut start = vec![0usize; m + 1];
    let mut xbuf = Vec::new();
    for first in (0..n).step_by(chunk) {
        let b = chunk.min(n - first);
        let x = frames.slice(s![first..first + b, ..]);
        let xs: &[T] = match x.as_slice() {
            Some(xs) => xs,
            None => {
                xbuf.clear();
                xbuf.extend(x.iter().copied());
                &xbuf
            }
        };
        T::widen(xs, &mut x64[..b * d]);
        let mut nkept = 0;
        for t in 0..b {
            expand(&x64[t * d..(t + 1) * d], &model.offset64, &mut u[..2 * d]);
            let row = selection.row(first + t);
            let sel: &[u32] = match row.as_slice() {
                Some(r) => r,
                None => {
                    for (o, &c) in sel_buf.iter_mut().zip(&row) {
                        *o = c;
                    }
                    &sel_buf
                }
            };
            if let Some(&c) = sel.iter().find(|&&c| c as usize >= m) {
                panic!("the selection names component {c}, but the model has {m}");
            }
            dots(&u, &coefs.coef, &coefs.konst, sel, &mut dens);
            let (max, sum) = exp_max_sum(&mut dens);
            log_lik += max + sum.ln();
            // The posterior of selected component i is dens[i] / sum, and
            // the best one's dens[i] is exactly 1: those below
            // `min_posterior` are dropped (never the best, as the cut is at
            // most 1) and the rest renormalised.
            let cut = (min_posterior * sum).min(1.0);
            let total = if min_posterior > 0.0 {
                // Adding 0.0 leaves the (non-negative) sum's bits as they are.
                dens.iter()
                    .fold(0.0, |a, &e| a + if e >= cut { e } else { 0.0 })
            } else {
                sum
            };
            let scale = 1.0 / total;
            for (&e, &c) in dens.iter().zip(sel) {
                kept[nkept] = (c, t as u32, e * scale);
                nkept += usize::from(e >= cut);
            }
        }
        // Statistics, one component at a time (its accumulator row is read
        // once per chunk), frames in order: the additions into each row
        // are those of a frame-by-frame pass, so are the bits.
        start.fill(0);
        for &(c, _, _) in &kept[..nkept] {
            start[c as usize + 1] += 1;
        }
        for c in 0..m {
            start[c + 1] += start[c];
        }
        for &(c, t, g) in &kept[..nkept] {
            let at = &mut start[c as usize];
            grouped[*at] = (t, g);
            *at += 1;
        }
        // `start[c]` is now where component c's entries end.
        let mut lo = 0;
        for (c, &hi) in start[..m].iter().enumerate() {
            if hi > lo {
                moments(
                    &mut acc[c * w..(c + 1) * w],
                    &grouped[lo..hi],
                    &x64[..b * d],
                );
            }
            lo = hi;
        }
    }
    finish(acc, m, d, log_lik, n)
}

/// The model in the expanded form of the pruned pass, in `f64`:
/// `log w_c + log N(x; μ_c, σ²_c) = k_c + [y, y²]·[a_c, b_c]` with
/// `y = x − o` (`o` the preparation's offset), `a_c = (μ_c − o)/σ²_c`,
/// `b_c = −½/σ²_c` and `k_c = log w_c − ½Σ log 2πσ²_c − ½Σ (μ_c − o)²/σ²_c`.
/// Rows of `coef` are padded with zeros to a multiple of 4 (`width`).
///
/// In `f64` the expanded form loses nothing that matters: its terms are at
/// most a few hundred in size (centred frames), so the rounding errors of
/// the sum stay near 1e-13 absolute, far below what the statistics resolve
/// (the tests check 1e-11 relative against the direct form).
struct Expanded {
    /// `M × width`, row c `[a_c, b_c, 0…]`.
    coef: Vec<f64>,
    /// `k_c`, `M`.
    konst: Vec<f64>,
    /// `2D` rounded up to a multiple of 4.
    width: usize,
}

impl Expanded {
    fn new<T: Real>(model: &Prepared<T>) -> Expanded {
        let (m, d) = (model.n_components, model.dim);
        let width = (2 * d).div_ceil(4) * 4;
        let mut coef = vec![0.0f64; m * width];
        let mut konst = Vec::with_capacity(m);
        for c in 0..m {
            let row = &mut coef[c * width..(c + 1) * width];
            let mu = &model.means[c * d..(c + 1) * d];
            let p = &model.precisions[c * d..(c + 1) * d];
            let mut quad = 0.0;
            for j in 0..d {
                let nu = mu[j] - model.offset64[j];
                row[j] = p[j] * nu;
                row[d + j] = -0.5 * p[j];
                quad += p[j] * nu * nu;
            }
            konst.push(model.log_norm[c] - 0.5 * quad);
        }
        Expanded { coef, konst, width }
    }
}

/// Frames per chunk of the pruned pass: a chunk's frames (`f64`, 240 KB
/// for `D = 60`) stay in L2 while each component's accumulator row is
/// updated once per chunk, in registers, with all its entries (about 7 per
/// component per chunk in the benchmark; 2 with 128 frames, which measured
/// about 4% slower).
const PRUNE_CHUNK: usize = 512;

/// The statistics from the accumulator rows `[Σγx², Σγx, Σγ]`.
fn finish(acc: Vec<f64>, m: usize, d: usize, log_lik: f64, n: usize) -> GmmStats {
    let w = 2 * d + 1;
    let mut stats = GmmStats::zeros(m, d);
    for i in 0..m {
        let row = &acc[i * w..(i + 1) * w];
        stats.zero[i] = row[2 * d];
        for j in 0..d {
            stats.second[[i, j]] = row[j];
            stats.first[[i, j]] = row[d + j];
        }
    }
    stats.log_likelihood = log_lik;
    stats.frames = n as u64;
    stats
}

/// The selection pass and the pruned pass of one block together (the
/// frames are read once): writes the selection into `out` (`N × top_n`)
/// and returns the statistics under it. The block kernel of
/// [`select_and_accumulate`](super::select_and_accumulate).
///
/// # Panics
///
/// As [`select_block`].
pub fn select_and_accumulate_block<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    mut out: ArrayViewMut2<u32>,
    min_posterior: f64,
) -> GmmStats {
    select_block(frames, model, out.view_mut());
    accumulate_pruned_block(frames, model, out.view(), min_posterior)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A xorshift64 stream from `state` (not 0).
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn top_of_row_matches_sorting_with_ties_and_any_beam() {
        let mut next = xorshift(0x1234_5678_9abc_def0);
        let (mut cand, mut vals) = (Vec::new(), Vec::new());
        let mut beam = 16.0;
        for case in 0..3000 {
            let m = 1 + (next() % 300) as usize;
            let n = 1 + (next() % m as u64) as usize;
            // Coarse values make ties common; wide ones need a wider beam.
            let scale = [0.5f32, 7.0, 300.0][case % 3];
            let row: Vec<f32> = (0..m).map(|_| -((next() % 64) as f32) * scale).collect();
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut out = vec![0u32; n];
            top_of_row(
                &row,
                f64::from(max),
                &mut beam,
                &mut cand,
                &mut vals,
                &mut out,
            );
            assert_eq!(out, brute(&row, n), "case {case}: m {m}, n {n}");
        }
    }

    /// The top `n` by sorting: larger first, ties to the lower index, NaNs
    /// after every number (then by index).
    fn brute(row: &[f32], n: usize) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..row.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            let (x, y) = (row[a as usize], row[b as usize]);
            match (x.is_nan(), y.is_nan()) {
                (false, false) => y.partial_cmp(&x).unwrap(),
                (a_nan, b_nan) => a_nan.cmp(&b_nan),
            }
            .then(a.cmp(&b))
        });
        let mut top = idx[..n].to_vec();
        top.sort_unstable();
        top
    }

    #[test]
    fn vectorised_top_n_matches_sorting_or_declines() {
        let mut next = xorshift(0x0bad_cafe_1234_5678);
        let (mut cv, mut ci) = (Vec::new(), Vec::new());
        let mut width = 16.0;
        let (mut handled, mut cases) = (0, 0);
        for case in 0..6000 {
            let m = 1 + (next() % 600) as usize;
            let n = 1 + (next() % m as u64) as usize;
            // Coarse values make ties common; wide ones need a wider
            // search; some rows have NaNs and infinities.
            let scale = [0.5f32, 7.0, 300.0, 1e-3][case % 4];
            let mut row: Vec<f32> = (0..m).map(|_| -((next() % 64) as f32) * scale).collect();
            if case % 7 == 0 {
                for _ in 0..(next() % 4) {
                    let at = (next() % m as u64) as usize;
                    row[at] = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY][(next() % 3) as usize];
                }
            }
            if case % 50 == 0 {
                width = [0.0, f64::NAN, 1e-6, 1e6][(case / 50) % 4];
            }
            let max = row
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, |a, v| if v > a { v } else { a });
            let mut out = vec![0u32; n];
            cases += 1;
            if top_n(&row, max, &mut width, &mut cv, &mut ci, &mut out) {
                handled += 1;
                assert_eq!(out, brute(&row, n), "case {case}: m {m}, n {n}");
            }
            // The portable search agrees, NaNs and all.
            let mut beam = 16.0;
            let (mut cand, mut vals) = (Vec::new(), Vec::new());
            top_of_row(
                &row,
                f64::from(max),
                &mut beam,
                &mut cand,
                &mut vals,
                &mut out,
            );
            assert_eq!(out, brute(&row, n), "case {case}: m {m}, n {n}");
        }
        if crate::simd::level() >= crate::simd::Level::Avx2 {
            assert!(handled * 10 > cases * 8, "{handled} of {cases}");
        }
        println!("vectorised search: {handled} of {cases} rows");
    }

    #[test]
    fn nan_rows_select_numbers_first_then_nans_by_index() {
        let row = [f32::NAN, -3.0, f32::NAN, -1.0];
        let (mut cand, mut vals) = (Vec::new(), Vec::new());
        let mut out = [0u32; 3];
        let mut beam = 1.0;
        top_of_row(&row, -1.0, &mut beam, &mut cand, &mut vals, &mut out);
        assert_eq!(out, [0, 1, 3]);
    }
}
