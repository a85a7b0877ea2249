//! [`Key`]: which trials are target trials and which are not.

use std::fmt;
use std::path::Path;

use ndarray::{Array2, ArrayView2};

use super::errors::ProtocolError;
use super::ndx::Ndx;
use super::table::Table;
use super::text::write_lines;

/// Whether a trial's model and segment come from the same speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrialKind {
    /// Same speaker; written `target`.
    Target,
    /// Different speakers; written `nontarget`.
    NonTarget,
}

impl TrialKind {
    /// The word of the text form: `target` or `nontarget`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialKind::Target => "target",
            TrialKind::NonTarget => "nontarget",
        }
    }

    /// The kind a text word names: exactly `target` or `nontarget` (SIDEKIT
    /// compares with these two words; any other word, other cases included,
    /// is `None`).
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "target" => Some(TrialKind::Target),
            "nontarget" => Some(TrialKind::NonTarget),
            _ => None,
        }
    }
}

impl fmt::Display for TrialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer key of an evaluation (BOSARIS / SIDEKIT `Key`): each trial,
/// with whether it is a target or a non-target trial.
///
/// Models and segments are kept sorted and unique.
///
/// Text form (SIDEKIT `Key.read_txt` / `write_txt`): one trial per line,
/// `model segment target` or `model segment nontarget`, fields separated by
/// white space. The words are exactly `target` and `nontarget`, as SIDEKIT
/// compares them (SIDEKIT drops a trial with any other word silently; here
/// it is an error). Writing lists the models in sorted order and, for each,
/// its target segments (sorted), then its non-target segments (sorted), as
/// SIDEKIT's `write_txt` does.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub(super) table: Table<TrialKind>,
}

const FIELDS: &str = "3 fields: model segment target|nontarget";

impl Key {
    /// The trials given as (model, segment, kind), in any order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BadId`] for an identifier that is empty or holds
    /// white space, [`ProtocolError::Duplicate`] for a (model, segment)
    /// pair given twice, whatever its kinds. No trials give an empty `Key`.
    pub fn from_trials<M, S>(
        trials: impl IntoIterator<Item = (M, S, TrialKind)>,
    ) -> Result<Self, ProtocolError>
    where
        M: Into<String>,
        S: Into<String>,
    {
        Ok(Self {
            table: Table::from_items(trials, |kind, _| Ok(kind))?,
        })
    }

    /// The trials of a target and a non-target mask, models × segments
    /// (SIDEKIT's `Key.create(modelset, segset, tar, non)`), in any order
    /// of models and segments. Models and segments with no trial are not
    /// kept.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Shape`] if a mask is not models × segments,
    /// [`ProtocolError::Conflict`] for a cell set in both masks,
    /// [`ProtocolError::DuplicateId`] for an identifier listed twice,
    /// [`ProtocolError::BadId`] for one that is empty or holds white space.
    pub fn from_masks<M, S>(
        models: &[M],
        segments: &[S],
        targets: ArrayView2<'_, bool>,
        nontargets: ArrayView2<'_, bool>,
    ) -> Result<Self, ProtocolError>
    where
        M: AsRef<str>,
        S: AsRef<str>,
    {
        if nontargets.dim() != targets.dim() {
            let (rows, cols) = nontargets.dim();
            return Err(ProtocolError::Shape {
                what: "non-target mask",
                rows,
                cols,
                models: models.len(),
                segments: segments.len(),
            });
        }
        let table = Table::from_grid(
            models,
            segments,
            targets.dim(),
            "target mask",
            |m, s| match (targets[(m, s)], nontargets[(m, s)]) {
                (true, true) => Err(ProtocolError::Conflict {
                    model: models[m].as_ref().to_owned(),
                    segment: segments[s].as_ref().to_owned(),
                }),
                (true, false) => Ok(Some(TrialKind::Target)),
                (false, true) => Ok(Some(TrialKind::NonTarget)),
                (false, false) => Ok(None),
            },
        )?;
        Ok(Self { table })
    }

    /// Reads a key from its text form (see the [type docs](Key)).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Empty`] if it holds no trial;
    /// [`ProtocolError::FieldCount`] for a line without exactly three
    /// fields; [`ProtocolError::BadTrialType`] for a third field other than
    /// `target` or `nontarget`; [`ProtocolError::Duplicate`] for a trial
    /// listed twice; [`ProtocolError::NotUtf8`].
    pub fn read_txt(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let table = Table::read_txt(path.as_ref(), "Key", (3, FIELDS), "trials", |rest, at| {
            TrialKind::from_word(&rest[0]).ok_or_else(|| ProtocolError::BadTrialType {
                at: at.clone(),
                word: rest[0].clone(),
            })
        })?;
        Ok(Self { table })
    }

    /// Writes the text form atomically ([`shardkit::write_atomic`]).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for a key with no trial;
    /// [`ProtocolError::Io`] if the file cannot be written (a file already
    /// at `path` is then left as it was).
    pub fn write_txt(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let (models, segments) = (&self.table.models, &self.table.segments);
        // Per model: its target trials, then its non-target trials.
        let lines = self
            .table
            .trials
            .chunk_by(|a, b| a.0 == b.0)
            .flat_map(|row| {
                [TrialKind::Target, TrialKind::NonTarget]
                    .into_iter()
                    .flat_map(move |kind| {
                        row.iter()
                            .filter(move |t| t.2 == kind)
                            .map(move |&(m, s, _)| {
                                format!("{} {} {}", models[m], segments[s], kind.as_str())
                            })
                    })
            });
        write_lines(path.as_ref(), "Key", lines)
    }

    /// The models, sorted and unique (the rows of the masks).
    pub fn models(&self) -> &[String] {
        &self.table.models
    }

    /// The test segments, sorted and unique (the columns).
    pub fn segments(&self) -> &[String] {
        &self.table.segments
    }

    /// The kind of the trial (model, segment), `None` if it is not a trial.
    pub fn get(&self, model: &str, segment: &str) -> Option<TrialKind> {
        self.table.get(model, segment).copied()
    }

    /// Models × segments: `true` for a target trial (SIDEKIT's `tar`).
    pub fn target_mask(&self) -> Array2<bool> {
        self.table.dense(false, |&k| k == TrialKind::Target)
    }

    /// Models × segments: `true` for a non-target trial (SIDEKIT's `non`).
    pub fn nontarget_mask(&self) -> Array2<bool> {
        self.table.dense(false, |&k| k == TrialKind::NonTarget)
    }

    /// The trials as (model, segment, kind), in row-major order (models
    /// sorted, then segments sorted).
    pub fn trials(&self) -> impl Iterator<Item = (&str, &str, TrialKind)> + '_ {
        self.table.iter().map(|(m, s, &k)| (m, s, k))
    }

    /// The index of the key's trials, target and non-target alike
    /// (SIDEKIT's `Key.to_ndx`).
    pub fn to_ndx(&self) -> Ndx {
        Ndx {
            table: self.table.map(|_| ()),
        }
    }

    /// How many trials.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// How many target trials.
    pub fn n_targets(&self) -> usize {
        self.trials().filter(|t| t.2 == TrialKind::Target).count()
    }

    /// How many non-target trials.
    pub fn n_nontargets(&self) -> usize {
        self.len() - self.n_targets()
    }

    /// Whether there is no trial.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
