//! [`KMeansError`]: everything that can stop a fit, a prediction or a
//! save, with a message that says what to change.

use crate::frames::FramesError;
use crate::npz::NpzError;

/// A [`KMeans`](super::KMeans) setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KMeansParamsError {
    /// `clusters` is 0.
    #[error("`clusters` must be at least 1")]
    Clusters,
    /// `max_iter` is 0.
    #[error("`max_iter` must be at least 1")]
    MaxIter,
    /// `tol` is negative or NaN.
    #[error("`tol` must be a number >= 0 (the relative decrease of inertia that ends the iterations), found {0}")]
    Tol(f64),
    /// `local_trials` is 0 or more than 52.
    #[error("`local_trials` must be between 1 and 52 (or `None` for 2 + ln(clusters))")]
    LocalTrials,
    /// k-means|| with an oversampling factor that is not a positive number.
    #[error("k-means|| `oversampling` must be a number > 0 (points sampled per round, in multiples of `clusters`), found {0}")]
    Oversampling(f64),
    /// k-means|| with no rounds.
    #[error("k-means|| `rounds` must be at least 1")]
    Rounds,
}

/// What is wrong with centroids given to k-means ([`Init::Given`](super::Init::Given),
/// [`KMeansModel::from_centroids`](super::KMeansModel::from_centroids)).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CentroidsError {
    /// No rows.
    #[error("there are none (0 rows)")]
    Empty,
    /// Rows of no columns.
    #[error("they have 0 columns")]
    NoColumns,
    /// A NaN or infinite value.
    #[error("centroid {centroid}, column {column} (counting from 0) is {value}")]
    NonFinite {
        /// The centroid (row).
        centroid: usize,
        /// The column.
        column: usize,
        /// The value.
        value: f64,
    },
    /// Not one centroid per cluster.
    #[error("{given} were given for {clusters} clusters")]
    Count {
        /// Centroids given.
        given: usize,
        /// Clusters asked for.
        clusters: usize,
    },
}

/// Why k-means could not run, or a model could not be used, read or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KMeansError {
    /// A setting of [`KMeans`](super::KMeans) is invalid.
    #[error("invalid k-means setting: {0}")]
    Params(#[from] KMeansParamsError),

    /// There are no rows, no files, or rows of no columns.
    #[error("no data: {what}")]
    NoData {
        /// What is empty.
        what: &'static str,
    },

    /// Fewer points than clusters.
    #[error("cannot make {clusters} clusters from {points} points: ask for at most {points} clusters, or give more data")]
    TooFewPoints {
        /// Clusters asked for.
        clusters: usize,
        /// Points given.
        points: usize,
    },

    /// Values so large that sums of squared distances could leave the range
    /// that shardkit sums exactly (magnitudes below 2^84).
    #[error("values up to {max_abs:e} over {rows} rows × {dim} columns are too large to sum exactly; scale the data down (e.g. standardise it)")]
    TooLarge {
        /// The largest magnitude found.
        max_abs: f64,
        /// Rows.
        rows: usize,
        /// Columns.
        dim: usize,
    },

    /// The data has another number of columns than the centroids (given
    /// initial centroids, or a fitted model's).
    #[error("{what} have {found} columns but the {other} have {expected}")]
    DimMismatch {
        /// What was given: `"rows"` or `"initial centroids"`.
        what: &'static str,
        /// Its columns.
        found: usize,
        /// What it is compared with: `"centroids"` or `"data"`.
        other: &'static str,
        /// Their columns.
        expected: usize,
    },

    /// Centroids (given initial ones, or a model's) that cannot be used.
    #[error("initial centroids: {0}")]
    BadCentroids(#[from] CentroidsError),

    /// A segment could not be read or fails its checks (another
    /// dimension, no frames, a non-finite value: the message names the
    /// file, or the row in memory), or a file changed during the fit.
    #[error(transparent)]
    Frames(#[from] FramesError),

    /// A model archive or a checkpoint could not be read or written.
    #[error(transparent)]
    Npz(#[from] NpzError),

    /// A checkpoint of [`fit_resumable`](super::KMeans::fit_resumable) that
    /// this run cannot continue from (another run's, or one that holds more
    /// iterations than `max_iter`).
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
}
