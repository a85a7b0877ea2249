//! The grid every trial list is: sorted unique models (rows) × sorted
//! unique segments (columns), one optional cell per pair.

use std::collections::HashMap;

use ndarray::Array2;

use super::errors::{Location, ProtocolError};
use super::text::check_id;

/// One trial as read or given: model, segment, its value and where it came
/// from.
pub(super) struct Entry<T> {
    pub(super) model: String,
    pub(super) segment: String,
    pub(super) value: T,
    pub(super) at: Location,
}

/// Models × segments, each cell a trial (`Some`) or not (`None`). Models and
/// segments are sorted (byte order, as `numpy.unique` sorts them) and
/// unique.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Table<T> {
    pub(super) models: Vec<String>,
    pub(super) segments: Vec<String>,
    pub(super) cells: Array2<Option<T>>,
}

impl<T: Clone> Table<T> {
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
        let mut cells = Array2::from_elem((models.len(), segments.len()), None);
        for e in entries {
            if let (Ok(m), Ok(s)) = (
                models.binary_search(&e.model),
                segments.binary_search(&e.segment),
            ) {
                cells[(m, s)] = Some(e.value);
            }
        }
        Ok(Self {
            models,
            segments,
            cells,
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

    /// The cell of a trial.
    pub(super) fn get(&self, model: &str, segment: &str) -> Option<&T> {
        let (m, s) = self.index(model, segment)?;
        self.cells[(m, s)].as_ref()
    }

    /// The trials in row-major order (models, then segments, both sorted).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str, &T)> + '_ {
        self.cells.indexed_iter().filter_map(|((m, s), v)| {
            v.as_ref()
                .map(|v| (self.models[m].as_str(), self.segments[s].as_str(), v))
        })
    }

    /// How many trials.
    pub(super) fn len(&self) -> usize {
        self.cells.iter().filter(|c| c.is_some()).count()
    }

    /// The trial mask: `true` where a cell holds a trial.
    pub(super) fn mask(&self, keep: impl Fn(&T) -> bool) -> Array2<bool> {
        self.cells.map(|c| c.as_ref().is_some_and(&keep))
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
