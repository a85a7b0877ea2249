//! Features on disk: per-utterance matrices of frames × columns, as f32.
//!
//! | extension | format | read | write |
//! |---|---|---|---|
//! | `.npy` | NumPy, 2-D float32 or float64, either byte order, C or Fortran order | [`read_npy`] | [`write_npy`] (float32 in the machine's byte order: `<f4` on x86 and ARM) |
//! | `.htk`, `.mfc`, `.fea`, `.plp` | HTK parameter file, uncompressed float kinds | [`read_htk`], [`read_htk_with_header`] | [`write_htk`] |
//! | `.h5` (the `hdf5` feature) | SIDEKIT's HDF5 feature file: one group per show; `cep`, `fb`, `bnf`, `energy`, `vad`; uncompressed, `htk` or `percentile` compression | `read_sidekit_h5`, `sidekit_h5_shows` | `write_sidekit_h5` (uncompressed) |
//!
//! [`read_features`] picks the reader from the extension (case-insensitive);
//! [`read_features_with`] also checks what the caller relies on — the number
//! of columns, at least one frame, no NaN or infinity — so that a bad file is
//! reported by name instead of poisoning an accumulator. [`read_list`] reads a
//! list of feature files. A SIDEKIT HDF5 file holds many utterances (shows),
//! so it is read one show at a time with `read_sidekit_h5`, not by
//! [`read_features`].
//!
//! Readers never panic on malformed files: every problem is a
//! [`FeatureError`] whose message names the file and says what is wrong with
//! it. Writers are atomic ([`shardkit::write_atomic`]): a reader sees the old
//! file or the complete new one, never a partial one.
#![warn(missing_docs)]

mod errors;
mod htk;
mod list;
mod npy;
pub(crate) mod npy_header;
mod parm_kind;
#[cfg(feature = "hdf5")]
mod sidekit_h5;

use std::path::Path;

use ndarray::{Array2, ArrayBase, Data, Ix2};

pub use errors::FeatureError;
pub use htk::{read_htk, read_htk_with_header, write_htk, HtkHeader};
pub use list::read_list;
pub use npy::{read_npy, write_npy};
pub(crate) use npy::{read_npy_float, NpyMatrix};
pub use parm_kind::{htk_kind, kind_name as htk_kind_name};
#[cfg(feature = "hdf5")]
pub use sidekit_h5::{
    read_sidekit_h5, sidekit_h5_shows, write_sidekit_h5, SidekitRead, SidekitShow, SidekitStream,
};

/// A feature file format, as chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FeatureFormat {
    /// NumPy `.npy`.
    Npy,
    /// HTK parameter file (`.htk`, `.mfc`, `.fea`, `.plp`).
    Htk,
}

impl FeatureFormat {
    /// The extensions [`read_features`] accepts, each with its format.
    pub const EXTENSIONS: [(&'static str, FeatureFormat); 5] = [
        ("npy", Self::Npy),
        ("htk", Self::Htk),
        ("mfc", Self::Htk),
        ("fea", Self::Htk),
        ("plp", Self::Htk),
    ];

    /// The format named by `path`'s extension (case-insensitive), if known.
    pub fn from_path(path: impl AsRef<Path>) -> Option<Self> {
        let ext = path.as_ref().extension()?.to_str()?;
        Self::EXTENSIONS
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(ext))
            .map(|&(_, format)| format)
    }
}

/// What [`read_features_with`] checks, beyond the file being well formed.
///
/// The default checks that there is at least one frame and that every value
/// is finite and of magnitude at most [`MAX_MAGNITUDE`], and accepts any
/// number of columns.
///
/// ```
/// use shardkit_algorithms::features::{ReadOptions, MAX_MAGNITUDE};
/// let options = ReadOptions::new().expect_dim(60);
/// assert_eq!(options.expected_dim, Some(60));
/// assert!(!options.allow_empty && !options.allow_non_finite);
/// assert_eq!(options.max_magnitude, MAX_MAGNITUDE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// The number of columns every file must have (e.g. the model's
    /// dimension), or `None` to accept any.
    pub expected_dim: Option<usize>,
    /// Accept files with zero frames (default: refused).
    pub allow_empty: bool,
    /// Accept NaN and infinite values (default: refused).
    pub allow_non_finite: bool,
    /// The largest magnitude a finite value may have (default
    /// [`MAX_MAGNITUDE`]); larger values are refused with
    /// [`FeatureError::TooLarge`].
    pub max_magnitude: f32,
}

/// The largest feature magnitude [`ReadOptions`] accepts by default: 2^30
/// (about 1.07e9).
///
/// The passes over frames (UBM EM, Baum-Welch statistics, k-means) sum
/// squares of features over blocks of frames with shardkit's reproducible
/// sums, which take addends of magnitude below 2^84: with features below
/// 2^30, a block may hold 2^24 (16 million) frames. Real features
/// (log filterbanks, cepstra, bottlenecks) are a few hundred at most;
/// values near this bound are almost always a unit or format error, such as
/// linear instead of log energies, or samples read with the wrong byte
/// order.
pub const MAX_MAGNITUDE: f32 = (1u32 << 30) as f32;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            expected_dim: None,
            allow_empty: false,
            allow_non_finite: false,
            max_magnitude: MAX_MAGNITUDE,
        }
    }
}

