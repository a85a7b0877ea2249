//! `.npz` archives of named float arrays: what `np.savez` writes and
//! `np.load` reads. Models are saved with it — k-means centroids
//! (`centroids`), GMM weights, means and variances.
//!
//! An archive is a zip file holding one `.npy` file per array, named after
//! the array. [`NpzWriter`] writes float32 and float64 arrays of any number
//! of dimensions, uncompressed, and replaces the file atomically
//! ([`shardkit::write_atomic`]): a reader sees the old archive or the
//! complete new one. [`NpzReader`] reads archives from `np.savez` and
//! `np.savez_compressed` (stored or deflated members) whose arrays are
//! float32 or float64, in either byte order and either memory order, and
//! converts them to the element type asked for.
//!
//! Every error names the archive and, where one is concerned, the array
//! ([`NpzError`]).
//!
//! ```
//! use ndarray::{array, Array1, Array2};
//! use shardkit_algorithms::npz::{NpzReader, NpzWriter};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("model.npz");
//! let mut npz = NpzWriter::new(&path);
//! npz.add("weights", &array![0.25f64, 0.75])?;
//! npz.add("means", &array![[0.0f32, 1.0], [2.0, 3.0]])?;
//! npz.finish()?;
//!
//! let mut npz = NpzReader::open(&path)?;
//! let weights: Array1<f64> = npz.read("weights")?;
//! // float32 on disk, float64 asked for: converted exactly.
//! let means: Array2<f64> = npz.read_shaped("means", &[Some(2), None])?;
//! assert_eq!(weights, array![0.25, 0.75]);
//! assert_eq!(means, array![[0.0, 1.0], [2.0, 3.0]]);
//!
//! // A missing array is reported with the archive's contents.
//! let err = npz.read::<f64, ndarray::Ix2>("variances").unwrap_err();
//! assert!(err.to_string().ends_with("model.npz: no array named 'variances' (the archive holds 'weights', 'means')"));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, Cursor};
use std::path::{Path, PathBuf};

use ndarray::{ArrayBase, ArrayD, Data, Dimension};
use ndarray_npy::{WritableElement, WriteNpzError};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use crate::features::npy_header::{NpyArray, NpyFault, NpyHeader};

/// Why an `.npz` archive could not be read or written.
///
/// Every message starts with the archive's path; errors about one array
/// name it, for example:
///
/// ```text
/// ubm.npz: array 'means' has shape (512, 40) but (512, 60) is expected
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpzError {
    /// The operating system refused: missing file, no permission, disk full…
    #[error("{}: cannot {op}: {error}", path.display())]
    Io {
        /// The archive.
        path: PathBuf,
        /// What was being done: `"read"` or `"write"`.
        op: &'static str,
        /// What the operating system said.
        error: io::Error,
    },

    /// The file is not a zip archive, or its zip structure is damaged.
    #[error("{}: not a valid .npz archive: {reason}", path.display())]
    NotAnArchive {
        /// The archive.
        path: PathBuf,
        /// What the zip reader found wrong.
        reason: String,
    },

    /// The archive holds no array of that name.
    #[error("{}: no array named '{name}' ({})", path.display(), list_names(available))]
    Missing {
        /// The archive.
        path: PathBuf,
        /// The array asked for.
        name: String,
        /// The arrays the archive holds.
        available: Vec<String>,
    },

    /// The array's element type is neither float32 nor float64.
    #[error(
        "{}: array '{name}' has dtype {descr}; only float32 ('<f4') and float64 ('<f8') arrays are read",
        path.display()
    )]
    Dtype {
        /// The archive.
        path: PathBuf,
        /// The array.
        name: String,
        /// The dtype descriptor in the member's header, as a Python literal
        /// (e.g. `'<i8'`).
        descr: String,
    },

    /// The array does not have the number of dimensions or the shape the
    /// caller expects.
    #[error(
        "{}: array '{name}' has shape {} but {} is expected",
        path.display(),
        python_shape(found),
        expected_shape(expected)
    )]
    Shape {
        /// The archive.
        path: PathBuf,
        /// The array.
        name: String,
        /// Its shape.
        found: Vec<usize>,
        /// The shape expected; `None` for an axis of any length.
        expected: Vec<Option<usize>>,
    },

    /// The member holding the array is not a well-formed `.npy` file
    /// (bad header, truncated data…).
    #[error("{}: array '{name}' cannot be read: {reason}", path.display())]
    BadArray {
        /// The archive.
        path: PathBuf,
        /// The array.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// [`NpzWriter::add`] was given a name NumPy could not give back, or one
    /// already added.
    #[error("{}: cannot add an array named {name:?}: {reason}", path.display())]
    BadName {
        /// The archive being written.
        path: PathBuf,
        /// The name refused.
        name: String,
        /// Why.
        reason: &'static str,
    },
}

