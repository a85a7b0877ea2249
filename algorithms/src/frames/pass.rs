//! Passes over [`Frames`]: the `#[parallelize]` functions that visit every
//! frame, written once for every algorithm.
//!
//! Every pass (an E-step, a k-means update step, a k-means++ step, …) is
//! a [`Visit`]or: what to do with one chunk of consecutive rows, given the
//! global index of its first row and the rows' per-frame state (a few
//! values per frame that persist from pass to pass, such as the squared
//! distance to the nearest centroid so far, or a frame's selected
//! components). Four annotated functions run a visitor over a [`Source`],
//! by rows or by segments, with a `sum` reduction or a `concat` of one
//! result per block.
//!
//! Blocks are cut from the data alone (rows: a block size that the
//! algorithm chooses from the number of rows; segments: near-equal total
//! sizes), never from the number of threads or ranks, so every result has
//! the same bits on any executor.
//!
//! **Rank-local frames** ([`Frames::local`]): each annotated function has a
//! `data = "local"` twin (`sum_rows_local`, …) with the same body (a
//! shared inner function) and the same attribute but for `data`; a
//! [`Source`] of local frames calls the twins. Points are numbered
//! globally, rank after rank: a first exchange ([`each_rank`]) tells each
//! rank how many points the ranks before it hold, and visitors see global
//! indices. What needs another rank's points (the rows of chosen points,
//! a draw inside a block that another rank holds) is answered by the rank
//! that holds them, in one more exchange ([`Source::points`],
//! [`Source::on_owner`]). Off MPI the twins are the same functions as the
//! usual ones, so local frames give the usual bits.

use std::ops::Range;

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, CowArray, Ix2, ShapeBuilder};
use shardkit::{parallelize, Reduce};

use super::errors::FramesError;
use super::input::Frames;
use crate::features::{read_features_with, FeatureError};

/// What a pass does with each chunk of rows.
pub(crate) trait Visit: Sync {
    /// A block's running result.
    type Out: Send;
    /// What a `concat` pass keeps of a block's result. Under MPI it
    /// travels to every rank, hence the serde bounds.
    type Block: Send + serde::Serialize + serde::de::DeserializeOwned;
    /// Scratch space, created once per block.
    type Work: Default;
    /// The element of the per-frame state. Under MPI, the state a pass
    /// writes travels to every rank after the pass (as every in-place
    /// output of a `#[parallelize]` call), hence the serde bounds.
    type Cell: Copy + Default + Send + Sync + serde::Serialize + serde::de::DeserializeOwned;
    /// The result of a block that saw no rows.
    fn start(&self) -> Self::Out;
    /// Visits `x` (at most [`chunk_rows`](Visit::chunk_rows) rows), whose
    /// first row has global index `first` (for segments not scanned,
    /// [`Source::lazy`], the index within its segment); `state` holds the
    /// rows' per-frame state.
    fn chunk(
        &self,
        out: &mut Self::Out,
        x: ArrayView2<'_, f32>,
        first: usize,
        state: ArrayViewMut2<'_, Self::Cell>,
        work: &mut Self::Work,
    );
    /// Turns a block's running result into what a `concat` pass keeps.
    fn finish(&self, out: Self::Out) -> Self::Block;
    /// Rows per chunk (a function of the settings, never of the
    /// executor); `usize::MAX` hands each block of rows, or each segment,
    /// whole.
    fn chunk_rows(&self) -> usize;
}

/// One segment of a pass: its number in the [`Frames`], where its rows
/// fall in the global numbering (segments in order, rows in segment
/// order), how many rows it has (when known) and what it weighs.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    index: usize,
    first: usize,
    rows: Option<usize>,
    weight: u64,
}

/// A block's result from a `concat` pass: its first global row, its number
/// of rows, and what the visitor returned.
pub(crate) type Block<T> = (usize, usize, T);

/// A visitor's kept result for a block.
pub(crate) type Kept<V> = Block<<V as Visit>::Block>;

/// The frames of a pass, prepared: checked rows, or the list of segments.
#[derive(Debug)]
pub(crate) enum Source<'a> {
    /// [`Frames::rows`], checked, in standard layout, cut into blocks of
    /// `block` rows.
    Rows {
        rows: CowArray<'a, f32, Ix2>,
        block: usize,
        share: Share,
    },
    /// [`Frames::segments`] or [`Frames::files`].
    Items {
        frames: Frames<'a>,
        jobs: Vec<Job>,
        dim: usize,
        /// Every segment's rows are known (from memory, or a first pass
        /// over the files).
        scanned: bool,
        /// Whether chunks are handed to visitors column-major.
        columnar: bool,
        share: Share,
    },
}

