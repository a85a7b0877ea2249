//! HTK parameter kinds (`parmKind`): the codes and HTK's names for them.
//!
//! Both the HTK reader and writer (`htk.rs`) and the error messages
//! (`errors.rs`) name kinds, so the names live here, below both.

/// HTK `parmKind` codes: base kinds (the low 6 bits) and qualifier flags
/// (added to the base kind), as defined by the HTK Book.
///
/// ```
/// use shardkit_algorithms::features::{htk_kind, htk_kind_name};
/// let kind = htk_kind::MFCC | htk_kind::E | htk_kind::D | htk_kind::A;
/// assert_eq!(htk_kind_name(kind), "MFCC_E_D_A");
/// ```
pub mod htk_kind {
    /// Sampled waveform (16-bit integers; not readable as features).
    pub const WAVEFORM: u16 = 0;
    /// Linear prediction filter coefficients.
    pub const LPC: u16 = 1;
    /// Linear prediction reflection coefficients.
    pub const LPREFC: u16 = 2;
    /// LPC cepstral coefficients.
    pub const LPCEPSTRA: u16 = 3;
    /// LPC cepstra plus delta coefficients.
    pub const LPDELCEP: u16 = 4;
    /// LPC reflection coefficients as 16-bit integers (not readable as features).
    pub const IREFC: u16 = 5;
    /// Mel-frequency cepstral coefficients.
    pub const MFCC: u16 = 6;
    /// Log mel-filter bank channel outputs.
    pub const FBANK: u16 = 7;
    /// Linear mel-filter bank channel outputs.
    pub const MELSPEC: u16 = 8;
    /// User-defined features.
    pub const USER: u16 = 9;
    /// Vector-quantised data (16-bit integers; not readable as features).
    pub const DISCRETE: u16 = 10;
    /// Perceptual linear prediction coefficients.
    pub const PLP: u16 = 11;

    /// `_E`: has energy.
    pub const E: u16 = 0o100;
    /// `_N`: absolute energy suppressed.
    pub const N: u16 = 0o200;
    /// `_D`: has delta coefficients.
    pub const D: u16 = 0o400;
    /// `_A`: has acceleration coefficients.
    pub const A: u16 = 0o1000;
    /// `_C`: compressed (not readable).
    pub const C: u16 = 0o2000;
    /// `_Z`: zero-mean static coefficients.
    pub const Z: u16 = 0o4000;
    /// `_K`: a CRC checksum follows the data.
    pub const K: u16 = 0o10000;
    /// `_0`: has the 0th cepstral coefficient.
    pub const ZERO: u16 = 0o20000;
    /// `_V`: VQ codebook indices attached (not readable).
    pub const V: u16 = 0o40000;
    /// `_T`: has third-order differentials.
    pub const T: u16 = 0o100000;

    /// The mask that selects the base kind.
    pub const BASE_MASK: u16 = 0o77;
}

const BASE_NAMES: [&str; 12] = [
    "WAVEFORM",
    "LPC",
    "LPREFC",
    "LPCEPSTRA",
    "LPDELCEP",
    "IREFC",
    "MFCC",
    "FBANK",
    "MELSPEC",
    "USER",
    "DISCRETE",
    "PLP",
];

const QUALIFIERS: [(u16, &str); 10] = [
    (htk_kind::E, "_E"),
    (htk_kind::N, "_N"),
    (htk_kind::D, "_D"),
    (htk_kind::A, "_A"),
    (htk_kind::C, "_C"),
    (htk_kind::Z, "_Z"),
    (htk_kind::K, "_K"),
    (htk_kind::ZERO, "_0"),
    (htk_kind::V, "_V"),
    (htk_kind::T, "_T"),
];

/// HTK's name for a `parmKind` code, e.g. `MFCC_E_D_A`; an unknown base kind
/// is written `KIND<n>` (e.g. `KIND13_E`).
pub fn kind_name(parm_kind: u16) -> String {
    let base = usize::from(parm_kind & htk_kind::BASE_MASK);
    let mut name = match BASE_NAMES.get(base) {
        Some(n) => (*n).to_owned(),
        None => format!("KIND{base}"),
    };
    for (flag, suffix) in QUALIFIERS {
        if parm_kind & flag != 0 {
            name.push_str(suffix);
        }
    }
    name
}
