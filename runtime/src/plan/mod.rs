//! Cutting: how a call's input becomes blocks, from the data alone.
//!
//! - [`blocks`]: the [`Plan`] of a call, its block boundaries (and weights);
//! - [`split`]: what a `split` parameter may be ([`Split`], [`Source`],
//!   [`Weigh`]) and how it is cut along a plan;
//! - [`output`]: the handles of parameters written in place, through which
//!   MPI ranks share the items they wrote;
//! - [`weights`]: ready-made weight functions for the `weights` key.

pub(crate) mod blocks;
pub(crate) mod contents;
pub(crate) mod output;
pub(crate) mod split;
pub mod weights;

pub use blocks::{Plan, DEFAULT_BLOCKS};
pub use contents::{Contents, ItemHasher, NoHash, ViaHash};
pub use output::{Output, Outputs};
pub use split::{Copied, Items, MutRows, MutSlice, Rows, Same, Source, Split, Weigh};
