//! Where the points come from — rows in memory or feature files — and the
//! `#[parallelize]` functions that run a pass over them.
//!
//! Every pass of k-means (an update step, a k-means++ step, a k-means||
//! round, …) is a [`Visit`]or: what to do with one chunk of consecutive
//! rows, given the global index of its first row and the rows' per-point
//! state (a few f64 columns that persist from pass to pass, such as the
//! squared distance to the nearest centroid so far). Four annotated
//! functions run a visitor over the data, by rows or by files, with a `sum`
//! reduction or a `concat` of one result per block.
//!
//! Blocks are cut from the data alone (rows: a block size that depends on
//! the number of rows; files: near-equal total file sizes), never from the
//! number of threads or ranks, so every result has the same bits on any
//! executor.

use std::ops::Range;
use std::path::PathBuf;

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, CowArray, Ix2, ShapeBuilder};
use shardkit::{parallelize, Reduce};

use super::errors::KMeansError;
use super::kernel::CHUNK;
use crate::features::{read_features_with, ReadOptions};

/// What a pass does with each chunk of rows.
pub(crate) trait Visit: Sync {
    /// A block's running result.
    type Out: Send;
    /// What a `concat` pass keeps of a block's result.
    type Block: Send;
    /// Scratch space, created once per block.
    type Work: Default;
    /// The result of a block that saw no rows.
    fn start(&self) -> Self::Out;
    /// Visits `x` (at most [`chunk_rows`](Visit::chunk_rows) rows), whose first row has global
    /// index `first`; `state` holds the rows' per-point state.
    fn chunk(
        &self,
        out: &mut Self::Out,
        x: ArrayView2<'_, f32>,
        first: usize,
        state: ArrayViewMut2<'_, f64>,
        work: &mut Self::Work,
    );
    /// Turns a block's running result into what a `concat` pass keeps.
    fn finish(&self, out: Self::Out) -> Self::Block;
    /// Rows per chunk (a function of the settings, never of the executor).
    fn chunk_rows(&self) -> usize {
        CHUNK
    }
}

/// One feature file of a fit: its path and where its rows fall in the
/// global numbering (files in list order, rows in file order).
#[derive(Debug, Clone)]
pub(crate) struct FileJob {
    pub(crate) path: PathBuf,
    pub(crate) first: usize,
    pub(crate) rows: usize,
}

fn job_weight(job: &FileJob) -> u64 {
    shardkit::weights::file_size(&job.path)
}

/// A block's result from a `concat` pass: its first global row, its number
/// of rows, and what the visitor returned.
pub(crate) type Block<T> = (usize, usize, T);

/// A visitor's kept result for a block.
pub(crate) type Kept<V> = Block<<V as Visit>::Block>;

/// The points of a fit.
#[derive(Debug)]
pub(crate) enum Data<'a> {
    Rows {
        /// Standard (row-major) layout: chunks' rows are contiguous.
        rows: CowArray<'a, f32, Ix2>,
        block: usize,
    },
    Files {
        jobs: Vec<FileJob>,
        dim: usize,
        rows: usize,
        /// Whether chunks are handed to visitors column-major.
        columnar: bool,
    },
}

/// Rows per block for `n` rows: about 32 blocks (enough to keep a few
/// threads busy to the end), at least one GEMM chunk and at most 16
/// chunks — a block's exact-sum packing (one fixed-point conversion per
/// accumulator value) must stay small beside its GEMM work.
pub(crate) fn block_rows(n: usize) -> usize {
    n.div_ceil(32).div_ceil(CHUNK).clamp(1, 16) * CHUNK
}

/// Per-point state: `width` f64 columns per point, column-major so that a
/// column of a block is contiguous.
#[derive(Debug)]
pub(crate) enum State {
    Rows(Array2<f64>),
    Files(Vec<Array2<f64>>),
}

impl State {
    /// Reads column `col` of the points `range` (global indices).
    pub(crate) fn column(&self, data: &Data<'_>, range: Range<usize>, col: usize) -> Vec<f64> {
        match (self, data) {
            (State::Rows(a), _) => a.slice(s![range, col]).to_vec(),
            (State::Files(states), Data::Files { jobs, .. }) => {
                let mut out = Vec::with_capacity(range.len());
                let start = jobs.partition_point(|j| j.first + j.rows <= range.start);
                for (job, st) in jobs[start..].iter().zip(&states[start..]) {
                    if job.first >= range.end {
                        break;
                    }
                    let lo = range.start.max(job.first) - job.first;
                    let hi = range.end.min(job.first + job.rows) - job.first;
                    out.extend(st.slice(s![lo..hi, col]));
                }
                out
            }
            (State::Files(_), Data::Rows { .. }) => unreachable!("file state for rows"),
        }
    }

