//! QR and SVD of a tall-skinny table: daal4py's `qr` and `svd`, on TSQR.
//!
//! One pass factors every chunk of rows and merges the R factors in a tree
//! fixed by the number of chunks ([`qr`]); the SVD is that of R
//! ([`svd`]). The factors with as many rows as the table — Q, and U of the
//! SVD — are computed on demand by a second pass ([`Qr::q`],
//! [`Svd::left_vectors`]), each chunk on its own, so they are never
//! gathered unless asked for.

use std::path::Path;

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{svd as faer_svd, svd_scratch, ComputeSvdVectors};
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Mat, Par};
use ndarray::{concatenate, s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use shardkit::parallelize;

use super::errors::StatsError;
use super::pass;
use super::streaming::read_rows;
use super::table::{Chunk, Table, CHUNK_ROWS};
use super::tsqr::{tsqr_surveyed, Tsqr};
use crate::linalg::bridge::mat_mut;
use crate::linalg::{gemm, mat_ref, to_array};
use crate::npz::{NpzReader, NpzWriter};

/// A column of R whose diagonal entry is below this fraction of the
/// column's norm (the norm of the table's column) is taken as a linear
/// combination of the columns before it: its Q is undefined. The same
/// fraction of the largest singular value marks a singular value as zero.
pub const RANK_TOLERANCE: f64 = 1e-10;

/// The R factor of a table X = Q·R (daal4py's `qr`): upper triangular,
/// square (columns × columns), with a non-negative diagonal, which makes
/// it unique when X has full column rank. Rᵀ·R = Xᵀ·X.
///
/// Q is computed on demand ([`Qr::q`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Qr {
    /// Rows of the table (of every rank's table, when it is local).
    pub rows: u64,
    /// R: columns × columns, upper triangular, diagonal ≥ 0.
    pub r: Array2<f64>,
}

/// The SVD of a table X = U·Σ·Vᵀ (daal4py's `svd`), from that of its R
/// factor: singular values in descending order and the right singular
/// vectors, as rows of Vᵀ.
///
/// **Signs.** Each right singular vector (a row of `vt`) is turned so that
/// its entry of largest magnitude is positive (the first such entry, on a
/// tie); the left vectors ([`Svd::left_vectors`]) follow, as U = X·V·Σ⁻¹.
#[derive(Debug, Clone, PartialEq)]
pub struct Svd {
    /// Rows of the table (of every rank's table, when it is local).
    pub rows: u64,
    /// σ₁ ≥ σ₂ ≥ … ≥ 0, one per column.
    pub singular_values: Array1<f64>,
    /// Vᵀ: row `i` is the right singular vector of σᵢ (columns × columns).
    pub vt: Array2<f64>,
}

/// A chunk's rows times `m`.
fn times(rows: ArrayView2<'_, f64>, m: &Array2<f64>) -> Array2<f64> {
    let mut out = Array2::zeros((rows.nrows(), m.ncols()));
    gemm(out.view_mut(), rows, m.view(), false);
    out
}

/// One part's rows times `right`, written in place: a block per chunk
/// (`CHUNK_ROWS` rows from the part's first, as [`Table::chunks`] cuts
/// them).
#[parallelize(split = "rows, out", reduce = "none", block_size = CHUNK_ROWS)]
fn part_times(rows: ArrayView2<'_, f64>, out: ArrayViewMut2<'_, f64>, right: &Array2<f64>) {
    gemm(out, rows, right.view(), false);
}

#[parallelize(split = "chunks, out", reduce = "none", block_size = 1, data = "local")]
fn right_local(
    chunks: &[Chunk],
    out: &mut [Array2<f64>],
    table: &Table<'_>,
    right: &Array2<f64>,
) -> Result<(), StatsError> {
    out[0] = times(table.chunk(&chunks[0]), right);
    Ok(())
}

