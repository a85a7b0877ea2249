//! Low-order moments per column, in one pass: daal4py's
//! `low_order_moments`.

use std::path::Path;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};
use shardkit::Reduce;

use super::errors::StatsError;
use super::pass::{self, ChunkPass, Survey};
use super::streaming::read_rows;
use super::table::Table;
use crate::npz::{NpzReader, NpzWriter};
use crate::simd::{dispatch, prefetch};

/// The column statistics of a table (daal4py's list), each one value per
/// column. Variances divide by `rows − 1` (the sample variance, as daal4py
/// and `numpy.var(ddof=1)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Rows seen.
    pub rows: u64,
    /// Smallest value.
    pub minimum: Array1<f64>,
    /// Largest value.
    pub maximum: Array1<f64>,
    /// Σ x.
    pub sum: Array1<f64>,
    /// Σ x².
    pub sum_squares: Array1<f64>,
    /// Σ (x − mean)².
    pub sum_squares_centered: Array1<f64>,
    /// Σ x / rows.
    pub mean: Array1<f64>,
    /// Σ x² / rows.
    pub second_order_raw_moment: Array1<f64>,
    /// Σ (x − mean)² / (rows − 1).
    pub variance: Array1<f64>,
    /// √variance.
    pub standard_deviation: Array1<f64>,
    /// standard deviation / mean (infinite or NaN where the mean is 0).
    pub variation: Array1<f64>,
}

/// The names of [`Moments`]' arrays in its `.npz` file, in order.
const MOMENT_NAMES: [&str; 10] = [
    "minimum",
    "maximum",
    "sum",
    "sum_squares",
    "sum_squares_centered",
    "mean",
    "second_order_raw_moment",
    "variance",
    "standard_deviation",
    "variation",
];

impl Moments {
    /// The arrays, in the order of [`MOMENT_NAMES`].
    fn arrays(&self) -> [&Array1<f64>; 10] {
        [
            &self.minimum,
            &self.maximum,
            &self.sum,
            &self.sum_squares,
            &self.sum_squares_centered,
            &self.mean,
            &self.second_order_raw_moment,
            &self.variance,
            &self.standard_deviation,
            &self.variation,
        ]
    }

    /// Writes the moments as an `.npz` archive, one array per field
    /// (`rows` as a one-element float64 array), atomically, by rank 0
    /// under MPI (every rank calls it and gets the same result).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("rows", &Array1::from(vec![self.rows as f64]))?;
        for (name, array) in MOMENT_NAMES.iter().zip(self.arrays()) {
            npz.add(name, array)?;
        }
        Ok(npz.finish_on_root()?)
    }
}

/// What one pass over a table keeps per column: running sums relative to a
/// *shift* (the table's first row), minima and maxima. Partial results
/// [`merge`](MomentsPartial::merge), [`save`](MomentsPartial::save) and
/// [`load`](MomentsPartial::load), so that data arriving over time, or
/// read by several jobs, gives its moments at the end
/// ([`finish`](MomentsPartial::finish)) — daal4py's streaming mode.
///
/// Subtracting a value near the data before squaring keeps the variance of
/// columns far from zero (1e8 ± 1) as accurate as that of centred data.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{low_order_moments, MomentsPartial, Table};
///
/// // Two batches, as they arrive…
/// let a = array![[1.0, 10.0], [2.0, 20.0]];
/// let b = array![[4.0, 40.0]];
/// let mut partial = MomentsPartial::of(&Table::rows(a.view())?)?;
/// partial.merge(MomentsPartial::of(&Table::rows(b.view())?)?)?;
/// let streamed = partial.finish()?;
///
/// // …give the moments of all the rows.
/// let all = array![[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]];
/// let batch = low_order_moments(&Table::rows(all.view())?)?;
/// assert_eq!(streamed.rows, 3);
/// assert_eq!(streamed.maximum, batch.maximum);
/// assert!((streamed.variance[1] - batch.variance[1]).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MomentsPartial {
    shift: Array1<f64>,
    sums: Sums,
}

