//! [`Ndx`]: the trials to score.

use std::path::Path;

use ndarray::{Array2, ArrayView2};

use super::errors::ProtocolError;
use super::table::Table;
use super::text::write_lines;

/// The trials to score (BOSARIS / SIDEKIT `Ndx`): the models, the test
/// segments, and which (model, segment) pairs are trials.
///
/// Models and segments are kept sorted and unique, as SIDEKIT keeps its
/// `modelset` and `segset`; the trial mask is models × segments.
///
/// Text form (SIDEKIT `Ndx.read_txt` / `save_txt`): one trial per line,
/// `model segment`, fields separated by white space. Writing lists the
/// models in sorted order and, for each, its segments in sorted order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ndx {
    pub(super) table: Table<()>,
}

const FIELDS: &str = "2 fields: model segment";

impl Ndx {
    /// The trials given as (model, segment) pairs, in any order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BadId`] for an identifier that is empty or holds
    /// white space, [`ProtocolError::Duplicate`] for a pair given twice
    /// (positions count from 0). No pairs give an empty `Ndx`.
    pub fn from_trials<M, S>(
        trials: impl IntoIterator<Item = (M, S)>,
    ) -> Result<Self, ProtocolError>
    where
        M: Into<String>,
        S: Into<String>,
    {
        let items = trials.into_iter().map(|(m, s)| (m, s, ()));
        Ok(Self {
            table: Table::from_items(items, |(), _| Ok(()))?,
        })
    }

    /// The trials of a mask, models × segments (SIDEKIT's `modelset`,
    /// `segset` and `trialmask`), in any order of models and segments.
    /// Models and segments with no trial are not kept.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Shape`] if the mask is not models × segments,
    /// [`ProtocolError::DuplicateId`] for an identifier listed twice,
    /// [`ProtocolError::BadId`] for one that is empty or holds white space.
    pub fn from_mask<M, S>(
        models: &[M],
        segments: &[S],
        mask: ArrayView2<'_, bool>,
    ) -> Result<Self, ProtocolError>
    where
        M: AsRef<str>,
        S: AsRef<str>,
    {
        let table = Table::from_grid(models, segments, mask.dim(), "trial mask", |m, s| {
            Ok(mask[(m, s)].then_some(()))
        })?;
        Ok(Self { table })
    }

    /// Reads an index from its text form (see the [type docs](Ndx)).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Empty`] if it holds no trial;
    /// [`ProtocolError::FieldCount`] for a line without exactly two fields;
    /// [`ProtocolError::Duplicate`] for a trial listed twice (both lines
    /// named); [`ProtocolError::NotUtf8`].
    pub fn read_txt(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let table = Table::read_txt(path.as_ref(), "Ndx", (2, FIELDS), "trials", |_, _| Ok(()))?;
        Ok(Self { table })
    }

    /// Writes the text form atomically ([`shardkit::write_atomic`]).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for an index with no trial;
    /// [`ProtocolError::Io`] if the file cannot be written (a file already
    /// at `path` is then left as it was).
    pub fn write_txt(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let lines = self.trials().map(|(m, s)| format!("{m} {s}"));
        write_lines(path.as_ref(), "Ndx", lines)
    }

    /// The models, sorted and unique (the rows of the trial mask).
    pub fn models(&self) -> &[String] {
        &self.table.models
    }

    /// The test segments, sorted and unique (the columns).
    pub fn segments(&self) -> &[String] {
        &self.table.segments
    }

    /// The trial mask, models × segments: `true` for a trial (built on
    /// request: models × segments bytes).
    pub fn trial_mask(&self) -> Array2<bool> {
        self.table.dense(false, |_| true)
    }

    /// Whether (model, segment) is a trial.
    pub fn contains(&self, model: &str, segment: &str) -> bool {
        self.table.get(model, segment).is_some()
    }

    /// The trials as (model, segment), in row-major order (models sorted,
    /// then segments sorted): the order [`Ndx::write_txt`] writes.
    pub fn trials(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.table.iter().map(|(m, s, ())| (m, s))
    }

    /// How many trials.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no trial.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
