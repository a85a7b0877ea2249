//! [`NbError`]: why a naive Bayes model could not be trained, merged,
//! loaded or applied.

use std::path::PathBuf;

use crate::npz::NpzError;
use crate::stats::{StatsError, TableError};

/// Why a naive Bayes model could not be trained, merged, loaded or applied.
/// Errors about the training table name its part (file), row and column.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::naive_bayes::MultinomialNb;
/// use shardkit_algorithms::stats::Table;
///
/// // Two count columns, then the label: 2.5 is not a class.
/// let x = array![[1.0, 0.0, 0.0], [3.0, 1.0, 2.5]];
/// let err = MultinomialNb::params().classes(3).fit(&Table::rows(x.view())?).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "in-memory rows: row 2, column 3: 2.5 is not a class label: the last column \
///      holds the class as an integer 0..=2 (classes = 3)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NbError {
    /// The table could not be read or agreed on, or a value in it cannot be
    /// taken ([`StatsError::Value`]: a negative count, a label that is not
    /// a class, naming the part, row and column), or, under MPI, the pass
    /// failed on another rank.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// A setting is out of its range.
    #[error("{name} = {value}: {expected}")]
    Setting {
        /// The setting (`"classes"`, `"alpha"`, `"var_smoothing"`).
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// The training table has no feature column besides the label.
    #[error(
        "the table has {found} column(s), but naive Bayes needs at least one feature column \
         and the label column (the last one)"
    )]
    TooFewColumns {
        /// The table's columns.
        found: usize,
    },
    /// Rows to predict have another number of features than the model.
    #[error("the rows to predict have {found} features, but the model was trained on {expected}")]
    Features {
        /// The rows' columns.
        found: usize,
        /// The model's features.
        expected: usize,
    },
    /// A value of the rows to predict cannot be taken.
    #[error("rows to predict: row {row}, column {column}: {value} {problem}")]
    Input {
        /// The row, counted from 1.
        row: usize,
        /// The column, counted from 1.
        column: usize,
        /// The value.
        value: f64,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Gaussian naive Bayes: a feature has no spread within a class, and
    /// the smoothing adds none (every feature of the table is constant, or
    /// `var_smoothing` is 0).
    #[error(
        "class {class}, column {column}: the feature's variance within the class is 0 and \
         var_smoothing adds {epsilon}, so its density is undefined: raise var_smoothing"
    )]
    ZeroVariance {
        /// The class.
        class: usize,
        /// The column, counted from 1.
        column: usize,
        /// What the smoothing adds to every variance.
        epsilon: f64,
    },
    /// Partial results made with other settings or from other columns.
    #[error("cannot merge partial results: {0}")]
    Mismatch(String),
    /// A saved model or partial result could not be written or read.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// A saved model or partial result holds values that cannot be one.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl From<TableError> for NbError {
    fn from(e: TableError) -> Self {
        NbError::Stats(StatsError::Table(e))
    }
}
