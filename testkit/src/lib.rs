//! Dev-only helpers of `shardkit-algorithms`' integration tests, examples
//! and benches, in one place (never a dependency of a library: the
//! algorithms' unit tests do not use it, since it links its own copy of
//! `shardkit-algorithms`).
//!
//! - [`rng`]: seeded generators, [`Rng`] (splitmix64) and [`XorShift`];
//! - [`gmm`]: MFCC-like frames, a UBM-like model, a known GMM, its sampler
//!   and the check that EM recovered it;
//! - [`speech`]: a generated speech corpus in the layout of the Free Spoken
//!   Digit Dataset (a documented source-filter model of speakers);
//! - [`timing`]: best-of-N timing and faer's GEMM peak, for the measurement
//!   programs;
//! - [`python`]: the Python with NumPy that the cross-checks against
//!   `scripts/peers/` run;
//! - [`cli`]: value parsers and the ranks × threads description shared by
//!   the programs' command lines.
//!
//! Everything is deterministic: the same seed gives the same numbers (and
//! the same WAV bytes) on every machine.
//!
//! ```
//! use shardkit_testkit::{mfcc_like, ubm_like};
//!
//! let frames = mfcc_like(1000, 20, 16, 1);
//! let ubm = ubm_like(&frames, 8, 2);
//! assert_eq!((ubm.n_components(), ubm.dim()), (8, 20));
//! ```

pub mod cli;
pub mod gmm;
pub mod python;
pub mod rng;
pub mod speech;
pub mod timing;

pub use gmm::{assert_recovers, known_gmm, mfcc_like, sample_gmm, ubm_like};
pub use python::{py_str, python_with_numpy, run_python};
pub use rng::{Rng, XorShift};
