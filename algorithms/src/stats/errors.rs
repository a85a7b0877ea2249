//! [`TableError`] (a table could not be read or agreed on) and
//! [`StatsError`] (a statistic could not be computed).

use std::path::PathBuf;

use shardkit::RemoteError;

use crate::features::FeatureError;

/// Why a [`Table`](super::Table) could not be read, or its parts do not fit
/// together. Every variant names the file (or the part in memory), and
/// where it can the line or row and the column.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file could not be opened or read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A `.npy` file is not a 2-D float32 or float64 array (the message
    /// names the file and what it holds instead).
    #[error(transparent)]
    Npy(#[from] FeatureError),
    /// A file's name ends neither in `.csv` (or `.txt`) nor in `.npy`.
    #[error("{}: unknown table format: the name must end in .csv, .txt or .npy", path.display())]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// A CSV cell is not a number.
    #[error("{}: line {line}, column {column}: {cell:?} is not a number", path.display())]
    Cell {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: u64,
        /// The column, counted from 1.
        column: usize,
        /// The cell's text.
        cell: String,
    },
    /// A CSV line has another number of cells than the first line.
    #[error("{}: line {line} has {found} cells, but the first line has {expected}", path.display())]
    Ragged {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: u64,
        /// Cells on that line.
        found: usize,
        /// Cells on the first line.
        expected: usize,
    },
    /// The CSV reader failed (bad UTF-8, a broken quote): its message, with
    /// the line where it knows it.
    #[error("{}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A value is NaN or infinite.
    #[error("{name}: row {row}, column {column}: {value} is not a finite number")]
    NotFinite {
        /// The file, or the part in memory (`in-memory part 2`).
        name: String,
        /// The data row, counted from 1 (a header line is not counted).
        row: usize,
        /// The column, counted from 1.
        column: usize,
        /// The value.
        value: f64,
    },
    /// A value's magnitude is above the table's limit.
    #[error(
        "{name}: row {row}, column {column}: {value:e} is larger in magnitude than {limit:e}; \
         shardkit sums products of values over all rows exactly, in fixed point, which \
         bounds their size: rescale the column (to thousands, or millions), or raise the \
         limit with TableOptions::max_magnitude if the table is small"
    )]
    TooLarge {
        /// The file, or the part in memory.
        name: String,
        /// The data row, counted from 1.
        row: usize,
        /// The column, counted from 1.
        column: usize,
        /// The value.
        value: f64,
        /// The limit ([`MAX_MAGNITUDE`](super::MAX_MAGNITUDE) by default).
        limit: f64,
    },
    /// A magnitude limit that is not a number in (0, 2^35]
    /// ([`MOST_MAGNITUDE`](super::MOST_MAGNITUDE)).
    #[error(
        "TableOptions::max_magnitude({limit:e}) is not a number in (0, 2^35]: above 2^35 the \
         exact sums of a chunk's squares could overflow; rescale the data instead"
    )]
    Limit {
        /// The limit given.
        limit: f64,
    },
    /// A file holds no data rows.
    #[error("{name}: holds no rows")]
    Empty {
        /// The file, or the part in memory.
        name: String,
    },
    /// Parts of one table have different numbers of columns.
    #[error("{name} has {found} columns, but {first} has {expected}")]
    Columns {
        /// The part that differs.
        name: String,
        /// Its columns.
        found: usize,
        /// The first part.
        first: String,
        /// The first part's columns.
        expected: usize,
    },
    /// Under MPI with local data: ranks hold tables of different widths.
    #[error("the ranks' tables differ in width: {}; every rank must hold the same columns", widths.iter().map(|(r, c)| format!("rank {r} has {c} columns")).collect::<Vec<_>>().join(", "))]
    RanksDisagree {
        /// `(rank, columns)` of each rank that holds any part.
        widths: Vec<(usize, usize)>,
    },
    /// The table has no rows at all (on any rank).
    #[error("the table has no rows{}", if *local { " on any rank" } else { "" })]
    NoRows {
        /// Whether the table was local to each rank.
        local: bool,
    },
    /// Under MPI: reading failed on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// Why a statistic, a decomposition or a model could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// The table could not be read or agreed on.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Too few rows for what was asked.
    #[error("{what} needs at least {needed} rows, but the table has {found}")]
    TooFewRows {
        /// What was asked (`"the sample variance"`, `"a QR factorisation of 60 columns"`).
        what: String,
        /// The least number of rows it needs.
        needed: u64,
        /// The rows there are.
        found: u64,
    },
    /// A column is constant where the computation divides by its spread.
    #[error("column {column} is constant (every value is {value}), so {what} is undefined; drop the column")]
    ConstantColumn {
        /// The column, counted from 1.
        column: usize,
        /// Its value.
        value: f64,
        /// What needs the spread (`"its correlation with the other columns"`).
        what: String,
    },
    /// A setting is out of its range.
    #[error("{name} = {value}: {expected}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A partial result to merge or finish was made from other columns or
    /// with other settings.
    #[error("cannot merge partial results: {0}")]
    Mismatch(String),
    /// The table's columns are linearly dependent where a computation
    /// divides by the factor of each (Q of a QR, U of an SVD).
    #[error("{what} is undefined: {cause}")]
    RankDeficient {
        /// What was asked (`"Q = X·R⁻¹"`).
        what: String,
        /// Which column or singular value is (numerically) zero.
        cause: String,
    },
    /// Rows given to a fitted model (a transform, a prediction) have
    /// another number of columns than it takes.
    #[error("{what} takes rows of {expected} columns, but these have {found}")]
    Width {
        /// What was asked (`"the PCA transform"`).
        what: String,
        /// The columns it takes.
        expected: usize,
        /// The columns given.
        found: usize,
    },
    /// A value the computation cannot take, though the table accepts it (a
    /// negative count, a class label that is not a class).
    #[error("{name}: row {row}, column {column}: {value} {problem}")]
    Value {
        /// The file, or the part in memory.
        name: String,
        /// The data row, counted from 1.
        row: usize,
        /// The column, counted from 1.
        column: usize,
        /// The value.
        value: f64,
        /// What is wrong with it (`"is negative; counts must be ≥ 0"`).
        problem: String,
    },
    /// A saved partial result or model could not be written or read.
    #[error(transparent)]
    Npz(#[from] crate::npz::NpzError),
    /// Under MPI: the pass failed on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}
