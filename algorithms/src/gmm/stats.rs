//! The E-step's sufficient statistics.

use ndarray::{Array1, Array2};
use shardkit::Reduce;

/// Zero-, first- and second-order statistics of frames under a mixture, in
/// `f64`, with the total log-likelihood: what one E-step pass returns and
/// what the M-step needs.
///
/// With posteriors `γ_tm` of component `m` for frame `x_t`:
/// `zero[m] = Σ_t γ_tm`, `first[m, d] = Σ_t γ_tm·x_td`,
/// `second[m, d] = Σ_t γ_tm·x_td²` (uncentred, about 0), `log_likelihood =
/// Σ_t log p(x_t)` and `frames` the number of frames.
///
/// `#[derive(Reduce)]` adds two partial statistics field by field, so
/// [`accumulate`](super::accumulate) sums its blocks' statistics exactly
/// (fixed point), with the same bits on any number of threads.
#[derive(Reduce, Debug, Clone, PartialEq)]
pub struct GmmStats {
    /// `Σ_t γ_tm`, `M`.
    pub zero: Array1<f64>,
    /// `Σ_t γ_tm·x_t`, `M×D`.
    pub first: Array2<f64>,
    /// `Σ_t γ_tm·x_t²` (element-wise square), `M×D`.
    pub second: Array2<f64>,
    /// `Σ_t log p(x_t)`, natural log.
    pub log_likelihood: f64,
    /// The number of frames.
    pub frames: u64,
}

impl GmmStats {
    /// The statistics of no frames, for `n_components` components in `dim`
    /// dimensions.
    pub fn zeros(n_components: usize, dim: usize) -> GmmStats {
        GmmStats {
            zero: Array1::zeros(n_components),
            first: Array2::zeros((n_components, dim)),
            second: Array2::zeros((n_components, dim)),
            log_likelihood: 0.0,
            frames: 0,
        }
    }

    /// The average log-likelihood per frame (NaN for no frames).
    pub fn average_log_likelihood(&self) -> f64 {
        self.log_likelihood / self.frames as f64
    }
}
