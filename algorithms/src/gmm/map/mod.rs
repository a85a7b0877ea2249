//! Speaker models: MAP adaptation from the UBM, and GMM-UBM scoring.
//!
//! [`adapt_speakers`] is SIDEKIT's "different nodes do different
//! speakers": one `#[parallelize(split = "speakers", reduce = "concat")]`
//! pass, each shard reading its speakers' segments and adapting their
//! models ([`map_adapt`]), the models stacked back in speaker order (on
//! every MPI rank). [`score_trials`] scores a trial list the same way, one
//! trial per item: each trial pairs a model with a test segment of a
//! [`Frames`](crate::frames::Frames).
//!
//! ```
//! use ndarray::{array, Array2};
//! use shardkit_algorithms::frames::Frames;
//! use shardkit_algorithms::gmm::map::{adapt_speakers, score_trials, MapConfig, Speaker, Trial};
//! use shardkit_algorithms::gmm::DiagGmm;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ubm = DiagGmm::new(array![0.5, 0.5], array![[-1.0], [1.0]], Array2::ones((2, 1)))?;
//! // Two speakers, one shifted left and one right; one test segment each.
//! let left: Array2<f32> = Array2::from_shape_fn((50, 1), |(t, _)| -1.5 + (t % 5) as f32 * 0.1);
//! let right: Array2<f32> = Array2::from_shape_fn((50, 1), |(t, _)| 1.5 - (t % 5) as f32 * 0.1);
//! let speakers = [
//!     Speaker { name: "left".into(), frames: Frames::rows(left.view()) },
//!     Speaker { name: "right".into(), frames: Frames::rows(right.view()) },
//! ];
//! let models = adapt_speakers(&speakers, &ubm, &MapConfig::new())?;
//! let tests = [left.view(), right.view()];
//! let trials = [
//!     Trial { model: 0, segment: 0 }, // target
//!     Trial { model: 0, segment: 1 }, // non-target
//! ];
//! let scores = score_trials(&trials, &models, &ubm, &Frames::segments(&tests), 2)?;
//! assert!(scores[0] > scores[1]);
//! # Ok(())
//! # }
//! ```

mod adapt;
mod errors;
mod hyperparams;
mod score;

pub use adapt::{adapt_speakers, map_adapt, Speaker};
pub use errors::{MapError, MapParamsError};
pub use hyperparams::MapConfig;
pub use score::{llr, score_trials, score_trials_scaled, LlrScale, Trial};
