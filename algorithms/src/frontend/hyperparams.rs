//! [`MfccConfig`] and [`VadConfig`]: every parameter of the recipe, with
//! its default, checked before use.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::errors::MfccParamsError;

/// How the features are normalised over the frames that voice activity
/// detection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cmvn {
    /// Leave the features as they are.
    None,
    /// Subtract each column's mean (cepstral mean normalisation).
    Mean,
    /// Subtract each column's mean and divide by its standard deviation
    /// (population, `1/N`), so that every column has mean 0 and variance 1.
    /// A column with no spread (standard deviation below `1e-8`, e.g. a
    /// single kept frame) is only centred. The default.
    #[default]
    MeanVariance,
}

/// What the delta regression ([`deltas`](super::deltas)) reads beyond the
/// first and last frames of an utterance.
///
/// The choice matters on short utterances: deltas are computed on the
/// static features *before* [`Cmvn`], so with [`DeltaEdges::Zero`] the
/// first and last `N` deltas carry the utterance's static level (its
/// long-term spectrum), which mean normalisation removes from the static
/// columns. On FSDD (half-second digits, one microphone per speaker) that
/// level identifies the speaker and the zero edges lower every system's
/// EER on the development splits (see the README's "How the defaults were
/// chosen"); on corpora whose channel varies within a speaker it is
/// channel information that normalisation meant to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeltaEdges {
    /// The first and last frames are repeated (HTK, Kaldi): a constant
    /// signal has zero deltas everywhere. The default.
    #[default]
    Repeat,
    /// Zeros beyond the edges, as SIDEKIT's `compute_delta` does in effect
    /// (it pads a copy of the features but filters the unpadded ones).
    Zero,
}

/// Energy-based voice activity detection: a frame is speech when its
/// log-energy is within [`threshold_db`](VadConfig::threshold_db) decibels of
/// the utterance's loudest frame. A builder whose setters take and return it
/// by value; [`MfccConfig::check`] (hence [`Mfcc::new`](super::Mfcc::new))
/// checks it ([`VadConfig::check`]).
///
/// The loudest frame is always kept, so an utterance never loses all its
/// frames. In natural-log units the test for frame `t` is
/// `e_t >= max_s e_s - threshold_db · ln(10) / 10`.
///
/// Defaults: 30 dB, no smoothing.
///
/// ```
/// use shardkit_algorithms::frontend::{MfccConfig, VadConfig};
///
/// let vad = VadConfig::new().threshold_db(20.0).smooth(2);
/// assert!(vad.check().is_ok());
/// let config = MfccConfig::new().vad(Some(vad));
/// assert!(config.check().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    pub(crate) threshold_db: f64,
    pub(crate) smooth: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl VadConfig {
    /// The defaults: 30 dB, no smoothing.
    pub fn new() -> Self {
        VadConfig {
            threshold_db: 30.0,
            smooth: 0,
        }
    }

    /// How far below the loudest frame a frame may be and still count as
    /// speech, in decibels (default 30); a non-negative number.
    pub fn threshold_db(mut self, threshold_db: f64) -> Self {
        self.threshold_db = threshold_db;
        self
    }

    /// Median smoothing of the speech/non-speech decision over `2 · smooth +
    /// 1` frames (the window shrinks at the edges; a tie keeps the frame):
    /// removes isolated speech or silence frames. Default 0 (no smoothing).
    pub fn smooth(mut self, smooth: usize) -> Self {
        self.smooth = smooth;
        self
    }

    /// Checks the threshold.
    ///
    /// # Errors
    ///
    /// [`MfccParamsError::VadThreshold`] for a threshold that is negative
    /// or not finite.
    pub fn check(&self) -> Result<(), MfccParamsError> {
        if !(self.threshold_db.is_finite() && self.threshold_db >= 0.0) {
            return Err(MfccParamsError::VadThreshold(self.threshold_db));
        }
        Ok(())
    }
}