/// `table`'s rows times `right`, chunk by chunk: all rows for a table
/// that is the same on every rank, this rank's rows for a local one. A
/// table that is the same everywhere is written in place, part by part
/// (every rank holds the same parts, so every rank makes the same calls);
/// a local one, whose ranks may hold different numbers of parts, in one
/// call that keeps each chunk's product and stacks them.
fn times_right(
    table: &Table<'_>,
    right: &Array2<f64>,
    cols: usize,
    what: &str,
) -> Result<Array2<f64>, StatsError> {
    if let Some(found) = table.known_cols() {
        if found != cols {
            return Err(StatsError::Mismatch(format!(
                "{what} of a table of {found} columns from a factorisation of {cols} columns"
            )));
        }
    }
    let chunks = table.chunks();
    let out_cols = right.ncols();
    if !table.is_local() {
        // Each part whole: from its first row to its last chunk's end.
        let mut parts: Vec<Chunk> = Vec::new();
        for c in &chunks {
            match parts.last_mut() {
                Some(p) if p.part == c.part => p.end = c.end,
                _ => parts.push(Chunk {
                    part: c.part,
                    start: 0,
                    end: c.end,
                }),
            }
        }
        let mut out = Array2::zeros((table.nrows(), out_cols));
        let mut at = 0;
        for p in &parts {
            part_times(table.chunk(p), out.slice_mut(s![at..at + p.end, ..]), right);
            at += p.end;
        }
        return Ok(out);
    }
    let mut out = vec![Array2::zeros((0, 0)); chunks.len()];
    right_local(&chunks, &mut out, table, right)?;
    if out.is_empty() {
        return Ok(Array2::zeros((0, out_cols)));
    }
    let views: Vec<_> = out.iter().map(|a| a.view()).collect();
    Ok(concatenate(Axis(0), &views).expect("chunks of one table give equal widths"))
}

impl Qr {
    /// Columns.
    pub fn cols(&self) -> usize {
        self.r.ncols()
    }

    /// Q = X·R⁻¹ for `table`, the table this factorisation was computed
    /// from: rows × columns, with orthonormal columns. R⁻¹ is formed once
    /// and each chunk's rows multiplied by it (a GEMM). For a
    /// [local](Table::local) table, the result is this rank's rows of Q;
    /// otherwise all of them, on every rank.
    ///
    /// # Errors
    ///
    /// [`StatsError::RankDeficient`] when a column of the table is
    /// (numerically) a linear combination of the columns before it: its
    /// diagonal entry of R is below [`RANK_TOLERANCE`] times the column's
    /// norm. [`StatsError::Mismatch`] for a table of other columns.
    pub fn q(&self, table: &Table<'_>) -> Result<Array2<f64>, StatsError> {
        if let Some(column) = dependent_column(&self.r) {
            return Err(StatsError::RankDeficient {
                what: "Q = X·R⁻¹".into(),
                cause: format!(
                    "column {column} is (numerically) a linear combination of the columns \
                     before it; drop it"
                ),
            });
        }
        // R⁻¹ once (columns × columns, by a triangular solve of I), then a
        // GEMM per chunk: much faster than a triangular solve per chunk,
        // and nearly as accurate while R is well conditioned. Measured on
        // the 2,000,000 × 60 bench table (condition number 7.2e3): the
        // largest |QᵀQ − I| is 2.2e-13 (6.1e-14 by solves), and Q differs
        // from the solves' by at most 5.8e-16. Both grow with the
        // condition number (error ~ cond · ε).
        let d = self.cols();
        let mut inverse = Array2::<f64>::eye(d);
        {
            let mut view = inverse.view_mut();
            solve_upper_triangular_in_place(mat_ref(&self.r.view()), mat_mut(&mut view), Par::Seq);
        }
        times_right(table, &inverse, d, "Q")
    }

    /// The SVD of the table, from that of R (no pass over the data).
    ///
    /// # Errors
    ///
    /// [`StatsError::Mismatch`] if the SVD of R does not converge (R holds
    /// values no table gives).
    pub fn svd(&self) -> Result<Svd, StatsError> {
        let d = self.cols();
        // faer's SVD on the calling thread (its `Mat::thin_svd` would take
        // the global parallelism, whose splits follow the rayon pool).
        let compute = ComputeSvdVectors::Thin;
        let scratch = svd_scratch::<f64>(d, d, compute, compute, Par::Seq, Default::default());
        let mut s = Diag::<f64>::zeros(d);
        let mut u = Mat::<f64>::zeros(d, d);
        let mut v = Mat::<f64>::zeros(d, d);
        faer_svd(
            mat_ref(&self.r.view()),
            s.as_mut(),
            Some(u.as_mut()),
            Some(v.as_mut()),
            Par::Seq,
            MemStack::new(&mut MemBuffer::new(scratch)),
            Default::default(),
        )
        .map_err(|e| StatsError::Mismatch(format!("the SVD of R did not converge: {e:?}")))?;
        let s = s.column_vector();
        let v = to_array(v.as_ref());
        // Descending order (faer's already), made explicit and stable.
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        let singular_values = Array1::from_shape_fn(d, |i| s[order[i]]);
        let mut vt = Array2::from_shape_fn((d, d), |(i, j)| v[[j, order[i]]]);
        for mut row in vt.rows_mut() {
            let mut best = 0;
            for j in 1..row.len() {
                if row[j].abs() > row[best].abs() {
                    best = j;
                }
            }
            if row.get(best).is_some_and(|&x| x < 0.0) {
                row.mapv_inplace(|x| -x);
            }
        }
        Ok(Svd {
            rows: self.rows,
            singular_values,
            vt,
        })
    }