    /// Sets column `col` of every point to `value`.
    pub(crate) fn fill(&mut self, col: usize, value: f64) {
        match self {
            State::Rows(a) => a.column_mut(col).fill(value),
            State::Files(states) => states
                .iter_mut()
                .for_each(|a| a.column_mut(col).fill(value)),
        }
    }

    /// Writes `values` (one per point, in global order) into column `col`.
    pub(crate) fn set_column(&mut self, col: usize, values: &[f64]) {
        match self {
            State::Rows(a) => a.column_mut(col).assign(&ndarray::ArrayView1::from(values)),
            State::Files(states) => {
                let mut at = 0;
                for a in states {
                    let n = a.nrows();
                    a.column_mut(col)
                        .assign(&ndarray::ArrayView1::from(&values[at..at + n]));
                    at += n;
                }
            }
        }
    }
}

impl<'a> Data<'a> {
    /// The same points, handed to visitors column-major: a chunk is then
    /// used by the GEMM as it is, with no packing (worth it for the
    /// initialisation's GEMMs, which have few columns). Rows are copied
    /// once; files are transposed after each read.
    pub(crate) fn columnar(&self) -> Data<'static> {
        match self {
            Data::Rows { rows, block } => {
                let mut copy = Array2::zeros(rows.raw_dim().f());
                copy.assign(rows);
                Data::Rows {
                    rows: CowArray::from(copy),
                    block: *block,
                }
            }
            Data::Files {
                jobs, dim, rows, ..
            } => Data::Files {
                jobs: jobs.clone(),
                dim: *dim,
                rows: *rows,
                columnar: true,
            },
        }
    }

    /// Rows in memory; copied only if they are not in standard layout.
    pub(crate) fn rows(rows: ArrayView2<'a, f32>) -> Self {
        let block = block_rows(rows.nrows());
        Data::Rows {
            rows: if rows.is_standard_layout() {
                CowArray::from(rows)
            } else {
                CowArray::from(rows.as_standard_layout().into_owned())
            },
            block,
        }
    }

    /// The number of points.
    pub(crate) fn len(&self) -> usize {
        match self {
            Data::Rows { rows, .. } => rows.nrows(),
            Data::Files { rows, .. } => *rows,
        }
    }

    /// The number of columns.
    pub(crate) fn dim(&self) -> usize {
        match self {
            Data::Rows { rows, .. } => rows.ncols(),
            Data::Files { dim, .. } => *dim,
        }
    }

    /// Fresh per-point state of `width` columns, all zero.
    pub(crate) fn state(&self, width: usize) -> State {
        match self {
            Data::Rows { rows, .. } => State::Rows(Array2::zeros((rows.nrows(), width).f())),
            Data::Files { jobs, .. } => State::Files(
                jobs.iter()
                    .map(|j| Array2::zeros((j.rows, width).f()))
                    .collect(),
            ),
        }
    }

    /// Runs `visit` over every point, summing the blocks' results.
    pub(crate) fn sum<V>(&self, visit: &V, state: &mut State) -> Result<V::Out, KMeansError>
    where
        V: Visit,
        V::Out: Reduce,
    {
        match (self, state) {
            (Data::Rows { rows, block }, State::Rows(st)) => Ok(sum_rows(
                rows.view(),
                0..rows.nrows(),
                st.view_mut(),
                *block,
                visit,
            )),
            (
                Data::Files {
                    jobs,
                    dim,
                    columnar,
                    ..
                },
                State::Files(st),
            ) => sum_files(jobs, st, *dim, *columnar, visit),
            _ => unreachable!("state of another data source"),
        }
    }

    /// Runs `visit` over every point, keeping one result per block, in
    /// block order.
    pub(crate) fn blocks<V: Visit>(
        &self,
        visit: &V,
        state: &mut State,
    ) -> Result<Vec<Kept<V>>, KMeansError> {
        match (self, state) {
            (Data::Rows { rows, block }, State::Rows(st)) => Ok(blocks_rows(
                rows.view(),
                0..rows.nrows(),
                st.view_mut(),
                *block,
                visit,
            )),
            (
                Data::Files {
                    jobs,
                    dim,
                    columnar,
                    ..
                },
                State::Files(st),
            ) => blocks_files(jobs, st, *dim, *columnar, visit),
            _ => unreachable!("state of another data source"),
        }
    }

    /// The points of global indices `indices` (any order, repeats allowed),
    /// as rows in that order. Files are read once each.
    pub(crate) fn points(&self, indices: &[usize]) -> Result<Array2<f32>, KMeansError> {
        let d = self.dim();
        let mut out = Array2::zeros((indices.len(), d));
        match self {
            Data::Rows { rows, .. } => {
                for (mut o, &i) in out.rows_mut().into_iter().zip(indices) {
                    o.assign(&rows.row(i));
                }
            }
            Data::Files { jobs, dim, .. } => {
                let mut order: Vec<usize> = (0..indices.len()).collect();
                order.sort_by_key(|&k| indices[k]);
                let mut loaded: Option<(usize, Array2<f32>)> = None;
                for k in order {
                    let i = indices[k];
                    let f = jobs.partition_point(|j| j.first + j.rows <= i);
                    if loaded.as_ref().is_none_or(|(g, _)| *g != f) {
                        loaded = Some((f, read_job(&jobs[f], *dim)?));
                    }
                    let (_, x) = loaded.as_ref().expect("loaded above");
                    out.row_mut(k).assign(&x.row(i - jobs[f].first));
                }
            }
        }
        Ok(out)
    }
}

