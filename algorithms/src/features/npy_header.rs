//! A `.npy` stream (a file, or a member of an `.npz` archive) read through
//! ndarray-npy, with the checks it lacks done first.
//!
//! ndarray-npy parses the header dict (`descr`, `fortran_order`, `shape`)
//! and decodes the data in either byte order. What it lacks, and this module
//! adds:
//!
//! - messages that say what was found ([`NpyFault`]; the callers add the
//!   file, and the array);
//! - checks of the header length and of the shape against the bytes there
//!   are, *before* anything is allocated: ndarray-npy allocates what a
//!   header claims, so a 200-byte file claiming 10^11 elements would abort
//!   the process instead of being refused;
//! - the Python 2 spellings that NumPy still reads, and a nesting limit, on
//!   the way to ndarray-npy's parser ([`normalize`]);
//! - speed: the header as NumPy writes it is read directly ([`numpy_form`]),
//!   as ndarray-npy's parser takes longer than reading a small file.
//!
//! Used by [`read_npy`](super::read_npy) and by [`crate::npz`].

use std::io::{self, Read};

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::npy::header::{Header, Layout, ParseHeaderError, ReadHeaderError};
use ndarray_npy::{ReadDataError, ReadableElement, WritableElement};

use super::errors::python_tuple;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// What is wrong with a `.npy` stream, before the caller names the file
/// (and the array, in an archive).
#[derive(Debug)]
pub(crate) enum NpyFault {
    /// Reading failed.
    Io(io::Error),
    /// Not a valid `.npy` stream: magic string, version, header dict or
    /// shape.
    Header(String),
    /// An element type other than float32 or float64.
    Dtype {
        /// The descriptor as written in the header: the bare string for a
        /// string (`<i4`), the Python literal for anything else.
        descr: String,
        /// The descriptor as a Python literal (`'<i4'`).
        literal: String,
    },
    /// The data is not as long as the shape says.
    Length {
        /// The shape in the header.
        shape: Vec<usize>,
        /// `"f32"` or `"f64"`.
        payload: &'static str,
        /// Bytes of data the shape announces.
        expected: u64,
        /// Bytes of data after the header.
        found: u64,
    },
}

/// The element types read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NpyFloat {
    F32,
    F64,
}

