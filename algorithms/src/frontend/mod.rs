//! The front end: WAV files to MFCC features, as speaker recognition uses
//! them (SIDEKIT's and Kaldi's recipes).
//!
//! - [`read_wav`]: mono 16-, 24- or 32-bit integer PCM or 32-bit float WAV
//!   files; anything else is refused with an error naming the file and what
//!   it holds.
//! - [`MfccConfig`] and [`VadConfig`]: every parameter of the recipe, as
//!   builders with documented defaults (42 columns: `c1..c13`, log-energy,
//!   Δ, ΔΔ; 30 dB energy VAD; per-utterance mean and variance
//!   normalisation), checked into a typed [`MfccParamsError`] (one variant
//!   per rule, including the rules that depend on the sample rate).
//! - [`Mfcc`]: the recipe prepared for one sample rate; [`Mfcc::compute`]
//!   turns samples into features, [`mfcc`] does both at once. The steps are
//!   public too: [`pre_emphasis`], [`hamming`], [`mel_filterbank`],
//!   [`deltas`], [`vad_mask`], [`cmvn`].
//! - [`extract_features`]: a list of WAV files to `.npy` files, in
//!   parallel (one `#[parallelize(split = "jobs, outcomes", reduce =
//!   "none")]` pass), written atomically, optionally going on past bad
//!   files.
//!
//! ```
//! use shardkit_algorithms::frontend::{mfcc, MfccConfig};
//!
//! // One second of a 440 Hz tone at 8 kHz, with half a second of silence
//! // in the middle.
//! let rate = 8000;
//! let samples: Vec<f32> = (0..rate)
//!     .map(|n| {
//!         let loud = !(2000..6000).contains(&n);
//!         let s = (2.0 * std::f64::consts::PI * 440.0 * n as f64 / rate as f64).sin();
//!         if loud { (0.5 * s) as f32 } else { 0.0 }
//!     })
//!     .collect();
//! let features = mfcc(&samples, rate as u32, &MfccConfig::default())?;
//! // 98 frames, of which the silent ones are dropped by the VAD.
//! assert_eq!(features.ncols(), 42);
//! assert!(features.nrows() > 40 && features.nrows() < 60, "{}", features.nrows());
//! # Ok::<(), shardkit_algorithms::frontend::MfccError>(())
//! ```
#![warn(missing_docs)]

mod errors;
mod extract;
mod hyperparams;
mod mfcc;
mod wav;

pub use errors::{FrontendError, MfccError, MfccParamsError};
pub use extract::{extract_features, ExtractReport, Failed, Job, Written};
pub use hyperparams::{Cmvn, DeltaEdges, MfccConfig, VadConfig};
pub use mfcc::{
    cmvn, deltas, hamming, hz_to_mel, mel_centers, mel_filterbank, mel_to_hz, mfcc, pre_emphasis,
    vad_mask, Frames, Mfcc,
};
pub use wav::{read_wav, Wav};
