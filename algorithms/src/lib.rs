//! Algorithms built on shardkit (k-means, GMM/UBM EM, i-vectors, ...): coming in the algorithms issues.
//!
//! Available now: [`features`] (feature files on disk: `.npy`, HTK, list
//! files), [`npz`] (models as NumPy `.npz` archives) and [`kmeans`]
//! (Lloyd's k-means with k-means++ and k-means|| initialisation, over rows
//! in memory or over feature files). Files are written with
//! [`shardkit::write_atomic`], so a reader never sees half a file.

pub mod features;
pub mod kmeans;
mod linalg;
pub mod npz;
