//! The HDF5 forms of [`IdMap`], [`Ndx`], [`Key`] and [`Scores`] (the
//! `hdf5` feature): the datasets SIDEKIT's `write` methods create and its
//! `read` methods read (`sidekit/bosaris/idmap.py`, `ndx.py`, `key.py`,
//! `scores.py`).
//!
//! The layouts are listed in the [module docs](super#hdf5-forms).

use std::collections::HashMap;
use std::path::Path;

use ::hdf5::{Dataset, File};
use ndarray::{Array1, Array2};

use super::errors::{DatasetElement, Location, ProtocolError};
use super::idmap::{FrameSpan, IdMap, IdMapEntry};
use super::key::{Key, TrialKind};
use super::ndx::Ndx;
use super::scores::Scores;
use super::table::Table;
use super::text::check_id;
use crate::h5;

/// An [`ProtocolError::Hdf5`] about `dataset` (`None`: the file).
fn err(path: &Path, dataset: Option<&'static str>, reason: String) -> ProtocolError {
    ProtocolError::Hdf5 {
        path: path.to_path_buf(),
        dataset,
        reason,
    }
}

fn at(path: &Path, dataset: &'static str, index: Vec<usize>) -> Location {
    Location::Element(Box::new(DatasetElement {
        path: path.to_path_buf(),
        dataset,
        index,
    }))
}

fn open(path: &Path) -> Result<File, ProtocolError> {
    std::fs::metadata(path).map_err(|error| ProtocolError::Io {
        path: path.to_path_buf(),
        op: "read",
        error,
    })?;
    h5::open(path).map_err(|reason| err(path, None, reason))
}

fn dataset(file: &File, path: &Path, name: &'static str) -> Result<Dataset, ProtocolError> {
    h5::dataset(file, name).map_err(|reason| err(path, Some(name), reason))
}

/// A 1-D string dataset.
fn strings(file: &File, path: &Path, name: &'static str) -> Result<Vec<String>, ProtocolError> {
    let ds = dataset(file, path, name)?;
    h5::read_strings(&ds).map_err(|reason| err(path, Some(name), reason))
}

/// A 1-D integer dataset.
fn ints_1d(file: &File, path: &Path, name: &'static str) -> Result<Vec<i64>, ProtocolError> {
    let ds = dataset(file, path, name)?;
    h5::len_1d(&ds).map_err(|reason| err(path, Some(name), reason))?;
    h5::read_ints(&ds).map_err(|reason| err(path, Some(name), reason))
}

/// Row or column identifiers: each one field, none twice.
fn unique_ids(path: &Path, name: &'static str, ids: &[String]) -> Result<(), ProtocolError> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        check_id(id, &at(path, name, vec![i]))?;
        if let Some(first) = seen.insert(id, i) {
            return Err(err(
                path,
                Some(name),
                format!(
                    "identifier `{id}` is elements [{first}] and [{i}] (counting from 0): \
                     the identifiers of rows and columns must be unique"
                ),
            ));
        }
    }
    Ok(())
}

/// Where a grid file (Ndx, Key, Scores) keeps its identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    /// The models' (rows') dataset.
    models: &'static str,
    /// The segments' (columns') dataset.
    segments: &'static str,
}

/// SIDEKIT's `write` (and `read`): `modelset`, `segset`.
const SIDEKIT: Layout = Layout {
    models: "modelset",
    segments: "segset",
};

/// BOSARIS's MATLAB toolkit (`save_hdf5`; SIDEKIT's `write_matlab`,
/// `read_matlab`): `ID/row_ids`, `ID/column_ids`.
const BOSARIS: Layout = Layout {
    models: "ID/row_ids",
    segments: "ID/column_ids",
};

/// BOSARIS's layout where the file has no `modelset` but an `ID` group
/// with `row_ids`; SIDEKIT's otherwise (and in its errors).
fn layout(file: &File) -> Layout {
    let bosaris = !file.link_exists("modelset")
        && file.link_exists("ID")
        && file.group("ID").is_ok_and(|g| g.link_exists("row_ids"));
    if bosaris {
        BOSARIS
    } else {
        SIDEKIT
    }
}