impl NpzError {
    /// The archive the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::NotAnArchive { path, .. }
            | Self::Missing { path, .. }
            | Self::Dtype { path, .. }
            | Self::Shape { path, .. }
            | Self::BadArray { path, .. }
            | Self::BadName { path, .. } => path,
        }
    }
}

fn list_names(names: &[String]) -> String {
    if names.is_empty() {
        return "the archive is empty".to_owned();
    }
    let mut s = String::from("the archive holds ");
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "'{n}'");
    }
    s
}

fn python_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    tuple(&dims)
}

fn expected_shape(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "_".to_owned(), |n| n.to_string()))
        .collect();
    let t = tuple(&dims);
    if shape.iter().any(Option::is_none) {
        format!("{t} (`_`: any length)")
    } else {
        t
    }
}

/// `(60,)`, `(2, 3)`, `()`: the way NumPy prints shapes.
fn tuple(items: &[String]) -> String {
    match items {
        [one] => format!("({one},)"),
        _ => format!("({})", items.join(", ")),
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types an archive's arrays are read as and written from:
/// `f32` and `f64`.
///
/// Reading converts what the archive holds: float32 to `f64` exactly,
/// float64 to `f32` rounded to nearest (values beyond `f32`'s range become
/// infinite).
pub trait NpzElement: WritableElement + Copy + sealed::Sealed + 'static {
    #[doc(hidden)]
    fn from_f32(x: f32) -> Self;
    #[doc(hidden)]
    fn from_f64(x: f64) -> Self;
}

impl NpzElement for f32 {
    fn from_f32(x: f32) -> Self {
        x
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl NpzElement for f64 {
    fn from_f32(x: f32) -> Self {
        f64::from(x)
    }
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// Builds an `.npz` archive in memory, then writes it atomically with
/// [`finish`](NpzWriter::finish). See the [module documentation](self).
///
/// Members are stored uncompressed, each as `NAME.npy`: float32 (`'<f4'`)
/// or float64 (`'<f8'`), little-endian, C order, whatever the array's
/// memory layout.
pub struct NpzWriter {
    path: PathBuf,
    names: Vec<String>,
    /// Whether [`finish`](NpzWriter::finish) adds the provenance member.
    stamp: bool,
    zip: ndarray_npy::NpzWriter<Cursor<Vec<u8>>>,
}

impl std::fmt::Debug for NpzWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzWriter")
            .field("path", &self.path)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl NpzWriter {
    /// A new, empty archive that [`finish`](NpzWriter::finish) will write
    /// to `path`. Nothing is written before then.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            names: Vec::new(),
            stamp: false,
            zip: ndarray_npy::NpzWriter::new(Cursor::new(Vec::new())),
        }
    }

    /// A new archive for a model, result or checkpoint of this crate:
    /// [`finish`](NpzWriter::finish) adds its
    /// [`provenance`](crate::provenance) member.
    pub(crate) fn stamped(path: impl AsRef<Path>) -> Self {
        Self {
            stamp: true,
            ..Self::new(path)
        }
    }

    /// Adds `array` under `name` (`np.load(path)[name]` reads it back).
    ///
    /// # Errors
    ///
    /// [`NpzError::BadName`] for an empty name, a name with `/` or `\`, a
    /// name ending in `.npy`, or a name already added.
    pub fn add<A, S, D>(&mut self, name: &str, array: &ArrayBase<S, D>) -> Result<(), NpzError>
    where
        A: NpzElement,
        S: Data<Elem = A>,
        D: Dimension,
    {
        self.check_name(name)?;
        self.zip
            .add_array(name, array)
            .map_err(|e| self.write_error(e))?;
        self.names.push(name.to_owned());
        Ok(())
    }

    /// Adds `text` under `name` as a NumPy string scalar (dtype `<U`, shape
    /// `()`): `str(np.load(path)[name])` reads it back, as does
    /// [`NpzReader::read_text`]. (NUL characters at its end are dropped,
    /// as NumPy drops them.)
    ///
    /// # Errors
    ///
    /// As [`add`](NpzWriter::add).
    pub fn add_text(&mut self, name: &str, text: &str) -> Result<(), NpzError> {
        self.check_name(name)?;
        self.zip
            .add_array(name, &NpyText(text))
            .map_err(|e| self.write_error(e))?;
        self.names.push(name.to_owned());
        Ok(())
    }

    fn check_name(&self, name: &str) -> Result<(), NpzError> {
        let bad = |reason| NpzError::BadName {
            path: self.path.clone(),
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if name.contains(['/', '\\']) {
            return Err(bad("names cannot contain '/' or '\\'"));
        }
        if name.ends_with(".npy") {
            return Err(bad(
                "NumPy strips a '.npy' ending when reading; leave it out",
            ));
        }
        if self.names.iter().any(|n| n == name) {
            return Err(bad("an array of that name was already added"));
        }
        Ok(())
    }

    /// The names added so far, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Writes the archive to its path atomically (a temporary file renamed
    /// into place), replacing any file there.
    ///
    /// # Errors
    ///
    /// [`NpzError::Io`] if the file cannot be written; the previous file at
    /// the path, if any, is then left untouched.
    pub fn finish(self) -> Result<(), NpzError> {
        let (path, bytes) = self.into_bytes()?;
        shardkit::write_atomic(&path, |w| w.write_all(&bytes)).map_err(|e| write_failed(path, e))
    }

    /// The archive's path and bytes.
    fn into_bytes(mut self) -> Result<(PathBuf, Vec<u8>), NpzError> {
        if self.stamp {
            crate::provenance::stamp(&mut self)?;
        }
        let bytes = self
            .zip
            .finish()
            .map_err(|e| write_error_at(&self.path, e))?
            .into_inner();
        Ok((self.path, bytes))
    }

    /// As [`finish`](NpzWriter::finish), but under MPI only rank 0 writes
    /// the file ([`shardkit::write_on_root`]) and every rank gets its
    /// verdict: every rank must call it, with the same arrays. Without MPI
    /// it is `finish`.
    ///
    /// # Errors
    ///
    /// As [`finish`](NpzWriter::finish), on every rank when rank 0's write
    /// failed.
    pub fn finish_on_root(self) -> Result<(), NpzError> {
        let (path, bytes) = self.into_bytes()?;
        shardkit::write_on_root(&path, |w| w.write_all(&bytes)).map_err(|e| write_failed(path, e))
    }

    fn write_error(&self, e: WriteNpzError) -> NpzError {
        write_error_at(&self.path, e)
    }
}

/// The error of a failed write of the archive at `path`.
fn write_failed(path: PathBuf, e: io::Error) -> NpzError {
    NpzError::Io {
        error: strip_path(&path, e),
        path,
        op: "write",
    }
}

/// Building the archive in memory cannot fail for lack of space; whatever
/// the zip or npy writer reports is passed on as an I/O error.
fn write_error_at(path: &Path, e: WriteNpzError) -> NpzError {
    NpzError::Io {
        path: path.to_path_buf(),
        op: "write",
        error: io::Error::other(e.to_string()),
    }
}

/// `write_atomic` names the file in its errors; ours already does.
pub(crate) fn strip_path(path: &Path, e: io::Error) -> io::Error {
    let prefix = format!("cannot write {}: ", path.display());
    match e.to_string().strip_prefix(&prefix) {
        Some(rest) => io::Error::new(e.kind(), rest.to_owned()),
        None => e,
    }
}

/// An `.npz` archive open for reading. See the [module documentation](self).
///
/// Members are read with the zip crate and decoded by ndarray-npy, through
/// the same checks as `.npy` feature files: before a member is decoded, the
/// shape in its header is checked against its uncompressed size from the
/// archive's directory, and that size against what its compressed bytes can
/// hold, so a damaged or hostile archive is an error, never an allocation
/// failure. (ndarray-npy's own archive reader allocates what a member's
/// header claims.)
pub struct NpzReader {
    path: PathBuf,
    names: Vec<String>,
    /// The archive's size in bytes.
    len: u64,
    zip: ZipArchive<BufReader<File>>,
}

impl std::fmt::Debug for NpzReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzReader")
            .field("path", &self.path)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl NpzReader {
    /// Opens the archive at `path` and reads its table of contents.
    ///
    /// # Errors
    ///
    /// [`NpzError::Io`] if the file cannot be opened,
    /// [`NpzError::NotAnArchive`] if it is not a zip archive.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, NpzError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |error| NpzError::Io {
            path: path.clone(),
            op: "read",
            error,
        };
        let file = File::open(&path).map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        let zip = ZipArchive::new(BufReader::new(file)).map_err(|e| match e {
            ZipError::Io(error) => io_error(error),
            other => NpzError::NotAnArchive {
                path: path.clone(),
                reason: other.to_string(),
            },
        })?;
        // Directory order, which is member index order.
        let names = zip
            .file_names()
            .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_owned())
            .collect();
        Ok(Self {
            path,
            names,
            len,
            zip,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the arrays, in archive order (without `.npy`).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the archive holds an array named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Reads the array `name` with the number of dimensions of `D`
    /// (`Ix1`, `Ix2`, … or `IxDyn` for any), converting its elements to `A`.
    ///
    /// # Errors
    ///
    /// [`NpzError::Missing`] (listing the arrays there are),
    /// [`NpzError::Dtype`] for an array that is not float32 or float64,
    /// [`NpzError::Shape`] for another number of dimensions,
    /// [`NpzError::BadArray`] for a damaged member, including one whose
    /// header announces more data than the member holds.
    pub fn read<A: NpzElement, D: Dimension>(
        &mut self,
        name: &str,
    ) -> Result<ndarray::Array<A, D>, NpzError> {
        let expected = vec![None; D::NDIM.unwrap_or(0)];
        let array = self.read_dyn(name)?;
        let found = array.shape().to_vec();
        array
            .into_dimensionality::<D>()
            .map_err(|_| NpzError::Shape {
                path: self.path.clone(),
                name: name.to_owned(),
                found,
                expected,
            })
    }

    /// Reads the array `name` like [`read`](NpzReader::read), and checks its
    /// shape: `expected` has one entry per dimension, `Some(n)` for an axis
    /// that must have length `n`, `None` for one of any length.
    ///
    /// # Errors
    ///
    /// Those of [`read`](NpzReader::read); [`NpzError::Shape`] also when
    /// the number of dimensions of `D` and `expected` differ.
    pub fn read_shaped<A: NpzElement, D: Dimension>(
        &mut self,
        name: &str,
        expected: &[Option<usize>],
    ) -> Result<ndarray::Array<A, D>, NpzError> {
        let array = self.read_dyn::<A>(name)?;
        let fits = D::NDIM.is_none_or(|n| n == expected.len())
            && array.ndim() == expected.len()
            && array
                .shape()
                .iter()
                .zip(expected)
                .all(|(&n, e)| e.is_none_or(|e| e == n));
        if !fits {
            return Err(NpzError::Shape {
                path: self.path.clone(),
                name: name.to_owned(),
                found: array.shape().to_vec(),
                expected: expected.to_vec(),
            });
        }
        Ok(array
            .into_dimensionality::<D>()
            .expect("the number of dimensions was checked"))
    }

    /// Reads the string scalar `name` ([`NpzWriter::add_text`], or NumPy's
    /// `np.savez(path, name=np.str_("…"))`).
    ///
    /// # Errors
    ///
    /// [`NpzError::Missing`]; [`NpzError::BadArray`] for a member that is
    /// not a little-endian unicode scalar (`<U`, shape `()`), holds an
    /// invalid character or is damaged.
    pub fn read_text(&mut self, name: &str) -> Result<String, NpzError> {
        let index = self.index_of(name)?;
        let path = &self.path;
        let bad = |reason: String| bad_array(path, name, reason);
        let (member, size) = open_member(&mut self.zip, index, self.len, &bad, path)?;
        let mut bytes = Vec::with_capacity(size.min(1 << 20) as usize);
        io::Read::read_to_end(&mut io::Read::take(member, size), &mut bytes).map_err(|error| {
            NpzError::Io {
                path: path.clone(),
                op: "read",
                error,
            }
        })?;
        decode_text(&bytes).map_err(bad)
    }

    /// The member index of array `name`.
    fn index_of(&self, name: &str) -> Result<usize, NpzError> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| NpzError::Missing {
                path: self.path.clone(),
                name: name.to_owned(),
                available: self.names.clone(),
            })
    }

    fn read_dyn<A: NpzElement>(&mut self, name: &str) -> Result<ArrayD<A>, NpzError> {
        let index = self.index_of(name)?;
        let path = &self.path;
        let bad = |reason: String| bad_array(path, name, reason);
        let fault = |fault: NpyFault| match fault {
            NpyFault::Io(error) => NpzError::Io {
                path: path.clone(),
                op: "read",
                error,
            },
            NpyFault::Header(reason) => bad(reason),
            NpyFault::Dtype { literal, .. } => NpzError::Dtype {
                path: path.clone(),
                name: name.to_owned(),
                descr: literal,
            },
            NpyFault::Length {
                shape,
                payload,
                expected,
                found,
            } => bad(describe_length(&shape, payload, expected, found)),
        };
        let (mut member, size) = open_member(&mut self.zip, index, self.len, &bad, path)?;
        let header = NpyHeader::read(&mut member, size).map_err(fault)?;
        Ok(match header.read_array(&mut member).map_err(fault)? {
            NpyArray::F32(array) => array.mapv(A::from_f32),
            NpyArray::F64(array) => array.mapv(A::from_f64),
        })
    }
}

/// A string written as a NumPy unicode scalar: dtype `<U{n}` (UTF-32LE
/// code points, `n` at least 1), shape `()`, in an NPY 1.0 header padded
/// to 64 bytes as NumPy pads it. (ndarray-npy writes numbers only.)
struct NpyText<'a>(&'a str);

