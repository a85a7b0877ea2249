//! The MFCC recipe: [`Mfcc`] (prepared for one sample rate), [`mfcc`], and
//! the steps as public functions.

use std::fmt;
use std::sync::Arc;

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis};
use realfft::{RealFftPlanner, RealToComplex};

use super::errors::{MfccError, MfccParamsError};
use super::hyperparams::{Cmvn, DeltaEdges, MfccConfig, VadConfig};

/// Hz to mel, HTK's and Kaldi's scale: `1127 ln(1 + f / 700)`.
///
/// ```
/// use shardkit_algorithms::frontend::{hz_to_mel, mel_to_hz};
/// assert!((hz_to_mel(1000.0) - 1000.0).abs() < 0.1); // 1000 Hz is about 1000 mel
/// assert!((mel_to_hz(hz_to_mel(440.0)) - 440.0).abs() < 1e-9);
/// ```
pub fn hz_to_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// Mel to Hz, the inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * ((mel / 1127.0).exp() - 1.0)
}

/// The symmetric Hamming window of `len` points:
/// `0.54 − 0.46 cos(2π n / (len − 1))` (NumPy's `np.hamming`); `[1.0]` for
/// `len == 1`.
pub fn hamming(len: usize) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    let denom = (len - 1) as f64;
    (0..len)
        .map(|n| 0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / denom).cos())
        .collect()
}

/// Pre-emphasis of a whole signal: `y[0] = x[0]`, `y[n] = x[n] − α x[n−1]`,
/// in `f64`.
///
/// ```
/// use shardkit_algorithms::frontend::pre_emphasis;
/// assert_eq!(pre_emphasis(&[1.0, 1.0, 0.0], 0.5), [1.0, 0.5, -0.5]);
/// ```
pub fn pre_emphasis(samples: &[f32], alpha: f64) -> Vec<f64> {
    let mut previous = 0.0;
    samples
        .iter()
        .enumerate()
        .map(|(n, &x)| {
            let x = f64::from(x);
            let y = if n == 0 { x } else { x - alpha * previous };
            previous = x;
            y
        })
        .collect()
}

/// The centres, in Hz, of `n_filters` mel filters between `low_hz` and
/// `high_hz`: the filter edges are `n_filters + 2` points equally spaced on
/// the mel scale from `low_hz` to `high_hz`, and filter `j` rises from edge
/// `j` to edge `j + 1` (its centre) and falls to edge `j + 2`.
pub fn mel_centers(n_filters: usize, low_hz: f64, high_hz: f64) -> Vec<f64> {
    let edges = mel_edges(n_filters, low_hz, high_hz);
    edges[1..=n_filters].iter().map(|&m| mel_to_hz(m)).collect()
}

fn mel_edges(n_filters: usize, low_hz: f64, high_hz: f64) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(low_hz), hz_to_mel(high_hz));
    let step = (hi - lo) / (n_filters + 1) as f64;
    (0..n_filters + 2).map(|i| lo + step * i as f64).collect()
}

