//! [`KMeansModel`]: fitted centroids, the iterations that led to them,
//! prediction, and `.npz` files.

use std::path::Path;

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut1};
use shardkit::parallelize;

use super::errors::{CentroidsError, KMeansError};
use super::kernel::{assign, block_rows, Centroids, Work, CHUNK};
use crate::frames::{Frames, Source};
use crate::npz::{NpzReader, NpzWriter};

/// One Lloyd iteration, as [`KMeansModel::history`] reports it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LloydIteration {
    /// The sum over all points of the squared distance to the centroid it
    /// was assigned to, against the centroids this iteration started from
    /// (computed in f64 from the coordinates).
    pub inertia: f64,
    /// `Σ‖c_new − c_old‖²`: how far the update step moved the centroids.
    pub shift: f64,
    /// Clusters that were left empty and re-seeded.
    pub reseeded: usize,
    /// Wall-clock seconds of the iteration (pass and update step).
    pub seconds: f64,
}

/// A fitted k-means model: centroids (clusters × columns, f64), and how the
/// fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansModel {
    pub(crate) centroids: Array2<f64>,
    pub(crate) history: Vec<LloydIteration>,
    pub(crate) converged: bool,
    pub(crate) init_seconds: f64,
}

/// The name of the centroids array in a model's `.npz` file.
pub const CENTROIDS: &str = "centroids";

impl KMeansModel {
    /// A model of these centroids (clusters × columns), e.g. to predict with
    /// centroids computed elsewhere. It has no history.
    ///
    /// # Errors
    ///
    /// [`KMeansError::BadCentroids`] if there are none, they have no
    /// columns, or a value is not finite.
    pub fn from_centroids(centroids: Array2<f64>) -> Result<Self, KMeansError> {
        check_centroids(&centroids)?;
        Ok(Self {
            centroids,
            history: Vec::new(),
            converged: false,
            init_seconds: 0.0,
        })
    }

    /// The centroids, one row per cluster: the means of the points
    /// assigned to them by the last iteration.
    pub fn centroids(&self) -> &Array2<f64> {
        &self.centroids
    }

    /// The number of clusters.
    pub fn clusters(&self) -> usize {
        self.centroids.nrows()
    }

    /// The number of columns.
    pub fn dim(&self) -> usize {
        self.centroids.ncols()
    }

    /// The inertia of each iteration, in order (see [`LloydIteration::inertia`]).
    /// It never increases, up to the rounding of the f32 assignment.
    pub fn inertia(&self) -> Vec<f64> {
        self.history.iter().map(|it| it.inertia).collect()
    }

    /// Each Lloyd iteration.
    pub fn history(&self) -> &[LloydIteration] {
        &self.history
    }

    /// The number of Lloyd iterations run.
    pub fn iterations(&self) -> usize {
        self.history.len()
    }

    /// Whether the stop rule ended the fit (the inertia fell by at most
    /// `tol` relative, or the centroids stopped moving), rather than
    /// `max_iter`.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Wall-clock seconds spent choosing the initial centroids.
    pub fn init_seconds(&self) -> f64 {
        self.init_seconds
    }

    /// The nearest centroid of each row (ties: the lowest index), computed
    /// exactly as the fit's assignment step.
    ///
    /// # Errors
    ///
    /// [`KMeansError::DimMismatch`] if the rows have another number of
    /// columns than the centroids, [`KMeansError::Frames`] for a NaN or
    /// infinite value (naming its row and column).
    pub fn predict(&self, rows: ArrayView2<'_, f32>) -> Result<Array1<u32>, KMeansError> {
        if rows.ncols() != self.dim() {
            return Err(KMeansError::DimMismatch {
                what: "rows",
                found: rows.ncols(),
                other: "centroids",
                expected: self.dim(),
            });
        }
        Source::lazy(Frames::rows(rows), block_rows(rows.nrows()))?;
        let centroids = Centroids::new(self.centroids.clone());
        let mut labels = Array1::zeros(rows.nrows());
        predict_rows(
            rows,
            labels.view_mut(),
            block_rows(rows.nrows()),
            &centroids,
        );
        Ok(labels)
    }

    /// Saves the centroids as the array `centroids` (float64) of an `.npz`
    /// archive, atomically: `np.load(path)["centroids"]` reads them.
    ///
    /// # Errors
    ///
    /// [`KMeansError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), KMeansError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add(CENTROIDS, &self.centroids)?;
        npz.finish()?;
        Ok(())
    }

    /// Loads a model saved by [`save`](KMeansModel::save), or any `.npz`
    /// archive with a 2-D float32 or float64 array `centroids`.
    ///
    /// # Errors
    ///
    /// [`KMeansError::Npz`] naming the file (missing, not an archive, no
    /// `centroids` array, not 2-D), [`KMeansError::BadCentroids`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, KMeansError> {
        let centroids: Array2<f64> = NpzReader::open(path)?.read(CENTROIDS)?;
        Self::from_centroids(centroids)
    }
}

pub(crate) fn check_centroids(c: &Array2<f64>) -> Result<(), CentroidsError> {
    if c.nrows() == 0 {
        return Err(CentroidsError::Empty);
    }
    if c.ncols() == 0 {
        return Err(CentroidsError::NoColumns);
    }
    if let Some(((centroid, column), &value)) = c.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(CentroidsError::NonFinite {
            centroid,
            column,
            value,
        });
    }
    Ok(())
}

/// Labels of a block of rows.
#[parallelize(split = "rows, labels", reduce = "none", block_size = block)]
fn predict_rows(
    rows: ArrayView2<'_, f32>,
    labels: ArrayViewMut1<'_, u32>,
    block: usize,
    centroids: &Centroids,
) {
    let mut labels = labels;
    let mut work = Work::default();
    let n = rows.nrows();
    let mut at = 0;
    while at < n {
        let end = (at + CHUNK).min(n);
        assign(rows.slice(s![at..end, ..]), centroids, &mut work);
        labels
            .slice_mut(s![at..end])
            .iter_mut()
            .zip(&work.labels)
            .for_each(|(o, &l)| *o = l);
        at = end;
    }
}
