//! Diagonal-covariance Gaussian mixtures (UBMs): the E-step as GEMMs.
//!
//! The expensive pass of GMM EM is the E-step over all frames: the
//! log-density of every frame under every component, the posteriors
//! (log-sum-exp per frame), and the statistics weighted by them. Here it
//! is two GEMMs per block of frames, in `f32` with `f64` accumulators:
//!
//! ```text
//! L = [y², y] · [−½/σ², ν/σ²]ᵀ + k        (frames × M; y = x − c, ν = μ − c)
//! γ = softmax over each row of L          (log-likelihood = log Σ exp L)
//! [S_c, F_c, n] = γᵀ · [y², y, 1]          (M × (2D + 1))
//! ```
//!
//! then uncentred in `f64` to `n = Σγ`, `F = Σγx`, `S = Σγx²`. One E-step
//! counts `8·N·M·D` flops (four GEMM halves of `2·N·M·D` each). See
//! [`Prepared`] for the centring and the `f64` refinement that keeps the
//! `f32` path accurate, and `estep`'s module docs for the chunking.
//!
//! ```
//! use ndarray::{array, Array2};
//! use shardkit_algorithms::gmm::{self, DiagGmm};
//!
//! let ubm = DiagGmm::new(
//!     array![0.5, 0.5],
//!     array![[-1.0, 0.0], [1.0, 0.0]],
//!     Array2::ones((2, 2)),
//! )?;
//! let frames: Array2<f32> = array![[-1.0, 0.5], [1.2, -0.3], [0.0, 0.0]];
//! let stats = gmm::accumulate(frames.view(), &ubm.prepare());
//! assert_eq!(stats.frames, 3);
//! assert!((stats.zero.sum() - 3.0).abs() < 1e-6);
//! # Ok::<(), shardkit_algorithms::gmm::GmmError>(())
//! ```
//!
//! # Parallelisation
//!
//! [`accumulate`] is a `#[parallelize(split = "frames", reduce = "sum",
//! block_size = BLOCK_FRAMES)]` function: the frames are cut into blocks of
//! [`BLOCK_FRAMES`] rows, each block runs [`accumulate_block`] (GEMMs on
//! one thread) on the ambient executor's threads, and the blocks'
//! [`GmmStats`] are summed exactly, so the statistics have the same bits on
//! any number of threads (or MPI ranks). [`frame_log_likelihood`],
//! [`mean_log_likelihood`], [`posteriors`] and [`top_posteriors`] are split
//! the same way, and so are the pruned E-step's [`select`],
//! [`accumulate_pruned`] and [`select_and_accumulate`] (the selection is
//! split in lockstep with the frames).
//!
//! # The pruned E-step
//!
//! [`Pruning`] describes a Kaldi-style alternative to [`accumulate`]:
//! a selection pass keeps each frame's `top_n` best components
//! ([`select`]), then each iteration evaluates only those
//! ([`accumulate_pruned`]), with posteriors below a threshold left out.

pub(crate) mod estep;
mod io;
pub mod map;
mod model;
mod prepared;
mod prune;
mod real;
mod stats;
pub mod ubm;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use shardkit::parallelize;

pub use estep::accumulate_block;
pub use io::{GmmFileError, MEANS, VARIANCES, WEIGHTS};
pub use model::{DiagGmm, GmmError, WEIGHT_SUM_TOLERANCE};
pub use prepared::{Prepared, CENTRE_RATIO, DEFAULT_REFINE_MARGIN};
pub use prune::{
    accumulate_pruned_block, select_and_accumulate_block, select_block, PruneError, Pruning,
    DEFAULT_MIN_POSTERIOR, DEFAULT_RESELECT_EVERY, DEFAULT_TOP_N,
};
pub use real::Real;
pub use stats::GmmStats;