/// The summed part of [`MomentsPartial`]: what a pass adds exactly.
#[derive(Debug, Clone, PartialEq, Reduce, Serialize, Deserialize)]
struct Sums {
    rows: u64,
    /// Σ (x − shift).
    sum: Array1<f64>,
    /// Σ (x − shift)².
    sum_sq: Array1<f64>,
    #[reduce(min)]
    min: Array1<f64>,
    #[reduce(max)]
    max: Array1<f64>,
}

/// One chunk's [`Sums`].
struct Pass<'a> {
    shift: &'a Array1<f64>,
}

impl ChunkPass for Pass<'_> {
    type Out = Sums;

    fn chunk(&self, rows: ArrayView2<'_, f64>, _: &str, _: usize) -> Result<Sums, StatsError> {
        let d = self.shift.len();
        let mut s = Sums {
            rows: rows.nrows() as u64,
            sum: Array1::zeros(d),
            sum_sq: Array1::zeros(d),
            min: Array1::from_elem(d, f64::INFINITY),
            max: Array1::from_elem(d, f64::NEG_INFINITY),
        };
        let rows = rows.as_standard_layout();
        moment_rows(
            rows.as_slice().expect("standard layout"),
            self.shift.as_slice().expect("a fresh array"),
            [
                s.sum.as_slice_mut().expect("a fresh array"),
                s.sum_sq.as_slice_mut().expect("a fresh array"),
                s.min.as_slice_mut().expect("a fresh array"),
                s.max.as_slice_mut().expect("a fresh array"),
            ],
        );
        Ok(s)
    }
}

dispatch! {
    /// Adds the rows of `x` (row-major, `shift.len()` wide) to the sums
    /// Σ y and Σ y² (`y = x − shift`, a multiply then an add: the same
    /// bits on every level) and to the minima and maxima of `out`.
    fn moment_rows(x: &[f64], shift: &[f64], out: [&mut [f64]; 4]) {
        portable => moment_rows_body(x, shift, out),
        avx2 => moment_rows_body(x, shift, out),
        avx512 => moment_rows_body(x, shift, out),
    }
}

// One index over six slices reads more plainly than a six-way zip.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn moment_rows_body(x: &[f64], shift: &[f64], out: [&mut [f64]; 4]) {
    let d = shift.len();
    let all = x;
    let [sum, sum_sq, min, max] = out;
    let (sum, sum_sq, min, max) = (
        &mut sum[..d],
        &mut sum_sq[..d],
        &mut min[..d],
        &mut max[..d],
    );
    // Rows this far ahead are prefetched, a cache line per 8 values.
    let ahead = 16 * d;
    for (r, row) in x.chunks_exact(d).enumerate() {
        let at = r * d + ahead;
        if at < all.len() {
            for line in all[at..(at + d).min(all.len())].iter().step_by(8) {
                prefetch(line);
            }
        }
        let x = row;
        // Plain comparisons (the values are finite) vectorise where
        // f64::min's NaN rule would not.
        for j in 0..d {
            let v = x[j];
            let y = v - shift[j];
            sum[j] += y;
            sum_sq[j] += y * y;
            min[j] = if v < min[j] { v } else { min[j] };
            max[j] = if v > max[j] { v } else { max[j] };
        }
    }
}

impl MomentsPartial {
    /// One pass over `table` (over every rank's table, when it is
    /// [local](Table::local)): the exact sums of its chunks.
    ///
    /// # Errors
    ///
    /// [`StatsError::Table`] for a table without rows, or, under MPI with
    /// local data, ranks of different widths.
    pub fn of(table: &Table<'_>) -> Result<Self, StatsError> {
        let Survey { shift, .. } = pass::survey(table)?;
        let sums = pass::sum(table, &Pass { shift: &shift })?;
        Ok(MomentsPartial { shift, sums })
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.shift.len()
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.sums.rows
    }

