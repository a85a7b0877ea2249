//! [`FrontendError`], [`MfccError`] and [`MfccParamsError`]: everything
//! that can go wrong between a WAV file and its features, with a message
//! that says what to change.

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

    /// A setting of the configuration is out of range, or the
    /// configuration does not fit the sample rate (a filterbank edge above
    /// the Nyquist frequency, a filter that covers no FFT bin...).
    #[error("invalid MFCC configuration: {0}")]
    Params(#[from] MfccParamsError),
}

/// An [`MfccConfig`](super::MfccConfig) setting that cannot be used: one
/// variant per rule, each carrying the numbers that break it. The first
/// group is checked by [`MfccConfig::check`](super::MfccConfig::check),
/// whatever the audio; the second by [`Mfcc::new`](super::Mfcc::new) and
/// [`mel_filterbank`](super::mel_filterbank), for one sample rate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MfccParamsError {
    /// A setting that must be a finite number is NaN or infinite.
    #[error("`{field}` is {value}; it must be finite")]
    NonFinite {
        /// The setting: `"pre_emphasis"`, `"window_ms"`, `"shift_ms"`,
        /// `"low_hz"` or `"high_hz"`.
        field: &'static str,
        /// Its value.
        value: f64,
    },

    /// The window length or the frame shift is not positive.
    #[error("`window_ms` ({window_ms}) and `shift_ms` ({shift_ms}) must be positive")]
    Durations {
        /// The window length, in milliseconds.
        window_ms: f64,
        /// The frame shift, in milliseconds.
        shift_ms: f64,
    },

    /// The pre-emphasis coefficient is outside `[0, 1)`.
    #[error("`pre_emphasis` is {0}; use a value in [0, 1) (0.97 is usual, 0 turns it off)")]
    PreEmphasis(f64),

    /// No mel filter.
    #[error("`n_filters` is 0; use at least one mel filter (24 is usual at 8 kHz)")]
    NoFilters,

    /// No cepstrum and no log-energy: frames would have no column.
    #[error(
        "`n_ceps` is 0 and `log_energy` is off: no feature is left; \
         keep at least one cepstrum or turn `log_energy` on"
    )]
    NoFeatures,

    /// More cepstra than the filters give (the DCT of `n_filters` log
    /// energies has `n_filters` coefficients, `c0..c{n_filters−1}`).
    #[error(
        "{n_ceps} cepstra from c{first_cep} need at least {needed} mel filters, \
         but `n_filters` is {n_filters}",
        needed = .first_cep + .n_ceps
    )]
    TooFewFilters {
        /// Cepstra asked for.
        n_ceps: usize,
        /// The first cepstrum kept: 0 with `include_c0`, else 1.
        first_cep: usize,
        /// Mel filters.
        n_filters: usize,
    },

    /// The filterbank's lower edge is negative.
    #[error("`low_hz` is {0}; it cannot be negative")]
    NegativeLowHz(f64),

    /// The filterbank's upper edge, as set, is not above its lower edge.
    #[error("`high_hz` ({high_hz}) must be above `low_hz` ({low_hz})")]
    HighNotAboveLow {
        /// The lower edge, in Hz.
        low_hz: f64,
        /// The upper edge, in Hz.
        high_hz: f64,
    },

    /// A delta order above 2.
    #[error("`deltas` is {0}; use 0 (static only), 1 (Δ) or 2 (Δ and ΔΔ)")]
    Deltas(usize),

    /// Deltas with a regression half-width of 0.
    #[error("`delta_window` is 0; deltas need a half-width of at least 1 (2 is usual)")]
    DeltaWindow,

    /// A log floor that is not a positive finite number.
    #[error("`log_floor` is {0}; it must be positive and finite (1e-10 is usual)")]
    LogFloor(f64),

    /// A voice activity threshold that is negative or not finite.
    #[error("`vad.threshold_db` is {0}; use a non-negative number of decibels (30 is usual)")]
    VadThreshold(f64),

    /// At this sample rate the window or the shift rounds to less than one
    /// sample.
    #[error(
        "at {rate} Hz a {window_ms} ms window is {window_samples} samples and a \
         {shift_ms} ms shift is {shift_samples} samples; both must be at least one sample"
    )]
    SubSample {
        /// The sample rate, in Hz.
        rate: u32,
        /// The window length, in milliseconds.
        window_ms: f64,
        /// The window length in samples, rounded.
        window_samples: f64,
        /// The frame shift, in milliseconds.
        shift_ms: f64,
        /// The frame shift in samples, rounded.
        shift_samples: f64,
    },

    /// At this sample rate the window is more than `u32::MAX` samples.
    #[error(
        "a {window_ms} ms window at {rate} Hz is {window_samples} samples; that is too long; \
         use a shorter `window_ms`"
    )]
    WindowTooLong {
        /// The sample rate, in Hz.
        rate: u32,
        /// The window length, in milliseconds.
        window_ms: f64,
        /// The window length in samples, rounded.
        window_samples: f64,
    },

    /// The FFT length, as set, is shorter than the window at this rate.
    #[error(
        "`fft_len` {fft_len} is shorter than the window ({window_len} samples at {rate} \
         Hz); leave it unset for the next power of two"
    )]
    FftShorterThanWindow {
        /// The FFT length set.
        fft_len: usize,
        /// The window, in samples at `rate`.
        window_len: usize,
        /// The sample rate, in Hz.
        rate: u32,
    },

    /// The filterbank's upper edge is above the Nyquist frequency of the
    /// audio.
    #[error(
        "the filterbank's upper edge {high_hz} Hz is above the Nyquist frequency \
         {nyquist} Hz of audio sampled at {rate} Hz; lower `high_hz` or leave it unset"
    )]
    AboveNyquist {
        /// The upper edge, in Hz.
        high_hz: f64,
        /// Half the sample rate, in Hz.
        nyquist: f64,
        /// The sample rate, in Hz.
        rate: u32,
    },

    /// The filterbank's lower edge is not in `[0, high_hz)` (with the
    /// default upper edge, the Nyquist frequency: a `low_hz` at or above
    /// it).
    #[error("the filterbank's lower edge {low_hz} Hz must be in [0, {high_hz}) Hz")]
    LowEdge {
        /// The lower edge, in Hz.
        low_hz: f64,
        /// The upper edge, in Hz.
        high_hz: f64,
    },

    /// An FFT too short to have a frequency bin above 0 Hz (fewer than 2
    /// points).
    #[error("an FFT of {fft_len} points has no frequency bins; use at least 2 points")]
    FftNoBins {
        /// The FFT length.
        fft_len: usize,
    },

    /// A mel filter so narrow that no FFT bin falls inside it.
    #[error(
        "mel filter {filter} ({from_hz:.1}–{to_hz:.1} Hz) covers no FFT bin: a {fft_len}-point FFT \
         at {rate} Hz has a bin every {bin_hz:.2} Hz; use fewer filters, a higher `low_hz` \
         or a larger `fft_len`"
    )]
    EmptyFilter {
        /// The filter, counting from 0.
        filter: usize,
        /// Where it starts, in Hz.
        from_hz: f64,
        /// Where it ends, in Hz.
        to_hz: f64,
        /// The FFT length.
        fft_len: usize,
        /// The sample rate, in Hz.
        rate: u32,
        /// The spacing of the FFT bins: `rate / fft_len`, in Hz.
        bin_hz: f64,
    },
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
    #[error("invalid MFCC configuration: {0}")]
    Config(MfccParamsError),

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

    /// The files have different sample rates and the filterbank's upper
    /// edge follows each file's Nyquist frequency
    /// ([`MfccConfig::high_hz`](super::MfccConfig::high_hz) unset), so
    /// their features would describe different bands and could not be
    /// modelled together.
    #[error(
        "the WAV files have {} sample rates ({}): with the filterbank's upper edge at each file's Nyquist frequency their features would cover different bands; set the upper edge for all of them (MfccConfig::high_hz, e.g. {} Hz), or resample the files to one rate",
        rates.len(),
        rates.iter().map(|(rate, count, example)| format!("{count} at {rate} Hz, e.g. {}", example.display())).collect::<Vec<_>>().join("; "),
        rates.iter().map(|r| r.0).min().unwrap_or(8000) / 2
    )]
    MixedRates {
        /// Each rate met: the rate, how many files have it, and the first
        /// of them.
        rates: Vec<(u32, usize, PathBuf)>,
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
            Self::MixedRates { rates } => rates.first().map(|r| r.2.as_path()),
            Self::Features(e) => Some(e.path()),
            Self::Config(_) | Self::Remote(_) => None,
        }
    }
}
