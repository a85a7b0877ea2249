//! [`FramesError`]: why frames could not be read or passed over.

use std::path::PathBuf;

use shardkit::RemoteError;

use crate::features::FeatureError;

/// Why frames could not be read or passed over.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramesError {
    /// A segment is unreadable or fails a check of
    /// [`ReadOptions`](crate::features::ReadOptions): the
    /// message names the file, or the matrix in memory.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// A feature file changed between two passes of one algorithm.
    #[error("{}: had {expected} frames in an earlier pass over the data and {found} now; files must not change while an algorithm reads them", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Frames in the earlier pass.
        expected: usize,
        /// Frames now.
        found: usize,
    },
    /// Under MPI: a segment failed on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}
