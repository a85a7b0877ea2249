//! The grid every trial list is: sorted unique models (rows) × sorted
//! unique segments (columns), with the trials stored sparsely, so a list
//! of many models and segments costs its trials, not models × segments.

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;

use super::errors::{Location, ProtocolError};
use super::text::{check_id, read_lines};

/// One trial as read or given: model, segment, its value and where it came
/// from.
pub(super) struct Entry<T> {
    pub(super) model: String,
    pub(super) segment: String,
    pub(super) value: T,
    pub(super) at: Location,
}

/// Models × segments and the trials among them. Models and segments are
/// sorted (byte order, as `numpy.unique` sorts them) and unique, and each
/// has at least one trial.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Table<T> {
    pub(super) models: Vec<String>,
    pub(super) segments: Vec<String>,
    /// (row, column, value), sorted by (row, column), one per trial.
    pub(super) trials: Vec<(usize, usize, T)>,
}

impl<T: Clone> Table<T> {
    /// The grid of trials given in memory as (model, segment, item), in any
    /// order; `value` checks an item and makes the trial's value (errors at
    /// the item's position, counting from 0).
    pub(super) fn from_items<M, S, I>(
        items: impl IntoIterator<Item = (M, S, I)>,
        mut value: impl FnMut(I, &Location) -> Result<T, ProtocolError>,
    ) -> Result<Self, ProtocolError>
    where
        M: Into<String>,
        S: Into<String>,
    {
        let entries = items
            .into_iter()
            .enumerate()
            .map(|(i, (m, s, item))| {
                let at = Location::Item(i);
                Ok(Entry {
                    model: m.into(),
                    segment: s.into(),
                    value: value(item, &at)?,
                    at,
                })
            })
            .collect::<Result<Vec<_>, ProtocolError>>()?;
        Table::build(entries, "trial")
    }

    /// Builds the grid; an identifier that is not one field, or a trial
    /// given twice, is an error naming where.
    pub(super) fn build(entries: Vec<Entry<T>>, what: &'static str) -> Result<Self, ProtocolError> {
        let mut seen: HashMap<(&str, &str), &Location> = HashMap::with_capacity(entries.len());
        for e in &entries {
            check_id(&e.model, &e.at)?;
            check_id(&e.segment, &e.at)?;
            if let Some(first) = seen.insert((&e.model, &e.segment), &e.at) {
                return Err(ProtocolError::Duplicate {
                    at: e.at.clone(),
                    first: Box::new(first.clone()),
                    what,
                    left: e.model.clone(),
                    right: e.segment.clone(),
                });
            }
        }
        drop(seen);
        let mut models: Vec<String> = entries.iter().map(|e| e.model.clone()).collect();
        models.sort_unstable();
        models.dedup();
        let mut segments: Vec<String> = entries.iter().map(|e| e.segment.clone()).collect();
        segments.sort_unstable();
        segments.dedup();
        let mut trials = Vec::with_capacity(entries.len());
        for e in entries {
            if let (Ok(m), Ok(s)) = (
                models.binary_search(&e.model),
                segments.binary_search(&e.segment),
            ) {
                trials.push((m, s, e.value));
            }
        }
        trials.sort_unstable_by_key(|&(m, s, _)| (m, s));
        Ok(Self {
            models,
            segments,
            trials,
        })
    }

    /// Builds the grid from identifier lists and a matrix of their shape:
    /// `cell(row, column)` says what the cell holds. Identifiers must be
    /// valid and unique; they need not be sorted. As with trials read from
    /// a file, a model or segment with no trial is not kept.
    pub(super) fn from_grid<M, S>(
        models: &[M],
        segments: &[S],
        (rows, cols): (usize, usize),
        what: &'static str,
        mut cell: impl FnMut(usize, usize) -> Result<Option<T>, ProtocolError>,
    ) -> Result<Self, ProtocolError>
    where
        M: AsRef<str>,
        S: AsRef<str>,
    {
        if rows != models.len() || cols != segments.len() {
            return Err(ProtocolError::Shape {
                what,
                rows,
                cols,
                models: models.len(),
                segments: segments.len(),
            });
        }
        unique(models, "model")?;
        unique(segments, "segment")?;
        let mut entries = Vec::new();
        for (m, model) in models.iter().enumerate() {
            for (s, segment) in segments.iter().enumerate() {
                if let Some(value) = cell(m, s)? {
                    entries.push(Entry {
                        model: model.as_ref().to_owned(),
                        segment: segment.as_ref().to_owned(),
                        value,
                        at: Location::Item(m * cols + s),
                    });
                }
            }
        }
        Self::build(entries, "trial")
    }

