//! What the saved and streaming partial results share: the row count of
//! a saved result ([`read_rows`]), and `Reduce` for the partials, so that a user's own
//! `#[parallelize(reduce = "sum")]` function can return one (a partial per
//! batch of files, say) and get them merged.
//!
//! A partial result is a sum around a *shift* that its data chose, so two
//! partials add exactly only when their shifts agree, which the runtime's
//! fixed-point lanes cannot know. These impls therefore merge with the
//! partial's own `merge` (re-expressing one side around the other's
//! shift), in block order: the same bits on any number of threads and —
//! the partials travel by serde — of ranks. Merging partials of different
//! widths or settings is a bug in the caller's program, so it panics
//! with the partial's own message.

/// Implements [`shardkit::Reduce`] for the partial result `$t` through its
/// inherent `merge`: `$identity` is a partial of no data, which `$empty`
/// recognises.
macro_rules! reduce_by_merge {
    ($t:ty, identity: $identity:expr, empty: $empty:expr $(,)?) => {
        impl shardkit::Reduce for $t {
            /// A partial of no data (no columns): merging it changes nothing.
            fn identity() -> Self {
                $identity
            }

            /// The partial's own `merge`.
            ///
            /// # Panics
            ///
            /// If the two partials cannot merge (other widths or settings),
            /// with the message of `merge`'s error.
            fn merge(&mut self, other: Self) {
                let empty: fn(&$t) -> bool = $empty;
                if empty(&other) {
                    return;
                }
                if empty(self) {
                    *self = other;
                    return;
                }
                if let Err(e) = <$t>::merge(self, other) {
                    panic!("shardkit-algorithms: {e}");
                }
            }
        }
    };
}
pub(crate) use reduce_by_merge;

use ndarray::Array1;

use super::errors::StatsError;
use crate::npz::NpzReader;

/// The `rows` count of a saved result (a one-element float64 array, exact
/// below 2^53).
///
/// # Errors
///
/// [`StatsError::Npz`] for a missing or misshapen array,
/// [`StatsError::Mismatch`] for a value that is not a count.
pub(crate) fn read_rows(npz: &mut NpzReader) -> Result<u64, StatsError> {
    let rows: Array1<f64> = npz.read_shaped("rows", &[Some(1)])?;
    let rows = rows[0];
    if !(rows >= 0.0 && rows.fract() == 0.0 && rows < 2f64.powi(53)) {
        return Err(StatsError::Mismatch(format!(
            "{}: `rows` is {rows}, not a count",
            npz.path().display()
        )));
    }
    Ok(rows as u64)
}
