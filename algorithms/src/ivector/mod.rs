//! I-vectors: Baum-Welch statistics, total-variability training, and
//! extraction.
//!
//! The total-variability model (Dehak et al., 2011) writes the GMM
//! supervector of a session as `m + T·w`, where `m` stacks the UBM means,
//! `T` (`C·D × R`) spans the directions in which sessions vary, and the
//! i-vector `w ~ N(0, I)` is the session's low-dimensional coordinate. Given
//! a session's zero- and first-order statistics ([`SessionStats`], from
//! [`baum_welch`] over any [`Frames`](crate::frames::Frames)), the posterior of `w` is Gaussian
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
//! `benches/measure_tv.rs` at C = 256, D = 40, R = 100, 1,000 sessions,
//! on a 2-core AMD EPYC (Zen 4) VM (other tenants' load varies), against
//! SIDEKIT 1.4.3.2 and an independent NumPy float64 peer with the same
//! precomputation (`scripts/peers/tv_sidekit.py --compare`), in one run:
//!
//! | | 1 thread | 2 threads |
//! |---|---|---|
//! | one EM iteration (steady state) | 0.256–0.264 s | 0.128–0.145 s |
//! | share of faer's f64 GEMM peak (GEMM flops / all flops) | 74 % / 82 % | 66–72 % / 73–80 % |
//! | SIDEKIT `total_variability_single` | 11.5 s (43–45×) | 19.8 s (136–154×) |
//! | NumPy float64 | 0.661 s (2.5–2.6×) | 0.489 s (3.4–3.8×) |
//! | extraction, means | 0.114 s | 0.056–0.063 s |
//! | SIDEKIT `extract_ivectors_single` | 10.0 s (88×) | 20.4 s (322–366×) |
//!
//! Five more rounds at 1 thread, ours (best steady iteration of six) then
//! NumPy (best of three), gave NumPy/ours = 2.58, 2.50, 2.49, 2.52 and
//! 2.43: at one thread the NumPy peer, whose GEMMs run on OpenBLAS at the
//! same rate as ours, is beaten by about 2.5×, and what is left is near the
//! floor. The GEMMs (about 0.19 s of the 0.25) run at 95–100 % of faer's
//! peak for their shapes; the batched factorisations run at 32 (Cholesky)
//! and 41 (inverse) GFLOP/s. (SIDEKIT's 2-thread runs are slower than its
//! 1-thread ones: NumPy's and SciPy's OpenBLAS pools contend; NumPy's own
//! 2-thread time varies between runs.)

mod batch;
mod checkpoint;
mod errors;
mod estep;
mod extract;
mod hyperparams;
mod model;
mod stats;
mod train;

pub use crate::checkpoint::Checkpoint;
pub use checkpoint::{train_tv_resumable, tv_em_resumable};
pub use errors::{IvectorError, ModelPart, Statistic, TvParamsError};
pub use extract::{extract, extract_into};
pub use hyperparams::{TvCommunication, TvConfig, TvTraffic};
pub use model::TvModel;
pub use stats::{baum_welch, SessionStats};
pub use train::{train_tv, tv_em, tv_iteration, TvIteration, TvStep, TvTrained};
