//! In-place outputs: the handle of a `&mut [T]` or `ArrayViewMut` split
//! parameter, through which MPI ranks give each other the items they wrote.
//!
//! Each shard writes its own block of such a parameter; on threads that is
//! the whole story. On MPI ranks every rank then holds only its own blocks'
//! items, so after the call the items travel, encoded with the item type's
//! [`Codec`], until every rank holds the whole output. The handles here read
//! and overwrite runs of items once no block of the call is alive.

use std::marker::PhantomData;
use std::ops::Range;

use ndarray::{Axis, Dimension, RemoveAxis};

use super::split::{Items, MutRows, MutSlice, Rows};
use crate::wire::Codec;

/// Where a call's in-place output lives, to share its rows between MPI
/// ranks after the call. Not a public API: only generated code uses it,
/// once every block of the call has finished.
pub trait Output {
    /// The items (slice elements or array elements) that travel.
    type Elem;
    /// Whether the parameter is an output at all.
    fn is_output(&self) -> bool;
    /// Encodes the items (rows) in `items`.
    fn encode(&self, items: Range<usize>, codec: &Codec<Self::Elem>) -> Result<Vec<u8>, String>;
    /// Overwrites the items (rows) in `items` with decoded ones.
    fn decode(
        &self,
        items: Range<usize>,
        bytes: &[u8],
        codec: &Codec<Self::Elem>,
    ) -> Result<(), String>;
}

/// The output handle of a split parameter (see [`Output`]).
pub trait Outputs {
    /// The handle.
    type Output: Output;
    /// The handle; for read-only and owned parameters, one that is no
    /// output.
    fn output(&self) -> Self::Output;
}

/// The handle of a parameter that is not written in place.
#[derive(Debug, Clone, Copy)]
pub struct NoOutput;

impl Output for NoOutput {
    type Elem = ();
    fn is_output(&self) -> bool {
        false
    }
    fn encode(&self, _: Range<usize>, _: &Codec<()>) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
    fn decode(&self, _: Range<usize>, _: &[u8], _: &Codec<()>) -> Result<(), String> {
        Ok(())
    }
}

macro_rules! no_output {
    ($($source:ty),* $(,)?) => {$(
        impl<T> Outputs for $source {
            type Output = NoOutput;
            fn output(&self) -> NoOutput {
                NoOutput
            }
        }
    )*};
}

no_output!(Items<&[T]>, Items<Vec<T>>, Items<&Vec<T>>);

impl Outputs for Items<std::ops::Range<usize>> {
    type Output = NoOutput;
    fn output(&self) -> NoOutput {
        NoOutput
    }
}

impl<A, D> Outputs for Rows<ndarray::ArrayView<'_, A, D>> {
    type Output = NoOutput;
    fn output(&self) -> NoOutput {
        NoOutput
    }
}

impl<A, D> Outputs for Rows<&ndarray::Array<A, D>> {
    type Output = NoOutput;
    fn output(&self) -> NoOutput {
        NoOutput
    }
}

impl<A, D> Outputs for Rows<ndarray::Array<A, D>> {
    type Output = NoOutput;
    fn output(&self) -> NoOutput {
        NoOutput
    }
}

/// The output handle of a `&mut [T]` split parameter.
pub struct SliceOutput<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

impl<'a, T> Outputs for Items<MutSlice<'a, T>> {
    type Output = SliceOutput<'a, T>;
    fn output(&self) -> SliceOutput<'a, T> {
        let (ptr, len) = self.0.raw_parts();
        SliceOutput {
            ptr,
            len,
            _borrow: PhantomData,
        }
    }
}

impl<T> SliceOutput<'_, T> {
    fn check(&self, items: &Range<usize>) {
        assert!(
            items.start <= items.end && items.end <= self.len,
            "shardkit: output items {items:?} outside a slice of {} items",
            self.len
        );
    }
}

impl<T> Output for SliceOutput<'_, T> {
    type Elem = T;
    fn is_output(&self) -> bool {
        true
    }
    fn encode(&self, items: Range<usize>, codec: &Codec<T>) -> Result<Vec<u8>, String> {
        self.check(&items);
        // SAFETY: `check` keeps `items` inside the slice, so the offset
        // stays in its allocation.
        let start = unsafe { self.ptr.add(items.start) };
        // SAFETY: the slice is borrowed for 'a and, by this trait's
        // contract, no block of the call is alive any more: nothing writes
        // these items while they are read.
        let part = unsafe { std::slice::from_raw_parts(start, items.len()) };
        codec.encode_all(part.iter())
    }
    fn decode(&self, items: Range<usize>, bytes: &[u8], codec: &Codec<T>) -> Result<(), String> {
        self.check(&items);
        let values = (codec.decode)(bytes)?;
        if values.len() != items.len() {
            return Err(format!(
                "expected {} items, received {}",
                items.len(),
                values.len()
            ));
        }
        // SAFETY: `check` keeps `items` inside the slice, so the offset
        // stays in its allocation.
        let start = unsafe { self.ptr.add(items.start) };
        // SAFETY: as in `encode`; nothing else refers to these items now.
        let part = unsafe { std::slice::from_raw_parts_mut(start, items.len()) };
        for (slot, value) in part.iter_mut().zip(values) {
            *slot = value;
        }
        Ok(())
    }
}

/// The output handle of an `ArrayViewMut` split parameter.
pub struct RowsOutput<'a, A, D: Dimension> {
    raw: ndarray::RawArrayViewMut<A, D>,
    _borrow: PhantomData<&'a mut A>,
}

impl<'a, A, D: RemoveAxis> Outputs for Rows<MutRows<'a, A, D>> {
    type Output = RowsOutput<'a, A, D>;
    fn output(&self) -> RowsOutput<'a, A, D> {
        RowsOutput {
            raw: self.0.raw(),
            _borrow: PhantomData,
        }
    }
}

impl<A, D: RemoveAxis> RowsOutput<'_, A, D> {
    fn rows(&self, items: Range<usize>) -> ndarray::ArrayViewMut<'_, A, D> {
        assert!(
            items.start <= items.end && items.end <= self.raw.len_of(Axis(0)),
            "shardkit: output rows {items:?} outside an array of {} rows",
            self.raw.len_of(Axis(0))
        );
        let rows = self.raw.clone().slice_axis_move(Axis(0), items.into());
        // SAFETY: the view is borrowed for 'a and, by the trait's contract,
        // no block of the call is alive any more; the returned view borrows
        // `self`, and the trait's methods use one at a time.
        unsafe { rows.deref_into_view_mut() }
    }
}

impl<A, D: RemoveAxis> Output for RowsOutput<'_, A, D> {
    type Elem = A;
    fn is_output(&self) -> bool {
        true
    }
    fn encode(&self, items: Range<usize>, codec: &Codec<A>) -> Result<Vec<u8>, String> {
        let rows = self.rows(items);
        codec.encode_all(rows.iter())
    }
    fn decode(&self, items: Range<usize>, bytes: &[u8], codec: &Codec<A>) -> Result<(), String> {
        let values = (codec.decode)(bytes)?;
        let mut rows = self.rows(items);
        if values.len() != rows.len() {
            return Err(format!(
                "expected {} items, received {}",
                rows.len(),
                values.len()
            ));
        }
        for (slot, value) in rows.iter_mut().zip(values) {
            *slot = value;
        }
        Ok(())
    }
}
