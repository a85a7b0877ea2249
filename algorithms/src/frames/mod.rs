//! Frames to pass over: the one source of feature frames that k-means, UBM
//! training, Baum-Welch statistics, MAP adaptation and GMM-UBM scoring
//! read.
//!
//! A [`Frames`] is a list of *segments* (utterances), each a matrix of
//! frames × columns in `f32`:
//!
//! | constructor | segments | a pass over all frames cuts them into |
//! |---|---|---|
//! | [`Frames::rows`] | one: the matrix (a single utterance, or frames pooled) | blocks of consecutive rows |
//! | [`Frames::segments`] | one per matrix in memory | blocks of segments, balanced by size |
//! | [`Frames::files`] | one per feature file (`.npy` or HTK), read when needed | blocks of files, balanced by file size |
//!
//! Every segment is checked as it is read with the frames'
//! [`ReadOptions`](crate::features::ReadOptions) ([`Frames::options`], [`Frames::expect_dim`]): the
//! number of columns, at least one frame, no NaN or infinity. A bad file
//! is reported by its path; a bad matrix in memory by its place
//! (`in-memory rows`, `in-memory segment 3`).
//!
//! ```
//! use ndarray::{array, Array2};
//! use shardkit_algorithms::frames::Frames;
//! use shardkit_algorithms::features::write_npy;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Frames in memory…
//! let a: Array2<f32> = array![[1.0, 2.0], [3.0, 4.0]];
//! let b: Array2<f32> = array![[5.0, 6.0]];
//! let views = [a.view(), b.view()];
//! let in_memory = Frames::segments(&views).expect_dim(2);
//! assert_eq!(in_memory.len(), 2);
//! assert_eq!(in_memory.segment(1)?, b);
//!
//! // …or the same frames in feature files.
//! let dir = tempfile::tempdir()?;
//! let files = vec![dir.path().join("a.npy"), dir.path().join("b.npy")];
//! write_npy(&files[0], &a)?;
//! write_npy(&files[1], &b)?;
//! let on_disk = Frames::files(&files).expect_dim(2);
//! assert_eq!(on_disk.segment(0)?, a);
//!
//! // A file of another dimension is named in the error.
//! let err = Frames::files(&files).expect_dim(3).segment(1).unwrap_err();
//! assert!(err.to_string().ends_with("b.npy: has 2 columns per frame but 3 are expected"));
//! # Ok(())
//! # }
//! ```
//!
//! # Parallelisation
//!
//! The algorithms' passes over a `Frames` are written once, in this
//! module: one `#[parallelize]` function per kind of source (rows in
//! blocks, or segments and files in blocks weighted by size) and per
//! reduction (`sum`, or `concat` of one result per block), each visiting
//! the frames of its shard chunk by chunk, with optional per-frame state
//! kept in lockstep. Blocks are cut from the data alone, so every pass has
//! the same bits on any number of threads or MPI ranks.
//!
//! Frames declared [`local`](Frames::local) are this MPI rank's own share
//! (daal4py's SPMD mode: each rank reads its own files): the passes then
//! run `data = "local"` twins of the same functions, number the points
//! rank after rank, and give every rank the result over all ranks' frames.

mod cache;
mod errors;
mod input;
mod pass;

pub use cache::FrameCache;
pub use errors::FramesError;
pub use input::Frames;
pub(crate) use pass::{Kept, Source, State, Visit};
