//! Initial centroids: greedy k-means++ and k-means||.
//!
//! Both keep per-point state between passes (column-major f64 columns):
//! the squared distance `d²` of each point to its nearest chosen point so
//! far, and its squared norm (computed by the first pass).

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use super::errors::KMeansError;
use super::kernel::{nearer, row_norms, trial_column, weighted_sum, CandidateWork, Candidates};
use super::rng::{point_uniform, Rng};
use super::source::{Data, Kept, State, Visit};
use super::top::{self, Top, TopRows};

/// Column of the state: squared distance to the nearest chosen point.
const D2: usize = 0;

/// The state's columns, as slices (the state is column-major).
fn columns(mut state: ArrayViewMut2<'_, f64>) -> Vec<&mut [f64]> {
    let mut cols = Vec::with_capacity(state.ncols());
    while state.ncols() > 0 {
        let (col, rest) = state.split_at(Axis(1), 1);
        cols.push(
            col.index_axis_move(Axis(1), 0)
                .into_slice()
                .expect("column-major state"),
        );
        state = rest;
    }
    cols
}

// ---------------------------------------------------------------- k-means++

/// k-means++ state: `d²`, norm, weight, then one column per local trial.
const WEIGHT: usize = 2;
const TRIAL: usize = 3;

/// One greedy k-means++ step: first commit the previous step's winner
/// (copy its trial column into `d²`), then try each candidate: its column
/// gets `min(d², d(x, candidate)²)`, and the block returns, per candidate,
/// the weighted sum of that column — the potential if it is chosen.
struct Trials<'a> {
    candidates: &'a Candidates,
    commit: Option<usize>,
    first: bool,
}

impl Visit for Trials<'_> {
    type Out = Vec<f64>;
    type Block = Vec<f64>;
    type Work = CandidateWork;

    fn start(&self) -> Vec<f64> {
        vec![0.0; self.candidates.len()]
    }

    fn chunk(
        &self,
        out: &mut Vec<f64>,
        x: ArrayView2<'_, f32>,
        first: usize,
        state: ArrayViewMut2<'_, f64>,
        work: &mut CandidateWork,
    ) {
        let m = x.nrows();
        let mut cols = columns(state);
        let (head, trial) = cols.split_at_mut(TRIAL);
        let [d2, norm, weight] = head else {
            unreachable!("three state columns before the trials")
        };
        if self.first {
            row_norms(x, &mut work.norms);
            norm.copy_from_slice(&work.norms);
            d2.fill(f64::INFINITY);
        }
        if let Some(j) = self.commit {
            d2.copy_from_slice(trial[j]);
        }
        let dots = self.candidates.cross(x, &mut work.scores);
        for (j, col) in trial.iter_mut().enumerate().take(self.candidates.len()) {
            let cc = self.candidates.norms[j];
            trial_column(&dots[j * m..][..m], norm, d2, cc, col);
        }
        for (j, i) in self.candidates.within(first, m) {
            trial[j][i] = 0.0;
        }
        for (j, pot) in out.iter_mut().enumerate() {
            *pot += weighted_sum(weight, trial[j]);
        }
    }

    fn chunk_rows(&self) -> usize {
        self.candidates.chunk_rows()
    }

    fn finish(&self, out: Vec<f64>) -> Vec<f64> {
        out
    }
}

/// Draws `count` points with probability proportional to `weight × col`
/// (with replacement). `blocks` give each block's total of that product in
/// block order; a draw picks a block, then a point inside it by a scan of
/// the block alone. If every weight is zero (no point is off the centroids
/// so far), points are drawn uniformly.
fn draw(
    data: &Data<'_>,
    state: &State,
    blocks: &[(usize, usize, f64)],
    col: usize,
    count: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let total: f64 = blocks.iter().map(|b| b.2).sum();
    (0..count)
        .map(|_| {
            if total.is_nan() || total <= 0.0 {
                return rng.below(data.len());
            }
            let target = rng.uniform() * total;
            let mut before = 0.0;
            let mut pick = blocks.iter().rposition(|b| b.2 > 0.0).expect("total > 0");
            for (b, blk) in blocks.iter().enumerate() {
                if blk.2 > 0.0 && before + blk.2 > target {
                    pick = b;
                    break;
                }
                before += blk.2;
            }
            let (first, rows, _) = blocks[pick];
            let values = state.column(data, first..first + rows, col);
            let weights = state.column(data, first..first + rows, WEIGHT);
            let rest = target - before;
            let mut acc = 0.0;
            let mut last = None;
            for (i, (v, w)) in values.iter().zip(&weights).enumerate() {
                let p = w * v;
                if p > 0.0 {
                    acc += p;
                    last = Some(i);
                    if acc > rest {
                        return first + i;
                    }
                }
            }
            first + last.unwrap_or(0)
        })
        .collect()
}

