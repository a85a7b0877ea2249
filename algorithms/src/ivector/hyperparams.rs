//! [`TvConfig`]: how total-variability EM runs, checked before it starts.

use super::errors::TvParamsError;
use crate::linalg::packed_len;

/// How total-variability EM runs: a builder whose setters take and return
/// it by value; [`train_tv`](super::train_tv) and [`tv_em`](super::tv_em)
/// check it first ([`TvConfig::check`]).
///
/// Defaults: rank 100, 10 iterations, minimum divergence on, seed 0,
/// initial scale 0.1, 1 GiB for the per-session posteriors.
///
/// ```
/// use shardkit_algorithms::ivector::{TvConfig, TvParamsError};
///
/// let config = TvConfig::new(400).iterations(5).seed(7);
/// assert_eq!(config.rank(), 400);
/// assert!(config.check().is_ok());
/// assert_eq!(TvConfig::new(0).check(), Err(TvParamsError::Rank));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TvConfig {
    pub(crate) rank: usize,
    pub(crate) iterations: usize,
    pub(crate) min_divergence: bool,
    pub(crate) seed: u64,
    pub(crate) init_scale: f64,
    pub(crate) memory: usize,
}

impl Default for TvConfig {
    fn default() -> Self {
        TvConfig {
            rank: 100,
            iterations: 10,
            min_divergence: true,
            seed: 0,
            init_scale: 0.1,
            memory: 1 << 30,
        }
    }
}

impl TvConfig {
    /// The defaults, with i-vectors of dimension `rank`.
    pub fn new(rank: usize) -> Self {
        TvConfig {
            rank,
            ..Self::default()
        }
    }

    /// EM iterations (default 10).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Apply the minimum-divergence step after each M-step (default
    /// `true`): `T ← T·G` with `G·Gᵀ = (1/S) Σ_s E[w_s w_sᵀ]`, so that the
    /// i-vectors' second moment over the training set stays the prior's
    /// `I`. It speeds up convergence and never lowers the likelihood.
    pub fn min_divergence(mut self, apply: bool) -> Self {
        self.min_divergence = apply;
        self
    }

    /// Seed of the random initial `T` (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Scale of the random initial `T`, relative to the UBM's standard
    /// deviations (default 0.1; see
    /// [`TvModel::random`](super::TvModel::random)).
    pub fn init_scale(mut self, scale: f64) -> Self {
        self.init_scale = scale;
        self
    }

    /// Bytes the per-session posteriors of one pass may take (default
    /// 1 GiB): `8·(R + R(R+1)/2)` per session; sessions are processed in
    /// chunks that fit (plus at most 16 sessions' worth of second moments,
    /// `128·R(R+1)/2` bytes, of padding that aligns their rows to cache
    /// lines). The `C × R(R+1)/2` and `C·D × R` accumulators are held
    /// once, beside it.
    pub fn memory(mut self, bytes: usize) -> Self {
        self.memory = bytes;
        self
    }

    /// The i-vector dimension `R`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of EM iterations.
    pub fn n_iterations(&self) -> usize {
        self.iterations
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// [`TvParamsError::Rank`] for a rank of 0,
    /// [`TvParamsError::InitScale`] for a scale that is not a positive
    /// number, [`TvParamsError::Memory`] when `memory` cannot hold one
    /// session's posterior.
    pub fn check(&self) -> Result<(), TvParamsError> {
        if self.rank == 0 {
            return Err(TvParamsError::Rank);
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return Err(TvParamsError::InitScale(self.init_scale));
        }
        check_memory(self.memory, self.rank)
    }
}

/// Checks that `memory` bytes hold one session's posterior at `rank`.
pub(crate) fn check_memory(memory: usize, rank: usize) -> Result<(), TvParamsError> {
    let needed = 8 * (packed_len(rank) + rank);
    if memory < needed {
        return Err(TvParamsError::Memory {
            bytes: memory,
            needed,
            rank,
        });
    }
    Ok(())
}
