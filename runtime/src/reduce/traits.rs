//! How the results of two blocks become one: the traits behind `reduce =
//! "sum"`, `"min"`, `"max"` and `"concat"`.
//!
//! Every merge takes the earlier block's result as `self` and the later one
//! as `other`; the runtime always merges in block order, so a merge need not
//! be commutative (concatenation is not) and floating-point sums give the
//! same bits on any executor.

use ndarray::{Array, Axis, Dimension, RemoveAxis, Zip};

use super::lanes::{Lanes, Unlanes};

/// A partial result that can be summed with another: the trait behind
/// `reduce = "sum"`.
///
/// Numbers add; tuples, `Vec`s and ndarray arrays add element by element;
/// `Option` treats `None` as nothing to add. `#[derive(Reduce)]` merges a
/// struct field by field (and `#[reduce(min)]` / `#[reduce(max)]` on a field
/// takes that field's minimum or maximum instead).
///
/// # Identity
///
/// [`identity`](Reduce::identity) is the result of a shard that saw no data
/// (`merge(identity(), x) == x`). An empty `Vec` or array is the identity
/// whatever the shape of the other side.
///
/// # Panics
///
/// Element-wise merges of different lengths or shapes panic, naming both.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be summed across shards",
    label = "`reduce = \"sum\"` cannot merge this type",
    note = "`sum` merges numbers, tuples, `Vec`s and ndarray arrays (element-wise), `Option`s, and structs with `#[derive(shardkit::Reduce)]`",
    note = "for any other type, implement `shardkit::Reduce` or write `reduce = path::to::merge_fn` with a `fn(T, T) -> T`"
)]
pub trait Reduce: Sized {
    /// The result of a shard that saw no data.
    fn identity() -> Self;
    /// Adds the later partial result `other` into `self`.
    fn merge(&mut self, other: Self);

    /// Writes this partial result's structure and numbers into `lanes`, so
    /// that block results can be summed *exactly* (as fixed-point integers),
    /// which makes the result independent of how blocks are grouped — across
    /// threads and MPI ranks alike. Returns `false` if the type cannot be
    /// laid out so (the default); such a type is merged with
    /// [`merge`](Reduce::merge) in block order on threads and cannot cross
    /// MPI ranks.
    ///
    /// Numbers are written with [`Lanes::f64`] / [`Lanes::int`], lengths and
    /// shapes with [`Lanes::shape`]; [`unpack`](Reduce::unpack) must read
    /// back the same lanes in the same order. `#[derive(Reduce)]` writes both.
    fn pack(&self, lanes: &mut Lanes) -> bool {
        let _ = lanes;
        false
    }

    /// Rebuilds a value from lanes written by [`pack`](Reduce::pack), whose
    /// numbers have been combined.
    fn unpack(lanes: &mut Unlanes) -> Self {
        let _ = lanes;
        unreachable!("shardkit: `Reduce::unpack` called for a type whose `pack` returns false")
    }

    /// [`pack`](Reduce::pack) of every item of a slice, in order (the
    /// elements of a `Vec` or an array). `f64` writes them at once.
    #[doc(hidden)]
    fn pack_all(items: &[Self], lanes: &mut Lanes) -> bool {
        items.iter().all(|x| x.pack(lanes))
    }

    /// As [`pack`](Reduce::pack), taking the value: a `Vec` or array of
    /// `f64`s hands its buffer over instead of copying it.
    #[doc(hidden)]
    fn pack_owned(self, lanes: &mut Lanes) -> bool {
        self.pack(lanes)
    }

    /// As [`pack_all`](Reduce::pack_all), taking the items.
    #[doc(hidden)]
    fn pack_all_owned(items: Vec<Self>, lanes: &mut Lanes) -> bool {
        Self::pack_all(&items, lanes)
    }

    /// `n` items read by [`unpack`](Reduce::unpack), in order. `f64` reads
    /// them at once.
    #[doc(hidden)]
    fn unpack_all(n: usize, lanes: &mut Unlanes) -> Vec<Self> {
        (0..n).map(|_| Self::unpack(lanes)).collect()
    }
}