impl ReadOptions {
    /// The default checks: at least one frame, finite values of magnitude
    /// at most [`MAX_MAGNITUDE`], any dimension.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses finite values of magnitude above `limit` (default
    /// [`MAX_MAGNITUDE`]). A limit above [`MAX_MAGNITUDE`] is the caller's
    /// promise that blocks hold few enough frames for the reproducible sums
    /// (`frames · limit² < 2^84`).
    pub fn max_magnitude(mut self, limit: f32) -> Self {
        self.max_magnitude = limit;
        self
    }

    /// Requires exactly `dim` columns.
    pub fn expect_dim(mut self, dim: usize) -> Self {
        self.expected_dim = Some(dim);
        self
    }

    /// Accepts (`true`) or refuses (`false`, the default) files with no frames.
    pub fn allow_empty(mut self, allow: bool) -> Self {
        self.allow_empty = allow;
        self
    }

    /// Accepts (`true`) or refuses (`false`, the default) NaN and infinities.
    pub fn allow_non_finite(mut self, allow: bool) -> Self {
        self.allow_non_finite = allow;
        self
    }

    /// Applies the checks to features already in memory; `path` names them
    /// in the error.
    ///
    /// # Errors
    ///
    /// In this order: [`FeatureError::WrongDim`], [`FeatureError::NoFrames`],
    /// then the first bad value in row-major order: [`FeatureError::NonFinite`]
    /// or [`FeatureError::TooLarge`].
    pub fn check<S>(
        &self,
        path: impl AsRef<Path>,
        features: &ArrayBase<S, Ix2>,
    ) -> Result<(), FeatureError>
    where
        S: Data<Elem = f32>,
    {
        let path = path.as_ref();
        let (frames, columns) = features.dim();
        if let Some(expected) = self.expected_dim {
            if columns != expected {
                return Err(FeatureError::WrongDim {
                    path: path.to_path_buf(),
                    found: columns,
                    expected,
                });
            }
        }
        if frames == 0 && !self.allow_empty {
            return Err(FeatureError::NoFrames {
                path: path.to_path_buf(),
                columns,
            });
        }
        let first = features
            .indexed_iter()
            .find_map(|((frame, column), &v)| Some((frame, column, v, self.value_error(v)?)));
        match first {
            Some((frame, column, value, bad)) => Err(bad.at(path, frame, column, value)),
            None => Ok(()),
        }
    }

    /// Whether `value` breaks these options, and how.
    pub(crate) fn value_error(&self, value: f32) -> Option<BadValue> {
        if !value.is_finite() {
            (!self.allow_non_finite).then_some(BadValue::NonFinite)
        } else if value.abs() > self.max_magnitude {
            Some(BadValue::TooLarge(self.max_magnitude))
        } else {
            None
        }
    }
}

/// What is wrong with one value ([`ReadOptions::value_error`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum BadValue {
    NonFinite,
    TooLarge(f32),
}

impl BadValue {
    /// The error for this value at `frame`, `column` of `path`.
    pub(crate) fn at(self, path: &Path, frame: usize, column: usize, value: f32) -> FeatureError {
        let path = path.to_path_buf();
        match self {
            BadValue::NonFinite => FeatureError::NonFinite {
                path,
                frame,
                column,
                value,
            },
            BadValue::TooLarge(limit) => FeatureError::TooLarge {
                path,
                frame,
                column,
                value,
                limit,
            },
        }
    }
}

/// Reads a feature file as frames × columns, choosing the format from the
/// extension: `.npy` ([`read_npy`]), or `.htk`, `.mfc`, `.fea`, `.plp`
/// ([`read_htk`]), case-insensitive.
///
/// Only the format is checked; use [`read_features_with`] to also check the
/// dimension, that there are frames, and that all values are finite.
///
/// # Errors
///
/// [`FeatureError::UnknownExtension`] (listing the accepted ones), or any
/// error of the chosen reader. The message always starts with the path.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::features::{read_features, read_features_with, write_npy, ReadOptions};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("spk1_001.npy");
/// write_npy(&path, &array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]])?;
///
/// let frames = read_features(&path)?;
/// assert_eq!(frames, array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
///
/// // A model of dimension 60 cannot use it, and the error says which file.
/// let err = read_features_with(&path, &ReadOptions::new().expect_dim(60)).unwrap_err();
/// assert!(err.to_string().ends_with("spk1_001.npy: has 3 columns per frame but 60 are expected"));
/// # Ok(())
/// # }
/// ```
pub fn read_features(path: impl AsRef<Path>) -> Result<Array2<f32>, FeatureError> {
    let path = path.as_ref();
    match FeatureFormat::from_path(path) {
        Some(FeatureFormat::Npy) => read_npy(path),
        Some(FeatureFormat::Htk) => read_htk(path),
        None => Err(FeatureError::UnknownExtension {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads a feature file like [`read_features`], then applies `options`
/// ([`ReadOptions::check`]).
///
/// # Errors
///
/// Those of [`read_features`], then [`FeatureError::WrongDim`],
/// [`FeatureError::NoFrames`] and [`FeatureError::NonFinite`].
pub fn read_features_with(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<Array2<f32>, FeatureError> {
    let path = path.as_ref();
    let features = read_features(path)?;
    options.check(path, &features)?;
    Ok(features)
}
