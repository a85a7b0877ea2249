//! What a `split` parameter may be, and how it is cut into blocks.
//!
//! A split parameter of type `P` goes through three steps:
//! [`Split::source`] turns it into a [`Source`], which knows its length and
//! cuts itself along a [`Plan`] into one piece per block ([`Same`] or
//! [`Copied`]); each piece then lends the body a value of type `P` again — a sub-slice, a
//! sub-view, a sub-range, or (for `&Vec<T>` and `&Array`) a reference to a
//! copy of the block's items.

use std::marker::PhantomData;
use std::ops::Range;

use ndarray::{
    Array, ArrayBase, ArrayView, ArrayViewMut, Axis, Data, Dimension, RawArrayViewMut, RemoveAxis,
};

use super::blocks::Plan;

/// A parameter type that `#[parallelize(split = "...")]` can cut into shards.
///
/// Implemented for `&[T]`, `&mut [T]`, `Vec<T>`, `&Vec<T>`, `Range<usize>`,
/// and ndarray's `ArrayView`, `ArrayViewMut`, `&Array` and `Array` of any
/// dimension (cut along axis 0, i.e. by rows).
#[diagnostic::on_unimplemented(
    message = "`split` parameter of type `{Self}` cannot be split into shards",
    label = "cannot be cut into shards",
    note = "a `split` parameter must be `&[T]`, `&mut [T]`, `Vec<T>`, `&Vec<T>`, `Range<usize>`, or an ndarray `ArrayView`, `ArrayViewMut`, `&Array` or `Array` (cut along axis 0)",
    note = "to share this value with every shard instead, leave it out of `split`"
)]
pub trait Split: Sized {
    /// The parameter, ready to be measured and cut.
    type Source: Source;
    /// Wraps the parameter.
    fn source(self) -> Self::Source;
}

/// A split parameter that knows its length and how to cut itself.
pub trait Source {
    /// What one block of the parameter is stored as until its shard runs.
    type Piece: Send;
    /// The number of items (rows for arrays).
    fn len(&self) -> usize;
    /// Whether there are no items.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One piece per block of `plan` numbered in `blocks` (all of them on
    /// threads; an MPI rank's own run of blocks), in block order.
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece>;
}

/// A split parameter whose items can be weighed one by one (see the
/// attribute's `weights` key).
#[diagnostic::on_unimplemented(
    message = "`weights` weighs the items of the first `split` parameter, which must be a slice, `Vec` or `Range<usize>`",
    label = "the first `split` parameter's items cannot be weighed",
    note = "weights apply to `&[T]`, `&mut [T]`, `Vec<T>`, `&Vec<T>` and `Range<usize>`; for ndarray arrays use `block_size`"
)]
pub trait Weigh {
    /// The item handed to the weight function.
    type Item: ?Sized;
    /// The weight of every item, in order.
    fn weigh(&self, weight: impl Fn(&Self::Item) -> u64) -> Vec<u64>;
}

/// A piece that is already a value of the parameter's type.
#[derive(Debug)]
pub struct Same<T>(T);

impl<T> Same<T> {
    /// Calls `f` with the block.
    #[inline(always)]
    pub fn lend<R>(self, f: impl FnOnce(T) -> R) -> R {
        f(self.0)
    }
}

/// A piece holding a copy of a block, lent by reference (for `&Vec<T>` and
/// `&Array` parameters, whose blocks are not values of their own).
#[derive(Debug)]
pub struct Copied<T>(T);