/// The mel filterbank as a matrix of `n_filters × (fft_len / 2 + 1)`
/// weights on the power spectrum's bins (bin `k` is at `k · rate / fft_len`
/// Hz).
///
/// Filters are triangles on the mel scale (as HTK and Kaldi): with `m` the
/// bin's mel frequency and `l < c < r` the filter's edges in mel (see
/// [`mel_centers`]), the weight is `(m − l)/(c − l)` for `l < m ≤ c`,
/// `(r − m)/(r − c)` for `c < m < r`, and 0 elsewhere. Filters are not
/// normalised to unit area.
///
/// # Errors
///
/// [`MfccParamsError::AboveNyquist`] when `high_hz` is above the Nyquist
/// frequency `rate / 2`, [`MfccParamsError::LowEdge`] when `low_hz` is not
/// in `[0, high_hz)`, [`MfccParamsError::FftNoBins`] for `fft_len < 2`, and
/// [`MfccParamsError::EmptyFilter`] when a filter covers no bin (too many
/// filters for the FFT's resolution).
///
/// ```
/// use shardkit_algorithms::frontend::mel_filterbank;
/// let fb = mel_filterbank(24, 256, 8000, 20.0, 4000.0)?;
/// assert_eq!(fb.dim(), (24, 129));
/// assert!(fb.iter().all(|&w| (0.0..=1.0).contains(&w)));
/// # Ok::<(), shardkit_algorithms::frontend::MfccParamsError>(())
/// ```
pub fn mel_filterbank(
    n_filters: usize,
    fft_len: usize,
    rate: u32,
    low_hz: f64,
    high_hz: f64,
) -> Result<Array2<f64>, MfccParamsError> {
    let nyquist = f64::from(rate) / 2.0;
    if high_hz > nyquist {
        return Err(MfccParamsError::AboveNyquist {
            high_hz,
            nyquist,
            rate,
        });
    }
    if !(low_hz >= 0.0 && low_hz < high_hz) {
        return Err(MfccParamsError::LowEdge { low_hz, high_hz });
    }
    if fft_len < 2 {
        return Err(MfccParamsError::FftNoBins { fft_len });
    }
    let bins = fft_len / 2 + 1;
    let edges = mel_edges(n_filters, low_hz, high_hz);
    let bin_mel: Vec<f64> = (0..bins)
        .map(|k| hz_to_mel(k as f64 * f64::from(rate) / fft_len as f64))
        .collect();
    let mut fb = Array2::zeros((n_filters, bins));
    for j in 0..n_filters {
        let (l, c, r) = (edges[j], edges[j + 1], edges[j + 2]);
        for (k, &m) in bin_mel.iter().enumerate() {
            if m > l && m < r {
                fb[[j, k]] = if m <= c {
                    (m - l) / (c - l)
                } else {
                    (r - m) / (r - c)
                };
            }
        }
        if fb.row(j).iter().all(|&w| w == 0.0) {
            return Err(MfccParamsError::EmptyFilter {
                filter: j,
                from_hz: mel_to_hz(l),
                to_hz: mel_to_hz(r),
                fft_len,
                rate,
                bin_hz: f64::from(rate) / fft_len as f64,
            });
        }
    }
    Ok(fb)
}

/// The orthonormal DCT-II rows `first..first + count` for `n` inputs:
/// `c_i = s_i Σ_j x_j cos(π i (j + ½) / n)`, `s_0 = √(1/n)`, `s_i = √(2/n)`
/// (SciPy's `dct(type=2, norm="ortho")`).
fn dct_matrix(n: usize, first: usize, count: usize) -> Array2<f64> {
    let nf = n as f64;
    Array2::from_shape_fn((count, n), |(row, j)| {
        let i = first + row;
        let scale = if i == 0 {
            (1.0 / nf).sqrt()
        } else {
            (2.0 / nf).sqrt()
        };
        scale * (std::f64::consts::PI * i as f64 * (j as f64 + 0.5) / nf).cos()
    })
}

