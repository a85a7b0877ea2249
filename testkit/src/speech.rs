//! A generated speech corpus in the layout of the Free Spoken Digit Dataset
//! (`{digit}_{speaker}_{index}.wav`, 8 kHz, mono, 16-bit), from a
//! documented source-filter model of speakers. Deterministic: the same
//! seed writes the same bytes.
//!
//! # The generative model
//!
//! - **Speaker** `k` has a pitch `f0 ∈ [85, 230]` Hz, a vocal-tract factor
//!   `α ∈ [0.82, 1.18]` that scales every formant (shorter tracts, higher
//!   formants), per-formant offsets of ±6 %, formant bandwidths, a glottal
//!   spectral tilt and a breathiness (noise share of the source).
//! - **Digit** `j` is a fixed sequence of two or three vowels, each a
//!   triple of formant frequencies (F1, F2, F3) from a table of ten
//!   English-like vowels.
//! - **Recording** `(digit, speaker, index)`: 150–250 ms of near silence,
//!   the vowels (120–220 ms each, formants gliding between neighbours),
//!   then 150–250 ms of near silence. The session varies the pitch (±8 %,
//!   plus 1 % jitter per period), the speaking rate, the level (±6 dB), a
//!   one-pole channel filter, and the background noise (35–50 dB below the
//!   speech).
//!
//! A glottal pulse train (or noise, by breathiness) is shaped by the
//! tilt, then passes through three resonators in cascade at the speaker's
//! formants; the channel filter and noise are applied last.
//!
//! ```
//! use shardkit_testkit::speech::{utterance, Speaker, RATE};
//!
//! let samples = utterance(7, 0, &Speaker::new(7, 0), 3, 0);
//! let seconds = samples.len() as f64 / f64::from(RATE);
//! assert!(seconds > 0.5 && seconds < 1.5);
//! ```

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use crate::rng::Rng;

/// Formants (Hz) of ten vowels: i, ɪ, e, ɛ, æ, ɑ, ɔ, o, ʊ, u.
const VOWELS: [[f64; 3]; 10] = [
    [270.0, 2290.0, 3010.0],
    [390.0, 1990.0, 2550.0],
    [480.0, 2200.0, 2700.0],
    [530.0, 1840.0, 2480.0],
    [660.0, 1720.0, 2410.0],
    [730.0, 1090.0, 2440.0],
    [570.0, 840.0, 2410.0],
    [500.0, 900.0, 2350.0],
    [440.0, 1020.0, 2240.0],
    [300.0, 870.0, 2240.0],
];

/// The vowel sequence of each digit.
const DIGITS: [&[usize]; 10] = [
    &[2, 9, 7],
    &[5, 8],
    &[0, 9],
    &[1, 0, 3],
    &[6, 4],
    &[5, 0, 1],
    &[1, 3, 2],
    &[3, 8, 4],
    &[2, 1],
    &[5, 0, 6],
];

/// Sample rate of the corpus.
pub const RATE: u32 = 8000;