impl ndarray_npy::WriteNpyExt for NpyText<'_> {
    fn write_npy<W: io::Write>(&self, mut writer: W) -> Result<(), ndarray_npy::WriteNpyError> {
        let chars: Vec<char> = self.0.chars().collect();
        let n = chars.len().max(1);
        let mut header = format!("{{'descr': '<U{n}', 'fortran_order': False, 'shape': (), }}");
        // magic (6) + version (2) + length (2) + header + '\n', to 64 bytes.
        let unpadded = 10 + header.len() + 1;
        header.extend(std::iter::repeat_n(
            ' ',
            unpadded.next_multiple_of(64) - unpadded,
        ));
        header.push('\n');
        writer.write_all(b"\x93NUMPY\x01\x00")?;
        writer.write_all(&(header.len() as u16).to_le_bytes())?;
        writer.write_all(header.as_bytes())?;
        let mut data: Vec<u8> = chars
            .iter()
            .flat_map(|&c| u32::from(c).to_le_bytes())
            .collect();
        data.resize(4 * n, 0);
        writer.write_all(&data)?;
        Ok(())
    }
}

/// The string of an NPY unicode scalar ([`NpyText`]'s form, any header
/// version), or why it is not one.
fn decode_text(bytes: &[u8]) -> Result<String, String> {
    let not = |why: &str| format!("not a text scalar: {why}");
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(not("no NPY magic"));
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(not("an unknown NPY version")),
    };
    let header = bytes
        .get(start..start.saturating_add(len))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| not("a damaged header"))?;
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    let n: usize = compact
        .split_once("'descr':'<U")
        .and_then(|(_, rest)| rest.split_once('\''))
        .and_then(|(n, _)| n.parse().ok())
        .ok_or_else(|| not(&format!("its header is {}", header.trim())))?;
    if !compact.contains("'shape':()") {
        return Err(not(&format!("its header is {}", header.trim())));
    }
    let data = &bytes[start + len..];
    if data.len() != n.saturating_mul(4) {
        return Err(format!(
            "its header says {n} characters ({} bytes) but {} bytes follow",
            n.saturating_mul(4),
            data.len()
        ));
    }
    let text = data
        .chunks_exact(4)
        .map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect::<Option<String>>()
        .ok_or_else(|| "it holds a code point that is not a character".to_owned())?;
    Ok(text.trim_end_matches('\0').to_owned())
}