/// The MFCC recipe, as speaker recognition uses it (SIDEKIT's and Kaldi's
/// front ends): every step of [`Mfcc::compute`](super::Mfcc::compute) has
/// a setting here. A builder whose setters take and return it by value;
/// [`Mfcc::new`](super::Mfcc::new) and
/// [`extract_features`](super::extract_features) check it first
/// ([`MfccConfig::check`], then the rules that depend on the sample rate).
///
/// [`MfccConfig::new`] (the same as [`MfccConfig::default`]) gives 42
/// columns per frame:
///
/// | columns | what |
/// |---|---|
/// | 0..13 | cepstra `c1..c13` |
/// | 13 | log-energy |
/// | 14..28 | their deltas Δ |
/// | 28..42 | their double deltas ΔΔ |
///
/// Defaults: pre-emphasis 0.97, 25 ms windows every 10 ms, the FFT length
/// the next power of two, 24 mel filters from 20 Hz to the Nyquist
/// frequency, 13 cepstra from `c1`, the log-energy, Δ and ΔΔ over ±2
/// frames (edges repeated), [`VadConfig::new`] (30 dB), [`Cmvn::MeanVariance`], a log floor
/// of `1e-10`, and audio shorter than one window refused.
///
/// It serialises with serde (TOML, JSON…) under the setters' names, e.g.
/// `n_filters = 24`, `delta_edges = "zero"`, `vad = "none"` or `vad = {
/// threshold_db = 30.0, smooth = 0 }`, `cmvn = "mean-variance"`; a missing
/// field takes its default and an unknown one is an error. Deserialised
/// values are checked by [`check`](MfccConfig::check), as the setters'
/// are.
///
/// Durations are in milliseconds and frequencies in Hz, so the same
/// configuration serves any sample rate: at 8 kHz a frame is 200 samples
/// with a 256-point FFT and the filterbank spans 20–4000 Hz; at 16 kHz a
/// frame is 400 samples with a 512-point FFT and the filterbank spans
/// 20–8000 Hz (its upper edge follows the file's Nyquist frequency unless
/// [`high_hz`](MfccConfig::high_hz) is set). Set `.high_hz(Some(4000.0))` to
/// give 16 kHz files the 8 kHz analysis band.
///
/// ```
/// use shardkit_algorithms::frontend::{Cmvn, MfccConfig, MfccParamsError};
///
/// let config = MfccConfig::new();
/// assert_eq!(config.dim(), 42);
/// // 20 cepstra with c0, no energy, no double deltas, mean normalisation only:
/// let custom = MfccConfig::new()
///     .n_ceps(20)
///     .include_c0(true)
///     .log_energy(false)
///     .n_filters(40)
///     .deltas(1)
///     .cmvn(Cmvn::Mean);
/// assert_eq!(custom.dim(), 40);
/// assert!(custom.check().is_ok());
/// assert_eq!(MfccConfig::new().n_filters(0).check(), Err(MfccParamsError::NoFilters));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfccConfig {
    pub(crate) pre_emphasis: f64,
    pub(crate) window_ms: f64,
    pub(crate) shift_ms: f64,
    pub(crate) fft_len: Option<usize>,
    pub(crate) n_filters: usize,
    pub(crate) low_hz: f64,
    pub(crate) high_hz: Option<f64>,
    pub(crate) n_ceps: usize,
    pub(crate) include_c0: bool,
    pub(crate) log_energy: bool,
    pub(crate) deltas: usize,
    pub(crate) delta_window: usize,
    pub(crate) delta_edges: DeltaEdges,
    #[serde(with = "vad_setting")]
    pub(crate) vad: Option<VadConfig>,
    pub(crate) cmvn: Cmvn,
    pub(crate) log_floor: f64,
    pub(crate) allow_empty: bool,
}

impl Default for MfccConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// `vad` in serialised configurations: `"none"`, or the table of a
/// [`VadConfig`] (a missing `vad` is the default, the energy VAD, so "no
/// VAD" needs a word of its own).
mod vad_setting {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::VadConfig;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Word(String),
        On(VadConfig),
    }

    pub(super) fn serialize<S: Serializer>(
        vad: &Option<VadConfig>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match vad {
            Some(config) => Repr::On(*config),
            None => Repr::Word("none".to_owned()),
        }
        .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<VadConfig>, D::Error> {
        match Repr::deserialize(deserializer)? {
            Repr::On(config) => Ok(Some(config)),
            Repr::Word(word) if word == "none" => Ok(None),
            Repr::Word(word) => Err(serde::de::Error::custom(format!(
                "vad = {word:?}: give \"none\" or a table such as {{ threshold_db = 30.0, smooth = 0 }}"
            ))),
        }
    }
}

/// One line for logs and reports, e.g. `24 filters 20 Hz–Nyquist,
/// c1–c13 + log-energy, Δ ΔΔ ±2 (edges repeated), VAD 30 dB, CMVN`.
impl fmt::Display for MfccConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let high = match self.high_hz {
            Some(hz) => format!("{hz} Hz"),
            None => "Nyquist".to_owned(),
        };
        write!(f, "{} filters {} Hz–{high}, ", self.n_filters, self.low_hz)?;
        let first = self.first_cep();
        if self.n_ceps > 0 {
            write!(f, "c{first}–c{}", first + self.n_ceps - 1)?;
        }
        if self.log_energy {
            write!(f, "{}log-energy", if self.n_ceps > 0 { " + " } else { "" })?;
        }
        let edges = match self.delta_edges {
            DeltaEdges::Repeat => "edges repeated",
            DeltaEdges::Zero => "zero edges",
        };
        match self.deltas {
            0 => {}
            1 => write!(f, ", Δ ±{} ({edges})", self.delta_window)?,
            _ => write!(f, ", Δ ΔΔ ±{} ({edges})", self.delta_window)?,
        }
        match &self.vad {
            Some(vad) => write!(f, ", VAD {} dB", vad.threshold_db)?,
            None => write!(f, ", no VAD")?,
        }
        let norm = match self.cmvn {
            Cmvn::None => "not normalised",
            Cmvn::Mean => "CMN",
            Cmvn::MeanVariance => "CMVN",
        };
        write!(f, ", {norm}")
    }
}