    /// Adds `other`'s rows to these (in `f64`, rounding once per value:
    /// merging is exact only within one pass).
    ///
    /// # Errors
    ///
    /// [`StatsError::Mismatch`] when the partial results have different
    /// columns.
    pub fn merge(&mut self, other: MomentsPartial) -> Result<(), StatsError> {
        if other.cols() != self.cols() {
            return Err(StatsError::Mismatch(format!(
                "moments of {} columns and of {} columns",
                self.cols(),
                other.cols()
            )));
        }
        let mut o = other.sums;
        if other.shift != self.shift {
            // Re-express other's sums around this shift: with δ = other's
            // shift − this one, x − s = (x − s') + δ.
            let delta = &other.shift - &self.shift;
            let n = o.rows as f64;
            o.sum_sq = &o.sum_sq + &(2.0 * &delta * &o.sum) + &(n * &delta * &delta);
            o.sum = &o.sum + &(n * &delta);
        }
        self.sums.merge(o);
        Ok(())
    }

    /// The moments of every row seen.
    ///
    /// # Errors
    ///
    /// [`StatsError::TooFewRows`] for fewer than two rows (the sample
    /// variance divides by rows − 1).
    pub fn finish(&self) -> Result<Moments, StatsError> {
        let Sums {
            rows,
            sum,
            sum_sq,
            min,
            max,
        } = &self.sums;
        if *rows < 2 {
            return Err(StatsError::TooFewRows {
                what: "the sample variance".into(),
                needed: 2,
                found: *rows,
            });
        }
        let n = *rows as f64;
        let s = &self.shift;
        let mean = s + &(sum / n);
        let centered = (sum_sq - &(sum * sum / n)).mapv(|v| v.max(0.0));
        let variance = &centered / (n - 1.0);
        let standard_deviation = variance.mapv(f64::sqrt);
        let sum_squares = sum_sq + &(2.0 * s * sum) + &(n * s * s);
        Ok(Moments {
            rows: *rows,
            minimum: min.clone(),
            maximum: max.clone(),
            sum: sum + &(n * s),
            second_order_raw_moment: &sum_squares / n,
            sum_squares,
            sum_squares_centered: centered,
            variation: &standard_deviation / &mean,
            mean,
            variance,
            standard_deviation,
        })
    }

    /// Writes this partial result as an `.npz` archive (`shift`, `rows`,
    /// `sum`, `sum_sq`, `min`, `max`; sums relative to `shift`), by rank 0.
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("shift", &self.shift)?;
        npz.add("rows", &Array1::from(vec![self.sums.rows as f64]))?;
        npz.add("sum", &self.sums.sum)?;
        npz.add("sum_sq", &self.sums.sum_sq)?;
        npz.add("min", &self.sums.min)?;
        npz.add("max", &self.sums.max)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a partial result written by [`save`](MomentsPartial::save).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] for a missing or damaged file, a missing array,
    /// or arrays of different lengths.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StatsError> {
        let mut npz = NpzReader::open(path)?;
        let shift: Array1<f64> = npz.read("shift")?;
        let d = Some(shift.len());
        let rows = read_rows(&mut npz)?;
        Ok(MomentsPartial {
            sums: Sums {
                rows,
                sum: npz.read_shaped("sum", &[d])?,
                sum_sq: npz.read_shaped("sum_sq", &[d])?,
                min: npz.read_shaped("min", &[d])?,
                max: npz.read_shaped("max", &[d])?,
            },
            shift,
        })
    }
}

/// The low-order moments of every column of `table`, in one pass (of
/// every rank's rows, when the table is [local](Table::local)): daal4py's
/// `low_order_moments`.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{low_order_moments, Table};
///
/// let x = array![[1.0, -2.0], [3.0, 0.0], [5.0, 8.0]];
/// let m = low_order_moments(&Table::rows(x.view())?)?;
/// assert_eq!(m.mean, array![3.0, 2.0]);
/// assert_eq!(m.variance, array![4.0, 28.0]);
/// assert_eq!(m.minimum, array![1.0, -2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Those of [`MomentsPartial::of`] and [`MomentsPartial::finish`].
pub fn low_order_moments(table: &Table<'_>) -> Result<Moments, StatsError> {
    MomentsPartial::of(table)?.finish()
}

crate::stats::streaming::reduce_by_merge!(
    MomentsPartial,
    identity: MomentsPartial { shift: Array1::zeros(0), sums: <Sums as shardkit::Reduce>::identity() },
    empty: |p| p.cols() == 0,
);