impl<T> Copied<T> {
    /// Calls `f` with a reference to the copy of the block.
    #[inline(always)]
    pub fn lend<R>(self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

/// [`Source`] of slices, vectors and ranges.
#[derive(Debug)]
pub struct Items<T>(pub(crate) T);

/// [`Source`] of ndarray arrays and views.
#[derive(Debug)]
pub struct Rows<T>(pub(crate) T);

impl<'a, T: Sync> Split for &'a [T] {
    type Source = Items<&'a [T]>;
    fn source(self) -> Self::Source {
        Items(self)
    }
}

impl<'a, T: Sync> Source for Items<&'a [T]> {
    type Piece = Same<&'a [T]>;
    fn len(&self) -> usize {
        self.0.len()
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks).map(|r| Same(&self.0[r])).collect()
    }
}

impl<'a, T: Send> Split for &'a mut [T] {
    type Source = Items<MutSlice<'a, T>>;
    fn source(self) -> Self::Source {
        Items(MutSlice {
            ptr: self.as_mut_ptr(),
            len: self.len(),
            _borrow: PhantomData,
        })
    }
}

/// A `&'a mut [T]` split parameter, held by its raw parts so that the
/// blocks cut from it and the output handle that shares its rows between
/// MPI ranks after the call (`Outputs`, in the plan's `output` module)
/// derive from the same pointer.
pub struct MutSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

impl<T> MutSlice<'_, T> {
    pub(crate) fn raw_parts(&self) -> (*mut T, usize) {
        (self.ptr, self.len)
    }
}

impl<T> std::fmt::Debug for MutSlice<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MutSlice({} items)", self.len)
    }
}

impl<'a, T: Send> Source for Items<MutSlice<'a, T>> {
    type Piece = Same<&'a mut [T]>;
    fn len(&self) -> usize {
        self.0.len
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks)
            .map(|r| {
                // SAFETY: `r` lies inside the slice (the plan covers exactly
                // `len` items), so the offset stays in its allocation.
                let start = unsafe { self.0.ptr.add(r.start) };
                // SAFETY: the blocks' ranges are disjoint and inside the
                // slice, which is mutably borrowed for 'a: no two pieces
                // alias, and nothing else uses the slice meanwhile.
                Same(unsafe { std::slice::from_raw_parts_mut(start, r.len()) })
            })
            .collect()
    }
}

impl<T: Send> Split for Vec<T> {
    type Source = Items<Vec<T>>;
    fn source(self) -> Self::Source {
        Items(self)
    }
}

impl<T: Send> Source for Items<Vec<T>> {
    type Piece = Same<Vec<T>>;
    fn len(&self) -> usize {
        self.0.len()
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        let mut items = self.0.into_iter().skip(plan.items_in(blocks.clone()).start);
        plan.ranges_in(blocks)
            .map(|r| Same(items.by_ref().take(r.len()).collect()))
            .collect()
    }
}

impl<'a, T: Clone + Send + Sync> Split for &'a Vec<T> {
    type Source = Items<&'a Vec<T>>;
    fn source(self) -> Self::Source {
        Items(self)
    }
}

impl<T: Clone + Send + Sync> Source for Items<&Vec<T>> {
    type Piece = Copied<Vec<T>>;
    fn len(&self) -> usize {
        self.0.len()
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks)
            .map(|r| Copied(self.0[r].to_vec()))
            .collect()
    }
}

impl Split for Range<usize> {
    type Source = Items<Range<usize>>;
    fn source(self) -> Self::Source {
        Items(self)
    }
}

impl Source for Items<Range<usize>> {
    type Piece = Same<Range<usize>>;
    fn len(&self) -> usize {
        self.0.len()
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        let start = self.0.start;
        plan.ranges_in(blocks)
            .map(|r| Same(start + r.start..start + r.end))
            .collect()
    }
}

impl<T> Weigh for Items<&[T]> {
    type Item = T;
    fn weigh(&self, weight: impl Fn(&T) -> u64) -> Vec<u64> {
        self.0.iter().map(weight).collect()
    }
}

impl<T> Weigh for Items<MutSlice<'_, T>> {
    type Item = T;
    fn weigh(&self, weight: impl Fn(&T) -> u64) -> Vec<u64> {
        // SAFETY: the slice is borrowed for the source's life and no piece
        // has been cut yet (cutting consumes the source).
        let items = unsafe { std::slice::from_raw_parts(self.0.ptr, self.0.len) };
        items.iter().map(weight).collect()
    }
}

