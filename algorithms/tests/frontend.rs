//! The front end: WAV reading and its refusals, the MFCC recipe against
//! values known in closed form, a NumPy cross-check, and extraction over a
//! file list (errors, keep-going, same bits on any number of threads).

use std::f64::consts::PI;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{s, Array2, Axis};
use shardkit::Executor;
use shardkit_algorithms::features::read_npy;
use shardkit_algorithms::frontend::{
    cmvn, deltas, extract_features, hz_to_mel, mel_filterbank, mfcc, read_wav, vad_mask, Cmvn,
    DeltaEdges, FrontendError, Job, Mfcc, MfccConfig, MfccError, MfccParamsError, VadConfig,
};
use shardkit_testkit::python_with_numpy;

// ---------------------------------------------------------------- helpers

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn sine(rate: u32, hz: f64, amplitude: f64, samples: usize) -> Vec<f32> {
    (0..samples)
        .map(|n| (amplitude * (2.0 * PI * hz * n as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

/// Writes `samples` (in [-1, 1)) as a mono 16-bit WAV file.
fn write_wav16(path: &Path, rate: u32, samples: &[f32]) {
    let mut w = hound::WavWriter::create(path, spec(1, rate, 16, false)).unwrap();
    for &s in samples {
        w.write_sample((f64::from(s) * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

fn write_wav_f32(path: &Path, rate: u32, samples: &[f32]) {
    let mut w = hound::WavWriter::create(path, spec(1, rate, 32, true)).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// A tone sweeping from 300 to 2000 Hz while it grows from 0.1 to 0.5.
fn sweep(rate: u32, samples: usize) -> Vec<f32> {
    let mut phase = 0.0f64;
    (0..samples)
        .map(|n| {
            let progress = n as f64 / samples as f64;
            phase += 2.0 * PI * (300.0 + 1700.0 * progress) / f64::from(rate);
            ((0.1 + 0.4 * progress) * phase.sin()) as f32
        })
        .collect()
}

/// Tone bursts at 8 kHz: `pattern` lists (seconds, loud) segments; silence
/// is a faint deterministic hiss (amplitude 1e-4), not digital zeros.
fn bursts(pattern: &[(f64, bool)]) -> Vec<f32> {
    let mut out = Vec::new();
    for &(seconds, loud) in pattern {
        let n = (seconds * 8000.0) as usize;
        for _ in 0..n {
            let k = out.len() as f64;
            let s = if loud {
                0.4 * (2.0 * PI * 700.0 * k / 8000.0).sin()
                    + 0.2 * (2.0 * PI * 1900.0 * k / 8000.0).sin()
            } else {
                1e-4 * (k * 12.9898).sin()
            };
            out.push(s as f32);
        }
    }
    out
}

fn bits(a: &Array2<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The FSDD recordings beside the repository (`../shared/data/fsdd`), or
/// `SHARDKIT_FSDD`; `None` when absent.
fn fsdd() -> Option<PathBuf> {
    let dir = std::env::var_os("SHARDKIT_FSDD")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fsdd/recordings")
        });
    dir.join("0_george_0.wav").is_file().then_some(dir)
}

// ---------------------------------------------------------------- reference values

#[test]
fn the_tone_peaks_in_the_filter_around_it() {
    let rate = 8000;
    let config = MfccConfig::default();
    let mfcc = Mfcc::new(&config, rate).unwrap();
    let centers = mfcc.centers_hz().to_vec();
    for hz in [250.0, 440.0, 1000.0, 2000.0, 3300.0] {
        let frames = mfcc.frames(&sine(rate, hz, 0.5, 4000)).unwrap();
        let mean = frames.log_mel.mean_axis(Axis(0)).unwrap();
        let peak = (0..mean.len())
            .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))
            .unwrap();
        // The filter whose centre is nearest the tone on the mel scale, or
        // its neighbour when the tone sits between two centres.
        let nearest = (0..centers.len())
            .min_by(|&a, &b| {
                let d = |j: usize| (hz_to_mel(centers[j]) - hz_to_mel(hz)).abs();
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        assert!(
            peak.abs_diff(nearest) <= 1,
            "{hz} Hz peaks in filter {peak} ({:.0} Hz), nearest centre is filter {nearest} ({:.0} Hz)",
            centers[peak],
            centers[nearest]
        );
        // Far from the tone the filters see only the window's leakage.
        let far = if peak > 12 { 0 } else { 23 };
        assert!(mean[peak] - mean[far] > 8.0, "{hz} Hz: {mean}");
    }
}

#[test]
fn log_energy_of_a_known_sine() {
    // 1 kHz at 8 kHz: 8 samples a period, so a 200-sample frame holds 25
    // whole periods and Σ (A sin)² = 200 · A² / 2 exactly.
    let rate = 8000;
    let mfcc = Mfcc::new(&MfccConfig::default(), rate).unwrap();
    let frames = mfcc.frames(&sine(rate, 1000.0, 0.5, 2000)).unwrap();
    let expected = (200.0 * 0.25 / 2.0f64).ln();
    assert_eq!(frames.log_energy.len(), 1 + (2000 - 200) / 80);
    for (t, &e) in frames.log_energy.iter().enumerate() {
        assert!((e - expected).abs() < 1e-6, "frame {t}: {e} vs {expected}");
    }
    // The log-energy is column 13 of the static part, before normalisation.
    assert!((frames.features[[3, 13]] - expected).abs() < 1e-6);
    // Digital silence is floored, not −∞.
    let silence = mfcc.frames(&[0.0; 400]).unwrap();
    assert!(silence
        .log_energy
        .iter()
        .chain(silence.log_mel.iter())
        .all(|&e| e == 1e-10f64.ln()));
}

#[test]
fn deltas_of_a_linear_ramp_are_its_slope() {
    let slope = 0.75;
    let ramp = Array2::from_shape_fn((12, 2), |(t, j)| slope * t as f64 - j as f64);
    let d = deltas(ramp.view(), 2, DeltaEdges::Repeat);
    for t in 2..10 {
        assert!((d[[t, 0]] - slope).abs() < 1e-12 && (d[[t, 1]] - slope).abs() < 1e-12);
    }
    // With the edge frame repeated: Σ n (x_{n} − x_0) / 10 = slope · 5 / 10.
    assert!((d[[0, 0]] - slope / 2.0).abs() < 1e-12);
    assert!((d[[11, 0]] - slope / 2.0).abs() < 1e-12);
    // At frame 1: (1 · (x_2 − x_0) + 2 · (x_3 − x_0)) / 10 = (2 + 6) / 10 · slope.
    assert!((d[[1, 0]] - slope * 0.8).abs() < 1e-12);
}

#[test]
fn zero_edge_deltas_match_the_regression_on_a_zero_padded_copy() {
    // Independent computation: pad with N zero frames on each side, apply
    // the regression where every neighbour exists, drop the padding.
    let x = Array2::from_shape_fn((9, 3), |(t, j)| {
        ((t * 5 + j * 7) % 11) as f64 - 3.0 + j as f64
    });
    for window in 1..=4 {
        let n = window;
        let mut padded = Array2::zeros((x.nrows() + 2 * n, x.ncols()));
        padded.slice_mut(s![n..n + x.nrows(), ..]).assign(&x);
        let denom: f64 = 2.0 * (1..=n).map(|k| (k * k) as f64).sum::<f64>();
        let d = deltas(x.view(), window, DeltaEdges::Zero);
        for t in 0..x.nrows() {
            for j in 0..x.ncols() {
                let mut want = 0.0;
                for k in 1..=n {
                    want += k as f64 * (padded[[t + n + k, j]] - padded[[t + n - k, j]]);
                }
                want /= denom;
                assert!((d[[t, j]] - want).abs() < 1e-12, "N={n} t={t} j={j}");
            }
        }
        // Away from the edges both kinds agree.
        let r = deltas(x.view(), window, DeltaEdges::Repeat);
        for t in n..x.nrows().saturating_sub(n) {
            assert_eq!(d.row(t), r.row(t));
        }
    }
    // Through the extractor: zero edges change only the first and last
    // frames' deltas, and the statics not at all.
    let wav = sine(8000, 440.0, 0.5, 4000);
    let rep = mfcc(&wav, 8000, &MfccConfig::new().vad(None).cmvn(Cmvn::None)).unwrap();
    let zero = mfcc(
        &wav,
        8000,
        &MfccConfig::new()
            .vad(None)
            .cmvn(Cmvn::None)
            .delta_edges(DeltaEdges::Zero),
    )
    .unwrap();
    let frames = rep.nrows();
    assert_eq!(rep.slice(s![.., ..14]), zero.slice(s![.., ..14]));
    assert_eq!(
        rep.slice(s![4..frames - 4, ..]),
        zero.slice(s![4..frames - 4, ..])
    );
    assert_ne!(rep.row(0), zero.row(0));
}

#[test]
fn cmvn_gives_mean_zero_and_variance_one() {
    let mut x = Array2::from_shape_fn((50, 4), |(t, j)| {
        ((t * 7 + j * 3) % 11) as f64 * (j + 1) as f64 + 100.0 * j as f64
    });
    cmvn(x.view_mut(), Cmvn::MeanVariance);
    for column in x.columns() {
        let mean = column.mean().unwrap();
        let var = column.mapv(|v| v * v).mean().unwrap() - mean * mean;
        assert!(
            mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12,
            "{mean} {var}"
        );
    }
    let mut y = Array2::from_shape_fn((5, 2), |(t, _)| t as f64 + 10.0);
    cmvn(y.view_mut(), Cmvn::Mean);
    assert_eq!(y.column(0).to_vec(), [-2.0, -1.0, 0.0, 1.0, 2.0]);
    // The whole pipeline: every output column has mean 0 and variance 1.
    let features = mfcc(&sweep(8000, 6000), 8000, &MfccConfig::default()).unwrap();
    for (j, column) in features.columns().into_iter().enumerate() {
        let c = column.mapv(f64::from);
        let mean = c.mean().unwrap();
        let var = c.mapv(|v| (v - mean) * (v - mean)).mean().unwrap();
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "column {j}: {mean} {var}"
        );
    }
}

#[test]
fn vad_drops_the_silence_between_tone_bursts() {
    let rate = 8000;
    let samples = bursts(&[(0.3, true), (0.4, false), (0.3, true)]);
    let config = MfccConfig::default();
    let mfcc = Mfcc::new(&config, rate).unwrap();
    let frames = mfcc.frames(&samples).unwrap();
    let mask = vad_mask(&frames.log_energy, &VadConfig::default());
    assert_eq!(mask.len(), 98);
    for (t, &keep) in mask.iter().enumerate() {
        let (start, end) = (t * 80, t * 80 + 200);
        if end <= 2400 || start >= 5600 {
            assert!(keep, "frame {t} is all tone but was dropped");
        }
        if start >= 2400 && end <= 5600 {
            assert!(!keep, "frame {t} is all silence but was kept");
        }
    }
    let kept = mask.iter().filter(|&&k| k).count();
    assert!((58..=64).contains(&kept), "{kept} frames kept");
    assert_eq!(mfcc.compute(&samples).unwrap().nrows(), kept);
    // Without VAD every frame stays.
    let all = config.vad(None);
    assert_eq!(
        Mfcc::new(&all, rate)
            .unwrap()
            .compute(&samples)
            .unwrap()
            .nrows(),
        98
    );
}

#[test]
fn vad_smoothing_removes_isolated_frames_and_keeps_the_loudest() {
    let e = [0.0, -20.0, 0.0, 0.0, -20.0, -20.0, 0.5, -20.0, -20.0];
    let plain = VadConfig::default();
    assert_eq!(
        vad_mask(&e, &plain),
        [true, false, true, true, false, false, true, false, false]
    );
    let smooth = plain.smooth(1);
    // Frame 1's dip is filled; frame 6 is isolated but is the loudest.
    assert_eq!(
        vad_mask(&e, &smooth),
        [true, true, true, true, false, false, true, false, false]
    );
    assert!(vad_mask(&[], &plain).is_empty());
}

#[test]
fn filterbank_follows_the_sample_rate() {
    let config = MfccConfig::default();
    let at8 = Mfcc::new(&config, 8000).unwrap();
    let at16 = Mfcc::new(&config, 16000).unwrap();
    assert_eq!(
        (at8.window_len(), at8.shift(), at8.fft_len()),
        (200, 80, 256)
    );
    assert_eq!(
        (at16.window_len(), at16.shift(), at16.fft_len()),
        (400, 160, 512)
    );
    assert_eq!(at16.filterbank().dim(), (24, 257));
    // The last filter ends at Nyquist: 8 kHz at 16 kHz, 4 kHz at 8 kHz.
    assert!(at16.centers_hz()[23] > 6500.0 && at8.centers_hz()[23] < 3700.0);
    // Each filter peaks where its centre is.
    for (j, row) in at16.filterbank().rows().into_iter().enumerate() {
        let k = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        let bin_hz = k as f64 * 16000.0 / 512.0;
        assert!(
            (bin_hz - at16.centers_hz()[j]).abs() <= 16000.0 / 512.0,
            "filter {j}"
        );
    }
    // A 16 kHz file gives 42 columns too.
    let f = at16.compute(&sine(16000, 500.0, 0.3, 16000)).unwrap();
    assert_eq!(f.dim(), (98, 42));
    // The 8 kHz band on 16 kHz audio.
    let band = MfccConfig::new().high_hz(Some(4000.0));
    let narrow = Mfcc::new(&band, 16000).unwrap();
    assert!((narrow.centers_hz()[23] - at8.centers_hz()[23]).abs() < 1e-9);
}

#[test]
fn settings_that_cannot_work_say_why() {
    use MfccParamsError as P;
    let d = MfccConfig::new;
    // (configuration, the rule it breaks whatever the rate, the message)
    let cases: Vec<(MfccConfig, P, &str)> = vec![
        (
            d().pre_emphasis(f64::NAN),
            P::NonFinite {
                field: "pre_emphasis",
                value: f64::NAN,
            },
            "`pre_emphasis` is NaN; it must be finite",
        ),
        (
            d().high_hz(Some(f64::INFINITY)),
            P::NonFinite {
                field: "high_hz",
                value: f64::INFINITY,
            },
            "`high_hz` is inf; it must be finite",
        ),
        (
            d().shift_ms(0.0),
            P::Durations {
                window_ms: 25.0,
                shift_ms: 0.0,
            },
            "`window_ms` (25) and `shift_ms` (0) must be positive",
        ),
        (
            d().pre_emphasis(1.0),
            P::PreEmphasis(1.0),
            "`pre_emphasis` is 1; use a value in [0, 1) (0.97 is usual, 0 turns it off)",
        ),
        (
            d().n_filters(0),
            P::NoFilters,
            "`n_filters` is 0; use at least one mel filter (24 is usual at 8 kHz)",
        ),
        (
            d().n_ceps(0).log_energy(false),
            P::NoFeatures,
            "`n_ceps` is 0 and `log_energy` is off: no feature is left; \
             keep at least one cepstrum or turn `log_energy` on",
        ),
        (
            d().n_filters(10),
            P::TooFewFilters {
                n_ceps: 13,
                first_cep: 1,
                n_filters: 10,
            },
            "13 cepstra from c1 need at least 14 mel filters, but `n_filters` is 10",
        ),
        (
            d().low_hz(-1.0),
            P::NegativeLowHz(-1.0),
            "`low_hz` is -1; it cannot be negative",
        ),
        (
            d().low_hz(300.0).high_hz(Some(300.0)),
            P::HighNotAboveLow {
                low_hz: 300.0,
                high_hz: 300.0,
            },
            "`high_hz` (300) must be above `low_hz` (300)",
        ),
        (
            d().deltas(3),
            P::Deltas(3),
            "`deltas` is 3; use 0 (static only), 1 (Δ) or 2 (Δ and ΔΔ)",
        ),
        (
            d().delta_window(0),
            P::DeltaWindow,
            "`delta_window` is 0; deltas need a half-width of at least 1 (2 is usual)",
        ),
        (
            d().log_floor(0.0),
            P::LogFloor(0.0),
            "`log_floor` is 0; it must be positive and finite (1e-10 is usual)",
        ),
        (
            d().vad(Some(VadConfig::new().threshold_db(-3.0))),
            P::VadThreshold(-3.0),
            "`vad.threshold_db` is -3; use a non-negative number of decibels (30 is usual)",
        ),
    ];
    for (config, rule, says) in cases {
        // NaN is not equal to itself: compare the rules through their Debug.
        let rule = format!("{rule:?}");
        let found = config.check().unwrap_err();
        assert_eq!(format!("{found:?}"), rule);
        assert_eq!(found.to_string(), says);
        // `Mfcc::new` checks first, and says the same.
        let err = Mfcc::new(&config, 8000).unwrap_err();
        assert!(
            matches!(&err, MfccError::Params(p) if format!("{p:?}") == rule),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("invalid MFCC configuration: {says}")
        );
    }
}

#[test]
fn configurations_that_do_not_fit_the_rate_say_why() {
    use MfccParamsError as P;
    let d = MfccConfig::new;
    // (configuration, rate, the rule it breaks at that rate, the message)
    let cases: Vec<(MfccConfig, u32, P, &str)> = vec![
        (
            d(),
            0,
            P::SubSample {
                rate: 0,
                window_ms: 25.0,
                window_samples: 0.0,
                shift_ms: 10.0,
                shift_samples: 0.0,
            },
            "at 0 Hz a 25 ms window is 0 samples and a 10 ms shift is 0 samples; \
             both must be at least one sample",
        ),
        (
            d().window_ms(1e12),
            8000,
            P::WindowTooLong {
                rate: 8000,
                window_ms: 1e12,
                window_samples: 8e12,
            },
            "a 1000000000000 ms window at 8000 Hz is 8000000000000 samples; that is too long; \
             use a shorter `window_ms`",
        ),
        (
            d().fft_len(Some(128)),
            8000,
            P::FftShorterThanWindow {
                fft_len: 128,
                window_len: 200,
                rate: 8000,
            },
            "`fft_len` 128 is shorter than the window (200 samples at 8000 Hz); \
             leave it unset for the next power of two",
        ),
        (
            d().high_hz(Some(5000.0)),
            8000,
            P::AboveNyquist {
                high_hz: 5000.0,
                nyquist: 4000.0,
                rate: 8000,
            },
            "the filterbank's upper edge 5000 Hz is above the Nyquist frequency 4000 Hz \
             of audio sampled at 8000 Hz; lower `high_hz` or leave it unset",
        ),
        (
            d().low_hz(4000.0),
            8000,
            P::LowEdge {
                low_hz: 4000.0,
                high_hz: 4000.0,
            },
            "the filterbank's lower edge 4000 Hz must be in [0, 4000) Hz",
        ),
    ];
    for (config, rate, rule, says) in cases {
        assert_eq!(config.check(), Ok(()));
        let err = Mfcc::new(&config, rate).unwrap_err();
        assert_eq!(err, MfccError::Params(rule));
        assert_eq!(
            err.to_string(),
            format!("invalid MFCC configuration: {says}")
        );
    }
    // A filter too narrow for the FFT's resolution.
    let err = Mfcc::new(&d().n_filters(200), 8000).unwrap_err();
    assert!(
        matches!(
            err,
            MfccError::Params(P::EmptyFilter {
                fft_len: 256,
                rate: 8000,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(
            "covers no FFT bin: a 256-point FFT at 8000 Hz has a bin every 31.25 Hz; \
             use fewer filters, a higher `low_hz` or a larger `fft_len`"
        ),
        "{err}"
    );
    // `mel_filterbank` on its own refuses an FFT with no bins.
    assert_eq!(
        mel_filterbank(4, 1, 8000, 20.0, 4000.0).unwrap_err(),
        P::FftNoBins { fft_len: 1 }
    );
    assert_eq!(
        P::FftNoBins { fft_len: 1 }.to_string(),
        "an FFT of 1 points has no frequency bins; use at least 2 points"
    );
}

#[test]
fn audio_shorter_than_a_window_is_an_error_or_no_frames() {
    let short = sine(8000, 300.0, 0.5, 199);
    let err = mfcc(&short, 8000, &MfccConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "199 samples is shorter than one analysis window of 200 samples (25 ms at 8000 Hz); \
         set `allow_empty` to get 0 frames instead"
    );
    let config = MfccConfig::new().allow_empty(true);
    assert_eq!(mfcc(&short, 8000, &config).unwrap().dim(), (0, 42));
    assert_eq!(mfcc(&[], 8000, &config).unwrap().dim(), (0, 42));
    // Exactly one window gives one frame (one kept frame normalises to 0).
    let one = mfcc(&sine(8000, 300.0, 0.5, 200), 8000, &MfccConfig::default()).unwrap();
    assert_eq!(one.dim(), (1, 42));
    assert!(one.iter().all(|&v| v == 0.0));
}

// ---------------------------------------------------------------- WAV files

#[test]
fn wav_round_trips_in_every_accepted_format() {
    let dir = tmp();
    let tone = sine(8000, 440.0, 0.5, 800);

    let p16 = dir.path().join("pcm16.wav");
    write_wav16(&p16, 8000, &tone);
    let wav = read_wav(&p16).unwrap();
    assert_eq!((wav.rate, wav.samples.len()), (8000, 800));
    assert!((wav.duration() - 0.1).abs() < 1e-12);
    for (a, b) in wav.samples.iter().zip(&tone) {
        assert!((a - b).abs() <= 0.5 / 32768.0 + 1e-7, "{a} {b}");
    }

    let pf = dir.path().join("float.wav");
    write_wav_f32(&pf, 16000, &tone);
    let wav = read_wav(&pf).unwrap();
    assert_eq!(wav.rate, 16000);
    assert_eq!(wav.samples, tone);

    for bits in [24u16, 32] {
        let p = dir.path().join(format!("pcm{bits}.wav"));
        let mut w = hound::WavWriter::create(&p, spec(1, 8000, bits, false)).unwrap();
        let full = 1i64 << (bits - 1);
        for v in [0, full / 2, -full / 2, -full, full - 1] {
            w.write_sample(v as i32).unwrap();
        }
        w.finalize().unwrap();
        let wav = read_wav(&p).unwrap();
        assert_eq!(
            &wav.samples[..4],
            [0.0, 0.5, -0.5, -1.0],
            "{bits}-bit samples scale into [-1, 1)"
        );
        // Full scale minus one LSB: below 1 at 24 bits; 32 bits rounds to 1 in f32.
        assert!(wav.samples[4] <= 1.0 && wav.samples[4] > 0.999);
    }

    // An empty data chunk reads as no samples.
    let empty = dir.path().join("empty.wav");
    write_wav16(&empty, 8000, &[]);
    assert!(read_wav(&empty).unwrap().samples.is_empty());
}

/// The error for `name`, checked to start with its path.
fn refused(path: &Path) -> (FrontendError, String) {
    let err = read_wav(path).expect_err("should be refused");
    let text = err.to_string();
    assert!(
        text.starts_with(&path.display().to_string()),
        "the message names the file: {text}"
    );
    assert_eq!(err.path(), Some(path));
    (err, text)
}

#[test]
fn wav_refusals_name_the_file_and_what_it_holds() {
    let dir = tmp();
    let d = dir.path();

    let stereo = d.join("stereo.wav");
    let mut w = hound::WavWriter::create(&stereo, spec(2, 8000, 16, false)).unwrap();
    for _ in 0..10 {
        w.write_sample(1i16).unwrap();
    }
    w.finalize().unwrap();
    let (err, text) = refused(&stereo);
    assert!(matches!(err, FrontendError::Unsupported { .. }));
    assert!(text.contains("2 channels (stereo)"), "{text}");
    assert!(text.contains("accepted: mono"), "{text}");

    let eight = d.join("eight.wav");
    let mut w = hound::WavWriter::create(&eight, spec(1, 8000, 8, false)).unwrap();
    w.write_sample(3i8).unwrap();
    w.finalize().unwrap();
    let (_, text) = refused(&eight);
    assert!(
        text.contains("unsupported WAV format: 8-bit integer PCM"),
        "{text}"
    );

    // μ-law: a 16-bit file with its format tag changed (offset 20).
    let ulaw = d.join("ulaw.wav");
    write_wav16(&ulaw, 8000, &[0.0; 10]);
    let mut bytes = fs::read(&ulaw).unwrap();
    bytes[20] = 7;
    fs::write(&ulaw, &bytes).unwrap();
    let (_, text) = refused(&ulaw);
    assert!(text.contains("format tag 0x0007 (μ-law)"), "{text}");

    let truncated = d.join("truncated.wav");
    write_wav16(&truncated, 8000, &[0.25; 100]);
    let bytes = fs::read(&truncated).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() - 51]).unwrap();
    let (err, text) = refused(&truncated);
    assert!(
        matches!(
            err,
            FrontendError::Truncated {
                found: 74,
                expected: 100,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains("truncated"), "{text}");

    let short_header = d.join("header.wav");
    fs::write(&short_header, &bytes[..30]).unwrap();
    let (err, _) = refused(&short_header);
    assert!(matches!(err, FrontendError::NotWav { .. }), "{err:?}");

    let text_file = d.join("notes.wav");
    fs::write(&text_file, "these are not samples\n").unwrap();
    let (err, text) = refused(&text_file);
    assert!(matches!(err, FrontendError::NotWav { .. }));
    assert!(
        text.contains("starts with \"thes\" instead of \"RIFF\""),
        "{text}"
    );

    let nothing = d.join("nothing.wav");
    fs::write(&nothing, b"").unwrap();
    let (_, text) = refused(&nothing);
    assert!(text.contains("the file is empty"), "{text}");

    let missing = d.join("missing.wav");
    let (err, text) = refused(&missing);
    assert!(matches!(err, FrontendError::Io { .. }));
    assert!(text.contains("cannot read"), "{text}");

    let nan = d.join("nan.wav");
    write_wav_f32(&nan, 8000, &[0.0, 0.5, f32::NAN]);
    let (err, _) = refused(&nan);
    assert!(
        matches!(err, FrontendError::NonFinite { index: 2, .. }),
        "{err:?}"
    );
}

#[test]
fn no_panic_on_mangled_headers() {
    let dir = tmp();
    let path = dir.path().join("x.wav");
    write_wav16(&path, 8000, &sine(8000, 300.0, 0.5, 64));
    let good = fs::read(&path).unwrap();
    // Every single-byte change in the header, and every truncation: an
    // answer, never a panic.
    for i in 0..44 {
        for v in [0u8, 1, 0x7f, 0xff] {
            let mut bytes = good.clone();
            bytes[i] = v;
            fs::write(&path, &bytes).unwrap();
            let _ = read_wav(&path);
        }
    }
    for len in 0..good.len() {
        fs::write(&path, &good[..len]).unwrap();
        let _ = read_wav(&path);
    }
}

// ---------------------------------------------------------------- NumPy cross-check

/// Runs the peer on `wav` with `args`; returns its features.
fn peer(python: &str, wav: &Path, out: &Path, args: &[&str]) -> Array2<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/peers/mfcc_numpy.py");
    let run = Command::new(python)
        .arg(&script)
        .arg(wav)
        .arg(out)
        .args(args)
        .output()
        .expect("run the numpy peer");
    assert!(
        run.status.success(),
        "numpy peer failed on {}: {}",
        wav.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    // Read as float64, not through `read_npy` (which rounds to f32).
    let file = fs::File::open(out).expect("the peer's output");
    ndarray_npy::ReadNpyExt::read_npy(file).expect("a 2-D float64 array")
}

/// The largest `|ours − theirs| / max(|theirs|, 1)`.
fn max_rel_diff(ours: &Array2<f32>, theirs: &Array2<f64>) -> f64 {
    assert_eq!(ours.dim(), theirs.dim());
    ours.iter()
        .zip(theirs)
        .map(|(&a, &b)| (f64::from(a) - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn numpy_peer_agrees() {
    let Some(python) = python_with_numpy() else {
        eprintln!(
            "skipped: no python3 with numpy (set SHARDKIT_TEST_PYTHON to one to run this check)"
        );
        return;
    };
    let dir = tmp();
    let mut inputs = vec![];
    let synthetic = dir.path().join("bursts.wav");
    write_wav16(
        &synthetic,
        8000,
        &bursts(&[(0.2, false), (0.4, true), (0.3, false), (0.3, true)]),
    );
    inputs.push(synthetic);
    let float16k = dir.path().join("float16k.wav");
    write_wav_f32(&float16k, 16000, &sine(16000, 1234.5, 0.3, 9000));
    inputs.push(float16k);
    match fsdd() {
        Some(fsdd) => inputs.push(fsdd.join("7_jackson_3.wav")),
        None => eprintln!(
            "note: FSDD not found beside the repository; cross-checking generated WAVs only"
        ),
    }
    let raw = MfccConfig::new().vad(None).cmvn(Cmvn::None);
    let variants: [(&str, MfccConfig, &[&str]); 3] = [
        ("defaults", MfccConfig::default(), &[]),
        ("no VAD, no CMVN", raw, &["--no-vad", "--cmvn", "none"]),
        (
            "c0, 40 filters, smoothed VAD, mean only",
            MfccConfig::new()
                .include_c0(true)
                .n_filters(40)
                .n_ceps(20)
                .low_hz(60.0)
                .vad(Some(VadConfig::new().threshold_db(20.0).smooth(2)))
                .cmvn(Cmvn::Mean),
            &[
                "--include-c0",
                "--n-filters",
                "40",
                "--n-ceps",
                "20",
                "--low-hz",
                "60",
                "--threshold-db",
                "20",
                "--smooth",
                "2",
                "--cmvn",
                "mean",
            ],
        ),
    ];
    for wav in &inputs {
        let audio = read_wav(wav).unwrap();
        for (name, config, args) in &variants {
            let ours = mfcc(&audio.samples, audio.rate, config).unwrap();
            let theirs = peer(&python, wav, &dir.path().join("peer.npy"), args);
            let rel = max_rel_diff(&ours, &theirs);
            eprintln!(
                "{} [{name}]: {} × {}, max relative difference {rel:.2e}",
                wav.file_name().unwrap().to_string_lossy(),
                ours.nrows(),
                ours.ncols()
            );
            assert!(rel < 1e-4, "{} [{name}]: {rel}", wav.display());
        }
    }
}

// ---------------------------------------------------------------- extraction over a list

/// Five good WAVs (one at 16 kHz) and their jobs into `out`.
fn corpus(dir: &Path, out: &Path) -> Vec<Job> {
    let mut jobs = vec![];
    for (i, seconds) in [0.5, 0.3, 0.8, 0.25, 0.6].into_iter().enumerate() {
        let wav = dir.join(format!("utt{i}.wav"));
        let samples = bursts(&[(seconds, true), (0.2, false), (0.1, true)]);
        if i == 3 {
            let up: Vec<f32> = samples.iter().flat_map(|&s| [s, s]).collect();
            write_wav16(&wav, 16000, &up);
        } else {
            write_wav16(&wav, 8000, &samples);
        }
        jobs.push(Job::into_dir(wav, out));
    }
    jobs
}

#[test]
fn extraction_writes_one_npy_per_file_with_the_same_bits_on_any_threads() {
    let dir = tmp();
    // The corpus mixes 8 and 16 kHz files: one band for all of them.
    let config = MfccConfig::default().high_hz(Some(4000.0));
    let mut outputs = vec![];
    for threads in [1, 2, 3] {
        let out = dir.path().join(format!("out{threads}"));
        fs::create_dir(&out).unwrap();
        let jobs = corpus(dir.path(), &out);
        let report = Executor::threads(threads)
            .unwrap()
            .install(|| extract_features(&jobs, &config, false))
            .unwrap();
        assert_eq!(report.written.len(), 5);
        assert!(report.failed.is_empty());
        let mut files = vec![];
        for (job, written) in jobs.iter().zip(&report.written) {
            assert_eq!(written.wav, job.wav);
            let features = read_npy(&job.npy).unwrap();
            assert_eq!(features.dim(), (written.kept, 42));
            assert!(written.kept <= written.frames && written.kept > 0);
            // Each file's features are `mfcc` of its samples.
            let wav = read_wav(&job.wav).unwrap();
            assert_eq!(
                bits(&features),
                bits(&mfcc(&wav.samples, wav.rate, &config).unwrap())
            );
            files.push(fs::read(&job.npy).unwrap());
        }
        assert_eq!(
            report.frames(),
            report.written.iter().map(|w| w.frames).sum()
        );
        outputs.push(files);
    }
    assert_eq!(outputs[0], outputs[1], "1 and 2 threads");
    assert_eq!(outputs[0], outputs[2], "1 and 3 threads");
    let serial = dir.path().join("serial");
    fs::create_dir(&serial).unwrap();
    let jobs = corpus(dir.path(), &serial);
    Executor::serial()
        .install(|| extract_features(&jobs, &config, false))
        .unwrap();
    let files: Vec<Vec<u8>> = jobs.iter().map(|j| fs::read(&j.npy).unwrap()).collect();
    assert_eq!(outputs[0], files, "serial and 1 thread");
}

#[test]
fn a_bad_file_stops_the_list_or_is_reported_with_keep_going() {
    let dir = tmp();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut jobs = corpus(dir.path(), &out);
    let bad = dir.path().join("stereo.wav");
    let mut w = hound::WavWriter::create(&bad, spec(2, 8000, 16, false)).unwrap();
    for _ in 0..4000 {
        w.write_sample(100i16).unwrap();
    }
    w.finalize().unwrap();
    jobs.insert(2, Job::into_dir(&bad, &out));
    let short = dir.path().join("short.wav");
    write_wav16(&short, 8000, &[0.1; 150]);
    jobs.push(Job::into_dir(&short, &out));
    // The corpus mixes 8 and 16 kHz files: one band for all of them.
    let mixed = MfccConfig::default().high_hz(Some(4000.0));

    for threads in [1, 2] {
        for f in fs::read_dir(&out).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
        let pool = Executor::threads(threads).unwrap();
        let err = pool
            .install(|| extract_features(&jobs, &mixed, false))
            .unwrap_err();
        assert!(matches!(err, FrontendError::Unsupported { .. }), "{err:?}");
        assert_eq!(err.path(), Some(bad.as_path()));
        // No partial or temporary file: only complete .npy files of other
        // inputs, none for the bad one.
        let names = listing(&out);
        assert!(!names.contains(&"stereo.npy".to_string()));
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".npy") && !n.starts_with('.')),
            "{names:?}"
        );
        for name in &names {
            read_npy(out.join(name)).unwrap();
        }

        let report = pool
            .install(|| extract_features(&jobs, &mixed, true))
            .unwrap();
        assert_eq!(report.written.len(), 5, "threads {threads}");
        let failed: Vec<&Path> = report.failed.iter().map(|f| f.wav.as_path()).collect();
        assert_eq!(failed, [bad.as_path(), short.as_path()]);
        assert!(report.failed[0]
            .error
            .starts_with(&bad.display().to_string()));
        assert!(report.failed[0].error.contains("2 channels"));
        assert!(report.failed[1]
            .error
            .contains("shorter than one analysis window"));
        assert_eq!(
            listing(&out),
            ["utt0.npy", "utt1.npy", "utt2.npy", "utt3.npy", "utt4.npy"]
        );
    }
}

#[test]
fn list_level_mistakes_are_caught_before_any_file_is_touched() {
    let dir = tmp();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut jobs = corpus(dir.path(), &out);
    jobs.push(Job::into_dir(dir.path().join("other/utt1.wav"), &out));
    let err = extract_features(&jobs, &MfccConfig::default(), true).unwrap_err();
    assert!(
        matches!(err, FrontendError::DuplicateOutput { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("utt1.npy: is the output of both"),
        "{err}"
    );
    jobs.pop();
    let bad = MfccConfig::new().n_filters(0);
    let err = extract_features(&jobs, &bad, true).unwrap_err();
    assert!(
        matches!(err, FrontendError::Config(MfccParamsError::NoFilters)),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "invalid MFCC configuration: `n_filters` is 0; use at least one mel filter (24 is usual at 8 kHz)"
    );
    assert!(listing(&out).is_empty());
    // A file whose rate the configuration does not fit fails alone.
    let narrow = MfccConfig::new().high_hz(Some(6000.0));
    let report = extract_features(&jobs, &narrow, true).unwrap();
    assert_eq!(report.written.len(), 1); // the 16 kHz file
    assert_eq!(report.failed.len(), 4);
    assert!(report.failed[0]
        .error
        .contains("above the Nyquist frequency"));
    // An empty list is an empty report.
    assert_eq!(
        extract_features(&[], &MfccConfig::default(), false).unwrap(),
        Default::default()
    );
}

#[test]
fn extraction_on_fsdd_when_present() {
    let Some(fsdd) = fsdd() else {
        eprintln!("skipped: FSDD not found beside the repository (or set SHARDKIT_FSDD)");
        return;
    };
    let dir = tmp();
    let jobs: Vec<Job> = ["0_george_0", "3_jackson_12", "9_theo_40", "5_nicolas_7"]
        .iter()
        .map(|n| Job::into_dir(fsdd.join(format!("{n}.wav")), dir.path()))
        .collect();
    let report = extract_features(&jobs, &MfccConfig::default(), false).unwrap();
    for w in &report.written {
        assert!(w.kept > 5 && w.kept <= w.frames, "{w:?}");
        let f = read_npy(&w.npy).unwrap();
        assert_eq!(f.ncols(), 42);
        assert!(f.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn errors_and_recipes_are_send_sync() {
    fn assert_traits<T: Send + Sync + 'static>() {}
    assert_traits::<FrontendError>();
    assert_traits::<MfccError>();
    assert_traits::<Mfcc>();
    assert_traits::<MfccConfig>();
    assert_traits::<MfccParamsError>();
    assert_traits::<VadConfig>();
    let _ = mel_filterbank;
}

#[test]
fn configurations_round_trip_through_toml_and_read_one_line() {
    for config in [
        MfccConfig::new(),
        MfccConfig::new()
            .vad(None)
            .delta_edges(DeltaEdges::Zero)
            .cmvn(Cmvn::Mean)
            .high_hz(Some(3800.0))
            .n_filters(40),
        MfccConfig::new().vad(Some(VadConfig::new().threshold_db(40.0).smooth(2))),
    ] {
        let text = toml::to_string(&config).unwrap();
        let back: MfccConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
    }
    // A partial file takes the defaults for the rest; the words are the
    // setters' names.
    let partial: MfccConfig =
        toml::from_str("delta_edges = \"zero\"\nvad = \"none\"\ncmvn = \"mean\"\n").unwrap();
    assert_eq!(
        partial,
        MfccConfig::new()
            .delta_edges(DeltaEdges::Zero)
            .vad(None)
            .cmvn(Cmvn::Mean)
    );
    assert_eq!(
        partial.to_string(),
        "24 filters 20 Hz–Nyquist, c1–c13 + log-energy, Δ ΔΔ ±2 (zero edges), no VAD, CMN"
    );
    // Typos and bad words are errors that say what is wrong.
    let e = toml::from_str::<MfccConfig>("n_filter = 24\n").unwrap_err();
    assert!(e.to_string().contains("n_filter"), "{e}");
    let e = toml::from_str::<MfccConfig>("vad = \"off\"\n").unwrap_err();
    assert!(e.to_string().contains("\"none\""), "{e}");
    let e = toml::from_str::<MfccConfig>("cmvn = \"full\"\n").unwrap_err();
    assert!(e.to_string().contains("mean-variance"), "{e}");
}

#[test]
fn mixed_sample_rates_are_refused_before_any_file_unless_the_band_is_fixed() {
    let dir = tmp();
    let mut jobs = Vec::new();
    for (name, rate) in [("a8k", 8000), ("b16k", 16000), ("c8k", 8000)] {
        let wav = dir.path().join(format!("{name}.wav"));
        write_wav16(&wav, rate, &sine(rate, 440.0, 0.3, rate as usize / 2));
        jobs.push(Job::into_dir(&wav, dir.path()));
    }
    let err = extract_features(&jobs, &MfccConfig::new(), false).unwrap_err();
    assert!(matches!(err, FrontendError::MixedRates { .. }), "{err:?}");
    let text = err.to_string();
    for want in [
        "2 sample rates",
        "2 at 8000 Hz, e.g.",
        "a8k.wav",
        "1 at 16000 Hz",
        "b16k.wav",
        "high_hz, e.g. 4000 Hz",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    // Nothing was written.
    assert!(jobs.iter().all(|j| !j.npy.exists()));
    // With the band fixed, the same files are extracted alike.
    let fixed = MfccConfig::new().high_hz(Some(4000.0));
    let report = extract_features(&jobs, &fixed, false).unwrap();
    assert_eq!(report.written.len(), 3);
}
