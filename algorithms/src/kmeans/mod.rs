//! k-means: Lloyd's algorithm over any [`Frames`] (rows in memory or feature files),
//! with greedy k-means++ or k-means|| initialisation.
//!
//! ```
//! use ndarray::Array2;
//! use shardkit_algorithms::frames::Frames;
//! use shardkit_algorithms::kmeans::{Init, KMeans};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Three blobs of 100 points around (0, 0), (10, 0) and (0, 10).
//! let rows = Array2::from_shape_fn((300, 2), |(i, j)| {
//!     let centre = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]][i % 3][j];
//!     centre + ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
//! });
//! let model = KMeans::new(3).seed(42).fit(&Frames::rows(rows.view()))?;
//! assert!(model.converged());
//! let inertia = model.inertia();
//! assert!(inertia.windows(2).all(|w| w[1] <= w[0]));
//!
//! // The same with k-means|| initialisation, on two threads: same blobs.
//! let pool = shardkit::Executor::threads(2)?;
//! let other = pool.install(|| KMeans::new(3).init(Init::parallel()).seed(7).fit(&Frames::rows(rows.view())))?;
//! let labels = model.predict(rows.view())?;
//! let other_labels = other.predict(rows.view())?;
//! for i in 0..3 {
//!     for j in 0..300 {
//!         // Points of one blob share a label in both models.
//!         assert_eq!(labels[j] == labels[i], j % 3 == i);
//!         assert_eq!(other_labels[j] == other_labels[i], j % 3 == i);
//!     }
//! }
//!
//! // Centroids are saved as `centroids` in an .npz archive NumPy reads.
//! let dir = tempfile::tempdir()?;
//! model.save(dir.path().join("kmeans.npz"))?;
//! let back = shardkit_algorithms::kmeans::KMeansModel::load(dir.path().join("kmeans.npz"))?;
//! assert_eq!(back.centroids(), model.centroids());
//! # Ok(())
//! # }
//! ```
//!
//! ## The algorithm
//!
//! Each Lloyd iteration assigns every point to its nearest centroid and
//! moves each centroid to the mean of its points. Distances come from
//! `‖x‖² − 2x·c + ‖c‖²`, the cross terms from an f32 GEMM (faer, one thread
//! per block) per chunk of 384 rows; the nearest centroid is the largest `x·c − ½‖c‖²` (ties:
//! the lowest index). The squared distance to the chosen centroid, the
//! per-cluster sums and the inertia are computed in f64 from the
//! coordinates. Centroids are kept in f64 ([`KMeansModel::centroids`]) and
//! rounded to f32 for the GEMM only.
//!
//! **Stop rule.** The fit stops after the first iteration whose inertia is
//! lower than the previous iteration's by at most `tol` times that
//! previous inertia (a relative tolerance, [`KMeans::tol`]; scikit-learn's
//! `tol` measures the centroids' shift instead), when the centroids stop
//! moving, or after `max_iter` iterations. The model's centroids are always
//! the update of the last iteration.
//!
//! **Empty clusters.** A cluster that receives no point in an iteration is
//! re-seeded: the empty clusters, in increasing index order, take the
//! points farthest from their own centroid in that iteration (largest
//! squared distance first; equal distances, the lower row first) — one
//! extra pass over the data, in iterations that need it
//! ([`LloydIteration::reseeded`]).
//!
//! **Initialisation.** [`Init::PlusPlus`] (greedy k-means++: one pass per
//! centroid), [`Init::Parallel`] (k-means||: a fixed number of passes
//! whatever the number of clusters, the variant for files and MPI), or
//! [`Init::Given`] centroids. A k-means++ step skips the points that no
//! candidate can bring nearer: by the triangle inequality, a candidate `c`
//! can only improve on a point's nearest centroid `a` if
//! `‖a − c‖ < 2·d(x, a)`, and a test per point against the closest
//! candidate to `a` leaves most points unread once there are a few dozen
//! centroids. Candidate distances use the same formula as the assignment,
//! in f64 from f32 cross terms, floored at 0 (a point's distance to itself
//! is exactly 0).
//!
//! ## Parallelisation
//!
//! Every pass over the data is one `#[parallelize]` call that cuts the rows
//! (or the files, balanced by size) into blocks:
//!
//! - the Lloyd pass sums, per block, the points per cluster, their f64
//!   coordinate sums and their squared distances (`reduce = "sum"`, an
//!   exact fixed-point sum);
//! - each k-means++ step returns, per block, `Σ d²` and the decrease each
//!   trial centroid would bring (`reduce = "concat"`); the next step's
//!   draws pick a block by these totals, then a point inside it;
//! - each k-means|| round keeps, per block, the points of largest
//!   `d²/u` (`reduce = "concat"`), from which the round's sample follows
//!   once the total `φ` is known;
//! - [`KMeansModel::predict`] writes labels in place (`reduce = "none"`).
//!
//! Blocks depend on the data only, random draws on the seed and on each
//! point's index, and block results are combined exactly or in block
//! order, so **a fit gives the same bits on any number of threads** for a
//! given seed (tested on 1, 2 and 3 threads; MPI ranks follow from the
//! runtime's promise but are not tested here). Rows and files give the
//! same assignments; the centroids may differ in the last bits, as the f64
//! sums are split into blocks differently. The GEMM kernel faer picks
//! depends on the CPU, so bits may differ between machines.
//!
//! ## Performance
//!
//! On 200,000 × 60 f32 frames and 256 clusters (2-core AMD EPYC with
//! AVX-512, `examples/bench_kmeans.rs`), one Lloyd iteration takes 0.081 s
//! on one thread and 0.041 s on two (75 and 148 GFLOP/s counting
//! `2·N·K·D`); about two thirds of it is the GEMM, then the argmax (10%),
//! the exact f64 distances and sums (9%) and the exact reduction of the
//! blocks' sums (6%). Greedy k-means++ takes 1.2 s on one thread, 0.65 s
//! on two. `scripts/peers/kmeans_sklearn.py` times scikit-learn,
//! scikit-learn-intelex and daal4py on the same data.

