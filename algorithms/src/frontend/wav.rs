//! WAV files: [`read_wav`] and what it accepts.

use std::fs;
use std::io::Cursor;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use super::errors::FrontendError;

/// Mono audio as read from a WAV file: samples in `[-1, 1]` for integer
/// PCM (a 16-bit sample `s` becomes `s / 32768`; 32-bit samples near full
/// scale round to ±1 in `f32`), as stored for float WAVs.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    /// The samples, in time order.
    pub samples: Vec<f32>,
    /// The sample rate, in Hz.
    pub rate: u32,
}

impl Wav {
    /// The duration in seconds (0 for a sample rate of 0).
    pub fn duration(&self) -> f64 {
        if self.rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / f64::from(self.rate)
        }
    }
}

/// Reads a mono WAV file.
///
/// **Accepted:** RIFF/WAVE (including `WAVE_FORMAT_EXTENSIBLE` headers) with
/// one channel, holding 16-, 24- or 32-bit signed integer PCM (scaled by
/// `2^-(bits-1)` into `[-1, 1]`) or 32-bit IEEE float (kept as stored, and
/// required to be finite).
///
/// **Refused**, with a [`FrontendError`] naming the file and what it holds:
/// several channels (mix down or pick a channel first, e.g. `sox in.wav
/// out.wav remix 1`), 8-bit PCM, 64-bit float, compressed encodings (A-law,
/// μ-law, ADPCM, MP3 in WAV...), big-endian `RIFX` and `RF64` files, files that
/// are not WAV at all, and files whose data ends before the size their
/// header announces. Any sample rate is read; whether the MFCC
/// configuration fits it is checked by [`Mfcc::new`](super::Mfcc::new).
/// An empty data chunk gives no samples (not an error here).
///
/// # Errors
///
/// [`FrontendError::Io`], [`FrontendError::NotWav`],
/// [`FrontendError::Unsupported`], [`FrontendError::Truncated`],
/// [`FrontendError::NonFinite`].
///
/// # Examples
///
/// ```
/// use shardkit_algorithms::frontend::read_wav;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("tone.wav");
/// let spec = hound::WavSpec {
///     channels: 1,
///     sample_rate: 8000,
///     bits_per_sample: 16,
///     sample_format: hound::SampleFormat::Int,
/// };
/// let mut w = hound::WavWriter::create(&path, spec)?;
/// for s in [0i16, 16384, -16384, 32767] {
///     w.write_sample(s)?;
/// }
/// w.finalize()?;
///
/// let wav = read_wav(&path)?;
/// assert_eq!(wav.rate, 8000);
/// assert_eq!(wav.samples, [0.0, 0.5, -0.5, 32767.0 / 32768.0]);
///
/// // A stereo file is refused, and the message names it.
/// let stereo = dir.path().join("stereo.wav");
/// let spec = hound::WavSpec { channels: 2, ..spec };
/// let mut w = hound::WavWriter::create(&stereo, spec)?;
/// w.write_sample(0i16)?;
/// w.write_sample(0i16)?;
/// w.finalize()?;
/// let err = read_wav(&stereo).unwrap_err().to_string();
/// assert!(err.contains("stereo.wav: unsupported WAV format: 2 channels"), "{err}");
/// # Ok(())
/// # }
/// ```
pub fn read_wav(path: impl AsRef<Path>) -> Result<Wav, FrontendError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|error| FrontendError::Io {
        path: path.to_path_buf(),
        op: "read",
        error,
    })?;
    parse_wav(&bytes, path)
}

/// [`read_wav`] on bytes in memory; `path` names them in errors.
pub(crate) fn parse_wav(bytes: &[u8], path: &Path) -> Result<Wav, FrontendError> {
    let not_wav = |reason: String| FrontendError::NotWav {
        path: path.to_path_buf(),
        reason,
    };
    let unsupported = |found: String| FrontendError::Unsupported {
        path: path.to_path_buf(),
        found,
    };
    check_riff(bytes).map_err(|e| match e {
        Riff::Not(reason) => not_wav(reason),
        Riff::Unsupported(found) => unsupported(found),
    })?;
    // Our own look at the `fmt ` chunk, so that a refusal names what the
    // file holds (hound only says "unsupported").
    if let Some(fmt) = sniff_fmt(bytes) {
        if let Some(found) = fmt.refusal() {
            return Err(unsupported(found));
        }
    }
    let mut reader = WavReader::new(Cursor::new(bytes)).map_err(|e| match e {
        hound::Error::IoError(_) => not_wav("the header ends early (truncated file)".into()),
        hound::Error::Unsupported => unsupported("an encoding the reader does not know".into()),
        hound::Error::FormatError(reason) => not_wav(reason.into()),
        other => not_wav(other.to_string()),
    })?;
    let spec = reader.spec();
    let fmt = Fmt {
        tag: match spec.sample_format {
            SampleFormat::Int => TAG_PCM,
            SampleFormat::Float => TAG_FLOAT,
        },
        channels: spec.channels,
        bits: spec.bits_per_sample,
    };
    if let Some(found) = fmt.refusal() {
        return Err(unsupported(found));
    }
    let expected = reader.len() as usize;
    // The bytes are in memory, so a read error can only mean that they ran
    // out (hound reports it as `ErrorKind::Other`).
    let truncated = |found: usize, e: hound::Error| match e {
        hound::Error::IoError(_) => FrontendError::Truncated {
            path: path.to_path_buf(),
            found,
            expected,
        },
        other => not_wav(format!("sample {found}: {other}")),
    };
    // `expected` comes from the header: cap the reservation by what the
    // bytes can hold, so a lying header cannot ask for gigabytes.
    let mut samples = Vec::with_capacity(expected.min(bytes.len() / 2));
    match spec.sample_format {
        SampleFormat::Float => {
            for (index, s) in reader.samples::<f32>().enumerate() {
                let value = s.map_err(|e| truncated(index, e))?;
                if !value.is_finite() {
                    return Err(FrontendError::NonFinite {
                        path: path.to_path_buf(),
                        index,
                        value,
                    });
                }
                samples.push(value);
            }
        }
        SampleFormat::Int if spec.bits_per_sample == 16 => {
            for (index, s) in reader.samples::<i16>().enumerate() {
                samples.push(f32::from(s.map_err(|e| truncated(index, e))?) / 32768.0);
            }
        }
        SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            for (index, s) in reader.samples::<i32>().enumerate() {
                let s = s.map_err(|e| truncated(index, e))?;
                samples.push((f64::from(s) * scale) as f32);
            }
        }
    }
    Ok(Wav {
        samples,
        rate: spec.sample_rate,
    })
}

