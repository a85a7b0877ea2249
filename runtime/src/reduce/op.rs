//! A call's reduction, as generated code builds it (`__private::sum::<T>()`
//! and friends): how block results combine, plainly (a merge function
//! applied in block order) or exactly (packed into lanes and added as
//! fixed-point integers, independent of grouping), and how they travel
//! between MPI ranks when they do not combine exactly.

use super::lanes::{LaneOp, Lanes, Unlanes};
use super::traits::{merge_concat, merge_max, merge_min, merge_sum, Concat, Extremum, Reduce};
use crate::wire::Codec;

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
    /// As `pack`, taking the value (whose buffer of `f64`s, if it has one,
    /// becomes the lanes' own: no copy).
    pub(crate) pack_owned: fn(T, &mut Lanes) -> bool,
    pub(crate) unpack: fn(&mut Unlanes) -> T,
}

impl<T> Clone for ExactOps<T> {
    fn clone(&self) -> Self {
        ExactOps { ..*self }
    }
}

/// `reduce = "sum"`.
pub fn sum<T: Reduce>() -> Reduction<T> {
    Reduction {
        merge: merge_sum::<T>,
        exact: Some(ExactOps {
            op: LaneOp::Sum,
            identity: T::identity,
            pack: <T as Reduce>::pack,
            pack_owned: <T as Reduce>::pack_owned,
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
            pack_owned: |value, lanes| <T as Extremum>::pack(&value, lanes),
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