impl<T> Weigh for Items<Vec<T>> {
    type Item = T;
    fn weigh(&self, weight: impl Fn(&T) -> u64) -> Vec<u64> {
        self.0.iter().map(weight).collect()
    }
}

impl<T> Weigh for Items<&Vec<T>> {
    type Item = T;
    fn weigh(&self, weight: impl Fn(&T) -> u64) -> Vec<u64> {
        self.0.iter().map(weight).collect()
    }
}

impl Weigh for Items<Range<usize>> {
    type Item = usize;
    fn weigh(&self, weight: impl Fn(&usize) -> u64) -> Vec<u64> {
        self.0.clone().map(|i| weight(&i)).collect()
    }
}

#[track_caller]
fn assert_rows(ndim: usize) {
    assert!(
        ndim > 0,
        "shardkit: cannot split a 0-dimensional array: it has no rows (axis 0) to cut; pass it as a broadcast parameter instead"
    );
}

#[track_caller]
fn rows_of<A, S: Data<Elem = A>, D: RemoveAxis>(a: &ArrayBase<S, D>) -> usize {
    assert_rows(a.ndim());
    a.len_of(Axis(0))
}

impl<'a, A: Sync, D: RemoveAxis> Split for ArrayView<'a, A, D> {
    type Source = Rows<ArrayView<'a, A, D>>;
    fn source(self) -> Self::Source {
        Rows(self)
    }
}

impl<'a, A: Sync, D: RemoveAxis> Source for Rows<ArrayView<'a, A, D>> {
    type Piece = Same<ArrayView<'a, A, D>>;
    fn len(&self) -> usize {
        rows_of(&self.0)
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks)
            .map(|r| Same(self.0.clone().slice_axis_move(Axis(0), r.into())))
            .collect()
    }
}

impl<'a, A: Send, D: RemoveAxis> Split for ArrayViewMut<'a, A, D> {
    type Source = Rows<MutRows<'a, A, D>>;
    fn source(mut self) -> Self::Source {
        Rows(MutRows {
            raw: self.raw_view_mut(),
            _borrow: PhantomData,
        })
    }
}

/// An `ArrayViewMut<'a, A, D>` split parameter, held as a raw view for the
/// same reason as [`MutSlice`].
pub struct MutRows<'a, A, D: Dimension> {
    raw: RawArrayViewMut<A, D>,
    _borrow: PhantomData<&'a mut A>,
}

impl<A, D: Dimension> MutRows<'_, A, D> {
    pub(crate) fn raw(&self) -> RawArrayViewMut<A, D> {
        self.raw.clone()
    }
}

impl<A, D: Dimension> std::fmt::Debug for MutRows<'_, A, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MutRows({:?})", self.raw.shape())
    }
}

impl<'a, A: Send, D: RemoveAxis> Source for Rows<MutRows<'a, A, D>> {
    type Piece = Same<ArrayViewMut<'a, A, D>>;
    fn len(&self) -> usize {
        assert_rows(self.0.raw.ndim());
        self.0.raw.len_of(Axis(0))
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks)
            .map(|r| {
                let rows = self.0.raw.clone().slice_axis_move(Axis(0), r.into());
                // SAFETY: the blocks' rows are disjoint and inside the view,
                // which is mutably borrowed for 'a.
                Same(unsafe { rows.deref_into_view_mut() })
            })
            .collect()
    }
}

impl<'a, A: Clone + Send + Sync, D: RemoveAxis> Split for &'a Array<A, D> {
    type Source = Rows<&'a Array<A, D>>;
    fn source(self) -> Self::Source {
        Rows(self)
    }
}

impl<A: Clone + Send + Sync, D: RemoveAxis> Source for Rows<&Array<A, D>> {
    type Piece = Copied<Array<A, D>>;
    fn len(&self) -> usize {
        rows_of(self.0)
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks)
            .map(|r| Copied(self.0.slice_axis(Axis(0), r.into()).to_owned()))
            .collect()
    }
}