/// Greedy k-means++ over `data` (optionally weighted): `k` rows of the data.
pub(crate) fn plus_plus(
    data: &Data<'_>,
    k: usize,
    trials: usize,
    weights: Option<&[f64]>,
    rng: &mut Rng,
) -> Result<Array2<f32>, KMeansError> {
    let columnar = data.columnar();
    let data = &columnar;
    let n = data.len();
    let first = match weights {
        None => rng.below(n),
        Some(w) => {
            let blocks = [(0, n, w.iter().sum::<f64>())];
            let mut st = data.state(TRIAL);
            st.set_column(WEIGHT, w);
            st.fill(D2, 1.0);
            draw(data, &st, &blocks, D2, 1, rng)[0]
        }
    };
    let mut chosen = vec![first];
    let mut centers = data.points(&chosen)?;
    if k == 1 {
        return Ok(centers);
    }
    let mut state = data.state(TRIAL + trials);
    match weights {
        None => state.fill(WEIGHT, 1.0),
        Some(w) => state.set_column(WEIGHT, w),
    }
    let seed = Candidates::new(centers.clone(), chosen.clone());
    let mut blocks = data.blocks(
        &Trials {
            candidates: &seed,
            commit: None,
            first: true,
        },
        &mut state,
    )?;
    let mut winner = 0;
    while chosen.len() < k {
        let totals: Vec<(usize, usize, f64)> =
            blocks.iter().map(|(f, r, p)| (*f, *r, p[winner])).collect();
        let picks = draw(data, &state, &totals, TRIAL + winner, trials, rng);
        let candidates = Candidates::new(data.points(&picks)?, picks.clone());
        blocks = data.blocks(
            &Trials {
                candidates: &candidates,
                commit: Some(winner),
                first: false,
            },
            &mut state,
        )?;
        let mut potential = vec![0.0; trials];
        for (_, _, p) in &blocks {
            potential.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
        winner = (0..trials)
            .min_by(|&a, &b| potential[a].total_cmp(&potential[b]).then(a.cmp(&b)))
            .expect("at least one trial");
        chosen.push(picks[winner]);
        centers
            .push_row(candidates.points.row(winner))
            .expect("same width");
    }
    Ok(centers)
}

// ---------------------------------------------------------------- k-means||

/// One k-means|| pass: fold the previous round's sample into `d²` (and the
/// nearest candidate), then sample this round's points — kept
/// independently with probability `min(1, ℓ·d²/φ)`, i.e. when
/// `d²/u > φ/ℓ` for the point's own uniform `u`. `φ` is only known at the
/// end of the pass, so each block keeps its `cap` points of largest `d²/u`
/// and the threshold is applied after the pass. The last pass counts the
/// points nearest to each candidate instead.
struct Round<'a> {
    batch: &'a Candidates,
    /// Number of the batch's first candidate among all candidates.
    base: usize,
    first: bool,
    /// `(seed, round)` of the sampling draws, if this pass samples.
    sample: Option<(u64, u64)>,
    cap: usize,
    /// Number of candidates to count points for (0: no counting).
    count: usize,
    dim: usize,
}