/// The rows and columns of a grid file, in either layout.
fn grid_ids(file: &File, path: &Path) -> Result<(Vec<String>, Vec<String>, Layout), ProtocolError> {
    let layout = layout(file);
    let models = strings(file, path, layout.models)?;
    unique_ids(path, layout.models, &models)?;
    let segments = strings(file, path, layout.segments)?;
    unique_ids(path, layout.segments, &segments)?;
    Ok((models, segments, layout))
}

/// A models × segments dataset: its shape checked against the identifier
/// lists.
fn grid_dataset(
    file: &File,
    path: &Path,
    name: &'static str,
    (rows, cols): (usize, usize),
    layout: Layout,
) -> Result<Dataset, ProtocolError> {
    let ds = dataset(file, path, name)?;
    let shape = h5::shape_2d(&ds).map_err(|reason| err(path, Some(name), reason))?;
    if shape != (rows, cols) {
        return Err(err(
            path,
            Some(name),
            format!(
                "shape [{}, {}], but `{}` has {rows} and `{}` {cols} identifiers: \
                 expected [{rows}, {cols}] (models × segments)",
                shape.0, shape.1, layout.models, layout.segments
            ),
        ));
    }
    Ok(ds)
}

/// A models × segments integer mask whose values are among `allowed`
/// (`meaning` says what they mean, for the message).
fn grid_mask(
    file: &File,
    path: &Path,
    name: &'static str,
    dims: (usize, usize),
    allowed: &[i64],
    meaning: &str,
    layout: Layout,
) -> Result<Array2<i64>, ProtocolError> {
    let ds = grid_dataset(file, path, name, dims, layout)?;
    let values = h5::read_ints(&ds).map_err(|reason| err(path, Some(name), reason))?;
    let mask = Array2::from_shape_vec(dims, values)
        .map_err(|e| err(path, Some(name), format!("cannot read: {e}")))?;
    if let Some(((r, c), v)) = mask.indexed_iter().find(|(_, v)| !allowed.contains(v)) {
        return Err(err(
            path,
            Some(name),
            format!("element [{r}, {c}] (counting from 0) is {v}; SIDEKIT writes {meaning}"),
        ));
    }
    Ok(mask)
}

/// The table's identifiers as `&str`.
fn id_refs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

/// Writes a file, mapping failures to [`ProtocolError`]s.
fn write_file(
    path: &Path,
    empty: bool,
    what: &'static str,
    fill: impl FnOnce(&File) -> Result<(), ProtocolError>,
) -> Result<(), ProtocolError> {
    if empty {
        return Err(ProtocolError::EmptyWrite {
            path: path.to_path_buf(),
            what,
        });
    }
    h5::write_file_atomic(
        path,
        fill,
        |reason| err(path, None, reason),
        |e| ProtocolError::Io {
            error: crate::npz::strip_path(path, e),
            path: path.to_path_buf(),
            op: "write",
        },
    )
}

/// `h5::write_*`'s result, with the dataset named.
fn wrote(path: &Path, name: &'static str, r: Result<(), String>) -> Result<(), ProtocolError> {
    r.map_err(|reason| err(path, Some(name), reason))
}

/// Writes the identifiers (in `layout`) and a models × segments int8
/// mask.
fn write_grid<T: Clone>(
    file: &File,
    path: &Path,
    table: &Table<T>,
    mask_name: &'static str,
    mask: impl Fn(&T) -> i8,
    layout: Layout,
) -> Result<(), ProtocolError> {
    let (models, segments) = (layout.models, layout.segments);
    wrote(
        path,
        models,
        h5::write_strings(file, models, &id_refs(&table.models)),
    )?;
    wrote(
        path,
        segments,
        h5::write_strings(file, segments, &id_refs(&table.segments)),
    )?;
    let dense = table.dense(0i8, mask);
    wrote(
        path,
        mask_name,
        h5::write_array(file, mask_name, dense.view()),
    )
}

fn no_trials(path: &Path, what: &'static str) -> ProtocolError {
    ProtocolError::Empty {
        path: path.to_path_buf(),
        what,
    }
}