impl<A: Clone + Send + Sync, D: RemoveAxis> Split for Array<A, D> {
    type Source = Rows<Array<A, D>>;
    fn source(self) -> Self::Source {
        Rows(self)
    }
}

impl<A: Clone + Send + Sync, D: RemoveAxis> Source for Rows<Array<A, D>> {
    type Piece = Same<Array<A, D>>;
    fn len(&self) -> usize {
        rows_of(&self.0)
    }
    fn cut(self, plan: &Plan, blocks: Range<usize>) -> Vec<Self::Piece> {
        plan.ranges_in(blocks)
            .map(|r| Same(self.0.slice_axis(Axis(0), r.into()).to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array2};

    fn cut<P: Split>(p: P, plan: &Plan) -> Vec<<P::Source as Source>::Piece> {
        p.source().cut(plan, 0..plan.blocks())
    }

    #[test]
    fn slices_and_vecs_cut_in_order() {
        let xs: Vec<u32> = (0..10).collect();
        let plan = Plan::even(10, Some(4));
        let pieces: Vec<Vec<u32>> = cut(&xs[..], &plan)
            .into_iter()
            .map(|p| p.lend(|s| s.to_vec()))
            .collect();
        assert_eq!(pieces, [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        let owned: Vec<Vec<u32>> = cut(xs.clone(), &plan)
            .into_iter()
            .map(|p| p.lend(|s| s))
            .collect();
        assert_eq!(owned, pieces);
        let copied: Vec<Vec<u32>> = cut(&xs, &plan)
            .into_iter()
            .map(|p| p.lend(|s: &Vec<u32>| s.clone()))
            .collect();
        assert_eq!(copied, pieces);
        let ranges: Vec<Range<usize>> = cut(5..15, &plan)
            .into_iter()
            .map(|p| p.lend(|r| r))
            .collect();
        assert_eq!(ranges, [5..9, 9..13, 13..15]);
    }

    #[test]
    fn mutable_pieces_are_disjoint() {
        let mut xs = vec![0u32; 10];
        let plan = Plan::even(10, Some(3));
        for (b, p) in cut(&mut xs[..], &plan).into_iter().enumerate() {
            p.lend(|s| s.iter_mut().for_each(|x| *x = b as u32));
        }
        assert_eq!(xs, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);

        let mut a = Array2::<u32>::zeros((5, 2));
        for (b, p) in cut(a.view_mut(), &Plan::even(5, Some(2)))
            .into_iter()
            .enumerate()
        {
            p.lend(|mut v| v.fill(b as u32));
        }
        assert_eq!(a.column(1).to_vec(), [0, 0, 1, 1, 2]);
    }

    #[test]
    fn arrays_cut_by_rows() {
        let a = arr2(&[[1, 2], [3, 4], [5, 6]]);
        let plan = Plan::even(3, Some(2));
        let views: Vec<Array2<i32>> = cut(a.view(), &plan)
            .into_iter()
            .map(|p| p.lend(|v| v.to_owned()))
            .collect();
        assert_eq!(views, [arr2(&[[1, 2], [3, 4]]), arr2(&[[5, 6]])]);
        let copies: Vec<Array2<i32>> = cut(&a, &plan)
            .into_iter()
            .map(|p| p.lend(|v: &Array2<i32>| v.clone()))
            .collect();
        assert_eq!(copies, views);
        let owned: Vec<Array2<i32>> = cut(a.clone(), &plan)
            .into_iter()
            .map(|p| p.lend(|v| v))
            .collect();
        assert_eq!(owned, views);
    }

    #[test]
    fn weights_follow_items() {
        let names = ["a", "bbb", "cc"];
        assert_eq!(names[..].source().weigh(|s| s.len() as u64), [1, 3, 2]);
        assert_eq!((3..6).source().weigh(|&i| i as u64 * 2), [6, 8, 10]);
    }
}