impl NpyFloat {
    fn size(self) -> u64 {
        match self {
            Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }
}

/// The array of a `.npy` stream, in the element type stored and the memory
/// order stored (C or Fortran).
#[derive(Debug)]
pub(crate) enum NpyArray {
    /// `<f4` or `>f4`.
    F32(ArrayD<f32>),
    /// `<f8` or `>f8`.
    F64(ArrayD<f64>),
}

/// A checked `.npy` header: ndarray-npy's, the element type, and how many
/// bytes of data follow it.
#[derive(Debug)]
pub(crate) struct NpyHeader {
    header: Header,
    float: NpyFloat,
    data_len: u64,
}

impl NpyHeader {
    /// Reads the header from the start of `reader`, a stream of `len` bytes
    /// in all (the file's size, an archive member's uncompressed size).
    /// Nothing larger than `len` is allocated.
    ///
    /// The magic string, the version and the header length are checked here
    /// rather than by ndarray-npy: its errors do not say what was found, and
    /// it allocates the header length before reading it.
    pub(crate) fn read(reader: &mut impl Read, len: u64) -> Result<Self, NpyFault> {
        let bad = |reason: String| NpyFault::Header(reason);
        // The magic string, the version, the header length: 10 bytes in
        // version 1, 12 in versions 2 and 3.
        let mut bytes = Vec::with_capacity(128);
        reader
            .take(10)
            .read_to_end(&mut bytes)
            .map_err(NpyFault::Io)?;
        if !bytes.starts_with(MAGIC) {
            return Err(bad(describe_bad_magic(&bytes)));
        }
        let &[major, minor] = bytes.get(6..8).unwrap_or_default() else {
            return Err(bad("the file ends inside the format version bytes".into()));
        };
        let prefix_len: usize = match (major, minor) {
            (1, 0) => 10,
            (2 | 3, 0) => 12,
            _ => {
                return Err(bad(format!(
                "unsupported format version {major}.{minor} (versions 1.0, 2.0 and 3.0 are read)"
            )))
            }
        };
        let more = prefix_len.saturating_sub(bytes.len()) as u64;
        reader
            .take(more)
            .read_to_end(&mut bytes)
            .map_err(NpyFault::Io)?;
        let Some(len_field) = bytes.get(8..prefix_len) else {
            return Err(bad("the file ends inside the header length field".into()));
        };
        let header_len = len_field
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let available = len.saturating_sub(prefix_len as u64);
        if header_len > available {
            return Err(bad(format!(
                "the header length field says {header_len} bytes but only {available} bytes follow"
            )));
        }
        // At most `len`, which is in memory or on disk: it fits in usize.
        let total = prefix_len + header_len as usize;
        bytes.resize(total, 0);
        reader
            .read_exact(&mut bytes[prefix_len..])
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => bad("the file ends inside the header".into()),
                _ => NpyFault::Io(e),
            })?;
        let header = match numpy_form(&bytes[prefix_len..]) {
            Some(header) => header,
            None => {
                normalize(&mut bytes[prefix_len..]).map_err(bad)?;
                Header::from_reader(&mut bytes.as_slice())
                    .map_err(|e| header_fault(e, &String::from_utf8_lossy(&bytes[prefix_len..])))?
            }
        };
        let descr = &header.type_descriptor;
        let float = match descr.as_string().map(String::as_str) {
            Some("<f4" | ">f4") => NpyFloat::F32,
            Some("<f8" | ">f8") => NpyFloat::F64,
            other => {
                return Err(NpyFault::Dtype {
                    descr: other.map_or_else(|| descr.to_string(), str::to_owned),
                    literal: descr.to_string(),
                })
            }
        };
        Ok(Self {
            float,
            data_len: len - total as u64,
            header,
        })
    }

    /// The array's shape.
    pub(crate) fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// Checks that the data after the header is as long as the shape says,
    /// then has ndarray-npy decode it from `reader` (positioned after the
    /// header).
    pub(crate) fn read_array(self, reader: impl Read) -> Result<NpyArray, NpyFault> {
        let shape = &self.header.shape;
        let too_large = || NpyFault::Header(format!("shape {} is too large", python_tuple(shape)));
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| isize::try_from(n).is_ok())
            .ok_or_else(too_large)?;
        let expected = (count as u64)
            .checked_mul(self.float.size())
            .ok_or_else(too_large)?;
        if expected != self.data_len {
            return Err(NpyFault::Length {
                shape: shape.clone(),
                payload: self.float.name(),
                expected,
                found: self.data_len,
            });
        }
        let descr = &self.header.type_descriptor;
        let dim = IxDyn(shape).set_f(self.header.layout == Layout::Fortran);
        let built = |e: ndarray::ShapeError| {
            NpyFault::Header(format!(
                "shape {} cannot be built: {e}",
                python_tuple(shape)
            ))
        };
        let array = match self.float {
            NpyFloat::F32 => f32::read_to_end_exact_vec(reader, descr, count)
                .map(|v| ArrayD::from_shape_vec(dim, v).map(NpyArray::F32)),
            NpyFloat::F64 => f64::read_to_end_exact_vec(reader, descr, count)
                .map(|v| ArrayD::from_shape_vec(dim, v).map(NpyArray::F64)),
        };
        array
            .map_err(|e| match e {
                ReadDataError::Io(e) => NpyFault::Io(e),
                // The stream's length was checked; these mean it changed or
                // was announced wrongly (an archive's directory).
                ReadDataError::MissingData => NpyFault::Header(format!(
                    "the data ends before the {expected} bytes its header announces"
                )),
                ReadDataError::ExtraBytes(n) => NpyFault::Header(format!(
                    "{n} bytes follow the {expected} bytes of data its header announces"
                )),
                other => NpyFault::Header(other.to_string()),
            })?
            .map_err(built)
    }
}

/// The header dict in the exact form NumPy writes it for float32 and float64
/// in the machine's byte order, `{'descr': '<f4', 'fortran_order': False,
/// 'shape': (99, 39), }` (ndarray-npy leaves out the last `, `), padded with
/// spaces to a newline; `None` for anything else, which goes to ndarray-npy.
///
/// ndarray-npy's parser takes some 45 µs per header, longer than reading a
/// whole 100 × 39 feature file, so the files NumPy writes are read here.
fn numpy_form(text: &[u8]) -> Option<Header> {
    let text = std::str::from_utf8(text.strip_suffix(b"\n")?).ok()?;
    let rest = text.trim_end_matches(' ').strip_prefix("{'descr': '")?;
    let (descr, rest) = rest.split_once('\'')?;
    let type_descriptor = [f32::type_descriptor(), f64::type_descriptor()]
        .into_iter()
        .find(|t| t.as_string().is_some_and(|t| t == descr))?;
    let rest = rest.strip_prefix(", 'fortran_order': ")?;
    let (layout, rest) = match rest.strip_prefix("False") {
        Some(rest) => (Layout::Standard, rest),
        None => (Layout::Fortran, rest.strip_prefix("True")?),
    };
    let (dims, rest) = rest.strip_prefix(", 'shape': (")?.split_once(')')?;
    if rest != "}" && rest != ", }" {
        return None;
    }
    // Python's tuples: `()`, `(60,)`, `(99, 39)`.
    let dims = match dims.strip_suffix(',') {
        Some(one) if !one.contains(',') => one,
        Some(_) => return None,
        None if dims.contains(',') || dims.is_empty() => dims,
        None => return None,
    };
    let shape = match dims {
        "" => Vec::new(),
        _ => dims
            .split(", ")
            .map(|d| {
                d.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| d.parse().ok())?
            })
            .collect::<Option<_>>()?,
    };
    Some(Header {
        type_descriptor,
        layout,
        shape,
    })
}