/// A partial result with an element-wise minimum and maximum: the trait
/// behind `reduce = "min"` and `reduce = "max"`.
///
/// Floats use [`f64::min`] / [`f64::max`], so a NaN loses to any number.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no minimum or maximum across shards",
    label = "`reduce = \"min\"` / `\"max\"` cannot merge this type",
    note = "`min` and `max` merge numbers, tuples, `Vec`s and ndarray arrays (element-wise) and `Option`s",
    note = "for any other type, implement `shardkit::Extremum` or write `reduce = path::to::merge_fn`"
)]
pub trait Extremum: Sized {
    /// The identity of `min`: larger than or equal to every value.
    fn top() -> Self;
    /// The identity of `max`: smaller than or equal to every value.
    fn bottom() -> Self;
    /// Keeps the smaller of `self` and `other` (element-wise).
    fn merge_min(&mut self, other: Self);
    /// Keeps the larger of `self` and `other` (element-wise).
    fn merge_max(&mut self, other: Self);

    /// As [`Reduce::pack`]: writes the structure and numbers; the lanes'
    /// operation (minimum or maximum) is set by the caller. Default: `false`.
    fn pack(&self, lanes: &mut Lanes) -> bool {
        let _ = lanes;
        false
    }

    /// As [`Reduce::unpack`].
    fn unpack(lanes: &mut Unlanes) -> Self {
        let _ = lanes;
        unreachable!("shardkit: `Extremum::unpack` called for a type whose `pack` returns false")
    }
}

/// A partial result that can be appended to: the trait behind
/// `reduce = "concat"`. The later block's items follow the earlier's, so the
/// result is in the order of the input.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be concatenated across shards",
    label = "`reduce = \"concat\"` cannot merge this type",
    note = "`concat` appends `Vec`s, `String`s, ndarray arrays (along axis 0) and tuples of those",
    note = "for any other type, implement `shardkit::Concat` or write `reduce = path::to::merge_fn`"
)]
pub trait Concat: Sized {
    /// The empty result.
    fn empty() -> Self;
    /// Appends `other` after `self`.
    fn append(&mut self, other: Self);
}

macro_rules! numbers {
    ($($t:ty => $top:expr, $bottom:expr, $pack:expr, $unpack:expr;)*) => {$(
        impl Reduce for $t {
            fn identity() -> Self {
                0 as $t
            }
            #[inline]
            fn merge(&mut self, other: Self) {
                *self += other;
            }
            #[inline]
            fn pack(&self, lanes: &mut Lanes) -> bool {
                ($pack)(*self, lanes)
            }
            #[inline]
            fn unpack(lanes: &mut Unlanes) -> Self {
                ($unpack)(lanes)
            }
            #[inline]
            fn pack_all(items: &[Self], lanes: &mut Lanes) -> bool {
                <$t as Bulk>::pack_all(items, lanes)
            }
            #[inline]
            fn unpack_all(n: usize, lanes: &mut Unlanes) -> Vec<Self> {
                <$t as Bulk>::unpack_all(n, lanes)
            }
            #[inline]
            fn pack_all_owned(items: Vec<Self>, lanes: &mut Lanes) -> bool {
                <$t as Bulk>::pack_all_owned(items, lanes)
            }
        }
        impl Extremum for $t {
            fn top() -> Self {
                $top
            }
            fn bottom() -> Self {
                $bottom
            }
            #[inline]
            fn merge_min(&mut self, other: Self) {
                *self = Ord_::min_(*self, other);
            }
            #[inline]
            fn merge_max(&mut self, other: Self) {
                *self = Ord_::max_(*self, other);
            }
            #[inline]
            fn pack(&self, lanes: &mut Lanes) -> bool {
                ($pack)(*self, lanes)
            }
            #[inline]
            fn unpack(lanes: &mut Unlanes) -> Self {
                ($unpack)(lanes)
            }
        }
    )*};
}

