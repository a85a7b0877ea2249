//! How block results become one running result: the [`Folder`] that the
//! ordered fold (`executor/pool.rs`) applies in block order, and its three
//! kinds — the plain one merges with the reduction's merge function, the
//! exact one (for `sum`, `min` and `max` of types that
//! [`pack`](super::traits::Reduce::pack)) adds fixed-point lanes, which makes
//! even the grouping irrelevant, and [`Collect`] keeps every block's result
//! for MPI ranks to exchange.

use super::exact::MAX_MAGNITUDE;
use super::lanes::{Exact, Lanes};
use super::op::ExactOps;

/// How block results become one running result.
pub(crate) trait Folder<T>: Sync {
    /// The running result.
    type Acc: Send;
    /// The running result after the first block (number `index`).
    fn start(&self, index: usize, first: T) -> Self::Acc;
    /// Adds the result of block `index` to the running result.
    fn fold(&self, acc: Self::Acc, index: usize, next: T) -> Self::Acc;
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

    pub(crate) fn lanes_of(&self, index: usize, value: T) -> Exact {
        let mut lanes = Lanes::new(self.ops.op);
        assert!(
            (self.ops.pack_owned)(value, &mut lanes),
            "shardkit: `{}`: the result of block {index} cannot be packed for an exact reduction although the type's identity can (an integer beyond the range of i128?)",
            self.function
        );
        Exact::from_lanes(lanes).unwrap_or_else(|bad| {
            panic!(
                "shardkit: `{}`: block {index} returned {} as its summed number #{}; the reproducible sum takes finite numbers of magnitude below {MAX_MAGNITUDE:e}; check the input for NaN, infinite or huge values (a block's sum of squares of values near 1e12 already reaches the bound), or scale the data down",
                self.function, bad.value, bad.lane
            )
        })
    }

    /// Combines `next` into `acc`, treating identity-shaped sides as identity.
    pub(crate) fn absorb(&self, acc: &mut Exact, index: usize, next: Exact) {
        if acc.same_structure(&next) {
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

    /// The combined result, moving what it can out of `acc`.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn finish_owned(&self, acc: Exact) -> T {
        (self.ops.unpack)(&mut acc.into_unlanes())
    }
}

impl<T: Send> Folder<T> for ExactFolder<T> {
    type Acc = Exact;
    fn start(&self, index: usize, first: T) -> Exact {
        self.lanes_of(index, first)
    }
    fn fold(&self, mut acc: Exact, index: usize, next: T) -> Exact {
        let next = self.lanes_of(index, next);
        self.absorb(&mut acc, index, next);
        acc
    }
}