/// Where this process's points fall among the points of every rank.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Share {
    /// Rank-local frames ([`Frames::local`]): passes run their
    /// `data = "local"` twins.
    local: bool,
    /// Global index of this process's first point (0 unless local).
    offset: usize,
    /// The points of every rank, when known.
    total: Option<usize>,
}

/// Per-frame state: `width` values per frame, in lockstep with the frames.
#[derive(Debug)]
pub(crate) enum State<S> {
    /// For [`Source::Rows`].
    Rows(Array2<S>),
    /// For segments: one matrix each, `None` until the first pass that
    /// reads the segment sizes it (files not scanned).
    Items {
        parts: Vec<Option<Array2<S>>>,
        width: usize,
        column_major: bool,
    },
}

/// How a pass hands segments to a visitor: the state's width and layout
/// (for states not yet sized), and whether chunks are column-major.
#[derive(Debug, Clone, Copy)]
struct Shape {
    width: usize,
    column_major: bool,
    columnar: bool,
}

/// What a pass splits, borrowed from a [`Source`] and its [`State`].
enum Pieces<'s, 'a, S> {
    Rows {
        rows: ArrayView2<'s, f32>,
        /// Global indices of the rows.
        index: Range<usize>,
        state: ArrayViewMut2<'s, S>,
        block: usize,
        local: bool,
    },
    Items {
        jobs: &'s [Job],
        state: &'s mut [Option<Array2<S>>],
        shape: Shape,
        frames: &'s Frames<'a>,
        local: bool,
    },
}

/// A state matrix of `rows × width`, all default.
fn state_matrix<S: Copy + Default>(rows: usize, width: usize, column_major: bool) -> Array2<S> {
    if column_major {
        Array2::default((rows, width).f())
    } else {
        Array2::default((rows, width))
    }
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

/// What a scan of the data found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scanned {
    /// The largest magnitude of any value.
    pub(crate) max_abs: f64,
}

impl<'a> Source<'a> {
    /// Prepares `frames` for passes: rows are checked (in one pass) and cut
    /// into blocks of `block` rows; segments in memory are counted; files
    /// are not read (their rows are learned by the first pass that reads
    /// them, and visitors see row indices within each file).
    ///
    /// # Errors
    ///
    /// The first row or segment that fails the frames' checks.
    pub(crate) fn lazy(frames: Frames<'a>, block: usize) -> Result<Self, FramesError> {
        Ok(Self::prepare(frames, &|_| block, false)?.0)
    }

    /// Prepares `frames` like [`lazy`](Source::lazy), but reads every file
    /// once to check it and count its rows, so that rows are numbered
    /// globally; rows are cut into blocks of `block(n)` rows for `n` rows
    /// in all (of every rank, for local frames). Also returns the largest
    /// magnitude found.
    ///
    /// # Errors
    ///
    /// The first row or segment that fails the frames' checks.
    pub(crate) fn scan(
        frames: Frames<'a>,
        block: &dyn Fn(usize) -> usize,
    ) -> Result<(Self, Scanned), FramesError> {
        Self::prepare(frames, block, true)
    }

    fn prepare(
        frames: Frames<'a>,
        block: &dyn Fn(usize) -> usize,
        scan: bool,
    ) -> Result<(Self, Scanned), FramesError> {
        if frames.is_local() {
            return match frames.as_rows() {
                Some(rows) => Self::prepare_local_rows(frames, rows, block),
                None => Self::prepare_local_items(frames, scan),
            };
        }
        if let Some(rows) = frames.as_rows() {
            let block = block(rows.nrows());
            let max_abs = check_rows(&frames, rows, block)?;
            let share = Share {
                local: false,
                offset: 0,
                total: Some(rows.nrows()),
            };
            let rows = standard(rows);
            return Ok((Source::Rows { rows, block, share }, Scanned { max_abs }));
        }
        let n = frames.len();
        let dim = frames.dim()?.unwrap_or(0);
        let frames = frames.expect_dim(dim);
        let (counts, max_abs): (Vec<Option<usize>>, f64) = match frames.paths() {
            Some(files) if scan => {
                let scan = scan_files(files, &frames)?;
                let max = scan.iter().fold(0.0f64, |m, &(_, a)| m.max(a));
                (scan.into_iter().map(|(r, _)| Some(r)).collect(), max)
            }
            Some(_) => (vec![None; n], 0.0),
            None => {
                let scan = scan_segments(&frames)?;
                let max = scan.iter().fold(0.0f64, |m, &(_, a)| m.max(a));
                (scan.into_iter().map(|(r, _)| Some(r)).collect(), max)
            }
        };
        Ok(Self::items(frames, dim, &counts, 0, None, max_abs))
    }