macro_rules! float {
    ($t:ty) => {
        (
            |x: $t, l: &mut Lanes| {
                l.f64(f64::from(x));
                true
            },
            |l: &mut Unlanes| l.f64() as $t,
        )
    };
}

macro_rules! int {
    ($t:ty) => {
        (
            |x: $t, l: &mut Lanes| match i128::try_from(x) {
                Ok(x) => {
                    l.int(x);
                    true
                }
                Err(_) => false,
            },
            |l: &mut Unlanes| {
                let x = l.int();
                <$t>::try_from(x).unwrap_or_else(|_| {
                    panic!(
                        "shardkit: the combined value {x} does not fit in `{}`",
                        stringify!($t)
                    )
                })
            },
        )
    };
}

macro_rules! all_numbers {
    ($($t:ty => $top:expr, $bottom:expr, $kind:ident;)*) => {
        numbers! {
            $($t => $top, $bottom, $kind!($t).0, $kind!($t).1;)*
        }
    };
}

all_numbers! {
    f32 => f32::INFINITY, f32::NEG_INFINITY, float;
    f64 => f64::INFINITY, f64::NEG_INFINITY, float;
    i8 => i8::MAX, i8::MIN, int;
    i16 => i16::MAX, i16::MIN, int;
    i32 => i32::MAX, i32::MIN, int;
    i64 => i64::MAX, i64::MIN, int;
    i128 => i128::MAX, i128::MIN, int;
    isize => isize::MAX, isize::MIN, int;
    u8 => u8::MAX, u8::MIN, int;
    u16 => u16::MAX, u16::MIN, int;
    u32 => u32::MAX, u32::MIN, int;
    u64 => u64::MAX, u64::MIN, int;
    u128 => u128::MAX, u128::MIN, int;
    usize => usize::MAX, usize::MIN, int;
}

/// How the numbers write and read slices of themselves in lanes: `f64`s
/// at once (a copy), every other number one by one.
trait Bulk: Reduce {
    fn pack_all(items: &[Self], lanes: &mut Lanes) -> bool {
        items.iter().all(|x| x.pack(lanes))
    }
    fn unpack_all(n: usize, lanes: &mut Unlanes) -> Vec<Self> {
        (0..n).map(|_| Self::unpack(lanes)).collect()
    }
    fn pack_all_owned(items: Vec<Self>, lanes: &mut Lanes) -> bool {
        <Self as Bulk>::pack_all(&items, lanes)
    }
}

impl Bulk for f64 {
    #[inline]
    fn pack_all_owned(items: Vec<f64>, lanes: &mut Lanes) -> bool {
        lanes.f64_vec_owned(items);
        true
    }
    #[inline]
    fn pack_all(items: &[f64], lanes: &mut Lanes) -> bool {
        lanes.f64_slice(items);
        true
    }
    #[inline]
    fn unpack_all(n: usize, lanes: &mut Unlanes) -> Vec<f64> {
        lanes.f64_vec(n)
    }
}

