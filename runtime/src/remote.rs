//! The error every MPI rank sees when a shard on another rank failed.

use std::fmt;

/// A shard failed on another MPI rank.
///
/// Under MPI, when a shard returns `Err` on one rank, every rank's call
/// returns an error, so that no rank waits for the others in vain. The rank
/// whose shard failed returns the shard's own error; the others return
/// `E::from(RemoteError)`, which names the failing rank and block and carries
/// the failure's message. Give your error type a `From<RemoteError>`
/// conversion (with thiserror: `#[error(transparent)] Remote(#[from]
/// shardkit::RemoteError)`); `std::io::Error`, `String` and
/// `Box<dyn Error + Send + Sync>` have one. Without it, the other ranks panic
/// with the same message, which ends the MPI job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// The `#[parallelize]` function.
    pub function: String,
    /// The rank whose shard failed first (in block order).
    pub rank: usize,
    /// The failing block.
    pub block: usize,
    /// The error's `Display` text, when its type has one.
    pub message: String,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` failed on MPI rank {}, block {}: {}",
            self.function, self.rank, self.block, self.message
        )
    }
}

impl std::error::Error for RemoteError {}

impl From<RemoteError> for std::io::Error {
    fn from(e: RemoteError) -> Self {
        std::io::Error::other(e)
    }
}

impl From<RemoteError> for String {
    fn from(e: RemoteError) -> Self {
        e.to_string()
    }
}
