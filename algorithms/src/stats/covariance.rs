//! The covariance and correlation matrices of a table's columns, with
//! their means, in one pass: daal4py's `covariance`.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use shardkit::Reduce;

use super::errors::StatsError;
use super::pass::{self, ChunkPass, Survey};
use super::streaming::read_rows;
use super::table::Table;
use crate::linalg::gemm::shifted_cross;
use crate::npz::{NpzReader, NpzWriter};

/// The means and the sample covariance matrix of a table's columns
/// (daal4py's `covariance`, `numpy.cov(x, rowvar=False)`); the correlation
/// matrix follows from it ([`correlation`](Covariance::correlation)).
///
/// The matrix is exactly symmetric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Covariance {
    /// Rows seen.
    pub rows: u64,
    /// Σ x / rows, per column.
    pub mean: Array1<f64>,
    /// Σ (x − mean)(x − mean)ᵀ / (rows − 1): columns × columns.
    pub covariance: Array2<f64>,
}

impl Covariance {
    /// Columns.
    pub fn cols(&self) -> usize {
        self.mean.len()
    }

    /// The standard deviation of each column: the square root of the
    /// covariance's diagonal.
    pub fn standard_deviation(&self) -> Array1<f64> {
        self.covariance.diag().mapv(f64::sqrt)
    }

    /// The correlation matrix (`numpy.corrcoef(x, rowvar=False)`): the
    /// covariance of columns `i` and `j` over the product of their standard
    /// deviations, clipped to [−1, 1], with ones on the diagonal; exactly
    /// symmetric.
    ///
    /// ```
    /// use ndarray::array;
    /// use shardkit_algorithms::stats::{covariance, Table};
    ///
    /// let x = array![[1.0, 2.0, 5.0], [2.0, 4.0, 5.0], [3.0, 9.0, 5.0]];
    /// let c = covariance(&Table::rows(x.view())?)?;
    /// assert_eq!(c.covariance[[0, 1]], 3.5);
    /// // The third column is constant: its correlation is undefined.
    /// let err = c.correlation().unwrap_err();
    /// assert!(err.to_string().starts_with("column 3 is constant (every value is 5)"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`StatsError::ConstantColumn`] naming the first column without
    /// spread.
    pub fn correlation(&self) -> Result<Array2<f64>, StatsError> {
        let sd = self.standard_deviation();
        if let Some(j) = sd.iter().position(|&s| s <= 0.0) {
            return Err(StatsError::ConstantColumn {
                column: j + 1,
                value: self.mean[j],
                what: "its correlation with the other columns".into(),
            });
        }
        let d = self.cols();
        Ok(Array2::from_shape_fn((d, d), |(i, j)| {
            if i == j {
                1.0
            } else {
                // (i, j) and (j, i) round the same: × commutes.
                (self.covariance[[i, j]] / (sd[i] * sd[j])).clamp(-1.0, 1.0)
            }
        }))
    }

    /// Writes `rows` (a one-element float64 array), `mean`, `covariance`
    /// and, when no column is constant, `correlation` as an `.npz` archive,
    /// atomically, by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("rows", &Array1::from(vec![self.rows as f64]))?;
        npz.add("mean", &self.mean)?;
        npz.add("covariance", &self.covariance)?;
        if let Ok(correlation) = self.correlation() {
            npz.add("correlation", &correlation)?;
        }
        Ok(npz.finish_on_root()?)
    }
}

/// What one pass over a table keeps for its covariance: the rows, and the
/// sums Σ (x − s) and Σ (x − s)(x − s)ᵀ relative to a *shift* `s` (the
/// table's first row). Partial results [`merge`](CovariancePartial::merge),
/// [`save`](CovariancePartial::save) and [`load`](CovariancePartial::load):
/// daal4py's streaming mode.
///
/// Within a pass, each chunk's sums are one fused kernel (the shifted
/// rows' sums and the lower triangle of their cross products) and
/// the chunks' sums are added exactly, so the bits do not depend on
/// threads or ranks. The shift keeps columns far from zero (1e8 ± 1) as
/// accurate as centred ones.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{covariance, CovariancePartial, Table};
///
/// let a = array![[1.0, 10.0], [2.0, 25.0]];
/// let b = array![[4.0, 40.0], [0.0, 1.0]];
/// let mut partial = CovariancePartial::of(&Table::rows(a.view())?)?;
/// partial.merge(CovariancePartial::of(&Table::rows(b.view())?)?)?;
/// let streamed = partial.finish()?;
///
/// let all = array![[1.0, 10.0], [2.0, 25.0], [4.0, 40.0], [0.0, 1.0]];
/// let batch = covariance(&Table::rows(all.view())?)?;
/// assert_eq!(streamed.rows, 4);
/// assert!((&streamed.covariance - &batch.covariance).iter().all(|e| e.abs() < 1e-12));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovariancePartial {
    shift: Array1<f64>,
    sums: Sums,
}

/// The summed part of [`CovariancePartial`].
#[derive(Debug, Clone, PartialEq, Reduce, Serialize, Deserialize)]
struct Sums {
    rows: u64,
    /// Σ (x − shift).
    sum: Array1<f64>,
    /// Σ (x − shift)(x − shift)ᵀ, symmetric.
    cross: Array2<f64>,
}

/// One chunk's [`Sums`].
struct Pass<'a> {
    shift: &'a Array1<f64>,
}

