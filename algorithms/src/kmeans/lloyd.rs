//! Lloyd iterations: the assignment-and-accumulation pass (one
//! `#[parallelize]` call per iteration, `reduce = "sum"`), the update
//! step, and the re-seeding of empty clusters.

use std::time::Instant;

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};
use shardkit::Reduce;

use super::errors::KMeansError;
use super::hyperparams::KMeans;
use super::kernel::{accumulate, assign, distance, Centroids, Work, CHUNK};
use super::model::LloydIteration;
use super::top::{self, Top, TopRows};
use crate::frames::{Source, Visit};

/// What the assignment pass sums: points per cluster, their coordinate
/// sums, and the sum of their squared distances to their centroids.
#[derive(Reduce, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sums {
    pub(crate) counts: Vec<u64>,
    pub(crate) sums: Array2<f64>,
    pub(crate) inertia: f64,
}

/// Assigns each point to its nearest centroid and accumulates [`Sums`].
pub(crate) struct Assign<'c> {
    pub(crate) centroids: &'c Centroids,
}

impl Visit for Assign<'_> {
    type Out = Sums;
    type Block = Sums;
    type Work = Work;
    type Cell = f64;

    fn start(&self) -> Sums {
        let (k, d) = (self.centroids.k(), self.centroids.dim());
        Sums {
            counts: vec![0; k],
            sums: Array2::zeros((k, d)),
            inertia: 0.0,
        }
    }

    fn chunk(
        &self,
        out: &mut Sums,
        x: ArrayView2<'_, f32>,
        _first: usize,
        _state: ArrayViewMut2<'_, f64>,
        work: &mut Work,
    ) {
        assign(x, self.centroids, work);
        out.inertia += accumulate(
            x,
            self.centroids,
            &work.labels,
            &mut out.counts,
            &mut out.sums,
        );
    }

    fn finish(&self, out: Sums) -> Sums {
        out
    }

    fn chunk_rows(&self) -> usize {
        CHUNK
    }
}

/// Keeps the `m` points farthest from their nearest centroid.
struct Farthest<'c> {
    centroids: &'c Centroids,
    m: usize,
}

impl Visit for Farthest<'_> {
    type Out = Top;
    type Block = TopRows;
    type Work = Work;
    type Cell = f64;

    fn start(&self) -> Top {
        Top::new(self.m, self.centroids.dim())
    }

    fn chunk(
        &self,
        out: &mut Top,
        x: ArrayView2<'_, f32>,
        first: usize,
        _state: ArrayViewMut2<'_, f64>,
        work: &mut Work,
    ) {
        assign(x, self.centroids, work);
        for (i, (row, &l)) in x.rows().into_iter().zip(&work.labels).enumerate() {
            let row = row.to_slice().expect("rows are contiguous");
            let c = self.centroids.c64.row(l as usize);
            let d = distance(row, c.as_slice().expect("owned rows"));
            out.push(d, (first + i) as u64, |r| r.copy_from_slice(row));
        }
    }

    fn finish(&self, out: Top) -> TopRows {
        out.finish()
    }

    fn chunk_rows(&self) -> usize {
        CHUNK
    }
}

/// What a fit has done so far: the current centroids, the iterations
/// behind them, and whether the stop rule has ended them.
pub(crate) struct Progress {
    pub(crate) centroids: Array2<f64>,
    pub(crate) history: Vec<LloydIteration>,
    pub(crate) converged: bool,
}

/// Runs Lloyd iterations from `progress` until the stop rule or
/// `max_iter` iterations in all (those of `progress.history` included),
/// calling `after` after each with the progress so far. Returns the final
/// centroids, the iterations, and whether the stop rule (rather than
/// `max_iter`) ended them.
pub(crate) fn lloyd(
    data: &Source<'_>,
    progress: Progress,
    params: &KMeans,
    after: &mut dyn FnMut(&Progress) -> Result<(), KMeansError>,
) -> Result<Progress, KMeansError> {
    let Progress {
        centroids,
        mut history,
        mut converged,
    } = progress;
    let mut centroids = Centroids::new(centroids);
    let mut state = data.state(0, true);
    while !converged && history.len() < params.max_iter {
        let start = Instant::now();
        let sums = data.sum(
            &Assign {
                centroids: &centroids,
            },
            &mut state,
        )?;
        let (next, reseeded) = update(data, &centroids, &sums)?;
        let shift = (&next - &centroids.c64).mapv(|v| v * v).sum();
        let previous = history.last().map(|it| it.inertia);
        history.push(LloydIteration {
            inertia: sums.inertia,
            shift,
            reseeded,
            seconds: start.elapsed().as_secs_f64(),
        });
        let small_gain = previous.is_some_and(|p| p - sums.inertia <= params.tol * p);
        converged = shift == 0.0 || small_gain;
        let progress = Progress {
            centroids: next,
            history,
            converged,
        };
        after(&progress)?;
        centroids = Centroids::new(progress.centroids);
        history = progress.history;
    }
    Ok(Progress {
        centroids: centroids.c64,
        history,
        converged,
    })
}

/// The update step: each centroid becomes the mean of its points; each
/// empty cluster, in increasing index order, takes the next of the points
/// farthest from their own centroid (larger distance first, lower index on
/// ties). Returns the new centroids and the number of clusters re-seeded.
fn update(
    data: &Source<'_>,
    centroids: &Centroids,
    sums: &Sums,
) -> Result<(Array2<f64>, usize), KMeansError> {
    let mut next = sums.sums.clone();
    let mut empty = Vec::new();
    for (j, &n) in sums.counts.iter().enumerate() {
        if n == 0 {
            empty.push(j);
        } else {
            let n = n as f64;
            next.row_mut(j).mapv_inplace(|v| v / n);
        }
    }
    if !empty.is_empty() {
        let far = farthest(data, centroids, empty.len())?;
        for (&j, (_, _, row)) in empty.iter().zip(far) {
            next.slice_mut(s![j, ..])
                .iter_mut()
                .zip(row)
                .for_each(|(c, v)| *c = f64::from(v));
        }
    }
    Ok((next, empty.len()))
}

/// The `m` points farthest from their nearest centroid, farthest first.
fn farthest(
    data: &Source<'_>,
    centroids: &Centroids,
    m: usize,
) -> Result<Vec<(f64, u64, Vec<f32>)>, KMeansError> {
    let mut state = data.state(0, true);
    let blocks = data.blocks(&Farthest { centroids, m }, &mut state)?;
    Ok(top::merge(
        blocks.into_iter().map(|(_, _, b)| b).collect(),
        centroids.dim(),
        m,
    ))
}
