//! Algorithms built on shardkit (k-means, GMM/UBM EM, i-vectors, ...): coming in the algorithms issues.
//!
//! Available now: [`io`] (atomic file writes).

pub mod io;