impl Visit for Round<'_> {
    type Out = (f64, Top, Vec<u64>);
    type Block = (f64, TopRows, Vec<u64>);
    type Work = CandidateWork;

    fn start(&self) -> Self::Out {
        let cap = if self.sample.is_some() { self.cap } else { 0 };
        (0.0, Top::new(cap, self.dim), vec![0; self.count])
    }

    fn chunk(
        &self,
        out: &mut Self::Out,
        x: ArrayView2<'_, f32>,
        first: usize,
        state: ArrayViewMut2<'_, f64>,
        work: &mut CandidateWork,
    ) {
        let m = x.nrows();
        let mut cols = columns(state);
        let [d2, norm, near] = cols.as_mut_slice() else {
            unreachable!("three state columns")
        };
        if self.first {
            row_norms(x, &mut work.norms);
            norm.copy_from_slice(&work.norms);
            d2.fill(f64::INFINITY);
        }
        if self.batch.len() > 0 {
            let dots = self.batch.cross(x, &mut work.scores);
            for j in 0..self.batch.len() {
                let id = (self.base + j) as f64;
                nearer(&dots[j * m..][..m], norm, self.batch.norms[j], id, d2, near);
            }
            for (j, i) in self.batch.within(first, m) {
                // A candidate is its own nearest (unless an earlier one
                // coincides with it).
                if d2[i] > 0.0 {
                    d2[i] = 0.0;
                    near[i] = (self.base + j) as f64;
                }
            }
        }
        let (phi, top, counts) = out;
        *phi += d2.iter().sum::<f64>();
        if let Some((seed, round)) = self.sample {
            for (i, row) in x.rows().into_iter().enumerate() {
                if d2[i] > 0.0 {
                    let index = (first + i) as u64;
                    let key = d2[i] / point_uniform(seed, round, index);
                    top.push(key, index, |r| {
                        r.iter_mut().zip(row.iter()).for_each(|(a, &b)| *a = b)
                    });
                }
            }
        }
        if !counts.is_empty() {
            for &n in near.iter() {
                counts[n as usize] += 1;
            }
        }
    }

    fn chunk_rows(&self) -> usize {
        self.batch.chunk_rows()
    }

    fn finish(&self, (phi, top, counts): Self::Out) -> Self::Block {
        (phi, top.finish(), counts)
    }
}

/// k-means|| (Bahmani et al. 2012): `rounds` sampling passes of about
/// `ℓ = oversampling × k` points each and a counting pass, then weighted
/// greedy k-means++ on the candidates. Falls back to k-means++ on the
/// whole data if the rounds found fewer than `k` candidates.
#[allow(clippy::too_many_arguments)]
pub(crate) fn parallel(
    data: &Data<'_>,
    k: usize,
    oversampling: f64,
    rounds: usize,
    trials: usize,
    seed: u64,
    rng: &mut Rng,
) -> Result<Array2<f32>, KMeansError> {
    let columnar = data.columnar();
    let data = &columnar;
    let (n, dim) = (data.len(), data.dim());
    let ell = oversampling * k as f64;
    // The kept sample of a round is at most what every block keeps; a
    // round draws about ℓ points (a Poisson-binomial count of mean ≤ ℓ),
    // so 2ℓ + 64 per block is never reached in practice.
    let cap = (2.0 * ell).ceil() as usize + 64;
    let first = rng.below(n);
    let mut points = data.points(&[first])?;
    let mut index = vec![first];
    let mut batch = Candidates::new(points.clone(), index.clone());
    let mut base = 0;
    let mut state = data.state(3);
    let mut weights = Vec::new();
    for round in 1..=rounds + 1 {
        let sampling = round <= rounds;
        let pass = Round {
            batch: &batch,
            base,
            first: round == 1,
            sample: sampling.then_some((seed, round as u64)),
            cap,
            count: if sampling { 0 } else { index.len() },
            dim,
        };
        let blocks: Vec<Kept<Round<'_>>> = data.blocks(&pass, &mut state)?;
        if !sampling {
            let mut counts = vec![0u64; index.len()];
            for (_, _, (_, _, c)) in &blocks {
                counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
            }
            weights = counts.into_iter().map(|c| c as f64).collect();
            break;
        }
        let phi: f64 = blocks.iter().map(|(_, _, (p, _, _))| p).sum();
        let threshold = phi / ell;
        let tops: Vec<TopRows> = blocks.into_iter().map(|(_, _, (_, t, _))| t).collect();
        let mut sample: Vec<(f64, u64, Vec<f32>)> = top::merge(tops, dim, usize::MAX)
            .into_iter()
            .filter(|(key, _, _)| phi > 0.0 && *key > threshold)
            .collect();
        sample.sort_by_key(|s| s.1);
        let mut rows = Array2::zeros((sample.len(), dim));
        for (mut r, s) in rows.rows_mut().into_iter().zip(&sample) {
            r.assign(&Array1::from(s.2.clone()));
        }
        let new_index: Vec<usize> = sample.iter().map(|s| s.1 as usize).collect();
        base = index.len();
        index.extend(&new_index);
        points.append(Axis(0), rows.view()).expect("same width");
        batch = Candidates::new(rows, new_index);
    }
    if index.len() < k {
        return plus_plus(data, k, trials, None, rng);
    }
    let candidates = Data::rows(points.view());
    plus_plus(&candidates, k, trials, Some(&weights), rng)
}