/// Nesting deeper than this is refused: ndarray-npy's parser recurses once
/// per bracket, so a header of thousands of `(` would overflow the stack.
const MAX_DEPTH: usize = 16;

/// Prepares the header dict (without the prefix) for ndarray-npy's parser,
/// in place and keeping its length. NumPy reads Python 2 long integers
/// (`(3L, 4L)`, from files NumPy wrote under Python 2) and line breaks
/// inside the dict, the parser does not: both become spaces (outside
/// strings). Brackets are matched here, to refuse nesting deeper than
/// [`MAX_DEPTH`] and because the parser reports a missing bracket as a
/// number it expected. The final newline is left for ndarray-npy to check.
fn normalize(text: &mut [u8]) -> Result<(), String> {
    let fail = |what: String| Err(format!("cannot parse the header dict: {what}"));
    let body = match text.split_last_mut() {
        Some((b'\n', body)) => body,
        _ => text,
    };
    let mut open = [(0u8, 0usize); MAX_DEPTH];
    let mut depth = 0;
    let mut quote = None;
    let mut escaped = false;
    let mut previous = b' ';
    for (i, byte) in body.iter_mut().enumerate() {
        let (c, column) = (*byte, i + 1);
        if let Some((q, _)) = quote {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                b'\'' | b'"' => quote = Some((c, column)),
                b'(' | b'[' | b'{' if depth == MAX_DEPTH => {
                    return fail(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                b'(' | b'[' | b'{' => {
                    open[depth] = (c, column);
                    depth += 1;
                }
                b')' | b']' | b'}' => match depth.checked_sub(1).map(|d| open[d]) {
                    Some((o, _)) if closer(o) == c => depth -= 1,
                    Some((o, at)) => {
                        return fail(format!(
                            "'{}' at column {column} does not close the '{}' at column {at}",
                            char::from(c),
                            char::from(o)
                        ))
                    }
                    None => {
                        return fail(format!(
                            "'{}' at column {column} closes nothing",
                            char::from(c)
                        ))
                    }
                },
                b'L' | b'l' if previous.is_ascii_digit() => *byte = b' ',
                b'\n' | b'\r' => *byte = b' ',
                _ => {}
            }
        }
        previous = c;
    }
    if let Some((_, at)) = quote {
        return fail(format!("the string at column {at} is not closed"));
    }
    if let Some(&(o, at)) = open[..depth].last() {
        return fail(format!(
            "expected '{}' to close the '{}' at column {at}, found the end of the header",
            char::from(closer(o)),
            char::from(o)
        ));
    }
    Ok(())
}

fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

/// ndarray-npy's header error, in words that say what was found; `text` is
/// the header dict as given to it.
fn header_fault(e: ReadHeaderError, text: &str) -> NpyFault {
    let parse = match e {
        ReadHeaderError::Io(e) => return NpyFault::Io(e),
        ReadHeaderError::Parse(parse) => parse,
    };
    NpyFault::Header(match parse {
        // ndarray-npy 0.10 calls the shape key "shaper" in this error.
        ParseHeaderError::MissingKey(key) if key == "shaper" => {
            "the header has no 'shape' key".to_owned()
        }
        ParseHeaderError::MissingKey(key) => format!("the header has no '{key}' key"),
        ParseHeaderError::UnknownKey(key) => format!(
            "unknown key {} in the header (the keys are 'descr', 'fortran_order' and 'shape')",
            truncate(&key.to_string())
        ),
        ParseHeaderError::IllegalValue { key, value } if key == "shape" => {
            // A tuple of non-negative integers too large for usize.
            let too_large = value.as_tuple().is_some_and(|items| {
                items.iter().all(|i| {
                    i.as_integer()
                        .is_some_and(|n| !n.to_string().starts_with('-'))
                })
            });
            if too_large {
                format!("shape {} is too large", truncate(&value.to_string()))
            } else {
                format!(
                    "'shape' must be a tuple of non-negative integers, found {:?}",
                    truncate(&value.to_string())
                )
            }
        }
        ParseHeaderError::IllegalValue { key, value } => format!(
            "'{key}' must be True or False, found {:?}",
            truncate(&value.to_string())
        ),
        ParseHeaderError::MetaNotDict(value) => format!(
            "the header is not a dict: {:?}",
            truncate(&value.to_string())
        ),
        ParseHeaderError::DictParse(e) => syntax_error(&e.to_string(), text),
        ParseHeaderError::MissingNewline => "the header does not end with a newline".to_owned(),
        ParseHeaderError::NonAscii => {
            "the header is not ASCII (versions 1.0 and 2.0 require it; 3.0 allows UTF-8)".to_owned()
        }
        ParseHeaderError::Utf8Parse(e) => format!("the header is not valid UTF-8: {e}"),
        other => other.to_string(),
    })
}

/// The parser's syntax error on one line, with the header text from where
/// it stopped. The parser reports the position as `--> line:column` and
/// what it expected as `= expected …`, around a drawing of the line.
fn syntax_error(message: &str, text: &str) -> String {
    let column = message
        .split_once("--> ")
        .and_then(|(_, rest)| rest.split_once(':'))
        .and_then(|(_, rest)| {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..digits].parse::<usize>().ok()
        });
    let expected = message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("= "))
        .map(|e| e.replace("EOI", "the end of the header"));
    let (Some(column), Some(expected)) = (column, expected) else {
        let flat: Vec<&str> = message.split_whitespace().collect();
        return format!("cannot parse the header dict: {}", flat.join(" "));
    };
    let rest: String = text.chars().skip(column.saturating_sub(1)).collect();
    let rest = truncate(rest.trim_end());
    if expected == "expected the end of the header" && !rest.is_empty() {
        return format!("unexpected text after the header dict at column {column}: {rest:?}");
    }
    let found = if rest.is_empty() {
        "the end of the header".to_owned()
    } else {
        format!("{rest:?}")
    };
    format!("cannot parse the header dict: {expected} at column {column}, found {found}")
}