impl MfccConfig {
    /// The defaults (see the type's documentation): 42 columns per frame.
    pub fn new() -> Self {
        MfccConfig {
            pre_emphasis: 0.97,
            window_ms: 25.0,
            shift_ms: 10.0,
            fft_len: None,
            n_filters: 24,
            low_hz: 20.0,
            high_hz: None,
            n_ceps: 13,
            include_c0: false,
            log_energy: true,
            deltas: 2,
            delta_window: 2,
            delta_edges: DeltaEdges::Repeat,
            vad: Some(VadConfig::new()),
            cmvn: Cmvn::MeanVariance,
            log_floor: 1e-10,
            allow_empty: false,
        }
    }

    /// Pre-emphasis coefficient `α` (default 0.97), applied to the whole
    /// signal: `y[0] = x[0]`, `y[n] = x[n] − α x[n−1]`. 0 turns it off; at
    /// most just below 1.
    pub fn pre_emphasis(mut self, alpha: f64) -> Self {
        self.pre_emphasis = alpha;
        self
    }

    /// Window length in milliseconds (default 25); rounded to the nearest
    /// whole number of samples at the file's rate.
    pub fn window_ms(mut self, ms: f64) -> Self {
        self.window_ms = ms;
        self
    }

    /// Frame shift in milliseconds (default 10); rounded likewise.
    pub fn shift_ms(mut self, ms: f64) -> Self {
        self.shift_ms = ms;
        self
    }

    /// FFT length; `None` (the default) takes the next power of two at or
    /// above the window length. Must be at least the window length.
    pub fn fft_len(mut self, fft_len: Option<usize>) -> Self {
        self.fft_len = fft_len;
        self
    }

    /// Number of triangular mel filters (default 24).
    pub fn n_filters(mut self, n_filters: usize) -> Self {
        self.n_filters = n_filters;
        self
    }

    /// Lower edge of the filterbank in Hz (default 20, as Kaldi).
    pub fn low_hz(mut self, hz: f64) -> Self {
        self.low_hz = hz;
        self
    }

    /// Upper edge of the filterbank in Hz; `None` (the default) is the
    /// file's Nyquist frequency (half its sample rate). A value above the
    /// Nyquist frequency of a file is an error for that file
    /// ([`MfccParamsError::AboveNyquist`]).
    pub fn high_hz(mut self, hz: Option<f64>) -> Self {
        self.high_hz = hz;
        self
    }

    /// Number of cepstra kept (default 13).
    pub fn n_ceps(mut self, n_ceps: usize) -> Self {
        self.n_ceps = n_ceps;
        self
    }

    /// Keep `c0` (cepstra `c0..c{n_ceps−1}`) or not (`c1..c{n_ceps}`, the
    /// default: the log-energy column carries the level instead).
    pub fn include_c0(mut self, include: bool) -> Self {
        self.include_c0 = include;
        self
    }

    /// Append the frame's log-energy after the cepstra (default true).
    pub fn log_energy(mut self, append: bool) -> Self {
        self.log_energy = append;
        self
    }

    /// 0: static features only; 1: add Δ; 2 (default): add Δ and ΔΔ.
    pub fn deltas(mut self, order: usize) -> Self {
        self.deltas = order;
        self
    }

    /// Half-width `N` of the delta regression (default 2):
    /// `Δx_t = Σ_{n=1..N} n (x_{t+n} − x_{t−n}) / (2 Σ_{n=1..N} n²)`, with
    /// the edges as [`delta_edges`](MfccConfig::delta_edges) says. ΔΔ
    /// applies the same formula to Δ.
    pub fn delta_window(mut self, half_width: usize) -> Self {
        self.delta_window = half_width;
        self
    }

    /// What the delta regression reads beyond the first and last frames
    /// (default [`DeltaEdges::Repeat`]).
    pub fn delta_edges(mut self, edges: DeltaEdges) -> Self {
        self.delta_edges = edges;
        self
    }

