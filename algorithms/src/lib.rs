//! Algorithms built on shardkit (k-means, GMM/UBM EM, i-vectors, ...): coming in the algorithms issues.
//!
//! Available now: [`features`] (feature files on disk: `.npy`, HTK, list
//! files) and [`npz`] (models as NumPy `.npz` archives). Files are written with
//! [`shardkit::write_atomic`], so a reader never sees half a file.

pub mod features;
pub mod npz;
