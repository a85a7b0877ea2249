//! Algorithms built on shardkit (k-means, GMM/UBM EM, i-vectors, ...): coming in the algorithms issues.

pub mod gmm;