impl IdMap {
    /// Reads a map from SIDEKIT's HDF5 form (`IdMap.write`): string
    /// datasets `leftids` and `rightids` and integer datasets `start` and
    /// `stop`, all of one length; an entry whose `start` and `stop` are
    /// both -1 has no bounds.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Hdf5`] naming the file and the dataset for a file
    /// that is not HDF5, a missing dataset, a wrong type or shape, lengths
    /// that differ, or a bound that is neither a frame index nor -1 with -1;
    /// [`ProtocolError::Empty`] for no entry; [`ProtocolError::BadId`],
    /// [`ProtocolError::StartAfterStop`] and [`ProtocolError::Duplicate`]
    /// at [`Location::Element`]s.
    pub fn read_hdf5(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let path = path.as_ref();
        let file = open(path)?;
        let left = strings(&file, path, "leftids")?;
        let right = strings(&file, path, "rightids")?;
        let start = ints_1d(&file, path, "start")?;
        let stop = ints_1d(&file, path, "stop")?;
        let n = left.len();
        for (name, len) in [
            ("rightids", right.len()),
            ("start", start.len()),
            ("stop", stop.len()),
        ] {
            if len != n {
                return Err(err(
                    path,
                    Some(name),
                    format!("{len} elements, but `leftids` has {n}: all four datasets have one element per entry"),
                ));
            }
        }
        if n == 0 {
            return Err(no_trials(path, "IdMap entries"));
        }
        let mut entries = Vec::with_capacity(n);
        let mut places = Vec::with_capacity(n);
        for (i, ((left, right), (&a, &b))) in left
            .into_iter()
            .zip(right)
            .zip(start.iter().zip(&stop))
            .enumerate()
        {
            let span = match (u64::try_from(a), u64::try_from(b)) {
                _ if a == -1 && b == -1 => None,
                (Ok(start), Ok(stop)) => Some(FrameSpan { start, stop }),
                (Err(_), _) => return Err(bad_bound(path, "start", i, a)),
                (_, Err(_)) => return Err(bad_bound(path, "stop", i, b)),
            };
            entries.push(IdMapEntry { left, right, span });
            places.push(at(path, "leftids", vec![i]));
        }
        Self::checked(entries, places)
    }

    /// Writes SIDEKIT's HDF5 form (see [`IdMap::read_hdf5`]), atomically:
    /// `start` and `stop` as int32, -1 for an entry without bounds.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for a map with no entry;
    /// [`ProtocolError::Hdf5`] for a bound over `i32::MAX` (SIDEKIT's
    /// int32) or a failure of the HDF5 library; [`ProtocolError::Io`] if
    /// the file cannot be written (a file already at `path` is then left as
    /// it was).
    pub fn write_hdf5(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let path = path.as_ref();
        let mut start = Vec::with_capacity(self.len());
        let mut stop = Vec::with_capacity(self.len());
        for (i, e) in self.entries().iter().enumerate() {
            let (a, b) = match e.span {
                None => (-1, -1),
                Some(span) => (
                    int32(path, "start", i, span.start)?,
                    int32(path, "stop", i, span.stop)?,
                ),
            };
            start.push(a);
            stop.push(b);
        }
        write_file(path, self.is_empty(), "IdMap", |file| {
            let left: Vec<&str> = self.entries().iter().map(|e| e.left.as_str()).collect();
            let right: Vec<&str> = self.entries().iter().map(|e| e.right.as_str()).collect();
            wrote(path, "leftids", h5::write_strings(file, "leftids", &left))?;
            wrote(
                path,
                "rightids",
                h5::write_strings(file, "rightids", &right),
            )?;
            let start = Array1::from(start);
            let stop = Array1::from(stop);
            wrote(path, "start", h5::write_array(file, "start", start.view()))?;
            wrote(path, "stop", h5::write_array(file, "stop", stop.view()))
        })
    }
}

fn bad_bound(path: &Path, name: &'static str, i: usize, v: i64) -> ProtocolError {
    err(
        path,
        Some(name),
        format!(
            "element [{i}] (counting from 0) is {v}: a bound is a frame index ≥ 0, \
             or -1 in both `start` and `stop` for an entry without bounds"
        ),
    )
}

