//! [`ProtocolError`]: why an evaluation list could not be read, built or
//! written, with the file, the line and what to change.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a bad entry came from: a line of a text file, or the position of
/// an item given in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A line of a text file (lines count from 1, blank lines included).
    Line {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
    },
    /// An item of a list given in memory (counting from 0).
    Item(usize),
    /// An element of a dataset of an HDF5 file (the `hdf5` feature);
    /// boxed, to keep errors small.
    Element(Box<DatasetElement>),
}

/// An element of a dataset of an HDF5 file: a [`Location`] of the `hdf5`
/// feature's readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetElement {
    /// The file.
    pub path: PathBuf,
    /// The dataset, e.g. `modelset` or `scores`.
    pub dataset: &'static str,
    /// The index (1-D), or the row and the column (2-D), from 0.
    pub index: Vec<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line { path, line } => write!(f, "{}, line {line}", path.display()),
            Location::Item(index) => write!(f, "item {index} (counting from 0)"),
            Location::Element(e) => {
                let index: Vec<String> = e.index.iter().map(usize::to_string).collect();
                write!(
                    f,
                    "{}, dataset `{}`, element [{}] (counting from 0)",
                    e.path.display(),
                    e.dataset,
                    index.join(", ")
                )
            }
        }
    }
}

/// Why an [`IdMap`](super::IdMap), [`Ndx`](super::Ndx), [`Key`](super::Key)
/// or [`Scores`](super::Scores) could not be read, built, aligned or
/// written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The operating system refused: missing file, no permission, disk
    /// full…
    #[error("{}: cannot {op}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `"read"` or `"write"`.
        op: &'static str,
        /// What the operating system said.
        error: io::Error,
    },

    /// A file with no entry at all (empty, or only blank lines). An empty
    /// list is almost always the wrong file or a truncated one, so reading
    /// one is an error rather than an empty object.
    #[error("{}: no {what} in the file (it is empty or holds only blank lines)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What it should hold: `"trials"`, `"scores"`, `"IdMap entries"`.
        what: &'static str,
    },

    /// An empty object was to be written: the file would be refused when
    /// read back ([`ProtocolError::Empty`]), so nothing is written.
    #[error("{}: nothing to write: the {what} is empty, and an empty file would be refused when read back", path.display())]
    EmptyWrite {
        /// The file that was not written.
        path: PathBuf,
        /// `"Ndx"`, `"Key"`, `"Scores"` or `"IdMap"`.
        what: &'static str,
    },

    /// The bytes of a line are not UTF-8 text.
    #[error("{at}: not UTF-8 text")]
    NotUtf8 {
        /// The line.
        at: Location,
    },

    /// A line with the wrong number of whitespace-separated fields.
    #[error("{at}: {found} field(s), but {what} lines have {expected}")]
    FieldCount {
        /// The line.
        at: Location,
        /// The kind of file: `"Ndx"`, `"Key"`, `"Scores"`, `"IdMap"`.
        what: &'static str,
        /// The fields it must have, e.g. `"3 fields: model segment score"`.
        expected: &'static str,
        /// How many it has.
        found: usize,
    },

    /// A score that is not a finite number (text that does not parse as
    /// one, NaN or an infinity).
    #[error("{at}: score `{text}` is not a finite number")]
    BadScore {
        /// The line or item.
        at: Location,
        /// The score as written.
        text: String,
    },

    /// The third field of a key line is neither `target` nor `nontarget`.
    #[error("{at}: `{word}` is not a trial type: write `target` or `nontarget` (lower case, as SIDEKIT reads them)")]
    BadTrialType {
        /// The line.
        at: Location,
        /// The word found.
        word: String,
    },

    /// An IdMap start or stop that is not a frame index.
    #[error("{at}: {which} `{text}` is not a frame index (a whole number ≥ 0; `None None` for no bounds)")]
    BadFrame {
        /// The line.
        at: Location,
        /// `"start"` or `"stop"`.
        which: &'static str,
        /// The field as written.
        text: String,
    },

    /// An IdMap entry that starts after it stops.
    #[error("{at}: start {start} is after stop {stop}")]
    StartAfterStop {
        /// The line or item.
        at: Location,
        /// First frame.
        start: u64,
        /// Last frame.
        stop: u64,
    },

    /// An identifier that cannot be written as one field: empty, or with
    /// white space in it.
    #[error("{at}: identifier `{id}` is empty or contains white space; identifiers are single fields of the text formats")]
    BadId {
        /// The item.
        at: Location,
        /// The identifier.
        id: String,
    },

    /// The same trial (model, segment) twice, or the same IdMap entry twice.
    #[error("{at}: {what} ({left}, {right}) already given at {first}")]
    Duplicate {
        /// The second occurrence.
        at: Location,
        /// The first occurrence (boxed, to keep the error small).
        first: Box<Location>,
        /// `"trial"` or `"IdMap entry"`.
        what: &'static str,
        /// The model (left id).
        left: String,
        /// The segment (right id).
        right: String,
    },

    /// The same id twice in a list of ids (a [`Cohort`](super::Cohort)).
    #[error("{at}: {what} `{id}` is already listed at {first}")]
    RepeatedId {
        /// The second occurrence.
        at: Location,
        /// The first occurrence (boxed, to keep the error small).
        first: Box<Location>,
        /// `"cohort id"`.
        what: &'static str,
        /// The id.
        id: String,
    },

    /// Identifier lists that do not match the shape of a matrix given with
    /// them (models are rows, segments columns).
    #[error("the {what} is {rows} × {cols} but there are {models} model and {segments} segment identifiers: give one model per row and one segment per column")]
    Shape {
        /// `"trial mask"`, `"target mask"`, `"non-target mask"` or
        /// `"score matrix"`.
        what: &'static str,
        /// Rows of the matrix.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Model identifiers given.
        models: usize,
        /// Segment identifiers given.
        segments: usize,
    },

    /// The same identifier twice in a list of models or of segments.
    #[error("{kind} `{id}` is given twice: identifiers of rows and columns must be unique")]
    DuplicateId {
        /// `"model"` or `"segment"`.
        kind: &'static str,
        /// The identifier.
        id: String,
    },

    /// A key trial marked both target and non-target.
    #[error(
        "the trial of model `{model}` and segment `{segment}` is marked both target and non-target"
    )]
    Conflict {
        /// The model.
        model: String,
        /// The segment.
        segment: String,
    },

    /// A trial of an [`Ndx`](super::Ndx) or [`Key`](super::Key) with no
    /// score.
    #[error("no score for the trial of model `{model}` and segment `{segment}`")]
    MissingScore {
        /// The model.
        model: String,
        /// The segment.
        segment: String,
    },

    /// An HDF5 file (the `hdf5` feature) that cannot be opened, read or
    /// written, or a dataset of it that is missing or is not what SIDEKIT
    /// writes (its type, its shape, its values).
    #[cfg(feature = "hdf5")]
    #[error("{}: {}{reason}", path.display(), dataset.map(|d| format!("dataset `{d}`: ")).unwrap_or_default())]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The dataset (`modelset`, `trial_mask`…), `None` for the file
        /// itself.
        dataset: Option<&'static str>,
        /// What is wrong, with what HDF5 said if it said something.
        reason: String,
    },

    /// An identifier looked up in an [`IdMap`](super::IdMap) that it does
    /// not hold.
    #[error("unknown {kind} `{id}`: the IdMap has no entry with it")]
    UnknownId {
        /// `"left id"` or `"right id"`.
        kind: &'static str,
        /// The identifier.
        id: String,
    },
}