/// Reads a file of the fit, checking that it still has the rows it had.
fn read_job(job: &FileJob, dim: usize) -> Result<Array2<f32>, KMeansError> {
    let x = read_features_with(&job.path, &ReadOptions::new().expect_dim(dim))?;
    if x.nrows() != job.rows {
        return Err(KMeansError::FileChanged {
            path: job.path.clone(),
            expected: job.rows,
            found: x.nrows(),
        });
    }
    Ok(x)
}

/// Visits `rows` chunk by chunk.
fn visit_rows<V: Visit>(
    visit: &V,
    out: &mut V::Out,
    rows: ArrayView2<'_, f32>,
    first: usize,
    mut state: ArrayViewMut2<'_, f64>,
    work: &mut V::Work,
) {
    let n = rows.nrows();
    let step = visit.chunk_rows();
    let mut at = 0;
    while at < n {
        let end = (at + step).min(n);
        visit.chunk(
            out,
            rows.slice(s![at..end, ..]),
            first + at,
            state.slice_mut(s![at..end, ..]),
            work,
        );
        at = end;
    }
}

/// A block of rows in memory, summed.
#[parallelize(split = "rows, index, state", reduce = "sum", block_size = block)]
fn sum_rows<V>(
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, f64>,
    block: usize,
    visit: &V,
) -> V::Out
where
    V: Visit,
    V::Out: Reduce,
{
    let mut out = visit.start();
    visit_rows(
        visit,
        &mut out,
        rows,
        index.start,
        state,
        &mut V::Work::default(),
    );
    out
}

/// A block of rows in memory, kept with its place.
#[parallelize(split = "rows, index, state", reduce = "concat", block_size = block)]
fn blocks_rows<V: Visit>(
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, f64>,
    block: usize,
    visit: &V,
) -> Vec<Kept<V>> {
    let mut out = visit.start();
    visit_rows(
        visit,
        &mut out,
        rows,
        index.start,
        state,
        &mut V::Work::default(),
    );
    vec![(index.start, index.len(), visit.finish(out))]
}

/// Visits the files of a block, each read whole.
fn visit_files<V: Visit>(
    visit: &V,
    out: &mut V::Out,
    jobs: &[FileJob],
    state: &mut [Array2<f64>],
    dim: usize,
    columnar: bool,
) -> Result<(), KMeansError> {
    let mut work = V::Work::default();
    for (job, st) in jobs.iter().zip(state) {
        let mut x = read_job(job, dim)?;
        if columnar {
            let mut f = Array2::zeros(x.raw_dim().f());
            f.assign(&x);
            x = f;
        }
        visit_rows(visit, out, x.view(), job.first, st.view_mut(), &mut work);
    }
    Ok(())
}

/// A block of files, summed.
#[parallelize(split = "jobs, state", reduce = "sum", weights = job_weight)]
fn sum_files<V>(
    jobs: &[FileJob],
    state: &mut [Array2<f64>],
    dim: usize,
    columnar: bool,
    visit: &V,
) -> Result<V::Out, KMeansError>
where
    V: Visit,
    V::Out: Reduce,
{
    let mut out = visit.start();
    visit_files(visit, &mut out, jobs, state, dim, columnar)?;
    Ok(out)
}

