//! Speaker-recognition algorithms built on shardkit's `#[parallelize]`:
//! each algorithm's data pass is one annotated function over frames or
//! files, so it runs on threads or MPI ranks with the same bits.
//!
//! - [`checkpoint`]: where resumable trainings keep their state;
//! - [`features`]: feature files on disk (`.npy`, HTK, list files);
//! - [`frames`]: the frames every algorithm reads — rows or matrices in
//!   memory, or feature files — and the passes over them;
//! - [`frontend`]: WAV files to MFCC features (Δ, ΔΔ, energy VAD, CMVN);
//! - [`npz`]: models as NumPy `.npz` archives;
//! - [`provenance`]: what made a result file (software, program,
//!   configuration, inputs, plan digest), carried inside it;
//! - [`kmeans`]: Lloyd's k-means with k-means++ and k-means||
//!   initialisation, over rows in memory or over feature files;
//! - [`gmm`]: diagonal GMMs and their E-step (GEMMs in `f32`, statistics in
//!   `f64`), UBM training by EM with the split schedule ([`gmm::ubm`]), MAP
//!   adaptation and GMM-UBM scoring ([`gmm::map`]);
//! - [`ivector`]: Baum-Welch statistics, total-variability training and
//!   i-vector extraction;
//! - [`backend`]: scoring back ends for i-vectors — length normalisation,
//!   cosine scoring, LDA, WCCN, two-covariance PLDA — and score
//!   normalisation against a cohort (Z-, T-, ZT-, S- and adaptive S-norm);
//! - [`metrics`]: EER, minimum DCF, DET curve points and DET plots (SVG,
//!   PNG);
//! - [`protocol`]: evaluation lists as SIDEKIT and BOSARIS write them —
//!   IdMap, Ndx, Key and Scores text files (and, with the `hdf5` feature,
//!   their HDF5 files), scores keyed by (model, segment), and cohort lists;
//! - [`stats`]: daal4py's distributed statistics over tables (CSV, `.npy`):
//!   low-order moments, covariance, PCA, QR and SVD, in one pass each, on
//!   threads or ranks, with data the same on every rank or each rank's own.
//! - [`linear`]: linear and ridge regression (normal equations or QR,
//!   several targets), prediction and R², over the same tables;
//! - [`naive_bayes`]: multinomial and Gaussian naive Bayes, trained with
//!   exact sums over a table whose last column is the class label.
//!
//! Files are written with [`shardkit::write_atomic`], so a reader never sees
//! half a file.

pub mod backend;
pub mod checkpoint;
pub mod features;
pub mod frames;
pub mod frontend;
pub mod gmm;
#[cfg(feature = "hdf5")]
mod h5;
pub mod ivector;
pub mod kmeans;
mod linalg;
pub mod linear;
pub mod metrics;
pub mod naive_bayes;
pub mod npz;
pub mod protocol;
pub mod provenance;
pub mod scale;
mod scratch;
mod simd;
pub mod stats;

#[doc(hidden)]
pub mod __bench {
    //! Kernel internals for this repository's benches, measurement
    //! programs and tests: not part of the API, no stability promise.

    pub use crate::gmm::estep::{accumulate_block_chunked, CHUNK_FRAMES};
    pub use crate::simd::exp::exp_in_place;
    pub use crate::simd::{detected, level, Level, ENV};
}