    /// Writes `r` and `rows` (a one-element float64 array) as an `.npz`
    /// archive, atomically, by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("rows", &Array1::from(vec![self.rows as f64]))?;
        npz.add("r", &self.r)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a factorisation written by [`save`](Qr::save).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] for a missing or damaged file or array;
    /// [`StatsError::Mismatch`] for an R that is not square or a `rows`
    /// that is not a count.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StatsError> {
        let mut npz = NpzReader::open(path)?;
        let rows = read_rows(&mut npz)?;
        let r: Array2<f64> = npz.read("r")?;
        if r.nrows() != r.ncols() {
            return Err(StatsError::Mismatch(format!(
                "{}: `r` is {} × {}, not square",
                npz.path().display(),
                r.nrows(),
                r.ncols()
            )));
        }
        Ok(Qr { rows, r })
    }

    /// Adds `other`'s rows to this factorisation: R of the two tables
    /// stacked is the R of the two R's stacked (one small QR), so
    /// factorisations of batches, or of several jobs' data, merge into
    /// the factorisation of all their rows — up to rounding, and with the
    /// same non-negative diagonal. [`svd`](Qr::svd) then gives the
    /// singular values and right vectors of all the rows. (Q of merged
    /// batches is per batch: [`q`](Qr::q) needs the table that R is the
    /// factor of.)
    ///
    /// ```
    /// use ndarray::{array, s};
    /// use shardkit_algorithms::stats::{qr, Table};
    ///
    /// let x = array![[1.0, 2.0], [3.0, -1.0], [0.5, 4.0], [2.0, 2.0]];
    /// let mut first = qr(&Table::rows(x.slice(s![..2, ..]))?)?;
    /// first.merge(qr(&Table::rows(x.slice(s![2.., ..]))?)?)?;
    /// let all = qr(&Table::rows(x.view())?)?;
    /// assert_eq!(first.rows, 4);
    /// assert!(first.r.iter().zip(&all.r).all(|(a, b)| (a - b).abs() < 1e-12));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`StatsError::Mismatch`] for factorisations of different widths.
    pub fn merge(&mut self, other: Qr) -> Result<(), StatsError> {
        if other.cols() != self.cols() {
            return Err(StatsError::Mismatch(format!(
                "QR factorisations of {} columns and of {} columns",
                self.cols(),
                other.cols()
            )));
        }
        let cols = self.cols();
        let r = std::mem::take(&mut self.r);
        self.r = super::tsqr::merge_tree(vec![r, other.r], cols);
        self.rows += other.rows;
        Ok(())
    }
}

crate::stats::streaming::reduce_by_merge!(
    Qr,
    identity: Qr { rows: 0, r: Array2::zeros((0, 0)) },
    empty: |q| q.cols() == 0,
);

impl Svd {
    /// Columns.
    pub fn cols(&self) -> usize {
        self.vt.ncols()
    }

    /// U = X·V·Σ⁻¹ for `table`, the table this SVD was computed from: rows
    /// × columns, with orthonormal columns, signs following V's. For a
    /// [local](Table::local) table, this rank's rows of U; otherwise all
    /// of them, on every rank.
    ///
    /// # Errors
    ///
    /// [`StatsError::RankDeficient`] when a singular value is below
    /// [`RANK_TOLERANCE`] times the largest; [`StatsError::Mismatch`] for
    /// a table of other columns.
    pub fn left_vectors(&self, table: &Table<'_>) -> Result<Array2<f64>, StatsError> {
        let s = &self.singular_values;
        let largest = s.iter().copied().fold(0.0, f64::max);
        if let Some(i) = s.iter().position(|&v| v <= RANK_TOLERANCE * largest) {
            return Err(StatsError::RankDeficient {
                what: "U = X·V·Σ⁻¹".into(),
                cause: format!(
                    "singular value {} of {} is {:e}, zero next to the largest ({largest:e}): \
                     the columns are linearly dependent",
                    i + 1,
                    s.len(),
                    s[i]
                ),
            });
        }
        // V·Σ⁻¹: column i of V divided by σᵢ.
        let scaled = Array2::from_shape_fn(self.vt.dim(), |(j, i)| self.vt[[i, j]] / s[i]);
        times_right(table, &scaled, self.cols(), "U")
    }

