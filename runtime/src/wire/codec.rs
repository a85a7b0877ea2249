//! How values of a type become bytes and back, to travel between MPI ranks.
//!
//! Sums, minima and maxima of packable types travel as fixed-point words
//! (see `reduce/lanes.rs`). Everything else a call produces on one rank and
//! every rank must hold — the block results of `concat` and merge-function
//! reductions, and the items that a rank wrote into a `&mut [T]` or
//! `ArrayViewMut` split parameter — travels as bytes, encoded by a
//! [`Codec`]. Whether a type has one is probed at the call site (see
//! `probe.rs`): it is `Some` when the type implements `serde::Serialize` and
//! `serde::de::DeserializeOwned` and the `mpi` feature is on.

/// How values of type `T` become bytes and back: a sequence of values is
/// encoded at once.
pub struct Codec<T> {
    pub(crate) encode: EncodeFn<T>,
    pub(crate) decode: fn(&[u8]) -> Result<Vec<T>, String>,
}

/// Encodes a sequence of values, in order.
pub(crate) type EncodeFn<T> = fn(&mut dyn ExactSizeIterator<Item = &T>) -> Result<Vec<u8>, String>;

impl<T> Clone for Codec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Codec<T> {}

impl<T> Codec<T> {
    /// Encodes `items`, in order.
    pub(crate) fn encode_all<'x>(
        &self,
        mut items: impl ExactSizeIterator<Item = &'x T>,
    ) -> Result<Vec<u8>, String>
    where
        T: 'x,
    {
        (self.encode)(&mut items)
    }
}
