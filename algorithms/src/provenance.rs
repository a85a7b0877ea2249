//! What made a result: every model, result and checkpoint archive this
//! crate writes carries a `provenance` member, and HDF5 score files a
//! `provenance` attribute — JSON text that NumPy and h5py read:
//!
//! ```python
//! import json, numpy as np
//! json.loads(str(np.load("ubm.npz")["provenance"]))
//! # {'software': 'shardkit-algorithms 0.1.0', 'program': 'train_ubm',
//! #  'configuration': '...', 'inputs': 'fnv1a64:... over 3000 files ...',
//! #  'plan': '... (5 kinds of pass)'}
//! ```
//!
//! - `software`: this crate's name and version;
//! - `program`: the executable's name (cargo's hash suffix removed);
//! - `configuration` and `inputs`: what the program declared with
//!   [`record_run`] — its settings, and a fingerprint of its input files
//!   ([`fingerprint_files`]: names, sizes and contents) — empty when it
//!   declared nothing;
//! - `plan`: [`shardkit::plan_digest`] when the file was written (the
//!   set of the run's kinds of pass so far: each `#[parallelize]`
//!   function with its block count; checkpoints carry it across a resume),
//!   recorded once a run is declared: the digest is
//!   process-wide, and in a library process other work (a test harness
//!   running tests at once) would add its calls to it.
//!
//! Nothing in it depends on the number of threads or MPI ranks, the time
//! or the machine, so a result made on 2 ranks and the same result made on
//! 2 threads are still the same bytes. What changes the bits — the data,
//! the settings, the software — changes the provenance.

use std::io::Read;
use std::path::Path;
use std::sync::RwLock;

use crate::checkpoint::Fnv;
use crate::npz::{NpzError, NpzReader, NpzWriter};

/// The name of the provenance member of an archive (and of the attribute
/// of an HDF5 file).
pub const MEMBER: &str = "provenance";

/// What made a result file (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provenance {
    /// This crate's name and version, e.g. `shardkit-algorithms 0.1.0`.
    pub software: String,
    /// The program that wrote the file.
    pub program: String,
    /// The program's settings, as it declared them ([`record_run`]).
    pub configuration: String,
    /// A fingerprint of the program's inputs, as it declared it.
    pub inputs: String,
    /// The plan digest when the file was written (empty outside a declared
    /// run).
    pub plan: String,
}

/// What a program declared: its configuration and its inputs.
static RUN: RwLock<Option<(String, String)>> = RwLock::new(None);

/// Declares this process a run of a program with these settings (text in
/// any form, e.g. TOML; only what changes the results, not the number of
/// threads or the output path) and inputs (e.g. from
/// [`fingerprint_files`]). Every file written afterwards carries them and
/// the plan digest. A later call replaces them.
///
/// ```
/// use shardkit_algorithms::provenance;
///
/// provenance::record_run("components = 64", "fnv1a64:0123456789abcdef over 1 file");
/// let p = provenance::current();
/// assert_eq!(p.configuration, "components = 64");
/// assert!(p.software.starts_with("shardkit-algorithms "));
/// assert!(!p.plan.is_empty());
/// ```
pub fn record_run(configuration: impl Into<String>, inputs: impl Into<String>) {
    let mut run = RUN.write().unwrap_or_else(|e| e.into_inner());
    *run = Some((configuration.into(), inputs.into()));
}

/// The provenance a file written now gets.
pub fn current() -> Provenance {
    let run = RUN.read().unwrap_or_else(|e| e.into_inner()).clone();
    let plan = match run {
        Some(_) => shardkit::plan_digest().to_string(),
        None => String::new(),
    };
    let (configuration, inputs) = run.unwrap_or_default();
    Provenance {
        software: concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")).to_owned(),
        program: program(),
        configuration,
        inputs,
        plan,
    }
}

/// The executable's file name without extension and without the
/// `-<16 hex digits>` that cargo appends to tests and benches.
fn program() -> String {
    let name = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    match name.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem.to_owned()
        }
        _ => name,
    }
}

/// The fields in the order the JSON text gives them.
const FIELDS: [&str; 5] = ["software", "program", "configuration", "inputs", "plan"];

impl Provenance {
    fn fields(&self) -> [&String; 5] {
        [
            &self.software,
            &self.program,
            &self.configuration,
            &self.inputs,
            &self.plan,
        ]
    }

