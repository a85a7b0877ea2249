//! HTK parameter files.
//!
//! The format (HTK Book, "HTK Format Parameter Files"): a 12-byte big-endian
//! header — `nSamples` (i32, frames), `sampPeriod` (i32, in 100 ns units),
//! `sampSize` (i16, bytes per frame) and `parmKind` (i16: a 6-bit base kind
//! plus qualifier bits) — followed by `nSamples` frames of big-endian f32.
//! Files with the `_K` qualifier end with a 2-byte CRC, which is skipped (not
//! verified).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use ndarray::{Array2, ArrayBase, Data, Ix2};

use super::errors::FeatureError;
use super::parm_kind::{htk_kind, kind_name};
use shardkit::write_atomic as atomic_write;

/// The header of an HTK parameter file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HtkHeader {
    /// Number of frames (`nSamples`).
    pub frames: usize,
    /// Frame period in 100 ns units (`sampPeriod`): 100 000 is 10 ms.
    pub samp_period: u32,
    /// Bytes per frame (`sampSize`): 4 × columns.
    pub samp_size: usize,
    /// Parameter kind (`parmKind`): base kind and qualifiers, see [`htk_kind`].
    pub parm_kind: u16,
}

impl HtkHeader {
    /// Columns per frame (`sampSize / 4`).
    pub fn columns(&self) -> usize {
        self.samp_size / 4
    }

    /// The base kind, without qualifiers (e.g. [`htk_kind::MFCC`]).
    pub fn base_kind(&self) -> u16 {
        self.parm_kind & htk_kind::BASE_MASK
    }

    /// HTK's name for the parameter kind, e.g. `MFCC_E_D_A`.
    pub fn kind_name(&self) -> String {
        kind_name(self.parm_kind)
    }
}

/// Reads an HTK parameter file as frames × columns.
///
/// Equivalent to [`read_htk_with_header`] without the header.
///
/// # Errors
///
/// See [`read_htk_with_header`].
pub fn read_htk(path: impl AsRef<Path>) -> Result<Array2<f32>, FeatureError> {
    read_htk_with_header(path).map(|(_, features)| features)
}

/// Reads an HTK parameter file: its header, and its frames × columns.
///
/// Uncompressed float kinds are read (LPC, LPREFC, LPCEPSTRA, LPDELCEP, MFCC,
/// FBANK, MELSPEC, USER, PLP, with any of the qualifiers `_E _N _D _A _Z _K _0
/// _T`). With `_K`, the 2-byte CRC at the end is skipped, not verified.
///
/// # Errors
///
/// - [`FeatureError::Io`] if the file cannot be read;
/// - [`FeatureError::HtkKind`] for compressed (`_C`) or VQ-tagged (`_V`)
///   files, and for the WAVEFORM, IREFC, DISCRETE and unknown base kinds;
/// - [`FeatureError::HtkHeader`] for a file shorter than the header, negative
///   sizes, a frame size that is not a whole number of floats, or a header that
///   only makes sense read little-endian (the message says so);
/// - [`FeatureError::Truncated`] / [`FeatureError::TrailingBytes`] when the
///   file is shorter / longer than the header announces.
pub fn read_htk_with_header(
    path: impl AsRef<Path>,
) -> Result<(HtkHeader, Array2<f32>), FeatureError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| FeatureError::io(path, "read", e))?;
    parse(&bytes, path)
}

