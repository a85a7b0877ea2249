//! [`MfccConfig`]: every parameter of the recipe, with its default.

use super::error::MfccError;

/// How the features are normalised over the frames that voice activity
/// detection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// Energy-based voice activity detection: a frame is speech when its
/// log-energy is within `threshold_db` of the utterance's loudest frame.
///
/// The loudest frame is always kept, so an utterance never loses all its
/// frames. In natural-log units the test for frame `t` is
/// `e_t >= max_s e_s - threshold_db · ln(10) / 10`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// How far below the loudest frame a frame may be and still count as
    /// speech, in decibels (default 30).
    pub threshold_db: f64,
    /// Median smoothing of the speech/non-speech decision over `2 · smooth +
    /// 1` frames (the window shrinks at the edges; a tie keeps the frame):
    /// removes isolated speech or silence frames. Default 0 (no smoothing).
    pub smooth: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            threshold_db: 30.0,
            smooth: 0,
        }
    }
}

/// The MFCC recipe, as speaker recognition uses it (SIDEKIT's and Kaldi's
/// front ends): every step of [`Mfcc::compute`](super::Mfcc::compute) is
/// a field here. [`MfccConfig::default`] gives 42 columns per frame:
///
/// | columns | what |
/// |---|---|
/// | 0..13 | cepstra `c1..c13` |
/// | 13 | log-energy |
/// | 14..28 | their deltas Δ |
/// | 28..42 | their double deltas ΔΔ |
///
/// Durations are in milliseconds and frequencies in Hz, so the same
/// configuration serves any sample rate: at 8 kHz a frame is 200 samples
/// with a 256-point FFT and the filterbank spans 20–4000 Hz; at 16 kHz a
/// frame is 400 samples with a 512-point FFT and the filterbank spans
/// 20–8000 Hz (its upper edge follows the file's Nyquist frequency unless
/// `high_hz` is set). Set `high_hz = Some(4000.0)` to give 16 kHz files
/// the 8 kHz analysis band.
///
/// ```
/// use shardkit_algorithms::frontend::{Cmvn, MfccConfig};
///
/// let config = MfccConfig::default();
/// assert_eq!(config.dim(), 42);
/// // 20 cepstra with c0, no energy, no double deltas, mean normalisation only:
/// let custom = MfccConfig {
///     n_ceps: 20,
///     include_c0: true,
///     log_energy: false,
///     n_filters: 40,
///     deltas: 1,
///     cmvn: Cmvn::Mean,
///     ..MfccConfig::default()
/// };
/// assert_eq!(custom.dim(), 40);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MfccConfig {
    /// Pre-emphasis coefficient `α` (default 0.97), applied to the whole
    /// signal: `y[0] = x[0]`, `y[n] = x[n] − α x[n−1]`. 0 turns it off.
    pub pre_emphasis: f64,
    /// Window length in milliseconds (default 25); rounded to the nearest
    /// whole number of samples at the file's rate.
    pub window_ms: f64,
    /// Frame shift in milliseconds (default 10); rounded likewise.
    pub shift_ms: f64,
    /// FFT length; `None` (the default) takes the next power of two at or
    /// above the window length. Must be at least the window length.
    pub fft_len: Option<usize>,
    /// Number of triangular mel filters (default 24).
    pub n_filters: usize,
    /// Lower edge of the filterbank in Hz (default 20, as Kaldi).
    pub low_hz: f64,
    /// Upper edge of the filterbank in Hz; `None` (the default) is the
    /// file's Nyquist frequency (half its sample rate). A value above the
    /// Nyquist frequency of a file is an error for that file.
    pub high_hz: Option<f64>,
    /// Number of cepstra kept (default 13).
    pub n_ceps: usize,
    /// Keep `c0` (cepstra `c0..c{n_ceps−1}`) or not (`c1..c{n_ceps}`, the
    /// default: the log-energy column carries the level instead).
    pub include_c0: bool,
    /// Append the frame's log-energy after the cepstra (default true).
    pub log_energy: bool,
    /// 0: static features only; 1: add Δ; 2 (default): add Δ and ΔΔ.
    pub deltas: usize,
    /// Half-width `N` of the delta regression (default 2):
    /// `Δx_t = Σ_{n=1..N} n (x_{t+n} − x_{t−n}) / (2 Σ_{n=1..N} n²)`, with
    /// the first and last frames repeated beyond the edges. ΔΔ applies the
    /// same formula to Δ.
    pub delta_window: usize,
    /// Voice activity detection (default: [`VadConfig::default`], 30 dB);
    /// `None` keeps every frame.
    pub vad: Option<VadConfig>,
    /// Normalisation over the kept frames (default [`Cmvn::MeanVariance`]).
    pub cmvn: Cmvn,
    /// Floor applied before every logarithm (default `1e-10`, on samples
    /// scaled to `[-1, 1)`): digital silence gives `ln(1e-10)` instead of
    /// `−∞`.
    pub log_floor: f64,
    /// Audio shorter than one window gives 0 frames (`true`) or
    /// [`MfccError::TooShort`] (`false`, the default).
    pub allow_empty: bool,
}

