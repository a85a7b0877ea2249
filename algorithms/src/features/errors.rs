//! [`FeatureError`]: everything that can go wrong reading or writing features.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::parm_kind::kind_name;

/// Why a feature file or list file could not be read or written.
///
/// Every message starts with the file's path and says what is wrong with it,
/// for example:
///
/// ```text
/// features/spk1_003.npy: truncated: header says 412 frames × 60 columns (98880 bytes of f32) but only 50000 bytes follow
/// ```
///
/// [`FeatureError::path`] gives the file programmatically. Indices in
/// messages (frames, columns) count from 0; list file line numbers count from 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// The operating system refused: missing file, no permission, disk full…
    ///
    /// The [`io::Error`] is part of the message and kept in `error`; it is
    /// deliberately not the error's `source()`, so that reporters that print
    /// the whole chain do not print it twice.
    #[error("{}: cannot {op}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `"read"` or `"write"`.
        op: &'static str,
        /// What the operating system said.
        error: io::Error,
    },

    /// [`read_features`](super::read_features) does not know the file's extension.
    #[error(
        "{}: {}; accepted: .npy (NumPy), .htk, .mfc, .fea, .plp (HTK)",
        path.display(),
        describe_extension(path)
    )]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },

    /// Not a well-formed `.npy` file: bad magic string, unknown format
    /// version, or a header that cannot be parsed.
    #[error("{}: not a valid .npy file: {reason}", path.display())]
    NpyHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        reason: String,
    },

    /// A `.npy` file whose element type is not float32 or float64.
    #[error(
        "{}: unsupported dtype '{descr}'{}; features must be float32 ('<f4') or float64 ('<f8')",
        path.display(),
        describe_dtype(descr)
    )]
    NpyDtype {
        /// The file.
        path: PathBuf,
        /// The header's `descr`, as written in the file (e.g. `<i4`).
        descr: String,
    },

    /// A `.npy` array that is not 2-D (frames × columns).
    #[error(
        "{}: expected a 2-D array (frames × columns), found a {}-D array of shape {}{}",
        path.display(),
        shape.len(),
        python_tuple(shape),
        ndim_hint(shape)
    )]
    WrongNdim {
        /// The file.
        path: PathBuf,
        /// The shape found in the header.
        shape: Vec<usize>,
    },

    /// The file holds fewer bytes than its header announces.
    #[error(
        "{}: truncated: header says {frames} frames × {columns} columns ({expected} bytes of {payload}) but only {found} bytes follow",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Frames announced by the header.
        frames: usize,
        /// Columns announced by the header.
        columns: usize,
        /// What the data is made of: `"f32"`, `"f64"`, or `"f32 + 2-byte CRC"`
        /// for HTK files with a checksum (`_K`).
        payload: &'static str,
        /// Bytes of data the header announces.
        expected: u64,
        /// Bytes of data present after the header.
        found: u64,
    },

    /// The file holds more bytes than its header announces.
    #[error(
        "{}: {} unexpected bytes at the end: header says {frames} frames × {columns} columns ({expected} bytes of {payload}) but {found} bytes follow",
        path.display(),
        found.saturating_sub(*expected)
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Frames announced by the header.
        frames: usize,
        /// Columns announced by the header.
        columns: usize,
        /// What the data is made of: `"f32"`, `"f64"`, or `"f32 + 2-byte CRC"`
        /// for HTK files with a checksum (`_K`).
        payload: &'static str,
        /// Bytes of data the header announces.
        expected: u64,
        /// Bytes of data present after the header (more than `expected`).
        found: u64,
    },

    /// An HTK header that makes no sense (too short, negative sizes, a frame
    /// size that is not a whole number of floats, a little-endian file…).
    #[error("{}: not a valid HTK file: {reason}", path.display())]
    HtkHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        reason: String,
    },

    /// An HTK parameter kind that is not a plain float matrix: compressed
    /// (`_C`), VQ-tagged (`_V`), waveform or integer base kinds.
    #[error(
        "{}: unsupported HTK parameter kind {} (parmKind {parm_kind:#o}): {reason}",
        path.display(),
        kind_name(*parm_kind)
    )]
    HtkKind {
        /// The file.
        path: PathBuf,
        /// The header's `parmKind` field.
        parm_kind: u16,
        /// Why it is refused, and what to do instead.
        reason: &'static str,
    },

    /// The data cannot be written in the requested format (e.g. too many
    /// columns for HTK's 16-bit frame size).
    #[error("{}: cannot write: {reason}", path.display())]
    Unencodable {
        /// The file that was to be written (it was not touched).
        path: PathBuf,
        /// Which limit of the format was hit.
        reason: String,
    },

    /// The features do not have the number of columns the caller expects.
    #[error(
        "{}: has {found} columns per frame but {expected} are expected",
        path.display()
    )]
    WrongDim {
        /// The file.
        path: PathBuf,
        /// Columns in the file.
        found: usize,
        /// Columns expected (e.g. the model's dimension).
        expected: usize,
    },

    /// The file holds no frames.
    #[error("{}: no frames (0 × {columns})", path.display())]
    NoFrames {
        /// The file.
        path: PathBuf,
        /// Columns announced by the file.
        columns: usize,
    },

    /// A NaN or infinite value. Only the first one is reported.
    #[error(
        "{}: non-finite value {value} at frame {frame}, column {column} (counting from 0)",
        path.display()
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Frame (row) of the first bad value, from 0.
        frame: usize,
        /// Column of the first bad value, from 0.
        column: usize,
        /// The value (NaN, inf or -inf).
        value: f32,
    },

    /// A finite value of larger magnitude than
    /// [`ReadOptions::max_magnitude`](super::ReadOptions::max_magnitude)
    /// allows. Only the first one is reported.
    #[error(
        "{}: value {value:e} at frame {frame}, column {column} (counting from 0) is beyond ±{limit:e}, the largest feature magnitude accepted (shardkit's reproducible sums add up squares of features over millions of frames); features this large are almost always a unit or format error, e.g. linear instead of log energies or the wrong byte order",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Frame (row) of the first such value, from 0.
        frame: usize,
        /// Column of the first such value, from 0.
        column: usize,
        /// The value.
        value: f32,
        /// The limit it is beyond.
        limit: f32,
    },

    /// A SIDEKIT HDF5 feature file (the `hdf5` feature) that cannot be
    /// opened or read, a show it does not hold, or a dataset of the show
    /// that is missing or not as SIDEKIT writes it.
    #[cfg(feature = "hdf5")]
    #[error(
        "{}: {}{}{reason}",
        path.display(),
        show.as_ref().map(|s| format!("show `{s}`: ")).unwrap_or_default(),
        dataset.as_ref().map(|d| format!("dataset `{d}`: ")).unwrap_or_default()
    )]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The show (segment id), `None` for the file itself.
        show: Option<String>,
        /// The dataset (`cep`, `vad`, `compression`…), `None` for the file
        /// or the show itself.
        dataset: Option<String>,
        /// What is wrong, with what HDF5 said if it said something.
        reason: String,
    },

    /// A line of a list file that cannot be used as a path.
    #[error("{}:{line}: {reason}", list.display())]
    ListLine {
        /// The list file.
        list: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
}