/// At most 60 characters of header text, for messages.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `head` holds the first bytes of the stream (all of it if shorter).
fn describe_bad_magic(head: &[u8]) -> String {
    if MAGIC.starts_with(head) {
        return format!(
            "the file is only {} bytes long, too short for the .npy magic string",
            head.len()
        );
    }
    let hint = if head.starts_with(b"PK\x03\x04") {
        " (this looks like a .npz archive: extract its arrays to .npy files first)"
    } else {
        ""
    };
    format!(
        "it does not start with the magic string \"\\x93NUMPY\" (found \"{}\"){hint}",
        head[..head.len().min(MAGIC.len())].escape_ascii()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `numpy_form` reads what ndarray-npy reads, or leaves it to it.
    #[test]
    fn numpy_form_agrees_with_ndarray_npy() {
        let native = [f32::type_descriptor(), f64::type_descriptor()].map(|t| t.to_string());
        let (f4, f8) = (&native[0][1..4], &native[1][1..4]);
        let mut accepted = 0;
        for dict in [
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (99, 39), }}"),
            format!("{{'descr': '{f8}', 'fortran_order': True, 'shape': (2, 3, 4)}}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (60,), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (0, 7), }}"),
            // Left to ndarray-npy: other spellings, other types, errors.
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (60), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (1, 2,), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (+1, 2), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (1,  2), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': 0, 'shape': (1, 2), }}"),
            format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (1, 2), }} x"),
            format!("{{\"descr\": '{f4}', 'fortran_order': False, 'shape': (1, 2)}}"),
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2), }".to_owned(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2), }"
                .to_owned(),
        ] {
            let text = format!("{dict}          \n");
            let mut npy = b"\x93NUMPY\x01\x00".to_vec();
            npy.extend_from_slice(&(text.len() as u16).to_le_bytes());
            npy.extend_from_slice(text.as_bytes());
            let theirs = Header::from_reader(&mut npy.as_slice());
            match numpy_form(text.as_bytes()) {
                Some(ours) => {
                    let theirs = theirs.expect(&dict);
                    assert_eq!(ours.type_descriptor, theirs.type_descriptor, "{dict}");
                    assert_eq!(ours.layout, theirs.layout, "{dict}");
                    assert_eq!(ours.shape, theirs.shape, "{dict}");
                    accepted += 1;
                }
                None => assert!(accepted >= 5, "{dict} should be read directly"),
            }
        }
        assert_eq!(accepted, 5);
        // No final newline: left to ndarray-npy, which refuses it.
        let dict = format!("{{'descr': '{f4}', 'fortran_order': False, 'shape': (1, 2), }}");
        assert!(numpy_form(dict.as_bytes()).is_none());
    }
}
