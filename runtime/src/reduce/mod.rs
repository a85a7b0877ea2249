//! Reduction: how the results of a call's blocks become one.
//!
//! - [`traits`]: the accumulator traits a user meets — [`Reduce`]
//!   (`reduce = "sum"`), [`Extremum`] (`"min"`, `"max"`) and [`Concat`]
//!   (`"concat"`) — and their impls for numbers, tuples, `Option`, `Vec`
//!   and ndarray arrays;
//! - [`lanes`]: a packable result laid out as numbers ([`Lanes`]) and their
//!   exact combination ([`lanes::Exact`]);
//! - [`exact`]: the fixed-point arithmetic behind it, which makes sums of
//!   floats independent of grouping;
//! - [`op`]: a call's [`Reduction`], as generated code builds it;
//! - [`fold`]: the [`Folder`]s that combine block results in block order.

pub(crate) mod exact;
pub(crate) mod fold;
pub(crate) mod lanes;
pub(crate) mod op;
pub(crate) mod traits;

pub use exact::exact_sum_bytes;
#[cfg(feature = "mpi")]
pub(crate) use exact::{Span, Wire};
#[cfg(feature = "mpi")]
pub(crate) use fold::Collect;
pub(crate) use fold::{ExactFolder, Folder, Plain};
#[cfg(feature = "mpi")]
pub(crate) use lanes::Exact;
pub use lanes::{LaneOp, Lanes, Unlanes};
pub use op::{concat, custom, max, min, none, sum, Reduction};
pub use traits::{Concat, Extremum, Reduce};