    /// The JSON text that files carry: one object of five strings.
    ///
    /// (Written and parsed here rather than with serde_json: that crate's
    /// `PartialEq<Value>` impls for the number types would make
    /// `assert_eq!(n, iter.sum())` ambiguous in every crate that links
    /// this one.)
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in FIELDS.iter().zip(self.fields()).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            json_string(&mut out, name);
            out.push_str(": ");
            json_string(&mut out, value);
        }
        out.push('}');
        out
    }

    /// Parses [`to_json`](Provenance::to_json)'s text: a JSON object whose
    /// members are strings, among them the five fields (others are
    /// ignored).
    ///
    /// # Errors
    ///
    /// What is wrong, and where, when the text is not such JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let members = parse_object(text)?;
        let get = |name: &str| {
            members
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("no member \"{name}\""))
        };
        Ok(Provenance {
            software: get("software")?,
            program: get("program")?,
            configuration: get("configuration")?,
            inputs: get("inputs")?,
            plan: get("plan")?,
        })
    }

    /// The provenance of the archive at `path`, or `None` for an archive
    /// without one (written by NumPy, or by an older version).
    ///
    /// # Errors
    ///
    /// [`NpzError`] for an archive that cannot be read, or whose
    /// provenance member is not such JSON text.
    pub fn of_npz(path: impl AsRef<Path>) -> Result<Option<Self>, NpzError> {
        let mut npz = NpzReader::open(path)?;
        if !npz.contains(MEMBER) {
            return Ok(None);
        }
        let text = npz.read_text(MEMBER)?;
        Provenance::from_json(&text)
            .map(Some)
            .map_err(|reason| NpzError::BadArray {
                path: npz.path().to_path_buf(),
                name: MEMBER.to_owned(),
                reason: format!("not provenance JSON: {reason}"),
            })
    }
}

/// Adds the [`current`] provenance to an archive being written.
pub(crate) fn stamp(npz: &mut NpzWriter) -> Result<(), NpzError> {
    npz.add_text(MEMBER, &current().to_json())
}

/// A fingerprint of input files: FNV-1a over each file's name (without
/// its folder, so that a copy elsewhere has the same fingerprint), size and
/// contents, in the order given. Reads every file once.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let a = dir.path().join("a.npy");
/// std::fs::write(&a, b"some bytes")?;
/// let fp = shardkit_algorithms::provenance::fingerprint_files(&[&a])?;
/// assert!(fp.starts_with("fnv1a64:") && fp.ends_with("over 1 file of 10 bytes (names, sizes, contents)"));
/// std::fs::write(&a, b"other bytes")?;
/// assert_ne!(shardkit_algorithms::provenance::fingerprint_files(&[&a])?, fp);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// The first file that cannot be read, its path in the message.
pub fn fingerprint_files<P: AsRef<Path>>(paths: &[P]) -> std::io::Result<String> {
    let mut digest = Fnv::new();
    let mut total = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    for path in paths {
        let path = path.as_ref();
        let named =
            |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        digest.u64(name.len() as u64);
        digest.bytes(name.as_bytes());
        let mut file = std::fs::File::open(path).map_err(named)?;
        let size = file.metadata().map_err(named)?.len();
        digest.u64(size);
        total += size;
        loop {
            let n = file.read(&mut buffer).map_err(named)?;
            if n == 0 {
                break;
            }
            digest.bytes(&buffer[..n]);
        }
    }
    let files = match paths.len() {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    };
    Ok(format!(
        "fnv1a64:{:016x} over {files} of {total} bytes (names, sizes, contents)",
        digest.0
    ))
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The members of a JSON object whose values are all strings.
fn parse_object(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut chars = text.char_indices().peekable();
    let skip = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    let expect = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, want: char| {
        skip(chars);
        match chars.next() {
            Some((_, c)) if c == want => Ok(()),
            Some((at, c)) => Err(format!("expected '{want}' at byte {at}, found '{c}'")),
            None => Err(format!("expected '{want}', found the end")),
        }
    };
    let string = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        expect(chars, '"')?;
        let mut s = String::new();
        loop {
            match chars.next() {
                None => return Err("a string without its closing quote".to_owned()),
                Some((_, '"')) => return Ok(s),
                Some((at, '\\')) => match chars.next().map(|(_, c)| c) {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('/') => s.push('/'),
                    Some('b') => s.push('\u{8}'),
                    Some('f') => s.push('\u{c}'),
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('u') => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let unit = u32::from_str_radix(&hex, 16)
                            .map_err(|_| format!("a bad \\u escape at byte {at}"))?;
                        // Pairs of surrogates are not written here; a lone
                        // one is not a character.
                        s.push(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
                    }
                    _ => return Err(format!("a bad escape at byte {at}")),
                },
                Some((_, c)) => s.push(c),
            }
        }
    };
    expect(&mut chars, '{')?;
    let mut members = Vec::new();
    skip(&mut chars);
    if chars.next_if(|(_, c)| *c == '}').is_none() {
        loop {
            let name = string(&mut chars)?;
            expect(&mut chars, ':')?;
            skip(&mut chars);
            let value = string(&mut chars)?;
            members.push((name, value));
            skip(&mut chars);
            match chars.next() {
                Some((_, ',')) => continue,
                Some((_, '}')) => break,
                Some((at, c)) => {
                    return Err(format!("expected ',' or '}}' at byte {at}, found '{c}'"))
                }
                None => return Err("an object without its closing brace".to_owned()),
            }
        }
    }
    skip(&mut chars);
    match chars.next() {
        None => Ok(members),
        Some((at, _)) => Err(format!("text after the object at byte {at}")),
    }
}
