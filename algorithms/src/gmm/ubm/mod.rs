//! Training a UBM: EM for diagonal GMMs, with SIDEKIT's split schedule.
//!
//! [`train_ubm`] starts from one Gaussian (the global mean and variance of
//! the data), then repeatedly splits every component in two and runs a few
//! EM iterations, up to the requested number of components (a power of
//! two). [`em`] runs plain EM from a model you give. Each iteration is one
//! data pass over the [`Frames`] — a `#[parallelize]` pass of
//! [`crate::frames`] over blocks of rows or of files, each block running
//! the E-step of [`gmm::accumulate`] — on the
//! ambient executor (threads, or MPI ranks under `mpirun`), followed by the
//! M-step on every process. The statistics are summed exactly, so a model
//! trained on 1, 2 or 16 threads (or any number of ranks) has the same bits.
//!
//! # The M-step, and its guards
//!
//! With `n_m`, `F_m`, `S_m` the zero-, first- and second-order statistics of
//! component `m` over `N` frames: `w_m = n_m / N`, `μ_m = F_m / n_m`,
//! `σ²_m = S_m / n_m − μ_m²`, then
//!
//! - **variance control**: each `σ²_md` is clamped to
//!   `[floor · v_d, ceiling · v_d]`, where `v` is the global variance of the
//!   data (defaults 0.01 and 10, as SIDEKIT);
//! - **collapsed components**: a component with `n_m` below
//!   [`EmConfig::min_occupancy`] frames (default 1) keeps its previous mean
//!   and variance instead of dividing by (nearly) zero, and its weight is
//!   `max(n_m, 10⁻¹⁰·N) / N`, renormalised — so no weight is exactly zero
//!   and nothing becomes NaN. The component can win frames back in later
//!   iterations.
//!
//! # Precision of the statistics
//!
//! The exact E-step ([`gmm::accumulate`]) forms its statistics with `f32`
//! GEMMs on frames centred on one offset for all components (see
//! [`Prepared`]), summed in `f64`. The means and weights then carry
//! relative errors near `1e-7`, but the variance `S/n − (F/n)²` cancels:
//! its relative error grows with `((μ_m − c)/σ_m)²`, and reaches about
//! `5e-6` on the MFCC-like test case of `tests/gmm_kernel.rs` (the `f64`
//! path: `4e-13`). That is far below what moves EM (variances are floored
//! at 1% of the global variance), but when the statistics themselves are
//! the result, compute them with [`DiagGmm::prepare_f64`] and `f64` frames
//! ([`gmm::accumulate`] is generic), then call [`maximize`]. The pruned
//! E-step ([`EmConfig::pruning`]) accumulates `Σγx` and `Σγx²` directly in
//! `f64`, so its variances do not lose those digits.
//!
//! # Pruned EM
//!
//! With [`EmConfig::pruning`] set, each stage with more components than
//! [`Pruning::top_n`] runs Kaldi's Gaussian selection (see [`Pruning`] for
//! exactly what is left out): the stage's first iteration selects each
//! frame's `top_n` components (one full log-density pass, with the
//! statistics of the pruned pass computed in the same pass) and stores the
//! selection (`4·top_n` bytes per frame, in memory, for rows and for
//! files); the next iterations evaluate only the selected components
//! (by default the stage never re-selects, as Kaldi; see
//! [`Pruning::reselect_every`]). Stages with
//! at most `top_n` components run the exact E-step. [`EmIteration::selection_pass`]
//! says which iterations selected.

//!
//! ```
//! use ndarray::Array2;
//! use shardkit_algorithms::frames::Frames;
//! use shardkit_algorithms::gmm::ubm::{train_ubm, EmConfig};
//!
//! // Two clusters in 2-D, around (-3, 0) and (3, 0).
//! let frames = Array2::from_shape_fn((400, 2), |(i, j)| {
//!     let centre = if j == 1 { 0.0 } else if i % 2 == 0 { -3.0 } else { 3.0 };
//!     centre + ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
//! });
//! let config = EmConfig::new().iterations(vec![5]);
//! let trained = train_ubm(&Frames::rows(frames.view()), 2, &config, &mut |_| {})?;
//! let means = trained.model.means();
//! assert!((means[[0, 0]] + 3.0).abs() < 0.1 && (means[[1, 0]] - 3.0).abs() < 0.1);
//! # Ok::<(), shardkit_algorithms::gmm::ubm::UbmError>(())
//! ```

mod errors;
mod hyperparams;
mod iteration;
mod resume;
mod train;

pub use crate::checkpoint::Checkpoint;
pub use errors::{UbmError, UbmParamsError};
pub use hyperparams::{EmConfig, DEFAULT_ITERATIONS};
pub use iteration::{EmIteration, UbmTrained};
pub use train::{em, global_moments, maximize, split, train_ubm, train_ubm_resumable};

#[cfg(doc)]
use crate::frames::Frames;
#[cfg(doc)]
use crate::gmm::{self, DiagGmm, Prepared, Pruning};