    /// The row and column of a trial, if both identifiers are known.
    pub(super) fn index(&self, model: &str, segment: &str) -> Option<(usize, usize)> {
        let m = self
            .models
            .binary_search_by(|x| x.as_str().cmp(model))
            .ok()?;
        let s = self
            .segments
            .binary_search_by(|x| x.as_str().cmp(segment))
            .ok()?;
        Some((m, s))
    }

    /// The value of a trial.
    pub(super) fn get(&self, model: &str, segment: &str) -> Option<&T> {
        let key = self.index(model, segment)?;
        let i = self
            .trials
            .binary_search_by_key(&key, |&(m, s, _)| (m, s))
            .ok()?;
        Some(&self.trials[i].2)
    }

    /// The trials in row-major order (models, then segments, both sorted).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str, &T)> + '_ {
        self.trials
            .iter()
            .map(|(m, s, v)| (self.models[*m].as_str(), self.segments[*s].as_str(), v))
    }

    /// How many trials.
    pub(super) fn len(&self) -> usize {
        self.trials.len()
    }

    /// A dense models × segments matrix: `value(trial)` where there is a
    /// trial, `empty` elsewhere.
    pub(super) fn dense<U: Clone>(&self, empty: U, value: impl Fn(&T) -> U) -> Array2<U> {
        let mut out = Array2::from_elem((self.models.len(), self.segments.len()), empty);
        for (m, s, v) in &self.trials {
            out[(*m, *s)] = value(v);
        }
        out
    }

    /// The same trials with other values.
    pub(super) fn map<U>(&self, f: impl Fn(&T) -> U) -> Table<U> {
        Table {
            models: self.models.clone(),
            segments: self.segments.clone(),
            trials: self.trials.iter().map(|(m, s, v)| (*m, *s, f(v))).collect(),
        }
    }
}

impl<T: Clone> Table<T> {
    /// The trials of a text file of `kind` (`Ndx`, `Key`, `Scores`): every
    /// line has `fields` fields (`expected` says which), the model, the
    /// segment, then those that `value` turns into the trial's value. A
    /// file without trials is [`ProtocolError::Empty`] (`what` it lacks).
    pub(super) fn read_txt(
        path: &Path,
        kind: &'static str,
        (fields, expected): (usize, &'static str),
        what: &'static str,
        mut value: impl FnMut(&[String], &Location) -> Result<T, ProtocolError>,
    ) -> Result<Self, ProtocolError> {
        let mut entries = Vec::new();
        for line in read_lines(path)? {
            expect_fields(&line.fields, fields, &line.at, kind, expected)?;
            let mut f = line.fields.into_iter();
            let (Some(model), Some(segment)) = (f.next(), f.next()) else {
                continue;
            };
            let rest: Vec<String> = f.collect();
            entries.push(Entry {
                model,
                segment,
                value: value(&rest, &line.at)?,
                at: line.at,
            });
        }
        if entries.is_empty() {
            return Err(ProtocolError::Empty {
                path: path.to_path_buf(),
                what,
            });
        }
        Table::build(entries, "trial")
    }
}

/// Checks a text line's field count.
pub(super) fn expect_fields(
    fields: &[String],
    n: usize,
    at: &Location,
    what: &'static str,
    expected: &'static str,
) -> Result<(), ProtocolError> {
    if fields.len() != n {
        return Err(ProtocolError::FieldCount {
            at: at.clone(),
            what,
            expected,
            found: fields.len(),
        });
    }
    Ok(())
}

/// Identifiers of rows or columns: valid and unique.
fn unique<I: AsRef<str>>(ids: &[I], kind: &'static str) -> Result<(), ProtocolError> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let id = id.as_ref();
        check_id(id, &Location::Item(i))?;
        if !seen.insert(id) {
            return Err(ProtocolError::DuplicateId {
                kind,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}
