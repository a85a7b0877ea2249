//! Distributed statistics: daal4py's SPMD set, typed and reproducible.
//!
//! Every statistic takes a [`Table`] — rows × columns of `f64` in parts,
//! read from CSV or `.npy` files ([`Table::read`]) or borrowed from memory
//! ([`Table::rows`]) — and makes one pass over it, a `#[parallelize]`
//! function, so it runs on threads, on MPI ranks that hold the same table,
//! and on ranks that each hold their own share ([`Table::local`], daal4py's
//! SPMD mode: rank `r` reads `file{r}.csv`, and every rank gets the result
//! of all the ranks' rows).
//!
//! - [`low_order_moments`]: per column count, minimum, maximum, sum, sum of
//!   squares, mean, variance, standard deviation, variation, second raw
//!   moment ([`Moments`]);
//! - [`covariance`]: the means, covariance and correlation matrices
//!   ([`Covariance`]);
//! - [`Pca`]: principal components by the covariance or correlation
//!   matrix or by the SVD, with transform and whitening ([`PcaModel`]);
//! - [`qr`] and [`svd`]: the R factor of a tall-skinny table (TSQR), its
//!   singular values and right vectors; Q and U on demand ([`Qr`], [`Svd`]).
//!
//! The same tables feed [`crate::linear`] (linear and ridge regression)
//! and [`crate::naive_bayes`]; k-means reads [`crate::frames::Frames`],
//! which has the same local mode ([`Frames::local`](crate::frames::Frames::local)).
//!
//! # The same bits everywhere
//!
//! A pass cuts each part of the table into chunks of [`CHUNK_ROWS`] rows,
//! computes each chunk's partial result in `f64`, and adds the chunks'
//! results exactly (shardkit's fixed-point sums) or merges them in a tree
//! fixed by the number of chunks (QR). So a result has the same bits on
//! 1 thread or 16, on 1 rank or 4, and — for local tables — whichever rank
//! holds which part: four files on one process, or one on each of four
//! ranks, give the same bits.
//!
//! # Streaming
//!
//! Each statistic's partial result is a type of its own that merges with
//! another and saves to `.npz` ([`MomentsPartial`], [`CovariancePartial`],
//! and in the other modules `NormalEquationsPartial`,
//! `MultinomialPartial`, `GaussianPartial`; and [`Qr`], whose
//! [`merge`](Qr::merge) stacks two R's): feed the data as it arrives,
//! or in several jobs, and finish once. They implement
//! [`shardkit::Reduce`] (merging in block order), so a `#[parallelize]`
//! function of your own can return one per batch.

mod covariance;
mod errors;
mod moments;
pub(crate) mod pass;
mod pca;
mod qr;
pub(crate) mod streaming;
mod table;
pub(crate) mod tsqr;

pub use covariance::{covariance, Covariance, CovariancePartial};
pub use errors::{StatsError, TableError};
pub use moments::{low_order_moments, Moments, MomentsPartial};
pub use pca::{Pca, PcaMethod, PcaModel};
pub use qr::{qr, svd, Qr, Svd, RANK_TOLERANCE};
pub use table::{Header, Table, TableOptions, CHUNK_ROWS, MAX_MAGNITUDE, MOST_MAGNITUDE};