/// Frames per block of the parallel E-step functions. Each block's
/// statistics (`M×(2D+1)` numbers, 61,952 for `M = 512`, `D = 60`) are
/// summed exactly by the runtime, which costs about 10 ns per number
/// (0.6 ms per block, measured with `benches/measure_gmm_estep.rs`); a block of
/// 8192 frames is about 2 GFLOP of GEMM work (20 ms on one core), so that
/// share stays near 3%, while 200,000 frames still make 25 blocks, which two
/// threads share within 2% of evenly.
///
/// For many short utterances, split the *files* instead (one
/// `#[parallelize]` over the list, [`accumulate_block`] inside), so that
/// each block of files pays the exact sum once.
pub const BLOCK_FRAMES: usize = 8192;

#[track_caller]
fn check_dim<T: Real>(frames: &ArrayView2<T>, model: &Prepared<T>) {
    assert_eq!(
        frames.ncols(),
        model.dim(),
        "frames have {} columns but the model has {} dimensions",
        frames.ncols(),
        model.dim()
    );
}

/// The E-step statistics of `frames` (`N×D`, one frame per row) under
/// `model`: zero-, first- and second-order statistics and the total
/// log-likelihood, in `f64`. Runs on the ambient executor (see the module's
/// Parallelisation section); the result has the same bits on any number of
/// threads. No frames give zero statistics.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit::Executor;
/// use shardkit_algorithms::gmm::{self, DiagGmm};
///
/// let ubm = DiagGmm::new(array![1.0], array![[50.0]], array![[4.0]])?;
/// let frames: Array2<f32> = array![[48.0], [52.0]];
/// let prepared = ubm.prepare();
/// let stats = Executor::threads(2)?.install(|| gmm::accumulate(frames.view(), &prepared));
/// // One component: every posterior is 1 (to f32 rounding).
/// let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs();
/// assert!(close(stats.zero[0], 2.0));
/// assert!(close(stats.first[[0, 0]], 48.0 + 52.0));
/// assert!(close(stats.second[[0, 0]], 48.0 * 48.0 + 52.0 * 52.0));
/// assert!(close(stats.average_log_likelihood(), -0.5 * ((8.0 * std::f64::consts::PI).ln() + 1.0)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
///
/// If the frames' width is not the model's dimension; if a frame holds NaN
/// or an infinity (the exact sum refuses the block's non-finite
/// statistics, naming the block).
#[track_caller]
pub fn accumulate<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> GmmStats {
    check_dim(&frames, model);
    let stats = accumulate_blocks(frames, model);
    if stats.frames == 0 {
        GmmStats::zeros(model.n_components(), model.dim())
    } else {
        stats
    }
}

/// The parallel pass behind [`accumulate`]: one [`accumulate_block`] per
/// block, summed exactly.
#[parallelize(split = "frames", reduce = "sum", block_size = BLOCK_FRAMES)]
fn accumulate_blocks<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> GmmStats {
    accumulate_block(frames, model)
}

/// `log p(x_t)` for every frame (natural log), in `f64`.
///
/// # Panics
///
/// If the frames' width is not the model's dimension.
#[track_caller]
pub fn frame_log_likelihood<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> Array1<f64> {
    check_dim(&frames, model);
    frame_log_likelihood_blocks(frames, model)
}

#[parallelize(split = "frames", reduce = "concat", block_size = BLOCK_FRAMES)]
fn frame_log_likelihood_blocks<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> Array1<f64> {
    estep::log_likelihood_block(frames, model)
}

/// The average log-likelihood per frame of an utterance, `(1/N) Σ_t log
/// p(x_t)` (NaN for no frames); the sum is exact, so the result has the
/// same bits on any number of threads.
///
/// # Panics
///
/// If the frames' width is not the model's dimension.
#[track_caller]
pub fn mean_log_likelihood<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> f64 {
    check_dim(&frames, model);
    let (sum, n) = log_likelihood_sum(frames, model);
    sum / n as f64
}

