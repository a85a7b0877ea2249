//! [`ExactSum`]: the reproducible sums behind `reduce = "sum"`, for a
//! caller's own loops.

use std::fmt;

use crate::reduce::exact::{FixedVec, MAX_EXP};

/// A vector of `f64` sums whose bits do not depend on the order or grouping
/// of the additions: the same fixed-point arithmetic as
/// `#[parallelize(reduce = "sum")]` (every addend truncated toward zero to a
/// multiple of 2^-108, integers added exactly, each total correctly rounded
/// once when read).
///
/// It serves a pass that must give the same bits as a `reduce = "sum"` call
/// without being one: for instance a loop that adds blocks' partial
/// products into accumulators it owns. Adding the same partials here, in any
/// order and in any number of `ExactSum`s later [`merge`](ExactSum::merge)d,
/// gives the bits that `reduce = "sum"` gives when each block returns them.
///
/// Each number takes 48 bytes (six 64-bit limbs). At most 2^30 addends may
/// contribute to one number, each of magnitude below 2^84.
///
/// ```
/// use shardkit::ExactSum;
///
/// let parts = [[0.1, 1e20], [0.2, 1.0], [0.3, -1e20]];
/// let mut forward = ExactSum::new(2);
/// for part in &parts {
///     forward.add(part).unwrap();
/// }
/// let mut backward = ExactSum::new(2);
/// for part in parts.iter().rev() {
///     backward.add(part).unwrap();
/// }
/// assert_eq!(forward.to_vec(), backward.to_vec());
/// // Exact, then rounded once: plain f64 addition would lose the 1.0.
/// assert_eq!(forward.to_vec()[1], 1.0);
/// assert!(forward.add(&[f64::NAN, 0.0]).is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExactSum {
    sums: FixedVec,
}

impl ExactSum {
    /// `len` sums, each zero.
    pub fn new(len: usize) -> ExactSum {
        ExactSum {
            sums: FixedVec::new(len),
        }
    }

    /// How many sums there are.
    pub fn len(&self) -> usize {
        self.sums.len()
    }

    /// Whether there are no sums.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// Adds `values[i]` to sum `i`.
    ///
    /// # Errors
    ///
    /// [`ExactSumError`] naming the first element that is NaN, infinite or
    /// of magnitude 2^84 or more; then no sum has changed.
    ///
    /// # Panics
    ///
    /// When `values.len()` differs from [`len`](ExactSum::len) (a caller's
    /// mistake, not the data's).
    pub fn add(&mut self, values: &[f64]) -> Result<(), ExactSumError> {
        assert_eq!(
            values.len(),
            self.len(),
            "ExactSum::add: {} values for {} sums",
            values.len(),
            self.len()
        );
        self.sums
            .add_f64_slice(values)
            .map_err(|(index, bad)| ExactSumError {
                index,
                value: bad.value,
            })
    }

    /// Adds `other`'s sums to these, exactly.
    ///
    /// # Panics
    ///
    /// When the lengths differ.
    pub fn merge(&mut self, other: &ExactSum) {
        self.sums.add_assign(&other.sums);
    }

    /// Every sum, correctly rounded to `f64` (to nearest, ties to even).
    pub fn to_vec(&self) -> Vec<f64> {
        self.sums.to_f64_vec()
    }

    /// Writes every sum, correctly rounded, into `out`.
    ///
    /// # Panics
    ///
    /// When `out.len()` differs from [`len`](ExactSum::len).
    pub fn round_into(&self, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.len(),
            "ExactSum::round_into: room for {} values, {} sums",
            out.len(),
            self.len()
        );
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.sums.get_f64(i);
        }
    }
}

/// An addend that an [`ExactSum`] cannot take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExactSumError {
    /// Its position in the slice given to [`ExactSum::add`].
    pub index: usize,
    /// The value.
    pub value: f64,
}

impl fmt::Display for ExactSumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "element {} is {:e}: exact sums take finite values of magnitude below 2^{MAX_EXP}",
            self.index, self.value
        )
    }
}

impl std::error::Error for ExactSumError {}
