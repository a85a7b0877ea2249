//! NumPy `.npy` files: format versions 1.0, 2.0 and 3.0, float32/float64,
//! either byte order, C or Fortran order.
//!
//! The format (from NumPy's `numpy.lib.format` documentation): the magic
//! string `\x93NUMPY`, a major and a minor version byte, the header length
//! (2 bytes little-endian in version 1, 4 bytes in versions 2 and 3), then
//! the header: a Python dict literal with the keys `descr` (the dtype string,
//! e.g. `'<f4'`), `fortran_order` (`True`/`False`) and `shape` (a tuple of
//! integers), padded with spaces and a newline. The raw array data follows.

use std::fs;
use std::io;
use std::path::Path;

use ndarray::{Array2, ArrayBase, Data, Ix2, ShapeBuilder};

use super::error::{python_tuple, FeatureError};
use shardkit::write_atomic as atomic_write;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Reads a 2-D float32 or float64 `.npy` file as frames × columns.
///
/// Accepted dtypes are `'<f4'`, `'<f8'`, `'>f4'` and `'>f8'`; float64 values
/// are rounded to the nearest f32 (values beyond f32's range become ±inf,
/// which [`ReadOptions`](super::ReadOptions) reports as non-finite). Both C
/// (row-major) and Fortran (column-major) files are read; the result is
/// always in standard (row-major) layout.
///
/// # Errors
///
/// [`FeatureError::Io`] if the file cannot be read,
/// [`FeatureError::NpyHeader`] for a bad magic string, version or header,
/// [`FeatureError::NpyDtype`] for another element type (naming it),
/// [`FeatureError::WrongNdim`] for an array that is not 2-D (naming its shape),
/// [`FeatureError::Truncated`] / [`FeatureError::TrailingBytes`] when the data
/// is shorter / longer than the header announces.
pub fn read_npy(path: impl AsRef<Path>) -> Result<Array2<f32>, FeatureError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| FeatureError::io(path, "read", e))?;
    parse(&bytes, path)
}

/// Writes `data` (frames × columns) as a version 1.0, little-endian float32,
/// C-order `.npy` file, atomically (see [`atomic_write`]).
///
/// Any memory layout of `data` is accepted; NumPy reads the file back as
/// `np.load(path)` with shape `(frames, columns)` and dtype `float32`.
///
/// # Errors
///
/// [`FeatureError::Io`] if the file cannot be written; the previous file at
/// `path`, if any, is then left untouched.
pub fn write_npy<S>(path: impl AsRef<Path>, data: &ArrayBase<S, Ix2>) -> Result<(), FeatureError>
where
    S: Data<Elem = f32>,
{
    let path = path.as_ref();
    let header = header_bytes(data.dim());
    atomic_write(path, |w| -> io::Result<()> {
        w.write_all(&header)?;
        super::write_values(w, data, f32::to_le_bytes)
    })
    .map_err(|e| FeatureError::io(path, "write", e))
}

/// Magic, version 1.0, header length and the header dict, padded with spaces
/// and a final newline so that the data starts at a multiple of 64 bytes.
fn header_bytes((frames, columns): (usize, usize)) -> Vec<u8> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({frames}, {columns}), }}");
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + padding + 1;
    let mut out = Vec::with_capacity(unpadded + padding);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // A 2-D header is at most a few hundred bytes: it always fits version 1.0.
    out.extend_from_slice(&u16::try_from(header_len).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + padding, b' ');
    out.push(b'\n');
    out
}

/// Element types we read.
#[derive(Clone, Copy)]
enum Dtype {
    F32 { big_endian: bool },
    F64 { big_endian: bool },
}

impl Dtype {
    fn from_descr(descr: &str) -> Option<Self> {
        match descr {
            "<f4" => Some(Self::F32 { big_endian: false }),
            ">f4" => Some(Self::F32 { big_endian: true }),
            "<f8" => Some(Self::F64 { big_endian: false }),
            ">f8" => Some(Self::F64 { big_endian: true }),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            Self::F32 { .. } => 4,
            Self::F64 { .. } => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::F32 { .. } => "f32",
            Self::F64 { .. } => "f64",
        }
    }

    fn decode(self, data: &[u8]) -> Vec<f32> {
        match self {
            Self::F32 { big_endian } => data
                .chunks_exact(4)
                .map(|c| {
                    let mut b = [0; 4];
                    b.copy_from_slice(c);
                    if big_endian {
                        f32::from_be_bytes(b)
                    } else {
                        f32::from_le_bytes(b)
                    }
                })
                .collect(),
            Self::F64 { big_endian } => data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0; 8];
                    b.copy_from_slice(c);
                    let v = if big_endian {
                        f64::from_be_bytes(b)
                    } else {
                        f64::from_le_bytes(b)
                    };
                    v as f32
                })
                .collect(),
        }
    }
}