    /// Writes `singular_values`, `vt` and `rows` as an `.npz` archive,
    /// atomically, by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("rows", &Array1::from(vec![self.rows as f64]))?;
        npz.add("singular_values", &self.singular_values)?;
        npz.add("vt", &self.vt)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads an SVD written by [`save`](Svd::save).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] for a missing or damaged file or array, or
    /// arrays whose shapes do not fit; [`StatsError::Mismatch`] for a
    /// `rows` that is not a count.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StatsError> {
        let mut npz = NpzReader::open(path)?;
        let rows = read_rows(&mut npz)?;
        let singular_values: Array1<f64> = npz.read("singular_values")?;
        let d = Some(singular_values.len());
        let vt = npz.read_shaped("vt", &[d, d])?;
        Ok(Svd {
            rows,
            singular_values,
            vt,
        })
    }
}

/// The first column (counted from 1) of the upper-triangular `r` whose
/// diagonal entry is at most [`RANK_TOLERANCE`] times the column's norm.
pub(crate) fn dependent_column(r: &Array2<f64>) -> Option<usize> {
    (0..r.ncols()).find_map(|i| {
        let norm = (0..=i.min(r.nrows().saturating_sub(1)))
            .map(|k| r[[k, i]] * r[[k, i]])
            .sum::<f64>()
            .sqrt();
        let diag = if i < r.nrows() { r[[i, i]].abs() } else { 0.0 };
        (diag <= RANK_TOLERANCE * norm || norm == 0.0).then_some(i + 1)
    })
}

/// The R factor of `table` (of every rank's rows, when it is
/// [local](Table::local)), in one pass: daal4py's `qr`. Q is computed on
/// demand, by [`Qr::q`].
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{qr, Table};
///
/// let x = array![[3.0, 1.0], [4.0, 2.0], [0.0, 5.0]];
/// let table = Table::rows(x.view())?;
/// let f = qr(&table)?;
/// // Rᵀ·R = Xᵀ·X, and the diagonal is non-negative.
/// let rtr = f.r.t().dot(&f.r);
/// let xtx = x.t().dot(&x);
/// assert!((&rtr - &xtx).iter().all(|e| e.abs() < 1e-12));
/// assert_eq!(f.r[[0, 0]], 5.0);
/// // Q·R = X.
/// let q = f.q(&table)?;
/// assert!((&q.dot(&f.r) - &x).iter().all(|e| e.abs() < 1e-12));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`StatsError::TooFewRows`] for fewer rows than columns;
/// [`StatsError::Table`] for a table without rows, or, under MPI with
/// local data, ranks of different widths.
pub fn qr(table: &Table<'_>) -> Result<Qr, StatsError> {
    let survey = pass::survey(table)?;
    let cols = survey.cols;
    if survey.rows < cols as u64 {
        return Err(StatsError::TooFewRows {
            what: format!("a QR factorisation of {cols} columns"),
            needed: cols as u64,
            found: survey.rows,
        });
    }
    let spec = Tsqr {
        shift: None,
        ones: false,
    };
    let r = tsqr_surveyed(table, &spec, cols)?;
    Ok(Qr {
        rows: survey.rows,
        r,
    })
}

/// The singular values and right singular vectors of `table` (of every
/// rank's rows, when it is [local](Table::local)), from the SVD of its R
/// factor (one pass): daal4py's `svd`. U is computed on demand, by
/// [`Svd::left_vectors`]; the signs follow the convention of [`Svd`].
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{svd, Table};
///
/// let x = array![[2.0, 0.0], [0.0, -3.0], [0.0, 0.0]];
/// let s = svd(&Table::rows(x.view())?)?;
/// assert!((s.singular_values[0] - 3.0).abs() < 1e-12);
/// assert!((s.singular_values[1] - 2.0).abs() < 1e-12);
/// // The largest entry of each right vector is positive.
/// assert!((s.vt[[0, 1]] - 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Those of [`qr`] (fewer rows than columns is
/// [`StatsError::TooFewRows`]) and of [`Qr::svd`].
pub fn svd(table: &Table<'_>) -> Result<Svd, StatsError> {
    qr(table)?.svd()
}
