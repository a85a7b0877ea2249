//! I-vectors: Baum-Welch statistics, total-variability training, and
//! extraction.
//!
//! The total-variability model (Dehak et al., 2011) writes the GMM
//! supervector of a session as `m + T·w`, where `m` stacks the UBM means,
//! `T` (`C·D × R`) spans the directions in which sessions vary, and the
//! i-vector `w ~ N(0, I)` is the session's low-dimensional coordinate. Given
//! a session's zero- and first-order statistics ([`SessionStats`], from
//! [`baum_welch`] or [`baum_welch_files`]), the posterior of `w` is Gaussian
//! with precision `L = I + Σ_c N_c T_cᵀ Σ_c⁻¹ T_c` and mean
//! `L⁻¹ Tᵀ Σ⁻¹ (F − N·m)`: [`extract`] returns the means (and, with
//! [`extract_into`], the covariances `L⁻¹`).
//!
//! [`train_tv`] estimates `T` by EM from a seeded random start: the E-step
//! computes every session's posterior from the per-component
//! precomputation `T_cᵀ Σ_c⁻¹ T_c` (the per-session `C·D × R` products are
//! never formed), the M-step solves one `R × R` system per component, and
//! the minimum-divergence step rescales `T` so the i-vectors keep a unit
//! prior. The UBM means and variances stay fixed. Each iteration reports
//! the log-likelihood of the statistics (up to a constant), which EM never
//! lowers.
//!
//! # Parallelisation and memory
//!
//! Every pass is a `#[parallelize]` function: the E-step over sessions
//! (`reduce = "sum"` of the small sums — the i-vectors' mean and second
//! moment and the objective — with each session's posterior written in
//! place), the large accumulators over their rows (`A_c = Σ_s N_sc
//! E[w wᵀ]_s`, `C × R(R+1)/2`, split over its packed entries; `Σ_s F̃_s
//! E[w_s]ᵀ`, `C·D × R`, split over components), and the M-step over
//! components. Nothing large is summed per worker: each accumulator is
//! held once, and sessions are processed in chunks whose posteriors fit
//! [`TvConfig::memory`]. Results have the same bits on any number of
//! threads or MPI ranks.
//!
//! # Speed
//!
//! An iteration is four large f64 GEMMs (faer): the precisions `N·P`
//! (`2·S·C·K` flops, `K = R(R+1)/2`), the projections `F·Σ⁻¹T`
//! (`2·S·C·D·R`), and the accumulators `A` and `C` (the same again). The
//! per-session Cholesky factorisations, solves and inverses (`S·R³`) run
//! eight sessions at a time, one session per vector lane. Measured with
//! `examples/bench_tv.rs` at C = 256, D = 40, R = 100, 1,000 sessions,
//! on a 2-core AMD EPYC (Zen 4) with nothing else running, against
//! SIDEKIT 1.4.3.2 and an independent NumPy float64 peer with the same
//! precomputation (`scripts/peers/tv_sidekit.py --compare`), in one run:
//!
//! | | 1 thread | 2 threads |
//! |---|---|---|
//! | one EM iteration | 0.285 s | 0.144 s |
//! | share of faer's f64 GEMM peak (GEMM flops / all flops) | 64 % / 71 % | 64 % / 71 % |
//! | SIDEKIT `total_variability_single` | 10.4 s (36×) | 17.4 s (121×) |
//! | NumPy float64 | 0.608 s (2.1×) | 0.46–0.63 s (3.2–4.4×) |
//! | extraction, means | 0.131 s | 0.065 s |
//! | SIDEKIT `extract_ivectors_single` | 9.42 s (72×) | 16.9 s (259×) |
//!
//! The GEMMs alone, at faer's peak, would take 0.19 s of the 0.285; they
//! run at about 90 % of it, and the batched factorisations at about 29
//! GFLOP/s. (SIDEKIT's 2-thread runs are slower than its 1-thread ones:
//! NumPy's and SciPy's OpenBLAS pools contend; NumPy's 2-thread time
//! varied between runs.)

mod batch;
mod estep;
mod extract;
mod model;
mod stats;
mod train;

use shardkit::RemoteError;

use crate::features::FeatureError;
use crate::npz::NpzError;

pub use extract::{extract, extract_into};
pub use model::TvModel;
pub use stats::{baum_welch, baum_welch_files, SessionStats};
pub use train::{train_tv, tv_em, tv_iteration, TvConfig, TvIteration, TvStep, TvTrained};

/// What can go wrong with i-vectors.
#[derive(Debug, thiserror::Error)]
pub enum IvectorError {
    /// A feature file is missing, malformed, or has the wrong dimension.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// A model or statistics file could not be read or written.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// Under MPI: the error happened on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// Shapes that do not fit together.
    #[error("{0}")]
    Shape(String),
    /// A session's statistics are unusable.
    #[error("session {session}: {reason}")]
    BadStatistics {
        /// The session (row of the statistics).
        session: usize,
        /// What is wrong.
        reason: String,
    },
    /// A model part is invalid.
    #[error("invalid total-variability model: {0}")]
    Model(String),
    /// The configuration is unusable.
    #[error("invalid total-variability configuration: {0}")]
    Config(String),
}