/// Writes `data` (frames × columns) as an HTK parameter file, atomically (see
/// [`atomic_write`]).
///
/// `samp_period` is the frame period in 100 ns units (100 000 for 10 ms);
/// `parm_kind` is the parameter kind, e.g. `htk_kind::MFCC | htk_kind::E`, or
/// [`htk_kind::USER`] when no HTK kind describes the features.
///
/// # Errors
///
/// [`FeatureError::Unencodable`] (and nothing is written) when HTK cannot
/// store the data: no columns or more than 8191 (the frame size is an i16 of
/// bytes), more than `i32::MAX` frames, `samp_period` above `i32::MAX`, or a
/// `parm_kind` that is not a plain float kind (`_C`, `_V`, `_K` — the writer
/// computes no checksum — WAVEFORM, IREFC, DISCRETE, unknown).
/// [`FeatureError::Io`] if the file cannot be written; the previous file at
/// `path`, if any, is then left untouched.
pub fn write_htk<S>(
    path: impl AsRef<Path>,
    data: &ArrayBase<S, Ix2>,
    samp_period: u32,
    parm_kind: u16,
) -> Result<(), FeatureError>
where
    S: Data<Elem = f32>,
{
    let path = path.as_ref();
    let unencodable = |reason: String| FeatureError::Unencodable {
        path: path.to_path_buf(),
        reason,
    };
    let (frames, columns) = data.dim();
    let name = kind_name(parm_kind);
    if let Err(reason) = check_kind(parm_kind) {
        return Err(unencodable(format!("HTK parameter kind {name}: {reason}")));
    }
    if parm_kind & htk_kind::K != 0 {
        return Err(unencodable(format!(
            "HTK parameter kind {name}: the writer computes no CRC; leave out the _K qualifier"
        )));
    }
    let samp_size = columns
        .checked_mul(4)
        .and_then(|n| i16::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            unencodable(format!(
                "HTK stores 1 to 8191 columns per frame (sampSize is an i16 of bytes), the data has {columns}"
            ))
        })?;
    let n_samples = i32::try_from(frames).map_err(|_| {
        unencodable(format!(
            "HTK stores at most {} frames, the data has {frames}",
            i32::MAX
        ))
    })?;
    let period = i32::try_from(samp_period).map_err(|_| {
        unencodable(format!(
            "sample period {samp_period} does not fit HTK's i32 field"
        ))
    })?;
    let mut header = Vec::with_capacity(12);
    header.extend_from_slice(&n_samples.to_be_bytes());
    header.extend_from_slice(&period.to_be_bytes());
    header.extend_from_slice(&samp_size.to_be_bytes());
    header.extend_from_slice(&parm_kind.to_be_bytes());
    atomic_write(path, |w| -> io::Result<()> {
        w.write_all(&header)?;
        write_values(w, data, f32::to_be_bytes)
    })
    .map_err(|e| FeatureError::io(path, "write", e))
}

/// Refuses the kinds whose data is not plain f32 frames.
fn check_kind(parm_kind: u16) -> Result<(), &'static str> {
    if parm_kind & htk_kind::C != 0 {
        return Err("compressed (_C) files store scaled 16-bit integers; \
                    save them uncompressed (HTK: SAVECOMPRESSED = F)");
    }
    if parm_kind & htk_kind::V != 0 {
        return Err(
            "VQ-tagged (_V) files interleave codebook indices with the floats; \
                    save them without VQ indices",
        );
    }
    match parm_kind & htk_kind::BASE_MASK {
        htk_kind::WAVEFORM => Err("WAVEFORM files hold 16-bit audio samples, \
                                   not feature vectors; extract features first"),
        htk_kind::IREFC | htk_kind::DISCRETE => {
            Err("IREFC and DISCRETE files hold 16-bit integers, not float feature vectors")
        }
        1..=4 | 6..=9 | htk_kind::PLP => Ok(()),
        _ => Err(
            "unknown base kind; float kinds are LPC, LPREFC, LPCEPSTRA, LPDELCEP, \
                  MFCC, FBANK, MELSPEC, USER and PLP",
        ),
    }
}

/// The four header fields as stored, read in one byte order.
struct RawHeader {
    n_samples: i32,
    samp_period: i32,
    samp_size: i16,
    parm_kind: u16,
}

