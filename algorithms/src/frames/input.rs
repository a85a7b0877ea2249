//! [`Frames`]: rows, segments in memory, or feature files.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ndarray::{ArrayView2, CowArray, Ix2};

use super::cache::FrameCache;
use super::errors::FramesError;
use crate::features::{read_features_with, ReadOptions};

/// Frames of feature vectors: rows of one matrix, matrices in memory, or
/// feature files; see the [module documentation](crate::frames).
///
/// Cheap to copy: it borrows the matrices or the list of paths.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a> {
    kind: Kind<'a>,
    options: ReadOptions,
    local: bool,
    cache: Option<&'a FrameCache>,
}

#[derive(Debug, Clone, Copy)]
enum Kind<'a> {
    Rows(ArrayView2<'a, f32>),
    Segments(&'a [ArrayView2<'a, f32>]),
    Files(&'a [PathBuf]),
}

impl<'a> Frames<'a> {
    /// The rows of `rows`, one frame per row: a single segment.
    pub fn rows(rows: ArrayView2<'a, f32>) -> Self {
        Self::of(Kind::Rows(rows))
    }

    /// One segment per matrix in memory (an utterance each).
    pub fn segments(segments: &'a [ArrayView2<'a, f32>]) -> Self {
        Self::of(Kind::Segments(segments))
    }

    /// One segment per feature file (`.npy` or HTK, chosen by extension;
    /// see [`read_features_with`]), read each time a pass needs it.
    pub fn files(files: &'a [PathBuf]) -> Self {
        Self::of(Kind::Files(files))
    }

    fn of(kind: Kind<'a>) -> Self {
        Frames {
            kind,
            options: ReadOptions::default(),
            local: false,
            cache: None,
        }
    }

    /// The same frames, declared to be **this MPI rank's own share** of
    /// the data (SPMD, as daal4py: every rank reads its own files and
    /// runs the same program); by default every rank passes the same
    /// frames and the ranks share out their blocks.
    ///
    /// The passes over local frames run `#[parallelize(data = "local")]`
    /// twins of the usual ones: each rank visits its own segments or rows
    /// and only the results are combined, and points are numbered
    /// globally, rank after rank (rank `r`'s first point comes after every
    /// point of ranks `0..r`). So an algorithm fitted on local frames sees
    /// the concatenation of all ranks' frames in rank order, and every rank
    /// ends with the same result. A rank may hold no segment, or no rows.
    ///
    /// Off MPI (threads, or a single rank) there is only one share, and
    /// local frames behave exactly like the same frames without `local`,
    /// with the same bits; so one program reads a rank's files under
    /// `mpirun` and all the files without it.
    ///
    /// **Bits.** The result is the same on every rank, on any number of
    /// threads per rank. Whether it also has the bits of a run over the
    /// concatenation on one process depends on the blocks, which each
    /// rank cuts from its own share:
    ///
    /// - [`Frames::files`] and [`Frames::segments`]: blocks are runs of
    ///   whole segments balanced by size (a block closes before a segment
    ///   that would take it past the average segment, or past 1/256 of the
    ///   whole above 256 segments). When each segment is a block of its
    ///   own on every rank and on one process — up to 256 segments of
    ///   equal or similar sizes — the bits are those of the
    ///   single-process run over all ranks' segments in rank order,
    ///   whichever rank holds which segments (tested with 4 files on 1–4
    ///   ranks);
    /// - [`Frames::rows`]: one matrix per rank, cut into blocks of rows
    ///   from the rank's first row, so the bits are those of the run over
    ///   the stacked rows only when every rank but the last holds a whole
    ///   number of blocks (for k-means, blocks of 384 rows below about
    ///   12,000 rows in all).
    ///
    /// [`KMeans::fit`](crate::kmeans::KMeans::fit) honours it (tested on
    /// 1–4 MPI ranks); the other algorithms that read `Frames` do not yet,
    /// and must be given frames that every rank passes whole.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use shardkit_algorithms::frames::Frames;
    /// use shardkit_algorithms::kmeans::KMeans;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Under mpirun each rank would hold its own rows.
    /// let mine = Array2::from_shape_fn((400, 2), |(i, j)| ((i * 7 + j) % 13) as f32);
    /// let params = KMeans::new(3).seed(1);
    /// let local = params.fit(&Frames::rows(mine.view()).local())?;
    /// // On one process, the same as without `local`.
    /// let same = params.fit(&Frames::rows(mine.view()))?;
    /// assert_eq!(local.centroids(), same.centroids());
    /// # Ok(())
    /// # }
    /// ```
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The same frames, with each file kept in `cache` after its first
    /// read while the cache's budget allows, so that later passes read
    /// memory (see [`FrameCache`]). Only files are cached; the cache must
    /// have been made for as many files as the list holds.
    ///
    /// # Panics
    ///
    /// When the cache was made for another number of files.
    pub fn cached(mut self, cache: &'a FrameCache) -> Self {
        if let Kind::Files(f) = self.kind {
            assert_eq!(
                cache.len(),
                f.len(),
                "a FrameCache for {} files given to a list of {}",
                cache.len(),
                f.len()
            );
        }
        self.cache = Some(cache);
        self
    }

    /// Whether these frames are this rank's own share ([`Frames::local`]).
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// The same frames, checked with `options` as each segment is read
    /// (default: [`ReadOptions::default`]).
    pub fn options(mut self, options: ReadOptions) -> Self {
        self.options = options;
        self
    }

    /// The same frames, each segment required to have `dim` columns.
    pub fn expect_dim(mut self, dim: usize) -> Self {
        self.options.expected_dim = Some(dim);
        self
    }

    /// The checks applied to each segment.
    pub fn read_options(&self) -> &ReadOptions {
        &self.options
    }

    /// The number of segments: 1 for [`Frames::rows`].
    pub fn len(&self) -> usize {
        match self.kind {
            Kind::Rows(_) => 1,
            Kind::Segments(s) => s.len(),
            Kind::Files(f) => f.len(),
        }
    }

    /// Whether there are no segments (an empty list; [`Frames::rows`] of
    /// no rows still has one segment, of no frames).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The feature files, for [`Frames::files`].
    pub fn paths(&self) -> Option<&'a [PathBuf]> {
        match self.kind {
            Kind::Files(f) => Some(f),
            _ => None,
        }
    }

    /// The columns per frame when known without reading a file: the
    /// expected dimension, else the first matrix's width in memory.
    pub fn known_dim(&self) -> Option<usize> {
        self.options.expected_dim.or(match self.kind {
            Kind::Rows(r) => Some(r.ncols()),
            Kind::Segments(s) => s.first().map(|x| x.ncols()),
            Kind::Files(_) => None,
        })
    }

    /// The columns per frame: [`known_dim`](Frames::known_dim), or the
    /// width of the first file; `None` for an empty list.
    ///
    /// # Errors
    ///
    /// When the first file must be read and cannot be.
    pub fn dim(&self) -> Result<Option<usize>, FramesError> {
        if let Some(dim) = self.known_dim() {
            return Ok(Some(dim));
        }
        match self.kind {
            Kind::Files([first, ..]) => {
                let options = ReadOptions {
                    expected_dim: None,
                    ..self.options
                };
                Ok(Some(read_features_with(first, &options)?.ncols()))
            }
            _ => Ok(None),
        }
    }

    /// Segment `i`'s frames, checked with the options, in standard
    /// (row-major) layout: borrowed from memory where they already are, or
    /// read from the file.
    ///
    /// # Errors
    ///
    /// A [`FramesError::Features`] naming the file or the matrix.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`len`](Frames::len).
    pub fn segment(&self, i: usize) -> Result<CowArray<'a, f32, Ix2>, FramesError> {
        let memory = |x: ArrayView2<'a, f32>, name: Cow<'static, str>| {
            self.options.check(Path::new(name.as_ref()), &x)?;
            Ok(if x.is_standard_layout() {
                CowArray::from(x)
            } else {
                CowArray::from(x.as_standard_layout().into_owned())
            })
        };
        match self.kind {
            Kind::Rows(rows) => {
                assert_eq!(i, 0, "in-memory rows are one segment");
                memory(rows, Cow::Borrowed("in-memory rows"))
            }
            Kind::Segments(s) => memory(s[i], Cow::Owned(format!("in-memory segment {i}"))),
            Kind::Files(f) => {
                if let Some(x) = self.cache.and_then(|c| c.get(i)) {
                    return Ok(CowArray::from(x.view()));
                }
                let x = read_features_with(&f[i], &self.options)?;
                let Some(cache) = self.cache else {
                    return Ok(CowArray::from(x));
                };
                Ok(match cache.keep(i, x) {
                    Ok(kept) => CowArray::from(kept.view()),
                    Err(x) => CowArray::from(x),
                })
            }
        }
    }

    /// What segment `i` costs to visit, for balancing blocks: its file size
    /// in bytes, or its size in memory.
    pub(crate) fn weight(&self, i: usize) -> u64 {
        match self.kind {
            Kind::Rows(r) => (r.len() * 4) as u64,
            Kind::Segments(s) => (s[i].len() * 4) as u64 + 128,
            Kind::Files(f) => shardkit::weights::file_size(&f[i]),
        }
    }

    /// Segment `i`'s name in messages: the file's path, or its place in
    /// memory.
    pub(crate) fn name(&self, i: usize) -> PathBuf {
        match self.kind {
            Kind::Rows(_) => PathBuf::from("in-memory rows"),
            Kind::Segments(_) => PathBuf::from(format!("in-memory segment {i}")),
            Kind::Files(f) => f[i].clone(),
        }
    }

    /// The matrix of [`Frames::rows`].
    pub(crate) fn as_rows(&self) -> Option<ArrayView2<'a, f32>> {
        match self.kind {
            Kind::Rows(r) => Some(r),
            _ => None,
        }
    }

    /// Folds the frames of every segment, in order, on the calling thread:
    /// `add` gets each segment's frames whole. The loop every per-segment
    /// pass runs inside its shard.
    ///
    /// # Errors
    ///
    /// The first segment that cannot be read.
    pub(crate) fn fold<T>(
        &self,
        mut acc: T,
        mut add: impl FnMut(&mut T, ArrayView2<'_, f32>),
    ) -> Result<T, FramesError> {
        for i in 0..self.len() {
            add(&mut acc, self.segment(i)?.view());
        }
        Ok(acc)
    }
}
