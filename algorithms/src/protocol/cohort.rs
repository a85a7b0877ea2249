//! [`Cohort`]: the impostor ids of score normalisation.

use std::collections::HashMap;
use std::path::Path;

use super::errors::{Location, ProtocolError};
use super::table::expect_fields;
use super::text::{check_id, read_lines, write_lines};

/// The impostor cohort of score normalisation: a list of ids, each naming a
/// cohort recording (or cohort model) the way the cohort score tables name
/// it: as a segment of the enrolment-side table (trial models × cohort) and
/// as a model of the test-side table (cohort × test segments). See
/// [`crate::backend::ScoreNorm`].
///
/// Ids keep the order they were given or read in; that order is the order
/// in which a model's or segment's cohort scores are summed. Each id is
/// listed once.
///
/// Text form: one id per line (Kaldi's and SIDEKIT's plain id lists), blank
/// lines skipped but counted in line numbers. An [`IdMap`](super::IdMap) of
/// cohort speakers gives a cohort with `Cohort::new(idmap.left_ids())`
/// (its segments: `right_ids()`).
///
/// ```
/// use shardkit_algorithms::protocol::Cohort;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("shardkit-cohort-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("cohort.lst"), "imp3\nimp1\n\nimp2\n")?;
/// let cohort = Cohort::read_txt(dir.join("cohort.lst"))?;
/// assert_eq!(cohort.ids(), ["imp3", "imp1", "imp2"]);
/// assert!(cohort.contains("imp1") && !cohort.contains("imp4"));
/// // A repeated id is an error naming both lines.
/// std::fs::write(dir.join("bad.lst"), "imp1\nimp2\nimp1\n")?;
/// let err = Cohort::read_txt(dir.join("bad.lst")).unwrap_err();
/// let message = err.to_string();
/// assert!(message.contains("bad.lst, line 3: cohort id `imp1` is already listed at "));
/// assert!(message.ends_with("bad.lst, line 1"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cohort {
    ids: Vec<String>,
}

const FIELDS: &str = "1 field: the id";

impl Cohort {
    /// The cohort of `ids`, in their order.
    ///
    /// ```
    /// use shardkit_algorithms::protocol::Cohort;
    ///
    /// let cohort = Cohort::new(["imp2", "imp1"]).unwrap();
    /// assert_eq!(cohort.len(), 2);
    /// assert!(Cohort::new(["imp1", "imp1"]).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BadId`] for an id that is empty or holds white
    /// space, [`ProtocolError::RepeatedId`] for an id given twice (positions
    /// count from 0). No ids give an empty cohort.
    pub fn new<I: Into<String>>(ids: impl IntoIterator<Item = I>) -> Result<Self, ProtocolError> {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        let at = (0..ids.len()).map(Location::Item).collect();
        Self::checked(ids, at)
    }

    fn checked(ids: Vec<String>, at: Vec<Location>) -> Result<Self, ProtocolError> {
        let mut seen: HashMap<&str, &Location> = HashMap::with_capacity(ids.len());
        for (id, at) in ids.iter().zip(&at) {
            check_id(id, at)?;
            if let Some(first) = seen.insert(id, at) {
                return Err(ProtocolError::RepeatedId {
                    at: at.clone(),
                    first: Box::new(first.clone()),
                    what: "cohort id",
                    id: id.clone(),
                });
            }
        }
        drop(seen);
        Ok(Self { ids })
    }

    /// Reads a cohort from its text form: one id per line (see the [type
    /// docs](Cohort)).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Empty`] if it holds no id;
    /// [`ProtocolError::FieldCount`] for a line of more than one field;
    /// [`ProtocolError::RepeatedId`] for an id listed twice (both lines
    /// named); [`ProtocolError::NotUtf8`].
    pub fn read_txt(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let path = path.as_ref();
        let mut ids = Vec::new();
        let mut at = Vec::new();
        for line in read_lines(path)? {
            expect_fields(&line.fields, 1, &line.at, "cohort", FIELDS)?;
            ids.extend(line.fields);
            at.push(line.at);
        }
        if ids.is_empty() {
            return Err(ProtocolError::Empty {
                path: path.to_path_buf(),
                what: "cohort ids",
            });
        }
        Self::checked(ids, at)
    }

    /// Writes the text form atomically ([`shardkit::write_atomic`]), one id
    /// per line in the cohort's order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for an empty cohort;
    /// [`ProtocolError::Io`] if the file cannot be written (a file already
    /// at `path` is then left as it was).
    pub fn write_txt(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        write_lines(path.as_ref(), "cohort", self.ids.iter().cloned())
    }

    /// The ids, in order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Whether `id` is in the cohort.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|x| x == id)
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there is no id.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
