//! A call's reduction: how block results combine, plainly (a merge function
//! applied in block order) or exactly (packed into lanes and added as
//! fixed-point integers, independent of grouping).

use crate::engine::Folder;
use crate::exact::MAX_MAGNITUDE;
use crate::lanes::{Exact, LaneOp, Lanes};
use crate::wire::Codec;
use crate::{Concat, Extremum, Reduce};

/// How the results of a call's blocks combine. Built by generated code
/// (`__private::sum::<T>()` and friends).
pub struct Reduction<T> {
    pub(crate) merge: fn(T, T) -> T,
    pub(crate) exact: Option<ExactOps<T>>,
    /// How block results travel between MPI ranks when they do not combine
    /// exactly; see [`Reduction::wire`].
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) codec: Option<Codec<T>>,
    /// For `none`: the results stay where they are, and a rank that ran no
    /// block makes its own with this.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) stays: Option<fn() -> T>,
}

impl<T> Reduction<T> {
    /// Adds how the results travel between MPI ranks (the call site probes
    /// for serde support; `None` when the type has none).
    pub fn wire(self, codec: Option<Codec<T>>) -> Self {
        Reduction { codec, ..self }
    }
}

/// The functions of a reduction that combines exactly.
pub(crate) struct ExactOps<T> {
    pub(crate) op: LaneOp,
    pub(crate) identity: fn() -> T,
    pub(crate) pack: fn(&T, &mut Lanes) -> bool,
    pub(crate) unpack: fn(&mut crate::lanes::Unlanes) -> T,
}

impl<T> Clone for ExactOps<T> {
    fn clone(&self) -> Self {
        ExactOps { ..*self }
    }
}

pub(crate) fn merge_sum<T: Reduce>(mut a: T, b: T) -> T {
    a.merge(b);
    a
}

pub(crate) fn merge_min<T: Extremum>(mut a: T, b: T) -> T {
    a.merge_min(b);
    a
}

pub(crate) fn merge_max<T: Extremum>(mut a: T, b: T) -> T {
    a.merge_max(b);
    a
}

pub(crate) fn merge_concat<T: Concat>(mut a: T, b: T) -> T {
    a.append(b);
    a
}

/// `reduce = "sum"`.
pub fn sum<T: Reduce>() -> Reduction<T> {
    Reduction {
        merge: merge_sum::<T>,
        exact: Some(ExactOps {
            op: LaneOp::Sum,
            identity: T::identity,
            pack: <T as Reduce>::pack,
            unpack: <T as Reduce>::unpack,
        }),
        codec: None,
        stays: None,
    }
}

/// `reduce = "min"`.
pub fn min<T: Extremum>() -> Reduction<T> {
    extremum(LaneOp::Min, merge_min::<T>, T::top)
}

/// `reduce = "max"`.
pub fn max<T: Extremum>() -> Reduction<T> {
    extremum(LaneOp::Max, merge_max::<T>, T::bottom)
}

fn extremum<T: Extremum>(op: LaneOp, merge: fn(T, T) -> T, identity: fn() -> T) -> Reduction<T> {
    Reduction {
        merge,
        exact: Some(ExactOps {
            op,
            identity,
            pack: <T as Extremum>::pack,
            unpack: <T as Extremum>::unpack,
        }),
        codec: None,
        stays: None,
    }
}

/// `reduce = "concat"`.
pub fn concat<T: Concat>() -> Reduction<T> {
    Reduction {
        merge: merge_concat::<T>,
        exact: None,
        codec: None,
        stays: None,
    }
}

/// `reduce = "none"`.
pub fn none() -> Reduction<()> {
    Reduction {
        merge: |(), ()| (),
        exact: None,
        codec: None,
        stays: Some(|| ()),
    }
}

/// `reduce = path::to::merge`.
pub fn custom<T>(merge: fn(T, T) -> T) -> Reduction<T> {
    Reduction {
        merge,
        exact: None,
        codec: None,
        stays: None,
    }
}

/// Keeps every block's result, in block order (for results that travel
/// between MPI ranks and are merged there in block order).
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) struct Collect;

impl<T: Send> Folder<T> for Collect {
    type Acc = Vec<T>;
    fn start(&self, _: usize, first: T) -> Vec<T> {
        vec![first]
    }
    fn fold(&self, mut acc: Vec<T>, _: usize, next: T) -> Vec<T> {
        acc.push(next);
        acc
    }
}

/// Folds with the merge function, in block order.
pub(crate) struct Plain<T> {
    pub(crate) merge: fn(T, T) -> T,
}

impl<T: Send> Folder<T> for Plain<T> {
    type Acc = T;
    fn start(&self, _: usize, first: T) -> T {
        first
    }
    fn fold(&self, acc: T, _: usize, next: T) -> T {
        (self.merge)(acc, next)
    }
}

/// Folds exactly: every block result is packed and added as integers.
pub(crate) struct ExactFolder<T> {
    pub(crate) function: &'static str,
    pub(crate) ops: ExactOps<T>,
    /// The lanes of the reduction's identity (an empty `Vec`, `None`, ...),
    /// which combine with a result of any shape.
    pub(crate) identity: Exact,
}

impl<T> ExactFolder<T> {
    /// The exact folder for `ops`, or `None` when the type does not pack.
    pub(crate) fn new(function: &'static str, ops: &ExactOps<T>) -> Option<Self> {
        let mut lanes = Lanes::new(ops.op);
        if !(ops.pack)(&(ops.identity)(), &mut lanes) {
            return None;
        }
        let identity = Exact::from_lanes(lanes).ok()?;
        Some(ExactFolder {
            function,
            ops: ops.clone(),
            identity,
        })
    }

    pub(crate) fn lanes_of(&self, index: usize, value: &T) -> Exact {
        let mut lanes = Lanes::new(self.ops.op);
        assert!(
            (self.ops.pack)(value, &mut lanes),
            "shardkit: `{}`: the result of block {index} cannot be packed for an exact reduction although the type's identity can (an integer beyond the range of i128?)",
            self.function
        );
        Exact::from_lanes(lanes).unwrap_or_else(|bad| {
            panic!(
                "shardkit: `{}`: block {index} returned {} as its summed number #{}; the reproducible sum takes finite numbers of magnitude below {MAX_MAGNITUDE:e}; check the input for NaN or infinite values",
                self.function, bad.value, bad.lane
            )
        })
    }

    /// Combines `next` into `acc`, treating identity-shaped sides as identity.
    pub(crate) fn absorb(&self, acc: &mut Exact, index: usize, next: Exact) {
        if acc.shape() == next.shape() {
            acc.add(&next);
        } else if next.same_as(&self.identity) {
        } else if acc.same_as(&self.identity) {
            *acc = next;
        } else {
            panic!(
                "shardkit: `{}` cannot combine results of different shapes: the earlier blocks gave shape {:?}, block {index} gave {:?} (lengths and dimensions, in field order); every block must return the same shape",
                self.function,
                acc.shape(),
                next.shape()
            );
        }
    }

    /// The combined result.
    pub(crate) fn finish(&self, acc: &Exact) -> T {
        (self.ops.unpack)(&mut acc.unlanes())
    }
}

impl<T: Send> Folder<T> for ExactFolder<T> {
    type Acc = Exact;
    fn start(&self, index: usize, first: T) -> Exact {
        self.lanes_of(index, &first)
    }
    fn fold(&self, mut acc: Exact, index: usize, next: T) -> Exact {
        let next = self.lanes_of(index, &next);
        self.absorb(&mut acc, index, next);
        acc
    }
}