impl ChunkPass for Pass<'_> {
    type Out = Sums;

    fn chunk(&self, rows: ArrayView2<'_, f64>, _: &str, _: usize) -> Result<Sums, StatsError> {
        let (sum, cross) = shifted_cross(rows, self.shift.view());
        Ok(Sums {
            rows: rows.nrows() as u64,
            sum,
            cross,
        })
    }
}

impl CovariancePartial {
    /// One pass over `table` (over every rank's table, when it is
    /// [local](Table::local)).
    ///
    /// # Errors
    ///
    /// [`StatsError::Table`] for a table without rows, or, under MPI with
    /// local data, ranks of different widths.
    pub fn of(table: &Table<'_>) -> Result<Self, StatsError> {
        let Survey { shift, .. } = pass::survey(table)?;
        let sums = pass::sum(table, &Pass { shift: &shift })?;
        Ok(CovariancePartial { shift, sums })
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
    /// merging is exact only within one pass). `other`'s sums are first
    /// re-expressed around this partial's shift.
    ///
    /// # Errors
    ///
    /// [`StatsError::Mismatch`] when the partial results have different
    /// columns.
    pub fn merge(&mut self, other: CovariancePartial) -> Result<(), StatsError> {
        if other.cols() != self.cols() {
            return Err(StatsError::Mismatch(format!(
                "covariances of {} columns and of {} columns",
                self.cols(),
                other.cols()
            )));
        }
        let mut o = other.sums;
        if other.shift != self.shift {
            // With δ = other's shift − this one, x − s = (x − s') + δ:
            // Σ(x−s)(x−s)ᵀ = Σ(x−s')(x−s')ᵀ + δ Σ(x−s')ᵀ + Σ(x−s') δᵀ + n δδᵀ.
            let delta = &other.shift - &self.shift;
            let n = o.rows as f64;
            let d = delta.len();
            let ds = Array2::from_shape_fn((d, d), |(i, j)| delta[i] * o.sum[j]);
            // Each term symmetric on its own, so the sum stays symmetric.
            let both = &ds + &ds.t();
            let dd = Array2::from_shape_fn((d, d), |(i, j)| n * (delta[i] * delta[j]));
            o.cross = &o.cross + &(&both + &dd);
            o.sum = &o.sum + &(n * &delta);
        }
        self.sums.merge(o);
        Ok(())
    }

    /// The means and covariance of every row seen.
    ///
    /// # Errors
    ///
    /// [`StatsError::TooFewRows`] for fewer than two rows (the sample
    /// covariance divides by rows − 1).
    pub fn finish(&self) -> Result<Covariance, StatsError> {
        let Sums { rows, sum, cross } = &self.sums;
        if *rows < 2 {
            return Err(StatsError::TooFewRows {
                what: "the sample covariance".into(),
                needed: 2,
                found: *rows,
            });
        }
        let n = *rows as f64;
        let d = self.cols();
        let covariance = Array2::from_shape_fn((d, d), |(i, j)| {
            // (i, j) and (j, i) round the same: × commutes.
            let c = cross[[i, j]] - sum[i] * sum[j] / n;
            let c = if i == j { c.max(0.0) } else { c };
            c / (n - 1.0)
        });
        Ok(Covariance {
            rows: *rows,
            mean: &self.shift + &(sum / n),
            covariance,
        })
    }

    /// Writes this partial result as an `.npz` archive (`shift`, `rows`,
    /// `sum`, `cross`; sums relative to `shift`), by rank 0.
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("shift", &self.shift)?;
        npz.add("rows", &Array1::from(vec![self.sums.rows as f64]))?;
        npz.add("sum", &self.sums.sum)?;
        npz.add("cross", &self.sums.cross)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a partial result written by [`save`](CovariancePartial::save).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] for a missing or damaged file, a missing array,
    /// or arrays of different sizes; [`StatsError::Mismatch`] for a `rows`
    /// that is not a count.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StatsError> {
        let mut npz = NpzReader::open(path)?;
        let shift: Array1<f64> = npz.read("shift")?;
        let d = Some(shift.len());
        let rows = read_rows(&mut npz)?;
        Ok(CovariancePartial {
            sums: Sums {
                rows,
                sum: npz.read_shaped("sum", &[d])?,
                cross: npz.read_shaped("cross", &[d, d])?,
            },
            shift,
        })
    }
}

/// The means and sample covariance matrix of the columns of `table`, in
/// one pass (of every rank's rows, when the table is [local](Table::local)):
/// daal4py's `covariance`. [`Covariance::correlation`] gives the
/// correlation matrix.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{covariance, Table};
///
/// let x = array![[1.0, 2.0], [2.0, 4.0], [3.0, 9.0]];
/// let c = covariance(&Table::rows(x.view())?)?;
/// assert_eq!(c.mean, array![2.0, 5.0]);
/// assert_eq!(c.covariance, array![[1.0, 3.5], [3.5, 13.0]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Those of [`CovariancePartial::of`] and [`CovariancePartial::finish`].
pub fn covariance(table: &Table<'_>) -> Result<Covariance, StatsError> {
    CovariancePartial::of(table)?.finish()
}

crate::stats::streaming::reduce_by_merge!(
    CovariancePartial,
    identity: CovariancePartial { shift: Array1::zeros(0), sums: <Sums as shardkit::Reduce>::identity() },
    empty: |p| p.cols() == 0,
);
