//! Errors that cross between MPI ranks: the [`RemoteError`] every rank sees
//! when a shard on another rank failed, and the [`ErrorOps`] with which the
//! runtime describes a shard's error to the other ranks and rebuilds one
//! from theirs.

use std::fmt;

/// A shard failed on another MPI rank.
///
/// Under MPI, when a shard returns `Err` on one rank, every rank's call
/// returns an error, so that no rank waits for the others in vain. The rank
/// whose shard failed returns the shard's own error. When the error type
/// can travel (it implements serde's `Serialize` and `Deserialize`), that
/// error is sent to the other ranks and every rank returns it, the same
/// value. Otherwise the others return `E::from(RemoteError)`, which names
/// the failing rank and block and carries the failure's message. Give your
/// error type a `From<RemoteError>` conversion (with thiserror:
/// `#[error(transparent)] Remote(#[from] shardkit::RemoteError)`);
/// `std::io::Error`, `String` and `Box<dyn Error + Send + Sync>` have one.
/// With neither, the other ranks panic with the same message, which ends
/// the MPI job.
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

/// What the runtime may do with a shard's error type `E` when another MPI
/// rank fails: send the error itself (when `E` has serde), build an `E`
/// from a [`RemoteError`] (when `E: From<RemoteError>`) and describe a
/// local `E` to the other ranks (when `E: Display`). Generated code finds
/// them with `Probe` (`probe.rs`).
pub struct ErrorOps<E> {
    /// `E::from`, when `E: From<RemoteError>`.
    pub remote: Option<fn(RemoteError) -> E>,
    /// `E::to_string`, when `E: Display`.
    pub describe: Option<fn(&E) -> String>,
    /// `E`'s serde codec, when it has one (and the `mpi` feature is on).
    pub codec: Option<super::Codec<E>>,
}

impl<E> ErrorOps<E> {
    /// Nothing is known about `E` (a generic or unnamed error type).
    pub fn opaque() -> Self {
        ErrorOps {
            remote: None,
            describe: None,
            codec: None,
        }
    }
}
