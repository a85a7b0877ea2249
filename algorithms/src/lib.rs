//! Algorithms built on shardkit (k-means, GMM/UBM EM, i-vectors, ...): coming in the algorithms issues.
//!
//! Available now: [`features`] (feature files on disk: `.npy`, HTK, list files)
//! and [`io`] (atomic file writes).

pub mod features;
pub mod io;