enum Riff {
    Not(String),
    Unsupported(String),
}

/// The RIFF/WAVE magic, or why the bytes are not a WAV file.
fn check_riff(bytes: &[u8]) -> Result<(), Riff> {
    if bytes.is_empty() {
        return Err(Riff::Not("the file is empty".into()));
    }
    let head = &bytes[..bytes.len().min(4)];
    match head {
        b"RIFF" => {}
        b"RIFX" => return Err(Riff::Unsupported("a big-endian RIFX file".into())),
        b"RF64" => return Err(Riff::Unsupported("an RF64 (64-bit RIFF) file".into())),
        _ => {
            return Err(Riff::Not(format!(
                "it starts with {} instead of \"RIFF\"",
                describe_bytes(head)
            )))
        }
    }
    if bytes.len() < 12 {
        return Err(Riff::Not(format!(
            "{} bytes is too short for a RIFF/WAVE header (at least 12)",
            bytes.len()
        )));
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(Riff::Not(format!(
            "a RIFF file of type {} instead of \"WAVE\"",
            describe_bytes(&bytes[8..12])
        )));
    }
    Ok(())
}

/// Printable bytes as a quoted string, others in hex.
fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(bytes))
    } else {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

const TAG_PCM: u16 = 0x0001;
const TAG_FLOAT: u16 = 0x0003;
const TAG_EXTENSIBLE: u16 = 0xfffe;

/// The fields of a `fmt ` chunk that decide whether the file is accepted.
#[derive(Debug, Clone, Copy)]
struct Fmt {
    /// The format tag (for `WAVE_FORMAT_EXTENSIBLE`, the sub-format's).
    tag: u16,
    channels: u16,
    bits: u16,
}

impl Fmt {
    /// What the file holds, when it is refused.
    fn refusal(self) -> Option<String> {
        if self.channels != 1 {
            let what = match self.channels {
                0 => " (no audio)",
                2 => " (stereo)",
                _ => "",
            };
            return Some(format!("{} channels{what}", self.channels));
        }
        match (self.tag, self.bits) {
            (TAG_PCM, 16 | 24 | 32) | (TAG_FLOAT, 32) => None,
            (TAG_PCM, bits) => Some(format!("{bits}-bit integer PCM")),
            (TAG_FLOAT, bits) => Some(format!("{bits}-bit IEEE float")),
            (tag, _) => Some(format!("format tag {tag:#06x}{}", tag_name(tag))),
        }
    }
}

/// Names of the format tags one meets in speech corpora.
fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => " (Microsoft ADPCM)",
        0x0006 => " (A-law)",
        0x0007 => " (μ-law)",
        0x0011 => " (IMA ADPCM)",
        0x0031 => " (GSM 6.10)",
        0x0050 => " (MPEG)",
        0x0055 => " (MPEG Layer 3)",
        _ => "",
    }
}

/// The `fmt ` chunk of a RIFF/WAVE file, if it can be found.
fn sniff_fmt(bytes: &[u8]) -> Option<Fmt> {
    let mut at = 12usize;
    while at.checked_add(8)? <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = at + 8;
        if id == b"fmt " {
            let fmt = bytes.get(body..body.checked_add(size.min(40))?.min(bytes.len()))?;
            let u16_at = |i: usize| Some(u16::from_le_bytes(fmt.get(i..i + 2)?.try_into().ok()?));
            let mut tag = u16_at(0)?;
            let channels = u16_at(2)?;
            let mut bits = u16_at(14)?;
            if tag == TAG_EXTENSIBLE {
                // WAVEFORMATEXTENSIBLE: valid bits at 18, sub-format GUID at
                // 24 whose first two bytes are the format tag.
                if let Some(valid) = u16_at(18).filter(|&v| v > 0) {
                    bits = valid;
                }
                tag = u16_at(24)?;
            }
            return Some(Fmt {
                tag,
                channels,
                bits,
            });
        }
        at = body.checked_add(size)?.checked_add(size & 1)?;
    }
    None
}
