//! The pruned E-step: Kaldi-style Gaussian selection.
//!
//! The block kernels behind [`select`](super::select),
//! [`accumulate_pruned`](super::accumulate_pruned) and
//! [`select_and_accumulate`](super::select_and_accumulate); the settings
//! ([`Pruning`]) and their errors ([`PruneError`]). The method and what it
//! leaves out are described on [`Pruning`].

use std::any::Any;
use std::cell::RefCell;

use ndarray::{s, ArrayView2, ArrayViewMut2};

use super::prepared::Prepared;
use super::real::Real;
use super::simd;
use super::stats::GmmStats;

/// The default [`Pruning::top_n`]: Kaldi's `num_gselect` in
/// `sid/train_diag_ubm.sh`.
pub const DEFAULT_TOP_N: usize = 30;

/// The default [`Pruning::min_posterior`].
pub const DEFAULT_MIN_POSTERIOR: f64 = 1e-4;

/// The default [`Pruning::reselect_every`].
pub const DEFAULT_RESELECT_EVERY: usize = 4;

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
///    for each frame, only its selected components are evaluated, exactly
///    in `f64` (`top_n·D` work per frame instead of `M·D`). The frame's
///    log-likelihood is the log-sum-exp over the selected components (a
///    lower bound of the exact one: the components left out are missing
///    from the sum), and the posteriors are normalised over them.
///    Posteriors below [`min_posterior`](Pruning::min_posterior) are then
///    dropped and the others renormalised to sum to 1 (the frame's largest
///    posterior is always kept); the statistics `n`, `Σγx`, `Σγx²` of the
///    kept components are accumulated in `f64`, directly (no centring, no
///    `f32` GEMM), with exact block sums as in the exact E-step, so the
///    statistics have the same bits on any number of threads.
///
/// Between selection passes, the selection comes from an older model:
/// EM (in [`ubm::em`](crate::ubm::em) and [`ubm::train_ubm`](crate::ubm::train_ubm))
/// selects on the first iteration, after every split (the components
/// change), and every [`reselect_every`](Pruning::reselect_every)
/// iterations. The exact E-step is used where it would cost no more: a
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
    /// stage, as Kaldi does (default [`DEFAULT_RESELECT_EVERY`], 4).
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
    /// Candidates of one frame: (key, component).
    keys: Vec<(u64, u32)>,
    /// The beam of the candidate search, carried from frame to frame.
    beam: f64,
}

thread_local! {
    static SCRATCH: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's selection buffers for `T`.
fn with_scratch<T: Real, R>(f: impl FnOnce(&mut Scratch<T>) -> R) -> R {
    let taken = SCRATCH.with(|cell| cell.borrow_mut().take());
    let mut scratch: Box<Scratch<T>> = match taken.map(|b| b.downcast::<Scratch<T>>()) {
        Some(Ok(s)) => s,
        _ => Box::new(Scratch {
            a: Vec::new(),
            l: Vec::new(),
            keys: Vec::new(),
            beam: 16.0,
        }),
    };
    let r = f(&mut scratch);
    SCRATCH.with(|cell| *cell.borrow_mut() = Some(scratch));
    r
}

/// An order on `f64` values as unsigned integers, largest value first
/// (smallest key), so that `(key, index)` sorts by decreasing value and then
/// increasing index.
fn descending_key(v: f64) -> u64 {
    let b = v.to_bits();
    let ordered = if b >> 63 == 1 { !b } else { b | (1 << 63) };
    !ordered
}

/// Writes into `out` the `out.len()` components with the largest values in
/// `row` (whose maximum is `max`), by decreasing value, ties to the lower
/// index; NaNs come last, by index.
fn top_of_row<T: Real>(
    row: &[T],
    max: f64,
    beam: &mut f64,
    keys: &mut Vec<(u64, u32)>,
    out: &mut [u32],
) {
    let n = out.len();
    let m = row.len();
    debug_assert!(n >= 1 && n <= m);
    // Candidates: the values within `beam` of the maximum; widen the beam
    // until there are at least `n` (then the top `n` are among them).
    let mut b = if beam.is_finite() && *beam > 0.0 {
        *beam
    } else {
        16.0
    };
    loop {
        keys.clear();
        let thr = max - b;
        let t = T::from_f64(thr);
        if !thr.is_finite() || !max.is_finite() {
            for (i, &v) in row.iter().enumerate() {
                keys.push((descending_key(v.to_f64()), i as u32));
            }
            break;
        }
        for (i, &v) in row.iter().enumerate() {
            if v >= t {
                keys.push((descending_key(v.to_f64()), i as u32));
            }
        }
        if keys.len() >= n {
            break;
        }
        b *= 4.0;
        if b > 1e6 {
            b = f64::INFINITY;
        }
    }
    if keys.len() > n {
        keys.select_nth_unstable(n - 1);
        keys.truncate(n);
    }
    keys.sort_unstable();
    // Next frame: a beam a little wider than this frame's n-th gap.
    let nth_value = row[keys[n - 1].1 as usize].to_f64();
    let gap = max - nth_value;
    *beam = if gap.is_finite() {
        1.25 * gap + 1.0
    } else {
        16.0
    };
    for (o, &(_, i)) in out.iter_mut().zip(keys.iter()) {
        *o = i;
    }
}

/// The selection of one block of frames into `out` (`N × top_n`): the
/// `top_n` components with the largest `f32` (or `T`) log-densities per
/// frame, by decreasing log-density, ties to the lower index. The block
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
                let row = &mut s.l[t * m..(t + 1) * m];
                let max = T::add_max(row, &model.constants).to_f64();
                top_of_row(row, max, &mut s.beam, &mut s.keys, &mut ordered);
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
    let mut z = vec![0.0f64; w];
    z[2 * d] = 1.0;
    let mut x64 = vec![0.0f64; d];
    let mut exact = vec![0.0f64; k];
    let mut sel = vec![0u32; k];
    let mut log_lik = 0.0f64;
    for t in 0..n {
        for (v, &x) in x64.iter_mut().zip(frames.row(t)) {
            *v = x.to_f64();
        }
        for j in 0..d {
            z[j] = x64[j] * x64[j];
            z[d + j] = x64[j];
        }
        for (o, &c) in sel.iter_mut().zip(selection.row(t)) {
            assert!(
                (c as usize) < m,
                "the selection names component {c}, but the model has {m}"
            );
            *o = c;
        }
        simd::refine(
            &x64,
            &sel,
            &model.means,
            &model.precisions,
            &model.log_norm,
            &mut exact,
        );
        let max = exact.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for e in exact.iter_mut() {
            *e = (*e - max).exp();
            sum += *e;
        }
        log_lik += max + sum.ln();
        // The posterior of selected component i is exact[i] / sum, and the
        // best one's exact[i] is exactly 1: those below `min_posterior`
        // are dropped (never the best, as the cut is at most 1) and the
        // rest renormalised.
        let cut = (min_posterior * sum).min(1.0);
        let kept = if min_posterior > 0.0 {
            exact.iter().filter(|&&e| e >= cut).sum()
        } else {
            sum
        };
        let scale = 1.0 / kept;
        for (&c, &e) in sel.iter().zip(&exact) {
            if e < cut {
                continue;
            }
            let c = c as usize;
            simd::axpy_f64(&mut acc[c * w..(c + 1) * w], e * scale, &z);
        }
    }
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