/// Parses a whole `.npy` file held in memory. `path` is only used in errors.
pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<Array2<f32>, FeatureError> {
    let bad = |reason: String| FeatureError::NpyHeader {
        path: path.to_path_buf(),
        reason,
    };
    if !bytes.starts_with(MAGIC) {
        return Err(bad(describe_bad_magic(bytes)));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(bad("the file ends inside the format version bytes".into())),
    };
    let (len_size, utf8) = match major {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        _ => {
            return Err(bad(format!(
                "unsupported format version {major}.{minor} (versions 1.0, 2.0 and 3.0 are read)"
            )))
        }
    };
    let start = 8 + len_size;
    let len_field = bytes
        .get(8..start)
        .ok_or_else(|| bad("the file ends inside the header length field".into()))?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let available = bytes.len() - start;
    let header = start
        .checked_add(header_len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| {
            bad(format!(
                "the header length field says {header_len} bytes but only {available} bytes follow"
            ))
        })?;
    let text: String = if utf8 {
        std::str::from_utf8(header)
            .map_err(|e| bad(format!("the header is not valid UTF-8: {e}")))?
            .to_owned()
    } else {
        // Versions 1 and 2 use latin-1, where every byte is one character.
        header.iter().map(|&b| char::from(b)).collect()
    };
    let info = Header::parse(&text).map_err(|e| match e {
        HeaderError::Bad(reason) => bad(reason),
        HeaderError::Dtype(descr) => FeatureError::NpyDtype {
            path: path.to_path_buf(),
            descr,
        },
    })?;
    let &[frames, columns] = info.shape.as_slice() else {
        return Err(FeatureError::WrongNdim {
            path: path.to_path_buf(),
            shape: info.shape,
        });
    };
    let too_large = || {
        bad(format!(
            "shape {} is too large",
            python_tuple(&[frames, columns])
        ))
    };
    let count = frames
        .checked_mul(columns)
        .filter(|&n| isize::try_from(n).is_ok())
        .ok_or_else(too_large)?;
    let expected = u64::try_from(count)
        .ok()
        .and_then(|n| n.checked_mul(info.dtype.size() as u64))
        .ok_or_else(too_large)?;
    let data = &bytes[start + header_len..];
    let found = data.len() as u64;
    if found != expected {
        return Err(FeatureError::length(
            path,
            frames,
            columns,
            info.dtype.name(),
            expected,
            found,
        ));
    }
    let values = info.dtype.decode(data);
    let array = if info.fortran_order {
        Array2::from_shape_vec((frames, columns).f(), values)
            .map(|a| a.as_standard_layout().into_owned())
    } else {
        Array2::from_shape_vec((frames, columns), values)
    };
    array.map_err(|e| {
        bad(format!(
            "shape {} cannot be built: {e}",
            python_tuple(&[frames, columns])
        ))
    })
}

fn describe_bad_magic(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(MAGIC.len())];
    if MAGIC.starts_with(head) {
        return format!(
            "the file is only {} bytes long, too short for the .npy magic string",
            bytes.len()
        );
    }
    let hint = if bytes.starts_with(b"PK\x03\x04") {
        " (this looks like a .npz archive: extract its arrays to .npy files first)"
    } else {
        ""
    };
    format!(
        "it does not start with the magic string \"\\x93NUMPY\" (found \"{}\"){hint}",
        head.escape_ascii()
    )
}