/// Delta (regression) coefficients of each column of `x` (frames × columns):
/// `Δx_t = Σ_{n=1..N} n (x_{t+n} − x_{t−n}) / (2 Σ_{n=1..N} n²)` with `N =
/// window`; beyond the edges, `edges` says what `x` is: the first and last
/// frames repeated ([`DeltaEdges::Repeat`], HTK and Kaldi) or zeros
/// ([`DeltaEdges::Zero`], SIDEKIT). For a linear ramp `x_t = a t + b`,
/// `Δx_t = a` away from the edges.
///
/// # Panics
///
/// If `window` is 0.
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::frontend::{deltas, DeltaEdges};
/// let ramp = Array2::from_shape_fn((10, 1), |(t, _)| 3.0 * t as f64 + 1.0);
/// let d = deltas(ramp.view(), 2, DeltaEdges::Repeat);
/// assert!((d[[5, 0]] - 3.0).abs() < 1e-12);
/// // A constant has no deltas, unless the edges are zeros:
/// let flat = Array2::from_elem((10, 1), 4.0);
/// assert!(deltas(flat.view(), 2, DeltaEdges::Repeat).iter().all(|&v| v == 0.0));
/// let z = deltas(flat.view(), 2, DeltaEdges::Zero);
/// // Frame 0 sees (1 · (4 − 0) + 2 · (4 − 0)) / 10 = 1.2:
/// assert!((z[[0, 0]] - 1.2).abs() < 1e-12 && (z[[9, 0]] + 1.2).abs() < 1e-12);
/// assert_eq!(z[[5, 0]], 0.0);
/// ```
pub fn deltas(x: ArrayView2<f64>, window: usize, edges: DeltaEdges) -> Array2<f64> {
    assert!(window > 0, "the delta window must be at least 1");
    let frames = x.nrows();
    let mut out = Array2::zeros(x.dim());
    if frames == 0 {
        return out;
    }
    let denom = 2.0 * (1..=window).map(|n| (n * n) as f64).sum::<f64>();
    let last = frames - 1;
    for t in 0..frames {
        let mut row = out.row_mut(t);
        for n in 1..=window {
            let w = n as f64 / denom;
            let (ahead, behind) = match edges {
                DeltaEdges::Repeat => (Some((t + n).min(last)), Some(t.saturating_sub(n))),
                DeltaEdges::Zero => ((t + n <= last).then_some(t + n), t.checked_sub(n)),
            };
            if let Some(a) = ahead {
                row.scaled_add(w, &x.row(a));
            }
            if let Some(b) = behind {
                row.scaled_add(-w, &x.row(b));
            }
        }
    }
    out
}

/// Energy-based voice activity detection: which frames are speech, given
/// each frame's log-energy (natural log). See [`VadConfig`]. Empty input
/// gives an empty mask; otherwise at least the loudest frame (the first one,
/// on ties) is kept.
///
/// ```
/// use shardkit_algorithms::frontend::{vad_mask, VadConfig};
/// let e = [-20.0, -2.0, -1.0, -19.0];
/// assert_eq!(vad_mask(&e, &VadConfig::default()), [false, true, true, false]);
/// ```
pub fn vad_mask(log_energy: &[f64], vad: &VadConfig) -> Vec<bool> {
    let Some((loudest, max)) =
        log_energy
            .iter()
            .copied()
            .enumerate()
            .fold(None, |best: Option<(usize, f64)>, (t, e)| match best {
                Some((_, m)) if m >= e => best,
                _ => Some((t, e)),
            })
    else {
        return Vec::new();
    };
    let threshold = max - vad.threshold_db * std::f64::consts::LN_10 / 10.0;
    let raw: Vec<bool> = log_energy.iter().map(|&e| e >= threshold).collect();
    let mut mask = if vad.smooth == 0 {
        raw
    } else {
        let n = raw.len();
        (0..n)
            .map(|t| {
                let lo = t.saturating_sub(vad.smooth);
                let hi = (t + vad.smooth + 1).min(n);
                let speech = raw[lo..hi].iter().filter(|&&k| k).count();
                2 * speech >= hi - lo
            })
            .collect()
    };
    mask[loudest] = true;
    mask
}

/// Normalises the columns of `x` (frames × columns) in place: see [`Cmvn`].
/// Means and variances are computed in `f64` over all rows (population
/// variance); nothing happens with no rows.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::frontend::{cmvn, Cmvn};
/// let mut x = array![[1.0, 5.0], [3.0, 5.0]];
/// cmvn(x.view_mut(), Cmvn::MeanVariance);
/// assert_eq!(x, array![[-1.0, 0.0], [1.0, 0.0]]); // the constant column is only centred
/// ```
pub fn cmvn(mut x: ArrayViewMut2<f64>, mode: Cmvn) {
    let n = x.nrows();
    if n == 0 || mode == Cmvn::None {
        return;
    }
    for mut column in x.columns_mut() {
        let mean = column.sum() / n as f64;
        let scale = match mode {
            Cmvn::MeanVariance => {
                let var = column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
                let std = var.sqrt();
                if std < 1e-8 {
                    1.0
                } else {
                    1.0 / std
                }
            }
            _ => 1.0,
        };
        column.mapv_inplace(|v| (v - mean) * scale);
    }
}