macro_rules! bulk_one_by_one {
    ($($t:ty),*) => {$(impl Bulk for $t {})*};
}
bulk_one_by_one!(f32, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

/// `min` / `max` under one name for floats (`f64::min`) and integers (`Ord::min`).
trait Ord_ {
    fn min_(self, other: Self) -> Self;
    fn max_(self, other: Self) -> Self;
}
macro_rules! ord_ {
    ($($t:ty => $min:path, $max:path;)*) => {$(
        impl Ord_ for $t {
            #[inline]
            fn min_(self, other: Self) -> Self {
                $min(self, other)
            }
            #[inline]
            fn max_(self, other: Self) -> Self {
                $max(self, other)
            }
        }
    )*};
}
ord_! {
    f32 => f32::min, f32::max;
    f64 => f64::min, f64::max;
    i8 => Ord::min, Ord::max; i16 => Ord::min, Ord::max; i32 => Ord::min, Ord::max;
    i64 => Ord::min, Ord::max; i128 => Ord::min, Ord::max; isize => Ord::min, Ord::max;
    u8 => Ord::min, Ord::max; u16 => Ord::min, Ord::max; u32 => Ord::min, Ord::max;
    u64 => Ord::min, Ord::max; u128 => Ord::min, Ord::max; usize => Ord::min, Ord::max;
}

// Option, Vec and arrays merge the same way under every operation: the
// empty side (None, an empty Vec or array) is the identity, otherwise the
// elements merge pairwise with the operation's element merge. Packing writes
// the structure, then each element with the element's own `pack`.

fn merge_option<T>(a: &mut Option<T>, b: Option<T>, merge: impl FnOnce(&mut T, T)) {
    match (a.as_mut(), b) {
        (Some(x), Some(y)) => merge(x, y),
        (None, b) => *a = b,
        (Some(_), None) => {}
    }
}

fn pack_option<T>(x: &Option<T>, lanes: &mut Lanes, pack: fn(&T, &mut Lanes) -> bool) -> bool {
    lanes.shape(usize::from(x.is_some()));
    x.as_ref().is_none_or(|x| pack(x, lanes))
}

fn unpack_option<T>(lanes: &mut Unlanes, unpack: fn(&mut Unlanes) -> T) -> Option<T> {
    (lanes.shape() == 1).then(|| unpack(lanes))
}

#[track_caller]
fn merge_vec<T>(a: &mut Vec<T>, b: Vec<T>, what: &str, merge: impl Fn(&mut T, T)) {
    if a.is_empty() {
        *a = b;
    } else if !b.is_empty() {
        assert!(
            a.len() == b.len(),
            "shardkit: cannot {what} `Vec`s of different lengths element-wise: the earlier block gave {} elements, the later {}",
            a.len(),
            b.len()
        );
        a.iter_mut().zip(b).for_each(|(x, y)| merge(x, y));
    }
}

fn pack_items<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    lanes: &mut Lanes,
    pack: fn(&T, &mut Lanes) -> bool,
) -> bool {
    items.into_iter().all(|x| pack(x, lanes))
}

fn unpack_vec<T>(lanes: &mut Unlanes, unpack: fn(&mut Unlanes) -> T) -> Vec<T> {
    let n = lanes.shape();
    (0..n).map(|_| unpack(lanes)).collect()
}

#[track_caller]
fn merge_array<A: Clone, D: Dimension>(
    a: &mut Array<A, D>,
    b: Array<A, D>,
    what: &str,
    merge: impl Fn(&mut A, A),
) {
    if a.is_empty() {
        *a = b;
    } else if !b.is_empty() {
        assert!(
            a.shape() == b.shape(),
            "shardkit: cannot {what} arrays of different shapes element-wise: the earlier block gave shape {:?}, the later {:?}",
            a.shape(),
            b.shape()
        );
        Zip::from(a).and(&b).for_each(|x, y| merge(x, y.clone()));
    }
}

fn pack_array<A, D: Dimension>(
    x: &Array<A, D>,
    lanes: &mut Lanes,
    pack: fn(&A, &mut Lanes) -> bool,
) -> bool {
    lanes.shape(x.ndim());
    x.shape().iter().for_each(|&n| lanes.shape(n));
    pack_items(x.iter(), lanes, pack)
}

fn unpack_array<A, D: Dimension>(
    lanes: &mut Unlanes,
    unpack: fn(&mut Unlanes) -> A,
) -> Array<A, D> {
    let mut dim = D::zeros(lanes.shape());
    for axis in dim.slice_mut() {
        *axis = lanes.shape();
    }
    let items: Vec<A> = (0..dim.size()).map(|_| unpack(lanes)).collect();
    Array::from_shape_vec(dim, items).expect("a packed shape holds its items")
}

fn zero_sized<A, D: Dimension>() -> Array<A, D> {
    Array::from_shape_vec(D::zeros(D::NDIM.unwrap_or(1)), Vec::new())
        .expect("an all-zero shape holds no element")
}