#[parallelize(split = "frames", reduce = "sum", block_size = BLOCK_FRAMES)]
fn log_likelihood_sum<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> (f64, u64) {
    let ll = estep::log_likelihood_block(frames, model);
    (ll.sum(), ll.len() as u64)
}

/// The posteriors `γ_tm` of every component for every frame, `N×M` in the
/// model's precision; each row sums to 1.
///
/// # Panics
///
/// If the frames' width is not the model's dimension.
#[track_caller]
pub fn posteriors<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> Array2<T> {
    check_dim(&frames, model);
    let out = posteriors_blocks(frames, model);
    if out.is_empty() {
        Array2::from_elem((0, model.n_components()), T::default())
    } else {
        out
    }
}

#[parallelize(split = "frames", reduce = "concat", block_size = BLOCK_FRAMES)]
fn posteriors_blocks<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> Array2<T> {
    estep::posteriors_block(frames, model)
}

/// The largest posteriors of each frame: `indices[[t, k]]` is the
/// component with the `k`-th largest posterior for frame `t` (ties broken
/// by the lower index) and `values[[t, k]]` that posterior (normalised over
/// all `M` components, as in [`posteriors`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TopPosteriors<T> {
    /// Component indices, `N×n`, by decreasing posterior.
    pub indices: Array2<u32>,
    /// Their posteriors, `N×n`.
    pub values: Array2<T>,
}

/// The `n` largest posteriors of each frame (all `M` if `n > M`), with
/// their components; see [`TopPosteriors`].
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::gmm::{self, DiagGmm};
///
/// let ubm = DiagGmm::new(
///     array![0.2, 0.3, 0.5],
///     array![[0.0], [3.0], [6.0]],
///     Array2::ones((3, 1)),
/// )?;
/// let frames: Array2<f32> = array![[0.2], [5.5]];
/// let prepared = ubm.prepare();
/// let top = gmm::top_posteriors(frames.view(), &prepared, 2);
/// assert_eq!(top.indices, array![[0, 1], [2, 1]]);
/// let dense = gmm::posteriors(frames.view(), &prepared);
/// assert_eq!(top.values[[1, 0]], dense[[1, 2]]);
/// # Ok::<(), shardkit_algorithms::gmm::GmmError>(())
/// ```
///
/// # Panics
///
/// If the frames' width is not the model's dimension.
#[track_caller]
pub fn top_posteriors<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    n: usize,
) -> TopPosteriors<T> {
    check_dim(&frames, model);
    let n = n.min(model.n_components());
    let (indices, values) = top_posteriors_blocks(frames, model, n);
    if indices.is_empty() && values.is_empty() && frames.nrows() == 0 {
        return TopPosteriors {
            indices: Array2::zeros((0, n)),
            values: Array2::from_elem((0, n), T::default()),
        };
    }
    TopPosteriors { indices, values }
}

#[parallelize(split = "frames", reduce = "concat", block_size = BLOCK_FRAMES)]
fn top_posteriors_blocks<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    n: usize,
) -> (Array2<u32>, Array2<T>) {
    estep::top_block(frames, model, n)
}

/// The pruned E-step's selection ([`Pruning`]): for every frame, the
/// `top_n` components with the largest log-densities `log w_m + log
/// N(x_t; μ_m, σ²_m)` (computed in `T` by the exact E-step's first GEMM),
/// ties to the lower index, listed in increasing component order; `N ×
/// top_n`.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::gmm::{self, DiagGmm};
///
/// let ubm = DiagGmm::new(
///     array![0.2, 0.3, 0.5],
///     array![[0.0], [3.0], [6.0]],
///     Array2::ones((3, 1)),
/// )?;
/// let frames: Array2<f32> = array![[0.2], [5.5]];
/// let selection = gmm::select(frames.view(), &ubm.prepare(), 2)?;
/// assert_eq!(selection, array![[0, 1], [1, 2]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`PruneError::TopNZero`], or [`PruneError::TopNTooLarge`] when `top_n`
/// exceeds the model's components.
///
/// # Panics
///
/// If the frames' width is not the model's dimension.
#[track_caller]
pub fn select<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    top_n: usize,
) -> Result<Array2<u32>, PruneError> {
    check_dim(&frames, model);
    prune::check_top_n(top_n, model.n_components())?;
    let mut out = Array2::zeros((frames.nrows(), top_n));
    select_blocks(frames, out.view_mut(), model);
    Ok(out)
}

