//! Fitting: the data checked and numbered, the initial centroids, then
//! Lloyd iterations.

use std::time::Instant;

use ndarray::Array2;

use super::errors::{CentroidsError, KMeansError};
use super::hyperparams::{Init, KMeans};
use super::kernel::block_rows;
use super::model::{check_centroids, KMeansModel};
use super::rng::Rng;
use super::{init, lloyd};
use crate::frames::{Frames, Source};

impl KMeans {
    /// Fits k-means to `frames` on the ambient executor: rows in memory
    /// (`Frames::rows`), matrices in memory (`Frames::segments`) or feature
    /// files (`Frames::files`, `.npy` or HTK, checked with the frames'
    /// [`ReadOptions`](crate::features::ReadOptions)). Points are numbered
    /// in segment order, then row order.
    ///
    /// A first pass reads every segment to check it and count its frames.
    /// Files are then read again in every pass; nothing but per-point state
    /// (a few f64 per frame during initialisation) is kept between passes.
    /// With [`Init::PlusPlus`] every file is read once per cluster: prefer
    /// [`Init::Parallel`] for large corpora.
    ///
    /// # Errors
    ///
    /// [`KMeansError::Params`] for an invalid setting;
    /// [`KMeansError::NoData`], [`KMeansError::TooFewPoints`] (fewer points
    /// than clusters), [`KMeansError::TooLarge`] for unusable data;
    /// [`KMeansError::Frames`] for a segment that cannot be read or fails
    /// its checks (another dimension, no frames, a non-finite value; the
    /// message names the file or the row) or a file whose length changes
    /// during the fit; [`KMeansError::DimMismatch`] or
    /// [`KMeansError::BadCentroids`] for [`Init::Given`] centroids that do
    /// not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::{s, Array2};
    /// use shardkit_algorithms::features::write_npy;
    /// use shardkit_algorithms::frames::Frames;
    /// use shardkit_algorithms::kmeans::{Init, KMeans};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Four utterances of 3-dimensional frames from two well-separated
    /// // sources.
    /// let dir = tempfile::tempdir()?;
    /// let frames = Array2::from_shape_fn((400, 3), |(i, j)| {
    ///     (i % 2) as f32 * 50.0 + ((i * 13 + j * 7) % 10) as f32 / 10.0
    /// });
    /// let mut files = Vec::new();
    /// for u in 0..4 {
    ///     let path = dir.path().join(format!("utt{u}.npy"));
    ///     write_npy(&path, &frames.slice(s![u * 100..(u + 1) * 100, ..]))?;
    ///     files.push(path);
    /// }
    /// let params = KMeans::new(2).init(Init::parallel()).seed(1);
    /// let from_files = params.fit(&Frames::files(&files).expect_dim(3))?;
    /// // The same frames in memory give the same clusters.
    /// let in_memory = params.fit(&Frames::rows(frames.view()))?;
    /// assert_eq!(from_files.predict(frames.view())?, in_memory.predict(frames.view())?);
    ///
    /// // A file of another dimension is named in the error.
    /// let odd = dir.path().join("odd.npy");
    /// write_npy(&odd, &Array2::<f32>::zeros((10, 4)))?;
    /// files.push(odd);
    /// let err = params.fit(&Frames::files(&files).expect_dim(3)).unwrap_err();
    /// assert!(err.to_string().ends_with("odd.npy: has 4 columns per frame but 3 are expected"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn fit(&self, frames: &Frames<'_>) -> Result<KMeansModel, KMeansError> {
        let data = self.source(frames)?;
        self.fit_data(&data)
    }

    /// The initial centroids the fit of `frames` starts from (for
    /// [`Init::Given`], those centroids), without Lloyd iterations.
    ///
    /// # Errors
    ///
    /// As [`fit`](KMeans::fit).
    pub fn initial_centroids(&self, frames: &Frames<'_>) -> Result<Array2<f64>, KMeansError> {
        let data = self.source(frames)?;
        self.check_size(&data)?;
        self.initialise(&data)
    }

    /// Checks the settings and the data (one pass), and numbers the points.
    pub(super) fn source<'a>(&self, frames: &Frames<'a>) -> Result<Source<'a>, KMeansError> {
        self.check()?;
        if frames.is_local() {
            // This rank's share may be empty: the data is all ranks'
            // shares, known after the first pass.
            let (data, scan) = Source::scan(*frames, &block_rows)?;
            if data.len() == 0 {
                return Err(KMeansError::NoData {
                    what: "no frames on any MPI rank",
                });
            }
            if data.dim() == 0 {
                return Err(KMeansError::NoData {
                    what: "features of 0 columns",
                });
            }
            check_magnitude(scan.max_abs, data.len(), data.dim())?;
            return Ok(data);
        }
        if let Some(rows) = frames.as_rows() {
            if rows.nrows() == 0 {
                return Err(KMeansError::NoData { what: "no rows" });
            }
            if rows.ncols() == 0 {
                return Err(KMeansError::NoData {
                    what: "rows of 0 columns",
                });
            }
        } else if frames.is_empty() {
            return Err(KMeansError::NoData {
                what: "the list of segments is empty",
            });
        }
        if frames.dim()? == Some(0) {
            return Err(KMeansError::NoData {
                what: "features of 0 columns",
            });
        }
        let (data, scan) = Source::scan(*frames, &block_rows)?;
        check_magnitude(scan.max_abs, data.len(), data.dim())?;
        Ok(data)
    }

    pub(super) fn check_size(&self, data: &Source<'_>) -> Result<(), KMeansError> {
        if self.clusters > data.len() {
            return Err(KMeansError::TooFewPoints {
                clusters: self.clusters,
                points: data.len(),
            });
        }
        Ok(())
    }

    pub(super) fn initialise(&self, data: &Source<'_>) -> Result<Array2<f64>, KMeansError> {
        let k = self.clusters;
        let trials = self.trials();
        let points = match &self.init {
            Init::Given(c) => {
                check_centroids(c)?;
                if c.ncols() != data.dim() {
                    return Err(KMeansError::DimMismatch {
                        what: "initial centroids",
                        found: c.ncols(),
                        other: "data",
                        expected: data.dim(),
                    });
                }
                if c.nrows() != k {
                    return Err(CentroidsError::Count {
                        given: c.nrows(),
                        clusters: k,
                    }
                    .into());
                }
                return Ok(c.clone());
            }
            Init::PlusPlus => init::plus_plus(data, k, trials, None, &mut Rng::new(self.seed, 1))?,
            Init::Parallel {
                oversampling,
                rounds,
            } => init::parallel(
                data,
                k,
                *oversampling,
                *rounds,
                trials,
                self.seed,
                &mut Rng::new(self.seed, 2),
            )?,
        };
        Ok(points.mapv(f64::from))
    }

    fn fit_data(&self, data: &Source<'_>) -> Result<KMeansModel, KMeansError> {
        self.check_size(data)?;
        let start = Instant::now();
        let init = self.initialise(data)?;
        let init_seconds = start.elapsed().as_secs_f64();
        let start = lloyd::Progress {
            centroids: init,
            history: Vec::new(),
            converged: false,
        };
        let done = lloyd::lloyd(data, start, self, &mut |_| Ok(()))?;
        Ok(KMeansModel {
            centroids: done.centroids,
            history: done.history,
            converged: done.converged,
            init_seconds,
        })
    }
}

/// Sums of squared distances are at most `n·d·(2·max)²`; they must stay
/// well inside the 2^84 that shardkit sums exactly.
fn check_magnitude(max_abs: f64, rows: usize, dim: usize) -> Result<(), KMeansError> {
    let bound = rows as f64 * dim as f64 * (2.0 * max_abs).powi(2);
    if bound >= 2f64.powi(80) {
        return Err(KMeansError::TooLarge { max_abs, rows, dim });
    }
    Ok(())
}