impl<T: Reduce> Reduce for Option<T> {
    fn identity() -> Self {
        None
    }
    fn merge(&mut self, other: Self) {
        merge_option(self, other, T::merge);
    }
    fn pack(&self, lanes: &mut Lanes) -> bool {
        pack_option(self, lanes, <T as Reduce>::pack)
    }
    fn unpack(lanes: &mut Unlanes) -> Self {
        unpack_option(lanes, <T as Reduce>::unpack)
    }
}

impl<T: Extremum> Extremum for Option<T> {
    fn top() -> Self {
        None
    }
    fn bottom() -> Self {
        None
    }
    fn merge_min(&mut self, other: Self) {
        merge_option(self, other, T::merge_min);
    }
    fn merge_max(&mut self, other: Self) {
        merge_option(self, other, T::merge_max);
    }
    fn pack(&self, lanes: &mut Lanes) -> bool {
        pack_option(self, lanes, <T as Extremum>::pack)
    }
    fn unpack(lanes: &mut Unlanes) -> Self {
        unpack_option(lanes, <T as Extremum>::unpack)
    }
}

impl<T: Reduce> Reduce for Vec<T> {
    fn identity() -> Self {
        Vec::new()
    }
    fn merge(&mut self, other: Self) {
        merge_vec(self, other, "sum", T::merge);
    }
    fn pack(&self, lanes: &mut Lanes) -> bool {
        lanes.shape(self.len());
        T::pack_all(self, lanes)
    }
    fn unpack(lanes: &mut Unlanes) -> Self {
        let n = lanes.shape();
        T::unpack_all(n, lanes)
    }
    fn pack_owned(self, lanes: &mut Lanes) -> bool {
        lanes.shape(self.len());
        T::pack_all_owned(self, lanes)
    }
}

impl<T: Extremum> Extremum for Vec<T> {
    fn top() -> Self {
        Vec::new()
    }
    fn bottom() -> Self {
        Vec::new()
    }
    fn merge_min(&mut self, other: Self) {
        merge_vec(self, other, "take the minimum of", T::merge_min);
    }
    fn merge_max(&mut self, other: Self) {
        merge_vec(self, other, "take the maximum of", T::merge_max);
    }
    fn pack(&self, lanes: &mut Lanes) -> bool {
        lanes.shape(self.len());
        pack_items(self, lanes, <T as Extremum>::pack)
    }
    fn unpack(lanes: &mut Unlanes) -> Self {
        unpack_vec(lanes, <T as Extremum>::unpack)
    }
}

impl<T> Concat for Vec<T> {
    fn empty() -> Self {
        Vec::new()
    }
    fn append(&mut self, mut other: Self) {
        if self.is_empty() {
            *self = other;
        } else {
            Vec::append(self, &mut other);
        }
    }
}

impl Concat for String {
    fn empty() -> Self {
        String::new()
    }
    fn append(&mut self, other: Self) {
        self.push_str(&other);
    }
}

impl<A: Reduce + Clone, D: Dimension> Reduce for Array<A, D> {
    fn identity() -> Self {
        zero_sized()
    }
    fn merge(&mut self, other: Self) {
        merge_array(self, other, "sum", A::merge);
    }
    fn pack(&self, lanes: &mut Lanes) -> bool {
        match self.as_slice() {
            // Standard layout: memory order is the iteration order.
            Some(items) => {
                lanes.shape(self.ndim());
                self.shape().iter().for_each(|&n| lanes.shape(n));
                A::pack_all(items, lanes)
            }
            None => pack_array(self, lanes, <A as Reduce>::pack),
        }
    }
    fn pack_owned(self, lanes: &mut Lanes) -> bool {
        if !self.is_standard_layout() {
            return self.pack(lanes);
        }
        lanes.shape(self.ndim());
        self.shape().iter().for_each(|&n| lanes.shape(n));
        let size = self.len();
        // Standard layout: the items are contiguous, in iteration order,
        // from the logical pointer.
        match self.into_raw_vec_and_offset() {
            (items, Some(0)) if items.len() == size => A::pack_all_owned(items, lanes),
            (items, offset) => {
                let at = offset.unwrap_or(0);
                A::pack_all(&items[at..at + size], lanes)
            }
        }
    }
    fn unpack(lanes: &mut Unlanes) -> Self {
        let mut dim = D::zeros(lanes.shape());
        for axis in dim.slice_mut() {
            *axis = lanes.shape();
        }
        let items = A::unpack_all(dim.size(), lanes);
        Array::from_shape_vec(dim, items).expect("a packed shape holds its items")
    }
}