fn int32(path: &Path, name: &'static str, i: usize, v: u64) -> Result<i32, ProtocolError> {
    i32::try_from(v).map_err(|_| {
        err(
            path,
            Some(name),
            format!("entry {i} (counting from 0): frame {v} does not fit SIDEKIT's int32"),
        )
    })
}

/// The trials of an Ndx or Key file: `modelset`, `segset` and a
/// `trial_mask` whose values are among `allowed` (`expected` says which);
/// `trial` maps a mask value to the trial's value, `None` for no trial.
/// No trial is [`ProtocolError::Empty`].
fn read_trial_mask<T: Clone>(
    path: &Path,
    allowed: &[i64],
    expected: &'static str,
    trial: impl Fn(i64) -> Option<T>,
) -> Result<Table<T>, ProtocolError> {
    let file = open(path)?;
    let (models, segments, layout) = grid_ids(&file, path)?;
    let dims = (models.len(), segments.len());
    let mask = grid_mask(&file, path, "trial_mask", dims, allowed, expected, layout)?;
    let table = Table::from_grid(&models, &segments, dims, "trial mask", |m, s| {
        Ok(trial(mask[(m, s)]))
    })?;
    if table.len() == 0 {
        return Err(no_trials(path, "trials"));
    }
    Ok(table)
}

impl Ndx {
    /// Reads an index from SIDEKIT's HDF5 form (`Ndx.write`): string
    /// datasets `modelset` and `segset` and an integer `trial_mask`,
    /// models × segments, 1 for a trial and 0 for none (the layouts are
    /// listed in the [module docs](super#hdf5-forms)). Models and segments
    /// may be in any order; those with no trial are not kept. BOSARIS's
    /// MATLAB form (`ID/row_ids`, `ID/column_ids` instead of `modelset`,
    /// `segset`) is read too, as by [`Scores::read_hdf5`].
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Io`] if the file cannot be read;
    /// [`ProtocolError::Hdf5`] naming the file and the dataset for a file
    /// that is not HDF5, a missing dataset, a wrong type or shape, a mask
    /// value other than 0 and 1, or an identifier listed twice;
    /// [`ProtocolError::BadId`] at a [`Location::Element`];
    /// [`ProtocolError::Empty`] for no trial.
    pub fn read_hdf5(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let table = read_trial_mask(path.as_ref(), &[0, 1], "1 (a trial) or 0", |v| {
            (v == 1).then_some(())
        })?;
        Ok(Self { table })
    }

    /// Writes SIDEKIT's HDF5 form (see [`Ndx::read_hdf5`]), atomically.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyWrite`] for an index with no trial;
    /// [`ProtocolError::Hdf5`] for a failure of the HDF5 library;
    /// [`ProtocolError::Io`] if the file cannot be written (a file already
    /// at `path` is then left as it was).
    pub fn write_hdf5(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let path = path.as_ref();
        write_file(path, self.is_empty(), "Ndx", |file| {
            write_grid(file, path, &self.table, "trial_mask", |()| 1, SIDEKIT)
        })
    }
}

impl Key {
    /// Reads a key from SIDEKIT's HDF5 form (`Key.write`): string datasets
    /// `modelset` and `segset` and an integer `trial_mask`, models ×
    /// segments, 1 for a target trial, -1 for a non-target trial and 0 for
    /// none.
    ///
    /// # Errors
    ///
    /// As [`Ndx::read_hdf5`], with mask values 1, -1 and 0.
    pub fn read_hdf5(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let table = read_trial_mask(
            path.as_ref(),
            &[-1, 0, 1],
            "1 (target), -1 (non-target) or 0 (no trial)",
            |v| match v {
                1 => Some(TrialKind::Target),
                -1 => Some(TrialKind::NonTarget),
                _ => None,
            },
        )?;
        Ok(Self { table })
    }

    /// Writes SIDEKIT's HDF5 form (see [`Key::read_hdf5`]), atomically.
    ///
    /// # Errors
    ///
    /// As [`Ndx::write_hdf5`].
    pub fn write_hdf5(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        let path = path.as_ref();
        write_file(path, self.is_empty(), "Key", |file| {
            write_grid(
                file,
                path,
                &self.table,
                "trial_mask",
                |kind| match kind {
                    TrialKind::Target => 1,
                    TrialKind::NonTarget => -1,
                },
                SIDEKIT,
            )
        })
    }
}