#![warn(missing_docs)]

mod errors;
mod hyperparams;
mod init;
mod kernel;
mod lloyd;
mod model;
pub(crate) mod rng;
mod top;

use std::time::Instant;

use ndarray::Array2;

pub use errors::{CentroidsError, KMeansError, KMeansParamsError};
pub use hyperparams::{Init, KMeans};
pub use model::{KMeansModel, LloydIteration, CENTROIDS};

use crate::frames::{Frames, Source};
use kernel::CHUNK;
use model::check_centroids;
use rng::Rng;

/// Rows per block for `n` rows: about 32 blocks (enough to keep a few
/// threads busy to the end), at least one GEMM chunk and at most 16
/// chunks — a block's exact-sum packing (one fixed-point conversion per
/// accumulator value) must stay small beside its GEMM work.
pub(crate) fn block_rows(n: usize) -> usize {
    n.div_ceil(32).div_ceil(CHUNK).clamp(1, 16) * CHUNK
}

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
    fn source<'a>(&self, frames: &Frames<'a>) -> Result<Source<'a>, KMeansError> {
        self.check()?;
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
        let block = frames.as_rows().map_or(CHUNK, |r| block_rows(r.nrows()));
        let (data, scan) = Source::scan(*frames, block)?;
        check_magnitude(scan.max_abs, data.len(), data.dim())?;
        Ok(data)
    }

    fn check_size(&self, data: &Source<'_>) -> Result<(), KMeansError> {
        if self.clusters > data.len() {
            return Err(KMeansError::TooFewPoints {
                clusters: self.clusters,
                points: data.len(),
            });
        }
        Ok(())
    }

    fn initialise(&self, data: &Source<'_>) -> Result<Array2<f64>, KMeansError> {
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
        let (centroids, history, converged) = lloyd::lloyd(data, init, self)?;
        Ok(KMeansModel {
            centroids,
            history,
            converged,
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