impl Default for MfccConfig {
    fn default() -> Self {
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
            vad: Some(VadConfig::default()),
            cmvn: Cmvn::MeanVariance,
            log_floor: 1e-10,
            allow_empty: false,
        }
    }
}

impl MfccConfig {
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

    /// Checks what does not depend on the sample rate.
    ///
    /// # Errors
    ///
    /// [`MfccError::Config`], saying which field is wrong and what would do.
    pub fn validate(&self) -> Result<(), MfccError> {
        let bad = |reason: String| Err(MfccError::config(reason));
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(MfccError::config(format!(
                    "`{name}` is {v}; it must be finite"
                )))
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
            return bad(format!(
                "`window_ms` ({}) and `shift_ms` ({}) must be positive",
                self.window_ms, self.shift_ms
            ));
        }
        if !(0.0..1.0).contains(&self.pre_emphasis) {
            return bad(format!(
                "`pre_emphasis` is {}; use a value in [0, 1) (0.97 is usual, 0 turns it off)",
                self.pre_emphasis
            ));
        }
        if self.n_filters == 0 {
            return bad(
                "`n_filters` is 0; use at least one mel filter (24 is usual at 8 kHz)".into(),
            );
        }
        if self.n_ceps == 0 && !self.log_energy {
            return bad("`n_ceps` is 0 and `log_energy` is off: no feature is left".into());
        }
        if self.first_cep() + self.n_ceps > self.n_filters {
            return bad(format!(
                "{} cepstra from c{} need at least {} mel filters, but `n_filters` is {}",
                self.n_ceps,
                self.first_cep(),
                self.first_cep() + self.n_ceps,
                self.n_filters
            ));
        }
        if self.low_hz < 0.0 {
            return bad(format!(
                "`low_hz` is {}; it cannot be negative",
                self.low_hz
            ));
        }
        if let Some(high) = self.high_hz {
            if high <= self.low_hz {
                return bad(format!(
                    "`high_hz` ({high}) must be above `low_hz` ({})",
                    self.low_hz
                ));
            }
        }
        if self.deltas > 2 {
            return bad(format!(
                "`deltas` is {}; use 0 (static only), 1 (Δ) or 2 (Δ and ΔΔ)",
                self.deltas
            ));
        }
        if self.deltas > 0 && self.delta_window == 0 {
            return bad(
                "`delta_window` is 0; deltas need a half-width of at least 1 (2 is usual)".into(),
            );
        }
        if !(self.log_floor.is_finite() && self.log_floor > 0.0) {
            return bad(format!(
                "`log_floor` is {}; it must be positive and finite (1e-10 is usual)",
                self.log_floor
            ));
        }
        if let Some(vad) = &self.vad {
            if !(vad.threshold_db.is_finite() && vad.threshold_db >= 0.0) {
                return bad(format!(
                    "`vad.threshold_db` is {}; use a non-negative number of decibels (30 is usual)",
                    vad.threshold_db
                ));
            }
        }
        Ok(())
    }
}