/// [`NpzError::BadArray`] for array `name` of the archive at `path`.
fn bad_array(path: &Path, name: &str, reason: String) -> NpzError {
    NpzError::BadArray {
        path: path.to_path_buf(),
        name: name.to_owned(),
        reason,
    }
}

/// Member `index` of `zip` (an archive of `len` bytes at `path`) and its
/// size, checked against what its compressed bytes can hold before
/// anything is allocated.
fn open_member<'z>(
    zip: &'z mut ZipArchive<BufReader<File>>,
    index: usize,
    len: u64,
    bad: &dyn Fn(String) -> NpzError,
    path: &Path,
) -> Result<(zip::read::ZipFile<'z, BufReader<File>>, u64), NpzError> {
    let member = zip.by_index(index).map_err(|e| match e {
        ZipError::Io(error) => NpzError::Io {
            path: path.to_path_buf(),
            op: "read",
            error,
        },
        other => bad(other.to_string()),
    })?;
    let size = member.size();
    check_member_size(member.compression(), member.compressed_size(), size, len).map_err(bad)?;
    Ok((member, size))
}

/// DEFLATE expands at most 1032-fold (a 258-byte match per 2 bits).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Checks a member's uncompressed size, from the archive's directory,
/// against what its compressed bytes can hold, before anything of that size
/// is allocated: the member's header is then checked against the size.
fn check_member_size(
    method: CompressionMethod,
    packed: u64,
    size: u64,
    archive_len: u64,
) -> Result<(), String> {
    if packed > archive_len {
        return Err(format!(
            "the archive's directory gives it {packed} compressed bytes but the archive is {archive_len} bytes long"
        ));
    }
    // Stored and deflated are the methods this build reads.
    let most = match method {
        CompressionMethod::Stored => packed,
        _ => packed.saturating_add(1).saturating_mul(MAX_DEFLATE_RATIO),
    };
    if size > most {
        return Err(format!(
            "the archive's directory gives it {size} bytes, more than its {packed} compressed bytes can hold"
        ));
    }
    Ok(())
}

/// A member's data against its header: `"truncated: …"` or `"… unexpected
/// bytes at the end: …"`, like the messages about `.npy` files.
fn describe_length(shape: &[usize], payload: &str, expected: u64, found: u64) -> String {
    let says = format!(
        "its header says shape {} ({expected} bytes of {payload})",
        python_shape(shape)
    );
    if found < expected {
        format!("truncated: {says} but only {found} bytes follow")
    } else {
        format!(
            "{} unexpected bytes at the end: {says} but {found} bytes follow",
            found - expected
        )
    }
}
