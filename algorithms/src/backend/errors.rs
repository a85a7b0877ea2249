//! [`BackendError`]: why a back end could not be trained, applied, saved or
//! loaded, with a message that says what to change.

use std::path::PathBuf;

use crate::npz::NpzError;

/// Why a scoring back end could not be trained, applied, saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No vectors, or vectors of no dimensions.
    #[error("no data: {what} is empty")]
    Empty {
        /// What is empty.
        what: &'static str,
    },

    /// A NaN or infinite value.
    #[error(
        "{what}: row {row}, column {column} (counting from 0) is {value}; vectors must be finite"
    )]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Its column.
        column: usize,
        /// The value.
        value: f64,
    },

    /// Not one label per vector.
    #[error("{vectors} vectors but {labels} speaker labels: give one label per row")]
    LabelCount {
        /// Rows given.
        vectors: usize,
        /// Labels given.
        labels: usize,
    },

    /// Vectors of another dimension than the model's, or than the other
    /// side of a trial list.
    #[error("{what}: dimension {found}, but the model (or the other side) has {expected}")]
    Dimension {
        /// Which input.
        what: &'static str,
        /// The dimension expected.
        expected: usize,
        /// The dimension found.
        found: usize,
    },

    /// A vector of length zero cannot be length-normalised.
    #[error("{what}: row {row} (counting from 0) has zero length and cannot be length-normalised")]
    ZeroNorm {
        /// Which input.
        what: &'static str,
        /// The row.
        row: usize,
    },

    /// Fewer speakers than the method needs.
    #[error("{what} needs vectors of at least {needed} speakers, found {found}")]
    TooFewSpeakers {
        /// The method.
        what: &'static str,
        /// Speakers needed.
        needed: usize,
        /// Speakers found.
        found: usize,
    },

    /// Too few vectors for a full-rank covariance: the within-class scatter
    /// of `N` vectors of `S` speakers has rank at most `N − S` (the total
    /// covariance, at most `N − 1`).
    #[error(
        "{what}: {vectors} vectors of {speakers} speakers give a {kind} of rank at most {rank}, \
         below the dimension {dim}; give at least {needed} vectors (a speaker with a single \
         vector adds nothing to a within-class scatter), or reduce the dimension first (LDA, PCA)"
    )]
    RankDeficient {
        /// The method.
        what: &'static str,
        /// Which matrix: `"within-class scatter"` or `"total covariance"`.
        kind: &'static str,
        /// Vectors given.
        vectors: usize,
        /// Speakers given.
        speakers: usize,
        /// The largest rank the matrix can have.
        rank: usize,
        /// The dimension.
        dim: usize,
        /// Vectors needed.
        needed: usize,
    },

    /// A matrix that must be positive definite is numerically singular
    /// (its Cholesky factor has a pivot below `1e-12` of its largest
    /// diagonal entry, or does not exist).
    #[error("{what} is singular (not numerically positive definite): {hint}")]
    Singular {
        /// The matrix.
        what: &'static str,
        /// The likely cause and the fix.
        hint: &'static str,
    },

    /// LDA asked for more directions than there are.
    #[error(
        "LDA cannot keep {asked} directions: with {speakers} speakers in dimension {dim} there \
         are at most min(speakers − 1, dim) = {max}"
    )]
    LdaDirections {
        /// Directions asked for.
        asked: usize,
        /// The most there can be.
        max: usize,
        /// Speakers in the training data.
        speakers: usize,
        /// Dimension of the vectors.
        dim: usize,
    },

    /// A setting out of range.
    #[error("invalid `{name}`: {rule}")]
    Param {
        /// The setting.
        name: &'static str,
        /// What it must be.
        rule: &'static str,
    },

    /// An eigen decomposition did not converge.
    #[error("the eigen decomposition of the {what} did not converge")]
    NoConvergence {
        /// The matrix.
        what: &'static str,
    },

    /// A model archive could not be read or written.
    #[error(transparent)]
    Npz(#[from] NpzError),

    /// A checkpoint of [`Plda::fit_resumable`](super::Plda::fit_resumable)
    /// that this run cannot continue from (another run's, or one that holds
    /// more iterations than asked for).
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// A model archive whose arrays do not fit together.
    #[error("{}: not a valid {model} model: {reason}", path.display())]
    BadModel {
        /// The archive.
        path: PathBuf,
        /// The model type.
        model: &'static str,
        /// What is wrong.
        reason: String,
    },
}