impl RawHeader {
    fn read(h: [u8; 12], big_endian: bool) -> Self {
        let i32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if big_endian {
                i32::from_be_bytes(b)
            } else {
                i32::from_le_bytes(b)
            }
        };
        let u16_at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        Self {
            n_samples: i32_at(0),
            samp_period: i32_at(4),
            samp_size: u16_at(8) as i16,
            parm_kind: u16_at(10),
        }
    }

    /// Checks the header against itself and the number of data bytes after it.
    fn validate(&self, found: u64) -> Result<HtkHeader, Reject> {
        check_kind(self.parm_kind).map_err(Reject::Kind)?;
        let frames = usize::try_from(self.n_samples)
            .map_err(|_| Reject::Header(format!("negative frame count {}", self.n_samples)))?;
        let samp_period = u32::try_from(self.samp_period)
            .map_err(|_| Reject::Header(format!("negative sample period {}", self.samp_period)))?;
        let samp_size = usize::try_from(self.samp_size)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Reject::Header(format!(
                    "frame size (sampSize) {} bytes is not positive",
                    self.samp_size
                ))
            })?;
        if samp_size % 4 != 0 {
            return Err(Reject::Header(format!(
                "frame size (sampSize) {samp_size} bytes is not a whole number of 4-byte floats"
            )));
        }
        let checksum = self.parm_kind & htk_kind::K != 0;
        // At most 2^31 frames × 2^15 bytes: no overflow in u64.
        let expected = frames as u64 * samp_size as u64 + if checksum { 2 } else { 0 };
        if found != expected {
            return Err(Reject::Length {
                frames,
                columns: samp_size / 4,
                checksum,
                expected,
                found,
            });
        }
        Ok(HtkHeader {
            frames,
            samp_period,
            samp_size,
            parm_kind: self.parm_kind,
        })
    }
}

enum Reject {
    Kind(&'static str),
    Header(String),
    Length {
        frames: usize,
        columns: usize,
        checksum: bool,
        expected: u64,
        found: u64,
    },
}

/// Parses a whole HTK file held in memory. `path` is only used in errors.
pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<(HtkHeader, Array2<f32>), FeatureError> {
    let bad_header = |reason: String| FeatureError::HtkHeader {
        path: path.to_path_buf(),
        reason,
    };
    let Some((head, data)) = bytes.split_first_chunk::<12>() else {
        return Err(bad_header(format!(
            "the file is {} bytes long, shorter than the 12-byte header",
            bytes.len()
        )));
    };
    let found = data.len() as u64;
    let raw = RawHeader::read(*head, true);
    let header = match raw.validate(found) {
        Ok(header) => header,
        Err(reject) => {
            let swapped = RawHeader::read(*head, false);
            if let Ok(h) = swapped.validate(found) {
                return Err(bad_header(format!(
                    "the header only makes sense read as little-endian ({} frames × {} columns \
                     of {}); HTK files are big-endian, convert this one",
                    h.frames,
                    h.columns(),
                    h.kind_name()
                )));
            }
            return Err(match reject {
                Reject::Kind(reason) => FeatureError::HtkKind {
                    path: path.to_path_buf(),
                    parm_kind: raw.parm_kind,
                    reason,
                },
                Reject::Header(reason) => bad_header(reason),
                Reject::Length {
                    frames,
                    columns,
                    checksum,
                    expected,
                    found,
                } => {
                    let payload = if checksum { "f32 + 2-byte CRC" } else { "f32" };
                    FeatureError::length(path, frames, columns, payload, expected, found)
                }
            });
        }
    };
    let len = header.frames * header.samp_size;
    let values = data[..len]
        .chunks_exact(4)
        .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let features = Array2::from_shape_vec((header.frames, header.columns()), values)
        .map_err(|e| bad_header(format!("cannot build the array: {e}")))?;
    Ok((header, features))
}

/// Writes the values of `data` in row-major order, each encoded by `encode`.
fn write_values<S, const N: usize>(
    w: &mut dyn Write,
    data: &ArrayBase<S, Ix2>,
    encode: fn(f32) -> [u8; N],
) -> io::Result<()>
where
    S: Data<Elem = f32>,
{
    const CHUNK: usize = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK + N);
    // `iter` visits elements in logical (row-major) order whatever the layout.
    for &v in data.iter() {
        buf.extend_from_slice(&encode(v));
        if buf.len() >= CHUNK {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)
}
