//! [`FrontendError`] and [`MfccError`]: everything that can go wrong between
//! a WAV file and its features.

use std::io;
use std::path::{Path, PathBuf};

use shardkit::RemoteError;

use crate::features::FeatureError;

/// What the WAV reader accepts, quoted in every refusal.
pub(crate) const ACCEPTED: &str =
    "accepted: mono RIFF/WAVE, 16-, 24- or 32-bit integer PCM or 32-bit IEEE float";

/// Why audio (in memory, not yet tied to a file) cannot be turned into MFCCs,
/// or why an [`MfccConfig`](super::MfccConfig) cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MfccError {
    /// Fewer samples than one analysis window, and the configuration does
    /// not allow empty output ([`MfccConfig::allow_empty`](super::MfccConfig::allow_empty)).
    #[error(
        "{samples} samples is shorter than one analysis window of {window} samples \
         ({window_ms} ms at {rate} Hz); set `allow_empty` to get 0 frames instead"
    )]
    TooShort {
        /// Samples in the audio.
        samples: usize,
        /// Samples in one window.
        window: usize,
        /// The window length in milliseconds, as configured.
        window_ms: f64,
        /// The sample rate, in Hz.
        rate: u32,
    },

    /// A parameter of the configuration is out of range, or the
    /// configuration does not fit the sample rate (a filterbank edge above
    /// the Nyquist frequency, a filter that covers no FFT bin...).
    #[error("invalid MFCC configuration: {reason}")]
    Config {
        /// What is wrong, and how to fix it.
        reason: String,
    },
}

impl MfccError {
    pub(crate) fn config(reason: impl Into<String>) -> Self {
        MfccError::Config {
            reason: reason.into(),
        }
    }
}

/// Why a WAV file could not be read, turned into features, or written.
///
/// Every message about a file starts with the file's path, for example:
///
/// ```text
/// recordings/3_jackson_7.wav: unsupported WAV format: 2 channels (stereo); accepted: mono RIFF/WAVE, 16-, 24- or 32-bit integer PCM or 32-bit IEEE float
/// ```
///
/// [`FrontendError::path`] gives the file programmatically.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrontendError {
    /// The operating system refused: missing file, no permission...
    ///
    /// The [`io::Error`] is part of the message and kept in `error`; it is
    /// deliberately not the `source()`, so that it is not printed twice.
    #[error("{}: cannot {op}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `"read"` or `"write"`.
        op: &'static str,
        /// What the operating system said.
        error: io::Error,
    },

    /// Not a RIFF/WAVE file, or a malformed header.
    #[error("{}: not a valid WAV file: {reason}", path.display())]
    NotWav {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A well-formed WAV file in a format the reader refuses (several
    /// channels, 8-bit samples, compressed encodings, 64-bit float...).
    #[error("{}: unsupported WAV format: {found}; {ACCEPTED}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What the file holds, e.g. `2 channels (stereo)` or `8-bit integer PCM`.
        found: String,
    },

    /// The data chunk ends before the number of samples its header announces.
    #[error(
        "{}: truncated: the header announces {expected} samples but the data ends after {found}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Whole samples present.
        found: usize,
        /// Samples announced by the data chunk's size.
        expected: usize,
    },

    /// A float WAV file holding NaN or an infinity.
    #[error(
        "{}: non-finite sample {value} at index {index} (counting from 0)",
        path.display()
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Index of the first bad sample, from 0.
        index: usize,
        /// Its value.
        value: f32,
    },

    /// The audio of `path` cannot be turned into features (too short, or a
    /// configuration that does not fit its sample rate).
    #[error("{}: {error}", path.display())]
    Mfcc {
        /// The WAV file.
        path: PathBuf,
        /// What went wrong.
        error: MfccError,
    },

    /// The configuration is invalid whatever the file (checked before any
    /// file is read).
    #[error(transparent)]
    Config(MfccError),

    /// Two entries of the file list would write the same output file (with
    /// threads or MPI ranks, which one wins would be a race).
    #[error(
        "{}: is the output of both {} and {}; give every input its own output file",
        npy.display(),
        first.display(),
        second.display()
    )]
    DuplicateOutput {
        /// The output file named twice.
        npy: PathBuf,
        /// The first input writing it.
        first: PathBuf,
        /// The second input writing it.
        second: PathBuf,
    },

    /// The features could not be written (the [`FeatureError`] names the
    /// `.npy` file).
    #[error(transparent)]
    Features(#[from] FeatureError),

    /// Under MPI: a file failed on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

impl FrontendError {
    /// The file the error is about: the WAV file, or for
    /// [`FrontendError::Features`] and [`FrontendError::DuplicateOutput`] the
    /// `.npy` file; `None` for [`FrontendError::Config`] and
    /// [`FrontendError::Remote`].
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. }
            | Self::NotWav { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Truncated { path, .. }
            | Self::NonFinite { path, .. }
            | Self::Mfcc { path, .. } => Some(path),
            Self::DuplicateOutput { npy, .. } => Some(npy),
            Self::Features(e) => Some(e.path()),
            Self::Config(_) | Self::Remote(_) => None,
        }
    }
}