/// What the header dict says, once checked.
struct Header {
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

enum HeaderError {
    Bad(String),
    /// A dtype other than the four we read, as written in the file.
    Dtype(String),
}

impl From<String> for HeaderError {
    fn from(s: String) -> Self {
        Self::Bad(s)
    }
}

impl Header {
    fn parse(text: &str) -> Result<Self, HeaderError> {
        let mut parser = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        let dict = parser.value()?;
        parser.skip_ws();
        if parser.pos != text.len() {
            return Err(format!(
                "unexpected text after the header dict: {:?}",
                truncate(&text[parser.pos..])
            )
            .into());
        }
        let Value::Dict(entries) = dict.value else {
            return Err(format!("the header is not a dict: {:?}", truncate(dict.raw)).into());
        };
        let get = |key: &str| {
            entries
                .iter()
                .rev()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
                .map(|(_, v)| v)
                .ok_or_else(|| HeaderError::Bad(format!("the header has no '{key}' key")))
        };
        let descr = get("descr")?;
        let dtype = match &descr.value {
            Value::Str(s) => Dtype::from_descr(s).ok_or_else(|| HeaderError::Dtype(s.clone()))?,
            _ => return Err(HeaderError::Dtype(truncate(descr.raw).to_owned())),
        };
        let fortran = get("fortran_order")?;
        let Value::Bool(fortran_order) = fortran.value else {
            return Err(format!(
                "'fortran_order' must be True or False, found {:?}",
                truncate(fortran.raw)
            )
            .into());
        };
        let shape_value = get("shape")?;
        let not_shape = || {
            HeaderError::Bad(format!(
                "'shape' must be a tuple of non-negative integers, found {:?}",
                truncate(shape_value.raw)
            ))
        };
        let Value::Tuple(items) = &shape_value.value else {
            return Err(not_shape());
        };
        let shape = items
            .iter()
            .map(|item| match item.value {
                Value::Int(n) => usize::try_from(n).map_err(|_| not_shape()),
                _ => Err(not_shape()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            dtype,
            fortran_order,
            shape,
        })
    }
}

/// At most 60 characters of header text, for messages.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The subset of Python literals that `.npy` headers use.
#[derive(Debug)]
enum Value<'a> {
    Str(String),
    Bool(bool),
    None,
    Int(i128),
    Tuple(Vec<Spanned<'a>>),
    /// A list (structured dtypes use them); its items are not needed.
    List,
    Dict(Vec<(Spanned<'a>, Spanned<'a>)>),
}

/// A value and the header text it was parsed from.
#[derive(Debug)]
struct Spanned<'a> {
    value: Value<'a>,
    raw: &'a str,
}

/// Nesting deeper than this is refused, so hostile headers cannot exhaust the stack.
const MAX_DEPTH: usize = 16;

/// A recursive-descent parser over the header text.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, what: &str) -> String {
        match self.peek() {
            Some(c) => format!(
                "cannot parse the header dict: {what}, found {c:?} at offset {}",
                self.pos
            ),
            None => format!("cannot parse the header dict: {what}, found the end of the header"),
        }
    }

    /// Parses one value, with the header text it spans.
    fn value(&mut self) -> Result<Spanned<'a>, String> {
        self.skip_ws();
        let start = self.pos;
        let value = match self.peek() {
            Some(q @ ('\'' | '"')) => self.string(q)?,
            Some('(') => Value::Tuple(self.nested(|p| p.sequence(')'))?),
            Some('[') => {
                self.nested(|p| p.sequence(']'))?;
                Value::List
            }
            Some('{') => Value::Dict(self.nested(Self::dict)?),
            Some(c) if c.is_ascii_digit() || c == '-' => self.int()?,
            Some(c) if c.is_alphabetic() => self.name()?,
            _ => return Err(self.error("expected a value")),
        };
        Ok(Spanned {
            value,
            raw: &self.text[start..self.pos],
        })
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "cannot parse the header dict: nesting deeper than {MAX_DEPTH} levels"
            ));
        }
        self.depth += 1;
        self.bump(); // the opening bracket
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// Items up to `close`, with an optional trailing comma.
    fn sequence(&mut self, close: char) -> Result<Vec<Spanned<'a>>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.bump();
                return Ok(items);
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(c) if c == close => {}
                _ => return Err(self.error(&format!("expected ',' or '{close}'"))),
            }
        }
    }

    fn dict(&mut self) -> Result<Vec<(Spanned<'a>, Spanned<'a>)>, String> {
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(entries);
            }
            let key = self.value()?;
            self.skip_ws();
            if self.bump() != Some(':') {
                return Err(self.error("expected ':' after a dict key"));
            }
            let value = self.value()?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<Value<'a>, String> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some(c) if c == quote => return Ok(Value::Str(s)),
                // dtype strings have no escapes; keep the escaped character.
                Some('\\') => match self.bump() {
                    Some(c) => s.push(c),
                    None => return Err(self.error("unterminated string")),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn int(&mut self) -> Result<Value<'a>, String> {
        let negative = self.peek() == Some('-');
        if negative {
            self.bump();
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let digits = &self.text[start..self.pos];
        if digits.is_empty() {
            return Err(self.error("expected digits"));
        }
        // Python 2 wrote long integers with an L suffix: (3L, 4L).
        if matches!(self.peek(), Some('L' | 'l')) {
            self.bump();
        }
        let n = digits
            .parse::<u64>()
            .map_err(|_| format!("cannot parse the header dict: number {digits} is too large"))?;
        let n = i128::from(n);
        Ok(Value::Int(if negative { -n } else { n }))
    }

    fn name(&mut self) -> Result<Value<'a>, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        match &self.text[start..self.pos] {
            "True" => Ok(Value::Bool(true)),
            "False" => Ok(Value::Bool(false)),
            "None" => Ok(Value::None),
            other => Err(format!(
                "cannot parse the header dict: unknown name {:?}",
                truncate(other)
            )),
        }
    }
}
