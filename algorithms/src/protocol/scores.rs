//! [`Scores`]: one score per (model, segment) trial.

use std::path::Path;

use ndarray::{Array2, ArrayView2};

use super::errors::{Location, ProtocolError};
use super::key::{Key, TrialKind};
use super::ndx::Ndx;
use super::table::Table;
use super::text::{parse_score, python_float, write_lines};

/// Scores of trials, keyed by (model, segment) (BOSARIS / SIDEKIT
/// `Scores`): a score matrix, models × segments, with a score mask saying
/// which cells hold a score.
///
/// Scores are looked up by their identifiers, never by position:
/// [`Scores::get`], [`Scores::align`] to an [`Ndx`], and
/// [`Scores::target_nontarget`] with a [`Key`], whose two lists feed
/// [`crate::metrics`] directly. Every score is a finite number.
///
/// Text form (SIDEKIT `Scores.read_txt` / `write_txt`): one trial per
/// line, `model segment score`, fields separated by white space. Writing
/// lists the models in sorted order and, for each, its segments in sorted
/// order; the score is printed as Python prints a `float` (`0.5`, `-3.0`,
/// `1e-05`), which is what SIDEKIT's `'{} {} {}'.format(...)` writes, and
/// reads back to the same `f64` bits.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub(super) table: Table<f64>,
}

const FIELDS: &str = "3 fields: model segment score";

impl Scores {
    /// The scores given as (model, segment, score) triples, in any order.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::BadScore`] for a NaN or infinite score,
    /// [`ProtocolError::BadId`] for an identifier that is empty or holds
    /// white space, [`ProtocolError::Duplicate`] for a trial given twice
    /// (positions count from 0). No triples give empty `Scores`.
    pub fn from_triples<M, S>(
        triples: impl IntoIterator<Item = (M, S, f64)>,
    ) -> Result<Self, ProtocolError>
    where
        M: Into<String>,
        S: Into<String>,
    {
        let table = Table::from_items(triples, |score: f64, at| {
            if score.is_finite() {
                Ok(score)
            } else {
                Err(ProtocolError::BadScore {
                    at: at.clone(),
                    text: score.to_string(),
                })
            }
        })?;
        Ok(Self { table })
    }

