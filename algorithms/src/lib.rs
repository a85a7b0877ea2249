//! Algorithms built on shardkit (k-means, GMM/UBM EM, i-vectors, ...): coming in the algorithms issues.
//!
//! Available now: [`features`] (feature files on disk: `.npy`, HTK, list
//! files; files are written with [`shardkit::write_atomic`], so a reader
//! never sees half a file) and [`gmm`] (diagonal GMMs and their E-step).

pub mod features;
pub mod gmm;
pub mod speaker;
pub mod ubm;
