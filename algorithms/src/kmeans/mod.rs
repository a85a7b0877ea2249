//! k-means: Lloyd's algorithm over any [`Frames`](crate::frames::Frames)
//! (rows in memory or feature files, the same on every MPI rank or each
//! rank's own), with greedy k-means++ or k-means|| initialisation.
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
//! given seed (tested on 1, 2 and 3 threads, and on 1–4 MPI ranks by
//! `tests/mpi`). Rows and files give the
//! same assignments; the centroids may differ in the last bits, as the f64
//! sums are split into blocks differently. The GEMM kernel faer picks
//! depends on the CPU, so bits may differ between machines.
//!
//! ## Data that is already distributed (SPMD)
//!
//! As daal4py's distributed k-means, each MPI rank can pass only its own
//! share of the data — its own files, its own rows — with
//! [`Frames::local`](crate::frames::Frames::local): every rank runs the
//! same program and ends with the same model, that of the fit over all
//! ranks' frames in rank order (see its documentation for when the bits
//! are also those of one process reading everything). Initialisation picks
//! points by their global number as on one process: the rank that holds a
//! chosen point sends its row to the others, and a draw that falls in a
//! block of another rank is resolved by that rank — one small exchange
//! each, two per k-means++ centroid (k-means|| samples travel with its
//! passes' results). Off MPI, local frames are the same frames.
//! `algorithms/examples/kmeans_spmd.rs` is a whole program (daal4py's
//! `kmeans_spmd.py`).
//!
//! ```
//! use ndarray::Array2;
//! use shardkit::Executor;
//! use shardkit_algorithms::frames::Frames;
//! use shardkit_algorithms::kmeans::KMeans;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (rank, _) = Executor::current().rank();
//! // This rank's own rows (under mpirun each rank has other ones).
//! let mine = Array2::from_shape_fn((500, 3), |(i, j)| ((i * 7 + j * 3 + rank) % 17) as f32);
//! let model = KMeans::new(4).seed(3).fit(&Frames::rows(mine.view()).local())?;
//! // The same centroids on every rank: rank 0 reports them.
//! if shardkit::is_root() {
//!     assert_eq!(model.centroids().nrows(), 4);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Performance
//!
//! On 200,000 × 60 f32 frames and 256 clusters (2-core AMD EPYC with
//! AVX-512, `benches/measure_kmeans.rs`), one Lloyd iteration takes 0.081 s
//! on one thread and 0.041 s on two (75 and 148 GFLOP/s counting
//! `2·N·K·D`); about two thirds of it is the GEMM, then the argmax (10%),
//! the exact f64 distances and sums (9%) and the exact reduction of the
//! blocks' sums (6%). Greedy k-means++ takes 1.2 s on one thread, 0.65 s
//! on two. `scripts/peers/kmeans_sklearn.py` times scikit-learn,
//! scikit-learn-intelex and daal4py on the same data.

#![warn(missing_docs)]

mod errors;
mod fit;
mod hyperparams;
mod init;
mod kernel;
mod lloyd;
mod model;
mod resume;
pub(crate) mod rng;
mod top;

pub use errors::{CentroidsError, KMeansError, KMeansParamsError};
pub use hyperparams::{Init, KMeans};
pub use model::{KMeansModel, LloydIteration, CENTROIDS};