    /// Every cell of a score matrix, models × segments, as a back end
    /// returns it (e.g. [`crate::backend::Backend::score`]: enrolled
    /// models × test vectors), in any order of models and segments.
    /// [`Scores::align`] then keeps the trials of an [`Ndx`].
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Shape`] if the matrix is not models × segments,
    /// [`ProtocolError::BadScore`] for a NaN or infinite score (at its
    /// row-major position), [`ProtocolError::DuplicateId`] for an
    /// identifier listed twice, [`ProtocolError::BadId`] for one that is
    /// empty or holds white space.
    pub fn from_matrix<M, S>(
        models: &[M],
        segments: &[S],
        scores: ArrayView2<'_, f64>,
    ) -> Result<Self, ProtocolError>
    where
        M: AsRef<str>,
        S: AsRef<str>,
    {
        let cols = scores.ncols();
        let table = Table::from_grid(models, segments, scores.dim(), "score matrix", |m, s| {
            let v = scores[(m, s)];
            if v.is_finite() {
                Ok(Some(v))
            } else {
                Err(ProtocolError::BadScore {
                    at: Location::Item(m * cols + s),
                    text: v.to_string(),
                })
            }
        })?;
        Ok(Self { table })
    }

    /// Reads scores from their text form (see the [type docs](Scores)).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Empty`] if it holds no score;
    /// [`ProtocolError::FieldCount`] for a line without exactly three
    /// fields; [`ProtocolError::BadScore`] for a score that does not parse
    /// as a finite number; [`ProtocolError::Duplicate`] for a trial scored
    /// twice; [`ProtocolError::NotUtf8`].
    pub fn read_txt(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let table = Table::read_txt(
            path.as_ref(),
            "Scores",
            (3, FIELDS),
            "scores",
            |rest, at| parse_score(&rest[0], at),
        )?;
        Ok(Self { table })
    }

    /// Writes the text form atomically ([`shardkit::write_atomic`]).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for scores with no trial;
    /// [`ProtocolError::Io`] if the file cannot be written (a file already
    /// at `path` is then left as it was).
    pub fn write_txt(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let lines = self
            .iter()
            .map(|(m, s, score)| format!("{m} {s} {}", python_float(score)));
        write_lines(path.as_ref(), "Scores", lines)
    }

    /// The score of the trial (model, segment), `None` if there is none.
    pub fn get(&self, model: &str, segment: &str) -> Option<f64> {
        self.table.get(model, segment).copied()
    }

    /// The score of the trial (model, segment).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MissingScore`] naming the model and segment if
    /// there is no score for it.
    pub fn score(&self, model: &str, segment: &str) -> Result<f64, ProtocolError> {
        self.get(model, segment)
            .ok_or_else(|| ProtocolError::MissingScore {
                model: model.to_owned(),
                segment: segment.to_owned(),
            })
    }

    /// The models, sorted and unique (the rows).
    pub fn models(&self) -> &[String] {
        &self.table.models
    }

    /// The test segments, sorted and unique (the columns).
    pub fn segments(&self) -> &[String] {
        &self.table.segments
    }

    /// Models × segments: `true` where there is a score (SIDEKIT's
    /// `scoremask`).
    pub fn score_mask(&self) -> Array2<bool> {
        self.table.dense(false, |_| true)
    }

    /// Models × segments: the scores, 0 where there is none (SIDEKIT's
    /// `scoremat`); read it with [`Scores::score_mask`]. Built on request:
    /// models × segments `f64`s.
    pub fn score_matrix(&self) -> Array2<f64> {
        self.table.dense(0.0, |&v| v)
    }

    /// The scores as (model, segment, score), in row-major order (models
    /// sorted, then segments sorted): the order [`Scores::write_txt`]
    /// writes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, f64)> + '_ {
        self.table.iter().map(|(m, s, &v)| (m, s, v))
    }

    /// How many scores.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no score.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The row of `model`, if it has scores.
    pub(crate) fn model_index(&self, model: &str) -> Option<usize> {
        self.table
            .models
            .binary_search_by(|x| x.as_str().cmp(model))
            .ok()
    }

    /// The column of `segment`, if it has scores.
    pub(crate) fn segment_index(&self, segment: &str) -> Option<usize> {
        self.table
            .segments
            .binary_search_by(|x| x.as_str().cmp(segment))
            .ok()
    }

    /// The score at (row, column), if there is one.
    pub(crate) fn get_at(&self, model: usize, segment: usize) -> Option<f64> {
        let i = self
            .table
            .trials
            .binary_search_by_key(&(model, segment), |&(m, s, _)| (m, s))
            .ok()?;
        Some(self.table.trials[i].2)
    }

    /// The scores as (row, column, score), in row-major order.
    pub(crate) fn indexed(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.table.trials.iter().copied()
    }

    /// The same trials with the scores `values`, one per trial in
    /// row-major order (the order of [`Scores::iter`]). The caller gives
    /// as many values as there are trials, all finite.
    pub(crate) fn with_values(&self, values: Vec<f64>) -> Scores {
        debug_assert_eq!(values.len(), self.len());
        debug_assert!(values.iter().all(|v| v.is_finite()));
        Scores {
            table: Table {
                models: self.table.models.clone(),
                segments: self.table.segments.clone(),
                trials: self
                    .table
                    .trials
                    .iter()
                    .zip(values)
                    .map(|(&(m, s, _), v)| (m, s, v))
                    .collect(),
            },
        }
    }

    /// The scores of `ndx`'s trials, with its models, segments and trial
    /// mask (SIDEKIT's `align_with_ndx`): scores of trials `ndx` does not
    /// list are left out. Several `Scores` aligned with one `Ndx` have the
    /// same layout.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MissingScore`] naming the first trial of `ndx` (in
    /// its row-major order) that has no score. SIDEKIT logs and drops such
    /// trials; here they are an error, since dropping them changes the
    /// evaluation.
    pub fn align(&self, ndx: &Ndx) -> Result<Scores, ProtocolError> {
        let mut trials = Vec::with_capacity(ndx.len());
        for &(m, s, ()) in &ndx.table.trials {
            let score = self.score(&ndx.table.models[m], &ndx.table.segments[s])?;
            trials.push((m, s, score));
        }
        Ok(Scores {
            table: Table {
                models: ndx.table.models.clone(),
                segments: ndx.table.segments.clone(),
                trials,
            },
        })
    }

    /// The target and the non-target scores of `key`'s trials (SIDEKIT's
    /// `get_tar_non`), each in the key's row-major order (models sorted,
    /// then segments sorted): ready for [`crate::metrics::DetCurve::new`],
    /// [`crate::metrics::eer`] and [`crate::metrics::min_dcf`]. Scores of
    /// trials the key does not list are ignored.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::MissingScore`] naming the first trial of the key
    /// (in its row-major order) that has no score.
    pub fn target_nontarget(&self, key: &Key) -> Result<(Vec<f64>, Vec<f64>), ProtocolError> {
        let mut targets = Vec::new();
        let mut nontargets = Vec::new();
        for (model, segment, kind) in key.trials() {
            let score = self.score(model, segment)?;
            match kind {
                TrialKind::Target => targets.push(score),
                TrialKind::NonTarget => nontargets.push(score),
            }
        }
        Ok((targets, nontargets))
    }
}