/// The generator for `stream` of `seed`.
fn rng(seed: u64, stream: u64) -> Rng {
    Rng::new(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// What makes one speaker's voice.
#[derive(Debug, Clone)]
pub struct Speaker {
    f0: f64,
    alpha: f64,
    offsets: [f64; 3],
    bandwidths: [f64; 3],
    tilt: f64,
    breath: f64,
}

impl Speaker {
    /// Speaker `k` of the corpus seeded `seed`.
    pub fn new(seed: u64, k: usize) -> Speaker {
        let mut r = rng(seed, 1000 + k as u64);
        Speaker {
            f0: r.range(85.0, 230.0),
            alpha: r.range(0.82, 1.18),
            offsets: [
                r.range(-0.06, 0.06),
                r.range(-0.06, 0.06),
                r.range(-0.06, 0.06),
            ],
            bandwidths: [
                r.range(50.0, 110.0),
                r.range(70.0, 140.0),
                r.range(100.0, 200.0),
            ],
            tilt: r.range(0.6, 0.95),
            breath: r.range(0.02, 0.25),
        }
    }
}

/// A two-pole resonator at `freq` Hz with bandwidth `bw` Hz, unit gain at
/// DC.
struct Resonator {
    a1: f64,
    a2: f64,
    gain: f64,
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn new() -> Resonator {
        Resonator {
            a1: 0.0,
            a2: 0.0,
            gain: 1.0,
            y1: 0.0,
            y2: 0.0,
        }
    }

    fn tune(&mut self, freq: f64, bw: f64) {
        let r = (-PI * bw / f64::from(RATE)).exp();
        let theta = 2.0 * PI * freq / f64::from(RATE);
        self.a1 = 2.0 * r * theta.cos();
        self.a2 = -r * r;
        self.gain = 1.0 - self.a1 - self.a2;
    }

    fn step(&mut self, x: f64) -> f64 {
        let y = self.gain * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// The samples of recording `index` of `digit` by `speaker`.
pub fn utterance(
    seed: u64,
    speaker_id: usize,
    speaker: &Speaker,
    digit: usize,
    index: usize,
) -> Vec<i16> {
    let stream = ((speaker_id * 10 + digit) * 1000 + index) as u64;
    let mut r = rng(seed, stream);
    let rate = f64::from(RATE);
    let f0 = speaker.f0 * r.range(0.92, 1.08);
    let tempo = r.range(0.85, 1.15);
    let level = 10f64.powf(r.range(-6.0, 6.0) / 20.0) * 6000.0;
    let channel = r.range(-0.3, 0.5);
    let noise = 10f64.powf(-r.range(35.0, 50.0) / 20.0) * 6000.0;
    let lead = (r.range(0.15, 0.25) * rate) as usize;
    let tail = (r.range(0.15, 0.25) * rate) as usize;
    // The formant track: one target per vowel, gliding over 30 ms.
    let vowels = DIGITS[digit];
    let lengths: Vec<usize> = vowels
        .iter()
        .map(|_| (r.range(0.12, 0.22) * tempo * rate) as usize)
        .collect();
    let voiced: usize = lengths.iter().sum();
    let target =
        |v: usize, f: usize| VOWELS[vowels[v]][f] * speaker.alpha * (1.0 + speaker.offsets[f]);
    let glide = (0.03 * rate) as usize;

    let mut out = Vec::with_capacity(lead + voiced + tail);
    let mut res = [Resonator::new(), Resonator::new(), Resonator::new()];
    let (mut phase, mut period) = (0.0, rate / f0);
    let (mut tilt_state, mut chan_state) = (0.0, 0.0);
    for n in 0..lead + voiced + tail {
        let mut x = 0.0;
        if n >= lead && n < lead + voiced {
            let t = n - lead;
            // Which vowel, and how far into it.
            let (mut v, mut start) = (0, 0);
            while v + 1 < lengths.len() && t >= start + lengths[v] {
                start += lengths[v];
                v += 1;
            }
            let into = t - start;
            for (f, reso) in res.iter_mut().enumerate() {
                let mut freq = target(v, f);
                if v > 0 && into < glide {
                    let a = into as f64 / glide as f64;
                    freq = target(v - 1, f) * (1.0 - a) + freq * a;
                }
                reso.tune(freq, speaker.bandwidths[f]);
            }
            // Source: one pulse per period (with jitter), plus breath noise;
            // an envelope fades the voicing in and out.
            phase += 1.0;
            let mut pulse = 0.0;
            if phase >= period {
                phase -= period;
                period = rate / (f0 * (1.0 + 0.01 * r.normal()));
                pulse = 1.0;
            }
            let edge = (t.min(voiced - 1 - t) as f64 / (0.02 * rate)).min(1.0);
            let source =
                (1.0 - speaker.breath) * pulse * period.sqrt() * 0.3 + speaker.breath * r.normal();
            tilt_state = speaker.tilt * tilt_state + source;
            x = tilt_state * edge;
        }
        let mut y = x;
        for reso in res.iter_mut() {
            y = reso.step(y);
        }
        chan_state = y + channel * chan_state;
        let s = level * chan_state * 0.05 + noise * r.normal();
        out.push(s.clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// Writes the corpus: `speakers × 10 digits × indices` recordings named
/// `{digit}_{speaker}_{index}.wav` in `dir` (speakers named `spk00`, …).
/// Returns the paths, digit-major.
pub fn write_corpus(
    dir: &Path,
    speakers: usize,
    indices: usize,
    seed: u64,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    crate::cli::create_dir(dir)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut paths = Vec::new();
    for k in 0..speakers {
        let speaker = Speaker::new(seed, k);
        for digit in 0..10 {
            for index in 0..indices {
                let path = dir.join(format!("{digit}_spk{k:02}_{index}.wav"));
                let mut bytes = std::io::Cursor::new(Vec::new());
                let mut w = hound::WavWriter::new(&mut bytes, spec)?;
                for s in utterance(seed, k, &speaker, digit, index) {
                    w.write_sample(s)?;
                }
                w.finalize()?;
                shardkit::write_atomic(&path, |out| {
                    std::io::Write::write_all(out, bytes.get_ref())
                })?;
                paths.push(path);
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_bytes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let paths = write_corpus(a.path(), 2, 1, 7).unwrap();
        write_corpus(b.path(), 2, 1, 7).unwrap();
        assert_eq!(paths.len(), 20);
        assert_eq!(paths[0].file_name().unwrap(), "0_spk00_0.wav");
        for p in &paths {
            let other = b.path().join(p.file_name().unwrap());
            assert_eq!(std::fs::read(p).unwrap(), std::fs::read(other).unwrap());
        }
    }

    #[test]
    fn speakers_and_digits_differ() {
        let (s0, s1) = (Speaker::new(7, 0), Speaker::new(7, 1));
        assert_ne!(utterance(7, 0, &s0, 1, 0), utterance(7, 1, &s1, 1, 0));
        assert_ne!(utterance(7, 0, &s0, 1, 0), utterance(7, 0, &s0, 2, 0));
        assert_ne!(utterance(7, 0, &s0, 1, 0), utterance(7, 0, &s0, 1, 1));
    }
}