impl<A: Extremum + Clone, D: Dimension> Extremum for Array<A, D> {
    fn top() -> Self {
        zero_sized()
    }
    fn bottom() -> Self {
        zero_sized()
    }
    fn merge_min(&mut self, other: Self) {
        merge_array(self, other, "take the minimum of", A::merge_min);
    }
    fn merge_max(&mut self, other: Self) {
        merge_array(self, other, "take the maximum of", A::merge_max);
    }
    fn pack(&self, lanes: &mut Lanes) -> bool {
        pack_array(self, lanes, <A as Extremum>::pack)
    }
    fn unpack(lanes: &mut Unlanes) -> Self {
        unpack_array(lanes, <A as Extremum>::unpack)
    }
}

impl<A: Clone, D: RemoveAxis> Concat for Array<A, D> {
    fn empty() -> Self {
        zero_sized()
    }
    /// Grows `self` in place (amortised, as `Vec` does), so concatenating
    /// many blocks costs linear, not quadratic, copying.
    fn append(&mut self, other: Self) {
        if self.is_empty() && self.len_of(Axis(0)) == 0 {
            *self = other;
        } else if other.len_of(Axis(0)) > 0 {
            let (earlier, later) = (self.shape().to_vec(), other.shape().to_vec());
            Array::append(self, Axis(0), other.view()).unwrap_or_else(|_| {
                panic!(
                    "shardkit: cannot concatenate arrays along axis 0: the earlier block gave shape {earlier:?}, the later {later:?}; all but the first axis must agree"
                )
            });
        }
    }
}

macro_rules! tuples {
    ($(($($name:ident $idx:tt),+);)*) => {$(
        impl<$($name: Reduce),+> Reduce for ($($name,)+) {
            fn identity() -> Self {
                ($($name::identity(),)+)
            }
            fn merge(&mut self, other: Self) {
                $(self.$idx.merge(other.$idx);)+
            }
            fn pack(&self, lanes: &mut Lanes) -> bool {
                $(Reduce::pack(&self.$idx, lanes))&&+
            }
            fn unpack(lanes: &mut Unlanes) -> Self {
                ($(<$name as Reduce>::unpack(lanes),)+)
            }
        }
        impl<$($name: Extremum),+> Extremum for ($($name,)+) {
            fn top() -> Self {
                ($($name::top(),)+)
            }
            fn bottom() -> Self {
                ($($name::bottom(),)+)
            }
            fn merge_min(&mut self, other: Self) {
                $(self.$idx.merge_min(other.$idx);)+
            }
            fn merge_max(&mut self, other: Self) {
                $(self.$idx.merge_max(other.$idx);)+
            }
            fn pack(&self, lanes: &mut Lanes) -> bool {
                $(Extremum::pack(&self.$idx, lanes))&&+
            }
            fn unpack(lanes: &mut Unlanes) -> Self {
                ($(<$name as Extremum>::unpack(lanes),)+)
            }
        }
        impl<$($name: Concat),+> Concat for ($($name,)+) {
            fn empty() -> Self {
                ($($name::empty(),)+)
            }
            fn append(&mut self, other: Self) {
                $(self.$idx.append(other.$idx);)+
            }
        }
    )*};
}

tuples! {
    (A 0);
    (A 0, B 1);
    (A 0, B 1, C 2);
    (A 0, B 1, C 2, D 3);
    (A 0, B 1, C 2, D 3, E 4);
    (A 0, B 1, C 2, D 3, E 4, F 5);
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6);
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
}

/// `Reduce::merge` as a function of two results, as a reduction stores it.
pub(crate) fn merge_sum<T: Reduce>(mut a: T, b: T) -> T {
    a.merge(b);
    a
}