    /// A source of segments whose rows are `counts` (where known), the
    /// first numbered `offset`.
    fn items(
        frames: Frames<'a>,
        dim: usize,
        counts: &[Option<usize>],
        offset: usize,
        total: Option<usize>,
        max_abs: f64,
    ) -> (Self, Scanned) {
        let mut first = offset;
        let jobs = counts
            .iter()
            .enumerate()
            .map(|(index, &rows)| {
                let job = Job {
                    index,
                    first,
                    rows,
                    weight: frames.weight(index),
                };
                first += rows.unwrap_or(0);
                job
            })
            .collect();
        let scanned = counts.iter().all(Option::is_some);
        let share = Share {
            local: frames.is_local(),
            offset,
            total: if frames.is_local() {
                total
            } else {
                scanned.then_some(first)
            },
        };
        let source = Source::Items {
            frames,
            jobs,
            dim,
            scanned,
            columnar: false,
            share,
        };
        (source, Scanned { max_abs })
    }

    /// [`prepare`](Source::prepare) for this rank's own rows: the ranks
    /// first tell each other their shapes, so that every rank numbers its
    /// rows after those of the ranks before it, cuts blocks for the rows
    /// of all ranks, and finds the same errors. A rank may hold no rows;
    /// whether all ranks together hold none is for the caller to judge.
    fn prepare_local_rows(
        frames: Frames<'a>,
        rows: ArrayView2<'a, f32>,
        block: &dyn Fn(usize) -> usize,
    ) -> Result<(Self, Scanned), FramesError> {
        let options = frames.read_options();
        let shapes: Vec<(usize, usize)> = each_rank(0..1, &|| Ok(vec![rows.dim()]))?;
        let rank = shardkit::Executor::current().rank().0.min(shapes.len() - 1);
        let holding = shapes.iter().find(|s| s.0 > 0).unwrap_or(&shapes[0]);
        let dim = options.expected_dim.unwrap_or(holding.1);
        for (r, &(n, d)) in shapes.iter().enumerate() {
            if d != dim && (n > 0 || options.expected_dim.is_some()) {
                return Err(FeatureError::WrongDim {
                    path: std::path::PathBuf::from(format!("in-memory rows of MPI rank {r}")),
                    found: d,
                    expected: dim,
                }
                .into());
            }
        }
        let offset: usize = shapes[..rank].iter().map(|s| s.0).sum();
        let total: usize = shapes.iter().map(|s| s.0).sum();
        let block = block(total);
        let rows = if rows.nrows() == 0 {
            CowArray::from(Array2::zeros((0, dim)))
        } else {
            standard(rows)
        };
        let index = offset..offset + rows.nrows();
        let scan = scan_rows_local(rows.view(), index, block);
        let non_finite = scan.first_bad != u64::MAX && !options.allow_non_finite;
        if non_finite || scan.max_abs > f64::from(options.max_magnitude) {
            // The rank that holds the first bad value reports it, with its
            // global row number; every rank returns an error.
            let view = rows.view();
            each_rank::<(), _>(0..1, &|| match first_bad(options, view) {
                Some((frame, column, value, bad)) => Err(bad
                    .at(&frames.name(0), offset + frame, column, value)
                    .into()),
                None => Ok(Vec::new()),
            })?;
        }
        let share = Share {
            local: true,
            offset,
            total: Some(total),
        };
        let source = Source::Rows { rows, block, share };
        Ok((
            source,
            Scanned {
                max_abs: scan.max_abs,
            },
        ))
    }

    /// [`prepare`](Source::prepare) for this rank's own segments: the
    /// ranks tell each other their numbers of segments and their
    /// dimension (the first rank's that has one, as the first file's on
    /// one process), then read their segments (for a scan) and learn
    /// every rank's rows.
    fn prepare_local_items(frames: Frames<'a>, scan: bool) -> Result<(Self, Scanned), FramesError> {
        let shapes: Vec<(usize, Option<usize>)> =
            each_rank(0..1, &|| Ok(vec![(frames.len(), frames.dim()?)]))?;
        let rank = shardkit::Executor::current().rank().0.min(shapes.len() - 1);
        let dim = shapes.iter().find_map(|s| s.1).unwrap_or(0);
        let frames = frames.expect_dim(dim);
        let n = frames.len();
        let scanned = match frames.paths() {
            Some(files) if scan => Some(scan_files_local(files, &frames)?),
            Some(_) => None,
            None => Some(each_rank(0..1, &|| scan_segments(&frames))?),
        };
        let Some(all) = scanned else {
            return Ok(Self::items(frames, dim, &vec![None; n], 0, None, 0.0));
        };
        let before: usize = shapes[..rank].iter().map(|s| s.0).sum();
        let offset = all[..before].iter().map(|s| s.0).sum();
        let total = all.iter().map(|s| s.0).sum();
        let max_abs = all.iter().fold(0.0f64, |m, &(_, a)| m.max(a));
        let counts: Vec<Option<usize>> =
            all[before..before + n].iter().map(|s| Some(s.0)).collect();
        Ok(Self::items(
            frames,
            dim,
            &counts,
            offset,
            Some(total),
            max_abs,
        ))
    }