impl Scores {
    /// Reads scores from SIDEKIT's HDF5 form (`Scores.write`): string
    /// datasets `modelset` and `segset`, an integer `score_mask` (1 where
    /// there is a score, 0 elsewhere) and a floating-point `scores`, both
    /// models × segments. Cells outside the mask are ignored, whatever they
    /// hold. The form of BOSARIS's MATLAB toolkit (SIDEKIT's
    /// `write_matlab`), whose identifiers are `ID/row_ids` and
    /// `ID/column_ids`, is read too: a file without `modelset` but with
    /// `ID/row_ids` is taken for one.
    ///
    /// # Errors
    ///
    /// As [`Ndx::read_hdf5`] (mask values 0 and 1), and
    /// [`ProtocolError::BadScore`] at a [`Location::Element`] of `scores`
    /// for a NaN or infinite score inside the mask.
    pub fn read_hdf5(path: impl AsRef<Path>) -> Result<Self, ProtocolError> {
        let path = path.as_ref();
        let file = open(path)?;
        let (models, segments, layout) = grid_ids(&file, path)?;
        let dims = (models.len(), segments.len());
        let mask = grid_mask(
            &file,
            path,
            "score_mask",
            dims,
            &[0, 1],
            "1 (a score) or 0 (none)",
            layout,
        )?;
        let ds = grid_dataset(&file, path, "scores", dims, layout)?;
        let values = h5::read_f64(&ds).map_err(|reason| err(path, Some("scores"), reason))?;
        let scores = Array2::from_shape_vec(dims, values)
            .map_err(|e| err(path, Some("scores"), format!("cannot read: {e}")))?;
        let table = Table::from_grid(&models, &segments, dims, "score matrix", |m, s| {
            if mask[(m, s)] != 1 {
                return Ok(None);
            }
            let v = scores[(m, s)];
            if v.is_finite() {
                Ok(Some(v))
            } else {
                Err(ProtocolError::BadScore {
                    at: at(path, "scores", vec![m, s]),
                    text: v.to_string(),
                })
            }
        })?;
        if table.len() == 0 {
            return Err(no_trials(path, "scores"));
        }
        Ok(Self { table })
    }

    /// Writes SIDEKIT's HDF5 form (see [`Scores::read_hdf5`]), atomically:
    /// `scores` as float64, 0 outside the mask, and the
    /// [`provenance`](crate::provenance) of the scores as the root's
    /// attribute `provenance` (JSON text).
    ///
    /// # Errors
    ///
    /// As [`Ndx::write_hdf5`].
    pub fn write_hdf5(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        self.write_scores(path.as_ref(), SIDEKIT)
    }

    /// Writes the HDF5 form of BOSARIS's MATLAB toolkit (SIDEKIT's
    /// `Scores.write_matlab`, read by its `read_matlab` and by
    /// [`Scores::read_hdf5`]), atomically: as [`Scores::write_hdf5`], with
    /// the identifiers in `ID/row_ids` and `ID/column_ids`.
    ///
    /// # Errors
    ///
    /// As [`Ndx::write_hdf5`].
    pub fn write_hdf5_bosaris(&self, path: impl AsRef<Path>) -> Result<(), ProtocolError> {
        self.write_scores(path.as_ref(), BOSARIS)
    }

    fn write_scores(&self, path: &Path, layout: Layout) -> Result<(), ProtocolError> {
        write_file(path, self.is_empty(), "Scores", |file| {
            write_grid(file, path, &self.table, "score_mask", |_| 1, layout)?;
            let matrix = self.score_matrix();
            wrote(
                path,
                "scores",
                h5::write_array(file, "scores", matrix.view()),
            )?;
            let provenance = crate::provenance::current().to_json();
            wrote(
                path,
                crate::provenance::MEMBER,
                h5::write_text_attr(file, crate::provenance::MEMBER, &provenance),
            )
        })
    }
}
