//! [`IdMap`]: which segments belong to which model or speaker.

use std::collections::HashMap;
use std::path::Path;

use super::errors::{Location, ProtocolError};
use super::text::{check_id, read_lines, write_lines};

/// The frames of a segment an [`IdMapEntry`] covers: frame indices
/// `start..stop`, `stop` excluded, as SIDEKIT slices a segment's features
/// (`cep[start:stop]`): `stop - start` frames, none when `start == stop`
/// (what `features::SidekitRead::span` reads, with the `hdf5` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameSpan {
    /// The first frame.
    pub start: u64,
    /// One past the last frame: the first frame not covered
    /// (`start <= stop`).
    pub stop: u64,
}

/// One line of an [`IdMap`]: a left id (a model or speaker) and a right id
/// (a segment), with optional frame bounds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdMapEntry {
    /// The model or speaker (SIDEKIT's `leftids`).
    pub left: String,
    /// The segment (SIDEKIT's `rightids`).
    pub right: String,
    /// The frames of the segment, if bounded (SIDEKIT's `start`, `stop`).
    pub span: Option<FrameSpan>,
}

/// A map between left ids (models or speakers) and right ids (segments),
/// each entry with optional frame bounds (SIDEKIT's `IdMap`). Entries keep
/// the order they were given or read in. A left id may have many segments
/// and a segment may appear under several left ids or with several spans;
/// only an entry repeated exactly is an error.
///
/// Text form (SIDEKIT `IdMap.read_txt` / `write_txt`): one entry per line,
/// `left right` or `left right start stop` (whole numbers), fields
/// separated by white space. Writing gives two fields for an entry without
/// bounds and four with them. SIDEKIT writes an entry without bounds as
/// `left right None None`; reading accepts that as no bounds. SIDEKIT
/// decides between two and four fields from the first line; here each line
/// is read on its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdMap {
    entries: Vec<IdMapEntry>,
}

const FIELDS: &str = "2 fields (left right) or 4 fields (left right start stop)";

impl IdMap {
    /// The map of `entries`, in their order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BadId`] for an identifier that is empty or holds
    /// white space, [`ProtocolError::StartAfterStop`],
    /// [`ProtocolError::Duplicate`] for an entry given twice (positions
    /// count from 0). No entries give an empty map.
    pub fn new(entries: Vec<IdMapEntry>) -> Result<Self, ProtocolError> {
        let at: Vec<Location> = (0..entries.len()).map(Location::Item).collect();
        Self::checked(entries, at)
    }

    pub(super) fn checked(
        entries: Vec<IdMapEntry>,
        at: Vec<Location>,
    ) -> Result<Self, ProtocolError> {
        let mut seen: HashMap<&IdMapEntry, &Location> = HashMap::with_capacity(entries.len());
        for (e, at) in entries.iter().zip(&at) {
            check_id(&e.left, at)?;
            check_id(&e.right, at)?;
            if let Some(span) = e.span {
                if span.start > span.stop {
                    return Err(ProtocolError::StartAfterStop {
                        at: at.clone(),
                        start: span.start,
                        stop: span.stop,
                    });
                }
            }
            if let Some(first) = seen.insert(e, at) {
                return Err(ProtocolError::Duplicate {
                    at: at.clone(),
                    first: Box::new(first.clone()),
                    what: "IdMap entry",
                    left: e.left.clone(),
                    right: e.right.clone(),
                });
            }
        }
        drop(seen);
        Ok(Self { entries })
    }

    /// Reads a map from its text form (see the [type docs](IdMap)).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Empty`] if it holds no entry;
    /// [`ProtocolError::FieldCount`] for a line with neither two nor four
    /// fields; [`ProtocolError::BadFrame`] for a start or stop that is not
    /// a whole number ≥ 0; [`ProtocolError::StartAfterStop`];
    /// [`ProtocolError::Duplicate`] for an entry listed twice;
    /// [`ProtocolError::NotUtf8`].
    pub fn read_txt(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let path = path.as_ref();
        let mut entries = Vec::new();
        let mut places = Vec::new();
        for line in read_lines(path)? {
            let mut f = line.fields.into_iter();
            let entry = match (f.next(), f.next(), f.next(), f.next(), f.next()) {
                (Some(left), Some(right), None, None, None) => IdMapEntry {
                    left,
                    right,
                    span: None,
                },
                (Some(left), Some(right), Some(start), Some(stop), None) => {
                    let span = if start == "None" && stop == "None" {
                        None
                    } else {
                        Some(FrameSpan {
                            start: frame(&start, "start", &line.at)?,
                            stop: frame(&stop, "stop", &line.at)?,
                        })
                    };
                    IdMapEntry { left, right, span }
                }
                (a, b, c, d, e) => {
                    let found = [a, b, c, d, e].iter().filter(|x| x.is_some()).count() + f.count();
                    return Err(ProtocolError::FieldCount {
                        at: line.at,
                        what: "IdMap",
                        expected: FIELDS,
                        found,
                    });
                }
            };
            entries.push(entry);
            places.push(line.at);
        }
        if entries.is_empty() {
            return Err(ProtocolError::Empty {
                path: path.to_path_buf(),
                what: "IdMap entries",
            });
        }
        Self::checked(entries, places)
    }

    /// Writes the text form atomically ([`shardkit::write_atomic`]), one
    /// line per entry in the map's order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for a map with no entry;
    /// [`ProtocolError::Io`] if the file cannot be written (a file already
    /// at `path` is then left as it was).
    pub fn write_txt(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let lines = self.entries.iter().map(|e| match e.span {
            Some(span) => format!("{} {} {} {}", e.left, e.right, span.start, span.stop),
            None => format!("{} {}", e.left, e.right),
        });
        write_lines(path.as_ref(), "IdMap", lines)
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[IdMapEntry] {
        &self.entries
    }

    /// The distinct left ids, sorted.
    pub fn left_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.entries.iter().map(|e| e.left.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The distinct right ids, sorted.
    pub fn right_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.entries.iter().map(|e| e.right.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The entries of left id `left` (e.g. a speaker's segments), in order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::UnknownId`] naming `left` if no entry has it.
    pub fn of_left(&self, left: &str) -> Result<Vec<&IdMapEntry>, ProtocolError> {
        let found: Vec<&IdMapEntry> = self.entries.iter().filter(|e| e.left == left).collect();
        if found.is_empty() {
            return Err(ProtocolError::UnknownId {
                kind: "left id",
                id: left.to_owned(),
            });
        }
        Ok(found)
    }

    /// The entries of right id `right` (e.g. who speaks in a segment), in
    /// order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::UnknownId`] naming `right` if no entry has it.
    pub fn of_right(&self, right: &str) -> Result<Vec<&IdMapEntry>, ProtocolError> {
        let found: Vec<&IdMapEntry> = self.entries.iter().filter(|e| e.right == right).collect();
        if found.is_empty() {
            return Err(ProtocolError::UnknownId {
                kind: "right id",
                id: right.to_owned(),
            });
        }
        Ok(found)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A start or stop field: a whole number ≥ 0.
fn frame(text: &str, which: &'static str, at: &Location) -> Result<u64, ProtocolError> {
    text.parse::<u64>().map_err(|_| ProtocolError::BadFrame {
        at: at.clone(),
        which,
        text: text.to_owned(),
    })
}