/// Per-frame intermediate results of [`Mfcc::frames`], for every frame
/// (before voice activity detection and normalisation), in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames {
    /// Log mel filterbank energies, frames × `n_filters`.
    pub log_mel: Array2<f64>,
    /// Log-energy of each frame: `ln(max(Σ x², log_floor))` over the
    /// frame's samples as read (before pre-emphasis and windowing, as
    /// Kaldi's `raw_energy`).
    pub log_energy: Vec<f64>,
    /// Cepstra, log-energy and deltas: frames × [`MfccConfig::dim`].
    pub features: Array2<f64>,
}

/// The MFCC recipe of an [`MfccConfig`], prepared for one sample rate: the
/// window, the FFT plan, the filterbank and the DCT.
///
/// [`Mfcc::compute`] is the whole pipeline, for one utterance:
///
/// 1. pre-emphasis of the whole signal ([`pre_emphasis`]);
/// 2. frames of `window_len` samples every `shift` samples, from the first
///    sample, as many as fit whole (`1 + (n − window_len) / shift`; Kaldi's
///    `snip_edges`); no dithering, no DC removal;
/// 3. per frame: the log-energy of the raw samples; the Hamming window
///    ([`hamming`]); the power spectrum `|X_k|²` of a zero-padded
///    `fft_len`-point FFT (no `1/N` scaling); the mel filterbank
///    ([`mel_filterbank`]); the log (floored at `log_floor`); the
///    orthonormal DCT-II, keeping `n_ceps` cepstra (from `c1`, or `c0`);
///    the log-energy appended;
/// 4. Δ and ΔΔ ([`deltas`]) over all frames;
/// 5. voice activity detection on the log-energy ([`vad_mask`]), keeping
///    the speech frames in time order;
/// 6. normalisation over the kept frames ([`cmvn`]);
/// 7. rounding to `f32`.
///
/// Everything before the rounding is computed in `f64`.
///
/// ```
/// use shardkit_algorithms::frontend::{Mfcc, MfccConfig};
///
/// let rate = 8000;
/// let tone: Vec<f32> = (0..rate)
///     .map(|n| (0.5 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as f32)
///     .collect();
/// let mfcc = Mfcc::new(&MfccConfig::default(), rate)?;
/// assert_eq!((mfcc.window_len(), mfcc.shift(), mfcc.fft_len()), (200, 80, 256));
/// let features = mfcc.compute(&tone)?;
/// assert_eq!(features.dim(), (98, 42)); // 1 + (8000 - 200) / 80 frames, all loud
/// # Ok::<(), shardkit_algorithms::frontend::MfccError>(())
/// ```
#[derive(Clone)]
pub struct Mfcc {
    config: MfccConfig,
    rate: u32,
    window_len: usize,
    shift: usize,
    fft_len: usize,
    window: Vec<f64>,
    filterbank: Array2<f64>,
    /// Per filter: the first bin with a non-zero weight, and the weights
    /// from there on (the filterbank is sparse).
    bands: Vec<(usize, Vec<f64>)>,
    dct: Array2<f64>,
    centers: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl fmt::Debug for Mfcc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfcc")
            .field("rate", &self.rate)
            .field("window_len", &self.window_len)
            .field("shift", &self.shift)
            .field("fft_len", &self.fft_len)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Mfcc {
    /// Prepares `config` for audio sampled at `rate` Hz.
    ///
    /// # Errors
    ///
    /// [`MfccError::Params`]: an invalid setting ([`MfccConfig::check`]),
    /// a window or shift shorter than one sample at this rate
    /// ([`MfccParamsError::SubSample`]) or too long
    /// ([`MfccParamsError::WindowTooLong`]), an FFT shorter than the window
    /// ([`MfccParamsError::FftShorterThanWindow`]), or a filterbank that
    /// does not fit the rate ([`mel_filterbank`]).
    pub fn new(config: &MfccConfig, rate: u32) -> Result<Mfcc, MfccError> {
        config.check()?;
        let samples = |ms: f64| (f64::from(rate) * ms / 1000.0).round();
        let (window_len, shift) = (samples(config.window_ms), samples(config.shift_ms));
        if window_len < 1.0 || shift < 1.0 {
            return Err(MfccParamsError::SubSample {
                rate,
                window_ms: config.window_ms,
                window_samples: window_len,
                shift_ms: config.shift_ms,
                shift_samples: shift,
            }
            .into());
        }
        if window_len > f64::from(u32::MAX) {
            return Err(MfccParamsError::WindowTooLong {
                rate,
                window_ms: config.window_ms,
                window_samples: window_len,
            }
            .into());
        }
        let (window_len, shift) = (window_len as usize, shift as usize);
        let fft_len = match config.fft_len {
            None => window_len.next_power_of_two().max(2),
            Some(n) if n >= window_len && n >= 2 => n,
            Some(n) => {
                return Err(MfccParamsError::FftShorterThanWindow {
                    fft_len: n,
                    window_len,
                    rate,
                }
                .into())
            }
        };
        let nyquist = f64::from(rate) / 2.0;
        let high = config.high_hz.unwrap_or(nyquist);
        let filterbank = mel_filterbank(config.n_filters, fft_len, rate, config.low_hz, high)?;
        let bands = filterbank
            .rows()
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w != 0.0).unwrap_or(0);
                (first, row.slice(s![first..=last]).to_vec())
            })
            .collect();
        let dct = dct_matrix(config.n_filters, config.first_cep(), config.n_ceps);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fft_len);
        Ok(Mfcc {
            config: config.clone(),
            rate,
            window_len,
            shift,
            fft_len,
            window: hamming(window_len),
            filterbank,
            bands,
            dct,
            centers: mel_centers(config.n_filters, config.low_hz, high),
            fft,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MfccConfig {
        &self.config
    }

    /// The sample rate this recipe is prepared for, in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Samples per frame.
    pub fn window_len(&self) -> usize {
        self.window_len
    }

    /// Samples between the starts of consecutive frames.
    pub fn shift(&self) -> usize {
        self.shift
    }

    /// FFT length.
    pub fn fft_len(&self) -> usize {
        self.fft_len
    }

    /// The filterbank, `n_filters × (fft_len / 2 + 1)`.
    pub fn filterbank(&self) -> &Array2<f64> {
        &self.filterbank
    }

    /// The filters' centre frequencies in Hz.
    pub fn centers_hz(&self) -> &[f64] {
        &self.centers
    }

    /// Columns per output frame ([`MfccConfig::dim`]).
    pub fn dim(&self) -> usize {
        self.config.dim()
    }

    /// How many frames `samples` samples give (before voice activity
    /// detection): `1 + (samples − window_len) / shift`, or 0 when shorter
    /// than one window.
    pub fn n_frames(&self, samples: usize) -> usize {
        if samples < self.window_len {
            0
        } else {
            1 + (samples - self.window_len) / self.shift
        }
    }

    fn too_short(&self, samples: usize) -> MfccError {
        MfccError::TooShort {
            samples,
            window: self.window_len,
            window_ms: self.config.window_ms,
            rate: self.rate,
        }
    }

    /// Steps 1–4 of [`Mfcc::compute`] for every frame: log mel energies,
    /// log-energies, and the features before voice activity detection and
    /// normalisation.
    ///
    /// # Errors
    ///
    /// [`MfccError::TooShort`] for fewer samples than one window, unless
    /// `allow_empty` is set (then every array has 0 rows).
    pub fn frames(&self, samples: &[f32]) -> Result<Frames, MfccError> {
        let n_frames = self.n_frames(samples.len());
        if n_frames == 0 && !self.config.allow_empty {
            return Err(self.too_short(samples.len()));
        }
        let config = &self.config;
        let floor = config.log_floor;
        let emphasised = pre_emphasis(samples, config.pre_emphasis);
        let n_filters = config.n_filters;
        let mut log_mel = Array2::zeros((n_frames, n_filters));
        let mut log_energy = Vec::with_capacity(n_frames);
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0; spectrum.len()];
        for t in 0..n_frames {
            let start = t * self.shift;
            let raw = &samples[start..start + self.window_len];
            let energy: f64 = raw.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            log_energy.push(energy.max(floor).ln());
            let frame = &emphasised[start..start + self.window_len];
            for ((slot, &x), &w) in input.iter_mut().zip(frame).zip(&self.window) {
                *slot = x * w;
            }
            input[self.window_len..].fill(0.0);
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("buffers come from the plan, so their lengths match");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            let mut row = log_mel.row_mut(t);
            for (slot, (first, weights)) in row.iter_mut().zip(&self.bands) {
                let e: f64 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum();
                *slot = e.max(floor).ln();
            }
        }
        let static_dim = config.static_dim();
        let mut statics = Array2::zeros((n_frames, static_dim));
        if config.n_ceps > 0 {
            statics
                .slice_mut(s![.., ..config.n_ceps])
                .assign(&log_mel.dot(&self.dct.t()));
        }
        if config.log_energy {
            for (t, &e) in log_energy.iter().enumerate() {
                statics[[t, config.n_ceps]] = e;
            }
        }
        let features = match config.deltas {
            0 => statics,
            order => {
                let d1 = deltas(statics.view(), config.delta_window, config.delta_edges);
                let mut parts = vec![statics.view(), d1.view()];
                let d2;
                if order >= 2 {
                    d2 = deltas(d1.view(), config.delta_window, config.delta_edges);
                    parts.push(d2.view());
                }
                ndarray::concatenate(Axis(1), &parts).expect("parts have the same frames")
            }
        };
        Ok(Frames {
            log_mel,
            log_energy,
            features,
        })
    }

    /// The features of one utterance (see the steps above): kept frames ×
    /// [`Mfcc::dim`], in `f32`.
    ///
    /// # Errors
    ///
    /// [`MfccError::TooShort`] for fewer samples than one window, unless
    /// `allow_empty` is set (then the result has 0 rows).
    pub fn compute(&self, samples: &[f32]) -> Result<Array2<f32>, MfccError> {
        let frames = self.frames(samples)?;
        let mut kept = match &self.config.vad {
            Some(vad) => {
                let mask = vad_mask(&frames.log_energy, vad);
                let rows: Vec<usize> = (0..mask.len()).filter(|&t| mask[t]).collect();
                frames.features.select(Axis(0), &rows)
            }
            None => frames.features,
        };
        cmvn(kept.view_mut(), self.config.cmvn);
        Ok(kept.mapv(|v| v as f32))
    }
}

/// The features of one utterance: [`Mfcc::new`] then [`Mfcc::compute`].
/// To process many files at one rate, prepare the [`Mfcc`] once.
///
/// # Errors
///
/// Those of [`Mfcc::new`] and [`Mfcc::compute`].
///
/// ```
/// use shardkit_algorithms::frontend::{mfcc, MfccConfig, MfccError};
/// let short = vec![0.0f32; 100];
/// let err = mfcc(&short, 8000, &MfccConfig::default()).unwrap_err();
/// assert!(matches!(err, MfccError::TooShort { samples: 100, window: 200, .. }));
/// let empty = mfcc(&short, 8000, &MfccConfig::new().allow_empty(true))?;
/// assert_eq!(empty.dim(), (0, 42));
/// # Ok::<(), MfccError>(())
/// ```
pub fn mfcc(samples: &[f32], rate: u32, config: &MfccConfig) -> Result<Array2<f32>, MfccError> {
    Mfcc::new(config, rate)?.compute(samples)
}