    /// The same points, handed to visitors column-major: a chunk is then
    /// used by a GEMM as it is, with no packing. Rows are copied once;
    /// segments are transposed after each read.
    pub(crate) fn columnar(&self) -> Source<'a> {
        match self {
            Source::Rows { rows, block, share } => {
                let mut copy = Array2::zeros(rows.raw_dim().f());
                copy.assign(rows);
                Source::Rows {
                    rows: CowArray::from(copy),
                    block: *block,
                    share: *share,
                }
            }
            Source::Items {
                frames,
                jobs,
                dim,
                scanned,
                share,
                ..
            } => Source::Items {
                frames: *frames,
                jobs: jobs.clone(),
                dim: *dim,
                scanned: *scanned,
                columnar: true,
                share: *share,
            },
        }
    }

    fn share(&self) -> &Share {
        match self {
            Source::Rows { share, .. } | Source::Items { share, .. } => share,
        }
    }

    /// The number of rows (of every rank, for local frames), once known
    /// (always for rows and segments in memory; for files after
    /// [`scan`](Source::scan)).
    pub(crate) fn rows(&self) -> Option<usize> {
        self.share().total
    }

    /// The global indices of this process's rows (all of them unless the
    /// frames are local).
    fn own(&self) -> Range<usize> {
        let offset = self.share().offset;
        let n = match self {
            Source::Rows { rows, .. } => rows.nrows(),
            Source::Items { jobs, .. } => jobs.iter().map(Job::known_rows).sum(),
        };
        offset..offset + n
    }

    /// The number of rows of a source whose rows are known (see
    /// [`rows`](Source::rows)).
    ///
    /// # Panics
    ///
    /// For files not scanned.
    pub(crate) fn len(&self) -> usize {
        self.rows()
            .expect("global row numbers need a scanned source (Source::scan)")
    }

    /// The number of columns.
    pub(crate) fn dim(&self) -> usize {
        match self {
            Source::Rows { rows, .. } => rows.ncols(),
            Source::Items { dim, .. } => *dim,
        }
    }

    /// Fresh per-frame state of `width` values per frame, all default,
    /// column-major (a column of a block is contiguous) or row-major.
    pub(crate) fn state<S: Copy + Default>(&self, width: usize, column_major: bool) -> State<S> {
        let make = |rows: usize| state_matrix(rows, width, column_major);
        match self {
            Source::Rows { rows, .. } => State::Rows(make(rows.nrows())),
            Source::Items { jobs, .. } => State::Items {
                parts: jobs.iter().map(|j| j.rows.map(make)).collect(),
                width,
                column_major,
            },
        }
    }

    /// This source and `state` as the pieces the passes split.
    fn pieces<'s, S>(&'s self, state: &'s mut State<S>) -> Pieces<'s, 'a, S> {
        match (self, state) {
            (Source::Rows { rows, block, share }, State::Rows(st)) => Pieces::Rows {
                rows: rows.view(),
                index: share.offset..share.offset + rows.nrows(),
                state: st.view_mut(),
                block: *block,
                local: share.local,
            },
            (
                Source::Items {
                    frames,
                    jobs,
                    columnar,
                    share,
                    ..
                },
                State::Items {
                    parts,
                    width,
                    column_major,
                },
            ) => Pieces::Items {
                jobs,
                state: parts,
                shape: Shape {
                    width: *width,
                    column_major: *column_major,
                    columnar: *columnar,
                },
                frames,
                local: share.local,
            },
            _ => unreachable!("state of another source"),
        }
    }

    /// Runs `visit` over every frame, summing the blocks' results.
    pub(crate) fn sum<V>(
        &self,
        visit: &V,
        state: &mut State<V::Cell>,
    ) -> Result<V::Out, FramesError>
    where
        V: Visit,
        V::Out: Reduce,
    {
        match self.pieces(state) {
            Pieces::Rows {
                rows,
                index,
                state,
                block,
                local: false,
            } => Ok(sum_rows(rows, index, state, block, visit)),
            Pieces::Rows {
                rows,
                index,
                state,
                block,
                local: true,
            } => Ok(sum_rows_local(rows, index, state, block, visit)),
            Pieces::Items {
                jobs,
                state,
                shape,
                frames,
                local: false,
            } => sum_items(jobs, state, shape, frames, visit),
            Pieces::Items {
                jobs,
                state,
                shape,
                frames,
                local: true,
            } => sum_items_local(jobs, state, shape, frames, visit),
        }
    }

    /// Runs `visit` over every frame, keeping one result per block, in
    /// block order.
    pub(crate) fn blocks<V: Visit>(
        &self,
        visit: &V,
        state: &mut State<V::Cell>,
    ) -> Result<Vec<Kept<V>>, FramesError> {
        match self.pieces(state) {
            Pieces::Rows {
                rows,
                index,
                state,
                block,
                local: false,
            } => Ok(blocks_rows(rows, index, state, block, visit)),
            Pieces::Rows {
                rows,
                index,
                state,
                block,
                local: true,
            } => Ok(blocks_rows_local(rows, index, state, block, visit)),
            Pieces::Items {
                jobs,
                state,
                shape,
                frames,
                local: false,
            } => blocks_items(jobs, state, shape, frames, visit),
            Pieces::Items {
                jobs,
                state,
                shape,
                frames,
                local: true,
            } => blocks_items_local(jobs, state, shape, frames, visit),
        }
    }

    /// The points of global indices `indices` (any order, repeats allowed),
    /// as rows in that order, on every process. Each segment is read
    /// once; for local frames, by the rank that holds it (one exchange).
    ///
    /// # Panics
    ///
    /// For segments whose rows are not known ([`Source::lazy`] over files).
    pub(crate) fn points(&self, indices: &[usize]) -> Result<Array2<f32>, FramesError> {
        let d = self.dim();
        let mut out = Array2::zeros((indices.len(), d));
        let wanted: Vec<(usize, usize)> = indices.iter().copied().enumerate().collect();
        let found = if self.share().local {
            let own = self.own();
            let mine: Vec<(usize, usize)> = wanted
                .into_iter()
                .filter(|(_, i)| own.contains(i))
                .collect();
            each_rank(0..1, &|| self.own_points(&mine))?
        } else {
            self.own_points(&wanted)?
        };
        for (k, row) in found {
            out.row_mut(k).assign(&ndarray::ArrayView1::from(&row));
        }
        Ok(out)
    }

    /// The rows of this process's points `wanted`, `(place, global
    /// index)` each, as `(place, row)`.
    fn own_points(&self, wanted: &[(usize, usize)]) -> Result<Vec<(usize, Vec<f32>)>, FramesError> {
        let mut out = Vec::with_capacity(wanted.len());
        match self {
            Source::Rows { rows, share, .. } => {
                for &(k, i) in wanted {
                    out.push((k, rows.row(i - share.offset).to_vec()));
                }
            }
            Source::Items { frames, jobs, .. } => {
                let mut order = wanted.to_vec();
                order.sort_by_key(|&(_, i)| i);
                let mut loaded: Option<(usize, CowArray<'_, f32, Ix2>)> = None;
                for (k, i) in order {
                    let f = jobs.partition_point(|j| j.first + j.known_rows() <= i);
                    if loaded.as_ref().is_none_or(|(g, _)| *g != f) {
                        loaded = Some((f, read_job(frames, &jobs[f])?));
                    }
                    let (_, x) = loaded.as_ref().expect("loaded above");
                    out.push((k, x.row(i - jobs[f].first).to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// Answers `ask(k, ranges[k])` for each range of global indices in
    /// `ranges` (each within one block of a pass), on the process that
    /// holds its points and their state, and returns the answers in order
    /// on every process: directly unless the frames are local, else in one
    /// exchange. Empty ranges are not asked (their answer is `None`).
    ///
    /// # Errors
    ///
    /// Under MPI, the error of a rank that failed in the exchange.
    pub(crate) fn on_owner<T>(
        &self,
        ranges: &[Range<usize>],
        ask: impl Fn(usize, Range<usize>) -> T + Sync,
    ) -> Result<Vec<Option<T>>, FramesError>
    where
        T: Send + serde::Serialize + serde::de::DeserializeOwned,
    {
        if !self.share().local {
            return Ok(ranges
                .iter()
                .enumerate()
                .map(|(k, r)| (!r.is_empty()).then(|| ask(k, r.clone())))
                .collect());
        }
        let own = self.own();
        let answers = each_rank(0..1, &|| {
            Ok(ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.is_empty() && own.contains(&r.start))
                .map(|(k, r)| (k, ask(k, r.clone())))
                .collect())
        })?;
        let mut out: Vec<Option<T>> = ranges.iter().map(|_| None).collect();
        for (k, answer) in answers {
            out[k] = Some(answer);
        }
        Ok(out)
    }
}

/// `rows` in standard (row-major) layout, borrowed where they already are.
fn standard(rows: ArrayView2<'_, f32>) -> CowArray<'_, f32, Ix2> {
    if rows.is_standard_layout() {
        CowArray::from(rows)
    } else {
        CowArray::from(rows.as_standard_layout().into_owned())
    }
}

impl Job {
    fn known_rows(&self) -> usize {
        self.rows
            .expect("global row numbers need a scanned source (Source::scan)")
    }
}

impl<S: Copy> State<S> {
    /// Reads column `col` of the points `range` (global indices).
    ///
    /// # Panics
    ///
    /// For a state of segments not yet sized.
    pub(crate) fn column(&self, source: &Source<'_>, range: Range<usize>, col: usize) -> Vec<S> {
        match (self, source) {
            (State::Rows(a), Source::Rows { share, .. }) => {
                let range = range.start - share.offset..range.end - share.offset;
                a.slice(s![range, col]).to_vec()
            }
            (State::Items { parts: states, .. }, Source::Items { jobs, .. }) => {
                let mut out = Vec::with_capacity(range.len());
                let start = jobs.partition_point(|j| j.first + j.known_rows() <= range.start);
                for (job, st) in jobs[start..].iter().zip(&states[start..]) {
                    if job.first >= range.end {
                        break;
                    }
                    let rows = job.known_rows();
                    let st = st.as_ref().expect("a sized state");
                    let lo = range.start.max(job.first) - job.first;
                    let hi = range.end.min(job.first + rows) - job.first;
                    out.extend(st.slice(s![lo..hi, col]));
                }
                out
            }
            (State::Items { .. }, Source::Rows { .. }) => unreachable!("segment state for rows"),
            (State::Rows(_), Source::Items { .. }) => unreachable!("row state for segments"),
        }
    }

    /// Sets column `col` of every point to `value`.
    pub(crate) fn fill(&mut self, col: usize, value: S) {
        match self {
            State::Rows(a) => a.column_mut(col).fill(value),
            State::Items { parts, .. } => parts
                .iter_mut()
                .flatten()
                .for_each(|a| a.column_mut(col).fill(value)),
        }
    }

    /// Writes `values` (one per point of this process, in order) into
    /// column `col`.
    pub(crate) fn set_column(&mut self, col: usize, values: &[S]) {
        match self {
            State::Rows(a) => a.column_mut(col).assign(&ndarray::ArrayView1::from(values)),
            State::Items { parts, .. } => {
                let mut at = 0;
                for a in parts.iter_mut().flatten() {
                    let n = a.nrows();
                    a.column_mut(col)
                        .assign(&ndarray::ArrayView1::from(&values[at..at + n]));
                    at += n;
                }
            }
        }
    }
}

/// Reads a segment of a pass, checking that it still has the rows it had.
fn read_job<'a>(frames: &Frames<'a>, job: &Job) -> Result<CowArray<'a, f32, Ix2>, FramesError> {
    let x = frames.segment(job.index)?;
    match job.rows {
        Some(rows) if rows != x.nrows() => Err(FramesError::FileChanged {
            path: frames.name(job.index),
            expected: rows,
            found: x.nrows(),
        }),
        _ => Ok(x),
    }
}

/// Visits `rows` chunk by chunk.
fn visit_rows<V: Visit>(
    visit: &V,
    out: &mut V::Out,
    rows: ArrayView2<'_, f32>,
    first: usize,
    mut state: ArrayViewMut2<'_, V::Cell>,
    work: &mut V::Work,
) {
    let n = rows.nrows();
    let step = visit.chunk_rows();
    let mut at = 0;
    while at < n {
        let end = at.saturating_add(step).min(n);
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

/// A block of rows in memory, visited from a fresh result.
fn fold_rows<V: Visit>(
    visit: &V,
    rows: ArrayView2<'_, f32>,
    first: usize,
    state: ArrayViewMut2<'_, V::Cell>,
) -> V::Out {
    let mut out = visit.start();
    visit_rows(visit, &mut out, rows, first, state, &mut V::Work::default());
    out
}

/// A block of rows in memory, summed.
#[parallelize(split = "rows, index, state", reduce = "sum", block_size = block)]
fn sum_rows<V>(
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, V::Cell>,
    block: usize,
    visit: &V,
) -> V::Out
where
    V: Visit,
    V::Out: Reduce,
{
    fold_rows(visit, rows, index.start, state)
}

/// [`sum_rows`] over this rank's own rows.
#[parallelize(split = "rows, index, state", reduce = "sum", block_size = block, data = "local")]
fn sum_rows_local<V>(
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, V::Cell>,
    block: usize,
    visit: &V,
) -> V::Out
where
    V: Visit,
    V::Out: Reduce,
{
    fold_rows(visit, rows, index.start, state)
}

/// A block of rows in memory, kept with its place.
#[parallelize(split = "rows, index, state", reduce = "concat", block_size = block)]
fn blocks_rows<V: Visit>(
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, V::Cell>,
    block: usize,
    visit: &V,
) -> Vec<Kept<V>> {
    keep_rows(visit, rows, index, state)
}

/// [`blocks_rows`] over this rank's own rows.
#[parallelize(split = "rows, index, state", reduce = "concat", block_size = block, data = "local")]
fn blocks_rows_local<V: Visit>(
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, V::Cell>,
    block: usize,
    visit: &V,
) -> Vec<Kept<V>> {
    keep_rows(visit, rows, index, state)
}

/// The body of [`blocks_rows`] and its twin.
fn keep_rows<V: Visit>(
    visit: &V,
    rows: ArrayView2<'_, f32>,
    index: Range<usize>,
    state: ArrayViewMut2<'_, V::Cell>,
) -> Vec<Kept<V>> {
    let out = fold_rows(visit, rows, index.start, state);
    vec![(index.start, index.len(), visit.finish(out))]
}

/// Visits the segments of a block, each read whole; a state not yet
/// sized is sized to its segment.
fn visit_items<V: Visit>(
    visit: &V,
    out: &mut V::Out,
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
) -> Result<(), FramesError> {
    let mut work = V::Work::default();
    for (job, st) in jobs.iter().zip(state) {
        let mut x = read_job(frames, job)?;
        if shape.columnar {
            let mut f = Array2::zeros(x.raw_dim().f());
            f.assign(&x);
            x = CowArray::from(f);
        }
        let st = match st {
            Some(st) if st.nrows() != x.nrows() => {
                return Err(FramesError::FileChanged {
                    path: frames.name(job.index),
                    expected: st.nrows(),
                    found: x.nrows(),
                })
            }
            Some(st) => st,
            None => st.insert(state_matrix(x.nrows(), shape.width, shape.column_major)),
        };
        visit_rows(visit, out, x.view(), job.first, st.view_mut(), &mut work);
    }
    Ok(())
}

/// A block of segments, summed.
#[parallelize(split = "jobs, state", reduce = "sum", weights = |job: &Job| job.weight)]
fn sum_items<V>(
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
    visit: &V,
) -> Result<V::Out, FramesError>
where
    V: Visit,
    V::Out: Reduce,
{
    add_items(visit, jobs, state, shape, frames)
}

/// [`sum_items`] over this rank's own segments.
#[parallelize(split = "jobs, state", reduce = "sum", weights = |job: &Job| job.weight, data = "local")]
fn sum_items_local<V>(
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
    visit: &V,
) -> Result<V::Out, FramesError>
where
    V: Visit,
    V::Out: Reduce,
{
    add_items(visit, jobs, state, shape, frames)
}

/// The body of [`sum_items`] and its twin.
fn add_items<V: Visit>(
    visit: &V,
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
) -> Result<V::Out, FramesError> {
    let mut out = visit.start();
    visit_items(visit, &mut out, jobs, state, shape, frames)?;
    Ok(out)
}

/// A block of segments, kept with its place.
#[parallelize(split = "jobs, state", reduce = "concat", weights = |job: &Job| job.weight)]
fn blocks_items<V: Visit>(
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
    visit: &V,
) -> Result<Vec<Kept<V>>, FramesError> {
    keep_items(visit, jobs, state, shape, frames)
}

/// [`blocks_items`] over this rank's own segments.
#[parallelize(split = "jobs, state", reduce = "concat", weights = |job: &Job| job.weight, data = "local")]
fn blocks_items_local<V: Visit>(
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
    visit: &V,
) -> Result<Vec<Kept<V>>, FramesError> {
    keep_items(visit, jobs, state, shape, frames)
}

/// The body of [`blocks_items`] and its twin.
fn keep_items<V: Visit>(
    visit: &V,
    jobs: &[Job],
    state: &mut [Option<Array2<V::Cell>>],
    shape: Shape,
    frames: &Frames<'_>,
) -> Result<Vec<Kept<V>>, FramesError> {
    let out = add_items(visit, jobs, state, shape, frames)?;
    let first = jobs.first().map_or(0, |j| j.first);
    let rows = jobs.iter().map(|j| j.rows.unwrap_or(0)).sum();
    Ok(vec![(first, rows, visit.finish(out))])
}

/// Runs `part` once on every MPI rank (once off MPI, or inside a shard)
/// and returns the results of every rank, in rank order, on every rank:
/// how the passes over rank-local frames learn what the other ranks hold.
/// An error on any rank is an error on every rank (the first in rank
/// order). Every rank passes `0..1`: one item, so one block per rank.
#[parallelize(split = "once", reduce = "concat", data = "local")]
fn each_rank<T, F>(once: Range<usize>, part: &F) -> Result<Vec<T>, FramesError>
where
    T: Send + serde::Serialize + serde::de::DeserializeOwned,
    F: Fn() -> Result<Vec<T>, FramesError> + Sync,
{
    if once.is_empty() {
        return Ok(Vec::new());
    }
    part()
}

#[parallelize(split = "rows, index", reduce = "sum", block_size = block)]
fn scan_rows(rows: ArrayView2<'_, f32>, index: Range<usize>, block: usize) -> Scan {
    scan_block(rows, index)
}

/// [`scan_rows`] over this rank's own rows.
#[parallelize(split = "rows, index", reduce = "sum", block_size = block, data = "local")]
fn scan_rows_local(rows: ArrayView2<'_, f32>, index: Range<usize>, block: usize) -> Scan {
    scan_block(rows, index)
}

/// The body of [`scan_rows`] and its twin.
fn scan_block(rows: ArrayView2<'_, f32>, index: Range<usize>) -> Scan {
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

/// Checks rows in memory with the frames' options, the values in one
/// parallel pass; returns their largest magnitude.
fn check_rows(
    frames: &Frames<'_>,
    rows: ArrayView2<'_, f32>,
    block: usize,
) -> Result<f64, FramesError> {
    let options = frames.read_options();
    let (n, d) = rows.dim();
    if let Some(expected) = options.expected_dim.filter(|&e| e != d) {
        return Err(FeatureError::WrongDim {
            path: frames.name(0),
            found: d,
            expected,
        }
        .into());
    }
    if n == 0 && !options.allow_empty {
        return Err(FeatureError::NoFrames {
            path: frames.name(0),
            columns: d,
        }
        .into());
    }
    let scan = scan_rows(rows, 0..n, block);
    let non_finite = scan.first_bad != u64::MAX && !options.allow_non_finite;
    if non_finite || scan.max_abs > f64::from(options.max_magnitude) {
        if let Some((frame, column, value, bad)) = first_bad(options, rows) {
            return Err(bad.at(&frames.name(0), frame, column, value).into());
        }
    }
    Ok(scan.max_abs)
}

/// The first bad value of `rows` in row-major order, found serially
/// (infinities allowed by the options make the largest magnitude
/// infinite without being bad): `(frame, column, value, why)`.
fn first_bad(
    options: &crate::features::ReadOptions,
    rows: ArrayView2<'_, f32>,
) -> Option<(usize, usize, f32, crate::features::BadValue)> {
    rows.indexed_iter()
        .find_map(|((frame, column), &v)| Some((frame, column, v, options.value_error(v)?)))
}

/// Reads every segment in memory once: checks it and counts its frames.
/// One `(frames, largest magnitude)` per segment.
fn scan_segments(frames: &Frames<'_>) -> Result<Vec<(usize, f64)>, FramesError> {
    (0..frames.len())
        .map(|i| {
            let x = frames.segment(i)?;
            let m = x.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
            Ok((x.nrows(), m))
        })
        .collect()
}

/// Reads every file once: checks it and counts its frames. One
/// `(frames, largest magnitude)` per file.
#[parallelize(split = "files", reduce = "concat", weights = shardkit::weights::file_size)]
fn scan_files(
    files: &[std::path::PathBuf],
    frames: &Frames<'_>,
) -> Result<Vec<(usize, f64)>, FramesError> {
    read_files(files, frames)
}

/// [`scan_files`] over this rank's own files.
#[parallelize(split = "files", reduce = "concat", weights = shardkit::weights::file_size, data = "local")]
fn scan_files_local(
    files: &[std::path::PathBuf],
    frames: &Frames<'_>,
) -> Result<Vec<(usize, f64)>, FramesError> {
    read_files(files, frames)
}

/// The body of [`scan_files`] and its twin.
fn read_files(
    files: &[std::path::PathBuf],
    frames: &Frames<'_>,
) -> Result<Vec<(usize, f64)>, FramesError> {
    files
        .iter()
        .map(|f| {
            let x = read_features_with(f, frames.read_options())?;
            let m = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            Ok((x.nrows(), f64::from(m)))
        })
        .collect()
}