#[parallelize(split = "frames, out", reduce = "none", block_size = BLOCK_FRAMES)]
fn select_blocks<T: Real>(frames: ArrayView2<T>, out: ArrayViewMut2<u32>, model: &Prepared<T>) {
    select_block(frames, model, out)
}

/// The pruned E-step's statistics ([`Pruning`]): each frame's selected
/// components (a row of `selection`, e.g. from [`select`]) are evaluated
/// exactly in `f64`, posteriors are normalised over them, those below
/// `min_posterior` are dropped (the largest is kept) and the rest
/// renormalised; the frame's log-likelihood is the log-sum-exp over the
/// selected components. Sums are exact, so the result has the same bits on
/// any number of threads.
///
/// # Errors
///
/// [`PruneError::MinPosterior`] for a threshold outside `[0, 1)`;
/// [`PruneError::SelectionRows`], [`PruneError::SelectionEmpty`] or
/// [`PruneError::SelectionComponent`] for a selection that does not fit the
/// frames and the model.
///
/// # Panics
///
/// If the frames' width is not the model's dimension; if a frame holds NaN
/// or an infinity (as [`accumulate`]).
#[track_caller]
pub fn accumulate_pruned<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    selection: ArrayView2<u32>,
    min_posterior: f64,
) -> Result<GmmStats, PruneError> {
    check_dim(&frames, model);
    prune::check_min_posterior(min_posterior)?;
    prune::check_selection(&selection, frames.nrows(), model.n_components())?;
    let stats = accumulate_pruned_blocks(frames, selection, model, min_posterior);
    Ok(if stats.frames == 0 {
        GmmStats::zeros(model.n_components(), model.dim())
    } else {
        stats
    })
}

#[parallelize(split = "frames, selection", reduce = "sum", block_size = BLOCK_FRAMES)]
fn accumulate_pruned_blocks<T: Real>(
    frames: ArrayView2<T>,
    selection: ArrayView2<u32>,
    model: &Prepared<T>,
    min_posterior: f64,
) -> GmmStats {
    accumulate_pruned_block(frames, model, selection, min_posterior)
}

/// [`select`] then [`accumulate_pruned`] in one pass over the frames: the
/// iteration of pruned EM that refreshes the selection. Returns the
/// statistics and the selection (`N × pruning.top_n`).
///
/// # Errors
///
/// As [`select`] and [`accumulate_pruned`] ([`Pruning::check`]).
///
/// # Panics
///
/// As [`accumulate`].
#[track_caller]
pub fn select_and_accumulate<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    pruning: &Pruning,
) -> Result<(GmmStats, Array2<u32>), PruneError> {
    check_dim(&frames, model);
    pruning.check(model.n_components())?;
    let mut out = Array2::zeros((frames.nrows(), pruning.top_n));
    let stats = select_accumulate_blocks(frames, out.view_mut(), model, pruning.min_posterior);
    let stats = if stats.frames == 0 {
        GmmStats::zeros(model.n_components(), model.dim())
    } else {
        stats
    };
    Ok((stats, out))
}

#[parallelize(split = "frames, out", reduce = "sum", block_size = BLOCK_FRAMES)]
fn select_accumulate_blocks<T: Real>(
    frames: ArrayView2<T>,
    out: ArrayViewMut2<u32>,
    model: &Prepared<T>,
    min_posterior: f64,
) -> GmmStats {
    select_and_accumulate_block(frames, model, out, min_posterior)
}