/// `Extremum::merge_min` as a function of two results.
pub(crate) fn merge_min<T: Extremum>(mut a: T, b: T) -> T {
    a.merge_min(b);
    a
}

/// `Extremum::merge_max` as a function of two results.
pub(crate) fn merge_max<T: Extremum>(mut a: T, b: T) -> T {
    a.merge_max(b);
    a
}

/// `Concat::append` as a function of two results.
pub(crate) fn merge_concat<T: Concat>(mut a: T, b: T) -> T {
    a.append(b);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::{merge_concat as concat, merge_max as max, merge_min as min, merge_sum as sum};
    use ndarray::{arr1, arr2, Array2};
    use std::fmt::Debug;

    /// Checks, in tests, that a type's identity is neutral for its merge.
    fn identity_is_neutral<T: Reduce + Clone + PartialEq + Debug>(x: T) -> bool {
        let mut left = T::identity();
        left.merge(x.clone());
        let mut right = x.clone();
        right.merge(T::identity());
        left == x && right == x
    }

    #[test]
    fn numbers_tuples_options() {
        assert_eq!(sum(2.5f64, 0.5), 3.0);
        assert_eq!(sum((1u32, 2.0f32), (3, 4.0)), (4, 6.0));
        assert_eq!(min(3i64, -2), -2);
        assert_eq!(max((1u8, 9u8), (4, 2)), (4, 9));
        assert_eq!(sum(None, Some(3u8)), Some(3));
        assert_eq!(sum(Some(1u8), None), Some(1));
        assert_eq!(min(f64::NAN, 1.0), 1.0);
        assert!(identity_is_neutral((1.5f32, vec![1u64, 2], Some(-3i32))));
        assert_eq!(min(f64::top(), 4.0), 4.0);
        assert_eq!(max(u16::bottom(), 4), 4);
    }

    #[test]
    fn vecs_and_arrays_merge_element_wise() {
        assert_eq!(sum(vec![1, 2], vec![10, 20]), [11, 22]);
        assert_eq!(sum(Vec::new(), vec![1.0]), [1.0]);
        assert_eq!(sum(vec![1.0], Vec::new()), [1.0]);
        assert_eq!(max(vec![1, 5], vec![3, 2]), [3, 5]);
        let a = arr2(&[[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(sum(a.clone(), a.clone()), &a * 2.0);
        assert_eq!(sum(Array2::identity(), a.clone()), a);
        assert_eq!(min(arr1(&[1, 5]), arr1(&[3, 2])), arr1(&[1, 2]));
        assert!(identity_is_neutral(a));
    }

    #[test]
    fn concat_keeps_block_order() {
        assert_eq!(concat(vec![1, 2], vec![3]), [1, 2, 3]);
        assert_eq!(concat(String::from("ab"), "c".into()), "abc");
        let top = arr2(&[[1, 2]]);
        let bottom = arr2(&[[3, 4], [5, 6]]);
        assert_eq!(concat(top.clone(), bottom), arr2(&[[1, 2], [3, 4], [5, 6]]));
        assert_eq!(concat(Array2::empty(), top.clone()), top);
        assert_eq!(
            concat((vec![1], vec!['a']), (vec![2], vec!['b'])),
            (vec![1, 2], vec!['a', 'b'])
        );
    }

    #[test]
    #[should_panic(expected = "the earlier block gave 2 elements, the later 3")]
    fn vec_length_mismatch_names_both() {
        sum(vec![1, 2], vec![1, 2, 3]);
    }

    #[test]
    #[should_panic(expected = "the earlier block gave shape [2, 2], the later [1, 2]")]
    fn array_shape_mismatch_names_both() {
        sum(Array2::<f64>::zeros((2, 2)), Array2::zeros((1, 2)));
    }

    #[test]
    #[should_panic(expected = "cannot concatenate arrays along axis 0")]
    fn concat_shape_mismatch() {
        concat(Array2::<f64>::zeros((2, 2)), Array2::zeros((1, 3)));
    }
}