impl FeatureError {
    /// The file the error is about (for [`FeatureError::ListLine`], the list file).
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::UnknownExtension { path }
            | Self::NpyHeader { path, .. }
            | Self::NpyDtype { path, .. }
            | Self::WrongNdim { path, .. }
            | Self::Truncated { path, .. }
            | Self::TrailingBytes { path, .. }
            | Self::HtkHeader { path, .. }
            | Self::HtkKind { path, .. }
            | Self::Unencodable { path, .. }
            | Self::WrongDim { path, .. }
            | Self::NoFrames { path, .. }
            | Self::NonFinite { path, .. }
            | Self::TooLarge { path, .. } => path,
            #[cfg(feature = "hdf5")]
            Self::Hdf5 { path, .. } => path,
            Self::ListLine { list, .. } => list,
        }
    }

    /// [`FeatureError::Truncated`] or [`FeatureError::TrailingBytes`],
    /// whichever `found` bytes against `expected` call for.
    pub(crate) fn length(
        path: &Path,
        frames: usize,
        columns: usize,
        payload: &'static str,
        expected: u64,
        found: u64,
    ) -> Self {
        let path = path.to_path_buf();
        if found < expected {
            Self::Truncated {
                path,
                frames,
                columns,
                payload,
                expected,
                found,
            }
        } else {
            Self::TrailingBytes {
                path,
                frames,
                columns,
                payload,
                expected,
                found,
            }
        }
    }

    pub(crate) fn io(path: &Path, op: &'static str, error: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            op,
            error,
        }
    }
}

fn describe_extension(path: &Path) -> String {
    match path.extension() {
        Some(ext) => format!(
            "unknown feature file extension '.{}'",
            ext.to_string_lossy()
        ),
        None => "no file extension to tell the feature format".to_owned(),
    }
}

/// A readable name for common NumPy type strings: `'<i4'` → ` (int32)`.
fn describe_dtype(descr: &str) -> String {
    let body = descr.trim_start_matches(['<', '>', '|', '=']);
    let mut chars = body.chars();
    let (Some(kind), size) = (chars.next(), chars.as_str()) else {
        return String::new();
    };
    let bits = size.parse::<u32>().ok().and_then(|n| n.checked_mul(8));
    let name = match (kind, bits) {
        ('f', Some(b)) => format!("float{b}"),
        ('i', Some(b)) => format!("int{b}"),
        ('u', Some(b)) => format!("uint{b}"),
        ('c', Some(b)) => format!("complex{b}"),
        ('b', _) => "bool".to_owned(),
        ('U', _) => "unicode string".to_owned(),
        ('S', _) => "byte string".to_owned(),
        ('O', _) => "Python objects".to_owned(),
        _ => return String::new(),
    };
    format!(" ({name})")
}

/// Formats a shape the way NumPy prints it: `(60,)`, `(2, 3, 4)`, `()`.
pub(crate) fn python_tuple(shape: &[usize]) -> String {
    let mut s = String::from("(");
    for (i, d) in shape.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{d}");
    }
    if shape.len() == 1 {
        s.push(',');
    }
    s.push(')');
    s
}

fn ndim_hint(shape: &[usize]) -> String {
    match shape {
        [n] => {
            format!("; store a single frame as shape (1, {n}), or frames of one value as ({n}, 1)")
        }
        _ => String::new(),
    }
}
