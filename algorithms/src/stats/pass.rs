//! Passes over a [`Table`]: the `#[parallelize]` functions behind every
//! statistic, written once.
//!
//! A statistic is a [`ChunkPass`]: what to compute from one chunk of rows.
//! [`sum`] adds the chunks' results exactly (`reduce = "sum"`); [`each`]
//! keeps them in order (`reduce = "concat"`), for merges that are not sums
//! (the R factors of a QR). Each has a twin with `data = "local"`, called
//! when the table is [local](Table::local). Every block is one chunk, and
//! chunks are cut from the parts alone, so the results have the same bits
//! on any executor, and for local tables whichever rank holds a part.

use std::ops::Range;

use ndarray::{Array1, ArrayView2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shardkit::{parallelize, Reduce};

use super::errors::{StatsError, TableError};
use super::table::{Chunk, Table};

/// What a statistic computes from one chunk of rows.
pub(crate) trait ChunkPass: Sync {
    /// A chunk's result.
    type Out: Send;
    /// The result for `rows`, rows `first..` of the part named `part`
    /// (for errors).
    fn chunk(
        &self,
        rows: ArrayView2<'_, f64>,
        part: &str,
        first: usize,
    ) -> Result<Self::Out, StatsError>;
}

fn run<P: ChunkPass>(chunk: &Chunk, table: &Table<'_>, pass: &P) -> Result<P::Out, StatsError> {
    pass.chunk(table.chunk(chunk), table.part_name(chunk.part), chunk.start)
}

/// The one chunk of a block (`block_size = 1`); a rank that holds no rows
/// of a local table runs one empty block, whose result is nothing.
fn one(chunks: &[Chunk]) -> Option<&Chunk> {
    debug_assert!(chunks.len() <= 1);
    chunks.first()
}

#[parallelize(split = "chunks", reduce = "sum", block_size = 1)]
fn sum_same<P>(chunks: &[Chunk], table: &Table<'_>, pass: &P) -> Result<P::Out, StatsError>
where
    P: ChunkPass,
    P::Out: Reduce,
{
    one(chunks).map_or_else(|| Ok(P::Out::identity()), |c| run(c, table, pass))
}

#[parallelize(split = "chunks", reduce = "sum", block_size = 1, data = "local")]
fn sum_local<P>(chunks: &[Chunk], table: &Table<'_>, pass: &P) -> Result<P::Out, StatsError>
where
    P: ChunkPass,
    P::Out: Reduce,
{
    one(chunks).map_or_else(|| Ok(P::Out::identity()), |c| run(c, table, pass))
}

#[parallelize(split = "chunks", reduce = "concat", block_size = 1)]
fn each_same<P: ChunkPass<Out: Serialize + DeserializeOwned>>(
    chunks: &[Chunk],
    table: &Table<'_>,
    pass: &P,
) -> Result<Vec<P::Out>, StatsError> {
    one(chunks)
        .map(|c| run(c, table, pass))
        .into_iter()
        .collect()
}

#[parallelize(split = "chunks", reduce = "concat", block_size = 1, data = "local")]
fn each_local<P: ChunkPass<Out: Serialize + DeserializeOwned>>(
    chunks: &[Chunk],
    table: &Table<'_>,
    pass: &P,
) -> Result<Vec<P::Out>, StatsError> {
    one(chunks)
        .map(|c| run(c, table, pass))
        .into_iter()
        .collect()
}

/// The exact sum of `pass` over every chunk of `table` (of every rank's
/// table, when it is local).
pub(crate) fn sum<P>(table: &Table<'_>, pass: &P) -> Result<P::Out, StatsError>
where
    P: ChunkPass,
    P::Out: Reduce,
{
    let chunks = table.chunks();
    if table.is_local() {
        sum_local(&chunks, table, pass)
    } else {
        sum_same(&chunks, table, pass)
    }
}

/// `pass`'s result for every chunk of `table` (of every rank's table, in
/// rank order, when it is local), in order.
///
/// Under MPI every chunk's result travels to every rank (serde), hence the
/// bound.
pub(crate) fn each<P: ChunkPass<Out: Serialize + DeserializeOwned>>(
    table: &Table<'_>,
    pass: &P,
) -> Result<Vec<P::Out>, StatsError> {
    let chunks = table.chunks();
    if table.is_local() {
        each_local(&chunks, table, pass)
    } else {
        each_same(&chunks, table, pass)
    }
}

/// What one rank holds of a local table.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    cols: Option<usize>,
    rows: u64,
    first: Option<Vec<f64>>,
}

#[parallelize(split = "one", reduce = "concat", data = "local")]
fn held_by_ranks(one: Range<usize>, table: &Table<'_>) -> Vec<Held> {
    let _ = one;
    vec![Held {
        cols: table.known_cols(),
        rows: table.nrows() as u64,
        first: table.first_row().map(|r| r.to_vec()),
    }]
}

/// The whole table's shape, agreed by every rank: its columns, its rows,
/// and its first row (in rank order), which passes subtract from every
/// row before they square it, so that sums of squares keep the spread of
/// data far from zero.
#[derive(Debug, Clone)]
pub(crate) struct Survey {
    pub(crate) cols: usize,
    pub(crate) rows: u64,
    pub(crate) shift: Array1<f64>,
}

/// Surveys `table`: on its own, or, for a local table, with one exchange
/// between the ranks.
///
/// # Errors
///
/// [`TableError::NoRows`] for a table without rows anywhere, and
/// [`TableError::RanksDisagree`] when ranks hold different widths.
pub(crate) fn survey(table: &Table<'_>) -> Result<Survey, StatsError> {
    let local = table.is_local();
    let held = if local {
        held_by_ranks(0..1, table)
    } else {
        vec![Held {
            cols: table.known_cols(),
            rows: table.nrows() as u64,
            first: table.first_row().map(|r| r.to_vec()),
        }]
    };
    let widths: Vec<(usize, usize)> = held
        .iter()
        .enumerate()
        .filter_map(|(rank, h)| Some((rank, h.cols?)))
        .collect();
    if widths.windows(2).any(|w| w[0].1 != w[1].1) {
        return Err(TableError::RanksDisagree { widths }.into());
    }
    let rows: u64 = held.iter().map(|h| h.rows).sum();
    let first = held.into_iter().find_map(|h| h.first);
    match (widths.first(), first) {
        (Some(&(_, cols)), Some(first)) if rows > 0 => Ok(Survey {
            cols,
            rows,
            shift: Array1::from(first),
        }),
        _ => Err(TableError::NoRows { local }.into()),
    }
}
