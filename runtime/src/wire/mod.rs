//! What crosses between processes, and how the call site finds out whether
//! a user's type can cross.
//!
//! - [`codec`]: a value type's [`Codec`], how its values become bytes and
//!   back (the serde implementation is in `mpi/serde_codec.rs`);
//! - [`remote`]: [`RemoteError`], the error a rank returns when a shard
//!   failed on another rank, and [`ErrorOps`], what the runtime may do with
//!   a shard's error type;
//! - [`probe`]: the autoref [`Probe`] with which generated code asks, for a
//!   concrete type, for its codec and its error operations.
//!
//! Nothing here calls MPI: these are the types that the executor's rank
//! logic and the call driver pass around.

pub(crate) mod codec;
pub(crate) mod probe;
pub(crate) mod remote;

pub use codec::Codec;
pub use probe::{NoDisplay, NoFrom, NoSerde, Probe, ViaDisplay, ViaFrom, ViaSerde};
pub use remote::{ErrorOps, RemoteError};