    /// Voice activity detection (default: [`VadConfig::new`], 30 dB);
    /// `None` keeps every frame.
    pub fn vad(mut self, vad: Option<VadConfig>) -> Self {
        self.vad = vad;
        self
    }

    /// Normalisation over the kept frames (default [`Cmvn::MeanVariance`]).
    pub fn cmvn(mut self, cmvn: Cmvn) -> Self {
        self.cmvn = cmvn;
        self
    }

    /// Floor applied before every logarithm (default `1e-10`, on samples
    /// scaled to `[-1, 1)`): digital silence gives `ln(1e-10)` instead of
    /// `−∞`.
    pub fn log_floor(mut self, floor: f64) -> Self {
        self.log_floor = floor;
        self
    }

    /// Audio shorter than one window gives 0 frames (`true`) or
    /// [`MfccError::TooShort`](super::MfccError::TooShort) (`false`, the
    /// default).
    pub fn allow_empty(mut self, allow: bool) -> Self {
        self.allow_empty = allow;
        self
    }

    /// Columns of the static part: the cepstra, plus one for the log-energy.
    pub fn static_dim(&self) -> usize {
        self.n_ceps + usize::from(self.log_energy)
    }

    /// Columns per frame of the output: `static_dim × (1 + deltas)`.
    pub fn dim(&self) -> usize {
        self.static_dim() * (1 + self.deltas.min(2))
    }

    /// The first cepstrum kept: 0 with `include_c0`, else 1.
    pub(crate) fn first_cep(&self) -> usize {
        usize::from(!self.include_c0)
    }

    /// Checks every setting, as far as it does not depend on the sample
    /// rate ([`Mfcc::new`](super::Mfcc::new) checks the rest).
    ///
    /// # Errors
    ///
    /// The first rule broken, in this order:
    /// [`NonFinite`](MfccParamsError::NonFinite),
    /// [`Durations`](MfccParamsError::Durations),
    /// [`PreEmphasis`](MfccParamsError::PreEmphasis),
    /// [`NoFilters`](MfccParamsError::NoFilters),
    /// [`NoFeatures`](MfccParamsError::NoFeatures),
    /// [`TooFewFilters`](MfccParamsError::TooFewFilters),
    /// [`NegativeLowHz`](MfccParamsError::NegativeLowHz),
    /// [`HighNotAboveLow`](MfccParamsError::HighNotAboveLow),
    /// [`Deltas`](MfccParamsError::Deltas),
    /// [`DeltaWindow`](MfccParamsError::DeltaWindow),
    /// [`LogFloor`](MfccParamsError::LogFloor),
    /// [`VadThreshold`](MfccParamsError::VadThreshold).
    pub fn check(&self) -> Result<(), MfccParamsError> {
        let finite = |field: &'static str, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(MfccParamsError::NonFinite { field, value })
            }
        };
        finite("pre_emphasis", self.pre_emphasis)?;
        finite("window_ms", self.window_ms)?;
        finite("shift_ms", self.shift_ms)?;
        finite("low_hz", self.low_hz)?;
        if let Some(high) = self.high_hz {
            finite("high_hz", high)?;
        }
        if self.window_ms <= 0.0 || self.shift_ms <= 0.0 {
            return Err(MfccParamsError::Durations {
                window_ms: self.window_ms,
                shift_ms: self.shift_ms,
            });
        }
        if !(0.0..1.0).contains(&self.pre_emphasis) {
            return Err(MfccParamsError::PreEmphasis(self.pre_emphasis));
        }
        if self.n_filters == 0 {
            return Err(MfccParamsError::NoFilters);
        }
        if self.n_ceps == 0 && !self.log_energy {
            return Err(MfccParamsError::NoFeatures);
        }
        if self.first_cep() + self.n_ceps > self.n_filters {
            return Err(MfccParamsError::TooFewFilters {
                n_ceps: self.n_ceps,
                first_cep: self.first_cep(),
                n_filters: self.n_filters,
            });
        }
        if self.low_hz < 0.0 {
            return Err(MfccParamsError::NegativeLowHz(self.low_hz));
        }
        if let Some(high) = self.high_hz {
            if high <= self.low_hz {
                return Err(MfccParamsError::HighNotAboveLow {
                    low_hz: self.low_hz,
                    high_hz: high,
                });
            }
        }
        if self.deltas > 2 {
            return Err(MfccParamsError::Deltas(self.deltas));
        }
        if self.deltas > 0 && self.delta_window == 0 {
            return Err(MfccParamsError::DeltaWindow);
        }
        if !(self.log_floor.is_finite() && self.log_floor > 0.0) {
            return Err(MfccParamsError::LogFloor(self.log_floor));
        }
        if let Some(vad) = &self.vad {
            vad.check()?;
        }
        Ok(())
    }
}
