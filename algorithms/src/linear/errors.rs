//! [`LinearError`]: why a linear model could not be fitted, used or read.

use crate::npz::NpzError;
use crate::stats::{StatsError, TableError};

/// Why a linear model could not be fitted, applied, scored or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinearError {
    /// The table could not be read or passed over (no rows, ranks of
    /// different widths, too few rows for the fit, another rank's
    /// failure).
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// A setting is out of its range (`ridge`, `targets`).
    #[error("{name} = {value}: {expected}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// The normal equations (or R of the QR method) are singular: a
    /// feature is (numerically) a linear combination of the others, or
    /// constant where the intercept already takes the constant.
    #[error("the features are collinear; add ridge or drop a column ({cause})")]
    Singular {
        /// The first feature found dependent on those before it, counted
        /// from 1 (it is also its column in the table).
        column: usize,
        /// What was found (`"column 3 (x3) is a linear combination of the
        /// columns before it"`).
        cause: String,
    },
    /// Rows given to a model have another number of columns than it takes.
    #[error("{what} has {found} columns, but the model takes {expected}")]
    Width {
        /// What was given (`"the rows to predict"`).
        what: String,
        /// The columns the model takes.
        expected: usize,
        /// The columns given.
        found: usize,
    },
    /// A partial result to merge was made from a table of other columns or
    /// targets, or a saved model or partial holds values it cannot hold.
    #[error("{0}")]
    Mismatch(String),
    /// A model or partial result could not be written or read.
    #[error(transparent)]
    Npz(#[from] NpzError),
}

impl From<TableError> for LinearError {
    fn from(e: TableError) -> Self {
        LinearError::Stats(StatsError::Table(e))
    }
}