/// A block of files, kept with its place.
#[parallelize(split = "jobs, state", reduce = "concat", weights = job_weight)]
fn blocks_files<V: Visit>(
    jobs: &[FileJob],
    state: &mut [Array2<f64>],
    dim: usize,
    columnar: bool,
    visit: &V,
) -> Result<Vec<Kept<V>>, KMeansError> {
    let mut out = visit.start();
    visit_files(visit, &mut out, jobs, state, dim, columnar)?;
    let first = jobs.first().map_or(0, |j| j.first);
    let rows = jobs.iter().map(|j| j.rows).sum();
    Ok(vec![(first, rows, visit.finish(out))])
}

/// What a first look at the data finds.
#[derive(Reduce, Debug)]
struct Scan {
    /// Row-major position of the first non-finite value (`u64::MAX`: none).
    #[reduce(min)]
    first_bad: u64,
    /// The largest magnitude.
    #[reduce(max)]
    max_abs: f64,
}

#[parallelize(split = "rows, index", reduce = "sum", block_size = block)]
fn scan_rows(rows: ArrayView2<'_, f32>, index: Range<usize>, block: usize) -> Scan {
    let d = rows.ncols() as u64;
    let mut scan = Scan {
        first_bad: u64::MAX,
        max_abs: 0.0,
    };
    for (i, row) in rows.axis_iter(Axis(0)).enumerate() {
        let mut m = 0.0f32;
        for (j, &v) in row.iter().enumerate() {
            if !v.is_finite() {
                scan.first_bad = scan.first_bad.min((index.start + i) as u64 * d + j as u64);
            }
            m = m.max(v.abs());
        }
        scan.max_abs = scan.max_abs.max(f64::from(m));
    }
    scan
}

/// Checks rows in memory: finite, and small enough to be summed exactly.
pub(crate) fn check_rows(rows: ArrayView2<'_, f32>) -> Result<(), KMeansError> {
    let (n, d) = rows.dim();
    let scan = scan_rows(rows, 0..n, block_rows(n));
    if scan.first_bad != u64::MAX {
        let (row, column) = (
            (scan.first_bad / d as u64) as usize,
            (scan.first_bad % d as u64) as usize,
        );
        return Err(KMeansError::NonFinite {
            row,
            column,
            value: rows[(row, column)],
        });
    }
    check_magnitude(scan.max_abs, n, d)
}

/// Sums of squared distances are at most `n·d·(2·max)²`; they must stay
/// well inside the 2^84 that shardkit sums exactly.
fn check_magnitude(max_abs: f64, rows: usize, dim: usize) -> Result<(), KMeansError> {
    let bound = rows as f64 * dim as f64 * (2.0 * max_abs).powi(2);
    if bound >= 2f64.powi(80) {
        return Err(KMeansError::TooLarge { max_abs, rows, dim });
    }
    Ok(())
}

/// Reads every file once: checks it (dimension, frames, finite values) and
/// counts its frames. One `(frames, largest magnitude)` per file.
#[parallelize(split = "files", reduce = "concat", weights = shardkit::weights::file_size)]
fn scan_files(files: &[PathBuf], dim: usize) -> Result<Vec<(usize, f64)>, KMeansError> {
    let options = ReadOptions::new().expect_dim(dim);
    files
        .iter()
        .map(|f| {
            let x = read_features_with(f, &options)?;
            let m = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            Ok((x.nrows(), f64::from(m)))
        })
        .collect()
}

impl Data<'static> {
    /// Checks the files and numbers their rows.
    pub(crate) fn files(files: &[PathBuf], dim: usize) -> Result<Self, KMeansError> {
        if files.is_empty() {
            return Err(KMeansError::NoData {
                what: "the list of files is empty",
            });
        }
        if dim == 0 {
            return Err(KMeansError::NoData {
                what: "features of 0 columns",
            });
        }
        let scan = scan_files(files, dim)?;
        let mut jobs = Vec::with_capacity(files.len());
        let mut first = 0;
        let mut max_abs = 0.0f64;
        for (path, &(rows, m)) in files.iter().zip(&scan) {
            jobs.push(FileJob {
                path: path.clone(),
                first,
                rows,
            });
            first += rows;
            max_abs = max_abs.max(m);
        }
        check_magnitude(max_abs, first, dim)?;
        Ok(Data::Files {
            jobs,
            dim,
            rows: first,
            columnar: false,
        })
    }
}
