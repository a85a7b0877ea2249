//! Initial centroids: greedy k-means++ and k-means||.
//!
//! Both keep per-point state between passes (column-major f64 columns):
//! the squared distance `d²` of each point to its nearest chosen point so
//! far, and its squared norm (computed by the first pass).

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use super::errors::KMeansError;
use super::kernel::{block_rows, nearer, row_dots, row_norms, CandidateWork, Candidates, CHUNK};
use super::rng::{point_uniform, Rng};
use super::top::{self, Top, TopRows};
use crate::frames::{Frames, Kept, Source, State, Visit};

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

// k-means++ state: `d²` (column 0), squared norm (1), weight, index of the
// nearest centroid (3), which trials improved on `d²` (a bit mask), then
// one column per trial (meaningful where its bit is set).
const WEIGHT: usize = 2;
const MASK: usize = 4;
const TRIAL: usize = 5;

/// The most local trials: one bit each in an f64 mask.
pub(crate) const MAX_TRIALS: usize = 52;

/// One greedy k-means++ step. It first commits the previous step's winner
/// (where its bit is set, `d²` takes its value and the nearest centroid
/// becomes the new one), then tries each candidate.
///
/// A point can only get nearer to a candidate `c` if `‖a − c‖ < 2·d(x, a)`
/// for its nearest centroid `a` (triangle inequality): points for which no
/// candidate passes this test are skipped without reading their
/// coordinates. The others are gathered and their distances computed by
/// one GEMM. The block returns `Σ w·d²` and, per candidate, the weighted
/// decrease it brings (`Σ w·(d² − d(x, c)²)` over the points it improves):
/// the candidate's potential is their difference.
struct Trials<'a> {
    candidates: &'a Candidates,
    /// The previous winner's trial column and the new centroid's number.
    commit: Option<(usize, f64)>,
    /// Per centroid so far, `min_c ‖a − c‖²` over the candidates.
    gap: &'a [f64],
    first: bool,
}

/// Scratch space of a k-means++ step.
#[derive(Debug, Default)]
struct TrialWork {
    cand: CandidateWork,
    rows: Vec<usize>,
    gathered: Vec<f32>,
}

impl Visit for Trials<'_> {
    /// `Σ w·d²`, then the decrease per candidate.
    type Out = Vec<f64>;
    type Block = Vec<f64>;
    type Work = TrialWork;
    type Cell = f64;

    fn start(&self) -> Vec<f64> {
        vec![0.0; 1 + self.candidates.len()]
    }

    fn chunk(
        &self,
        out: &mut Vec<f64>,
        x: ArrayView2<'_, f32>,
        first: usize,
        state: ArrayViewMut2<'_, f64>,
        work: &mut TrialWork,
    ) {
        let (m, dim) = x.dim();
        let t = self.candidates.len();
        let mut cols = columns(state);
        let (head, trial) = cols.split_at_mut(TRIAL);
        let [d2, norm, weight, near, mask] = head else {
            unreachable!("five state columns before the trials")
        };
        if self.first {
            row_norms(x, &mut work.cand.norms);
            norm.copy_from_slice(&work.cand.norms);
            d2.fill(f64::INFINITY);
            near.fill(0.0);
        }
        // One sweep: commit the previous winner, clear the mask, add up
        // `w·d²`, and list the points some candidate may improve.
        let bit = self.commit.map_or(0, |(j, _)| 1u64 << j);
        let (won, id): (&[f64], f64) = match self.commit {
            Some((j, id)) => (&*trial[j], id),
            None => (&[], 0.0),
        };
        work.rows.clear();
        let mut acc = [0.0f64; 4];
        for i in 0..m {
            let mut di = d2[i];
            if bit != 0 && (mask[i] as u64) & bit != 0 {
                di = won[i];
                d2[i] = di;
                near[i] = id;
            }
            mask[i] = 0.0;
            acc[i % 4] += weight[i] * di;
            let gap = self.gap.get(near[i] as usize).copied().unwrap_or(0.0);
            if gap < 4.0 * di * (1.0 + 1e-3) {
                work.rows.push(i);
            }
        }
        if !self.first {
            out[0] += (acc[0] + acc[2]) + (acc[1] + acc[3]);
        }
        for (_, i) in self.candidates.within(first, m) {
            if !work.rows.contains(&i) {
                work.rows.push(i);
            }
        }
        let g = work.rows.len();
        if g > 0 {
            work.gathered.clear();
            for &i in &work.rows {
                match x.row(i).to_slice() {
                    Some(r) => work.gathered.extend_from_slice(r),
                    None => work.gathered.extend(x.row(i).iter()),
                }
            }
            row_dots(&work.gathered, dim, self.candidates, &mut work.cand.scores);
            let tp = self.candidates.padded();
            let dots = &work.cand.scores;
            for j in 0..t {
                let (cc, me) = (self.candidates.norms[j], self.candidates.index[j]);
                let bit = (1u64 << j) as f64;
                let mut gain = 0.0;
                for (r, &i) in work.rows.iter().enumerate() {
                    let mut d = (norm[i] + cc - 2.0 * f64::from(dots[r * tp + j])).max(0.0);
                    if first + i == me {
                        d = 0.0;
                    }
                    if d < d2[i] {
                        if self.first {
                            out[1 + j] += weight[i] * d;
                        } else {
                            gain += weight[i] * (d2[i] - d);
                        }
                        trial[j][i] = d;
                        mask[i] += bit;
                    }
                }
                out[1 + j] += gain;
            }
        }
    }

    fn chunk_rows(&self) -> usize {
        8 * CHUNK
    }

    fn finish(&self, out: Vec<f64>) -> Vec<f64> {
        out
    }
}

/// The weighted `d²` that point `i` of a block would have if trial `j`
/// wins: its trial value where the trial improved on it.
fn after(d2: f64, mask: f64, trial: f64, j: usize) -> f64 {
    if (mask as u64) >> j & 1 == 1 {
        trial
    } else {
        d2
    }
}

/// Draws `count` points with probability proportional to `weight × d²`
/// after trial `winner` (with replacement; `None`: the weights alone).
/// `blocks` give each block's total in block order; a draw picks a block,
/// then a point inside it by a scan of that block alone (on the process
/// that holds the block, for rank-local frames). If every total is zero
/// (no point is off the centroids so far), points are drawn uniformly.
fn draw(
    data: &Source<'_>,
    state: &State<f64>,
    blocks: &[(usize, usize, f64)],
    winner: Option<usize>,
    count: usize,
    rng: &mut Rng,
) -> Result<Vec<usize>, KMeansError> {
    let total: f64 = blocks.iter().map(|b| b.2.max(0.0)).sum();
    // First the random numbers, the same on every process: a uniform
    // index, or a block and how far into its total the draw falls.
    let targets: Vec<Result<usize, (usize, f64)>> = (0..count)
        .map(|_| {
            if total.is_nan() || total <= 0.0 {
                return Ok(rng.below(data.len()));
            }
            let target = rng.uniform() * total;
            let mut before = 0.0;
            let mut pick = blocks.iter().rposition(|b| b.2 > 0.0).expect("total > 0");
            for (b, blk) in blocks.iter().enumerate() {
                let w = blk.2.max(0.0);
                if w > 0.0 && before + w > target {
                    pick = b;
                    break;
                }
                before += w;
            }
            Err((pick, target - before))
        })
        .collect();
    let ranges: Vec<Range<usize>> = targets
        .iter()
        .map(|t| match *t {
            Ok(_) => 0..0,
            Err((pick, _)) => blocks[pick].0..blocks[pick].0 + blocks[pick].1,
        })
        .collect();
    let rests: Vec<f64> = targets
        .iter()
        .map(|t| t.map_or_else(|t| t.1, |_| 0.0))
        .collect();
    // Then the point inside each picked block.
    let ask = |k: usize, range: Range<usize>| -> usize {
        let (first, rows) = (range.start, range.len());
        let weights = state.column(data, range.clone(), WEIGHT);
        let values: Vec<f64> = match winner {
            None => vec![1.0; rows],
            Some(j) => {
                let d2 = state.column(data, range.clone(), D2);
                let mask = state.column(data, range.clone(), MASK);
                let trial = state.column(data, range, TRIAL + j);
                (0..rows)
                    .map(|i| after(d2[i], mask[i], trial[i], j))
                    .collect()
            }
        };
        let rest = rests[k];
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
    };
    let answers = data.on_owner(&ranges, ask)?;
    Ok(targets
        .iter()
        .zip(answers)
        .map(|(t, a)| match *t {
            Ok(i) => i,
            Err(_) => a.expect("a picked block holds points"),
        })
        .collect())
}

/// `min_c ‖a − c‖²` over the candidates, for each centroid `a`.
fn gaps(centers: &Array2<f32>, candidates: &Candidates) -> Vec<f64> {
    centers
        .rows()
        .into_iter()
        .map(|a| {
            candidates
                .points
                .rows()
                .into_iter()
                .map(|c| {
                    a.iter()
                        .zip(c.iter())
                        .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

/// Greedy k-means++ over `data` (optionally weighted): `k` rows of the data.
pub(crate) fn plus_plus(
    data: &Source<'_>,
    k: usize,
    trials: usize,
    weights: Option<&[f64]>,
    rng: &mut Rng,
) -> Result<Array2<f32>, KMeansError> {
    let n = data.len();
    let mut state = data.state(TRIAL + trials, true);
    match weights {
        None => state.fill(WEIGHT, 1.0),
        Some(w) => state.set_column(WEIGHT, w),
    }
    let first = match weights {
        None => rng.below(n),
        Some(w) => draw(data, &state, &[(0, n, w.iter().sum::<f64>())], None, 1, rng)?[0],
    };
    let mut centers = data.points(&[first])?;
    if k == 1 {
        return Ok(centers);
    }
    let seed = Candidates::new(centers.clone(), vec![first]);
    let mut blocks = data.blocks(
        &Trials {
            candidates: &seed,
            commit: None,
            gap: &[],
            first: true,
        },
        &mut state,
    )?;
    // Block totals of the first pass: the potentials themselves.
    let mut totals: Vec<(usize, usize, f64)> =
        blocks.iter().map(|(f, r, p)| (*f, *r, p[1])).collect();
    let mut winner = 0;
    while centers.nrows() < k {
        let picks = draw(data, &state, &totals, Some(winner), trials, rng)?;
        let candidates = Candidates::new(data.points(&picks)?, picks.clone());
        let gap = gaps(&centers, &candidates);
        blocks = data.blocks(
            &Trials {
                candidates: &candidates,
                commit: Some((winner, (centers.nrows() - 1) as f64)),
                gap: &gap,
                first: false,
            },
            &mut state,
        )?;
        let mut gain = vec![0.0; trials];
        for (_, _, p) in &blocks {
            gain.iter_mut().zip(&p[1..]).for_each(|(a, b)| *a += b);
        }
        winner = (0..trials)
            .max_by(|&a, &b| gain[a].total_cmp(&gain[b]).then(b.cmp(&a)))
            .expect("at least one trial");
        totals = blocks
            .iter()
            .map(|(f, r, p)| (*f, *r, p[0] - p[1 + winner]))
            .collect();
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
    type Cell = f64;

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
    data: &Source<'_>,
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
    let mut state = data.state(3, true);
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
    let candidates = Source::lazy(Frames::rows(points.view()), block_rows(points.nrows()))?;
    plus_plus(&candidates, k, trials, Some(&weights), rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sq(a: ndarray::ArrayView1<f32>, b: ndarray::ArrayView1<f32>) -> f64 {
        a.iter()
            .zip(b.iter())
            .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
            .sum()
    }

    /// The pruned k-means++ step computes what brute force computes.
    #[test]
    fn trials_match_brute_force() {
        let mut g = Rng::new(3, 0);
        let x = Array2::from_shape_fn((3000, 5), |(i, _)| {
            ((i % 7) as f64 * 3.0 + g.uniform()) as f32
        });
        let data = Source::lazy(Frames::rows(x.view()), block_rows(x.nrows())).unwrap();
        let mut state = data.state(TRIAL + 4, true);
        state.fill(WEIGHT, 1.0);
        let mut centers = data.points(&[0]).unwrap();
        let seed = Candidates::new(centers.clone(), vec![0]);
        let first = Trials {
            candidates: &seed,
            commit: None,
            gap: &[],
            first: true,
        };
        let blocks = data.blocks(&first, &mut state).unwrap();
        let pot: f64 = blocks.iter().map(|b| b.2[1]).sum();
        let d0: Vec<f64> = x.rows().into_iter().map(|r| sq(r, x.row(0))).collect();
        assert!((pot - d0.iter().sum::<f64>()).abs() < 1e-6 * pot);
        let mut nearest = d0;
        let mut winner = 0;
        for picks in [vec![5, 6, 7000 % 3000, 1234], vec![2, 2999, 17, 1500]] {
            let candidates = Candidates::new(data.points(&picks).unwrap(), picks.clone());
            let gap = gaps(&centers, &candidates);
            let pass = Trials {
                candidates: &candidates,
                commit: Some((winner, (centers.nrows() - 1) as f64)),
                gap: &gap,
                first: false,
            };
            let blocks = data.blocks(&pass, &mut state).unwrap();
            let base: f64 = blocks.iter().map(|b| b.2[0]).sum();
            assert!((base - nearest.iter().sum::<f64>()).abs() < 1e-6 * base);
            let mut gains = Vec::new();
            for (j, &p) in picks.iter().enumerate() {
                let brute: f64 = x
                    .rows()
                    .into_iter()
                    .zip(&nearest)
                    .map(|(r, &n)| (n - sq(r, x.row(p))).max(0.0))
                    .sum();
                let ours: f64 = blocks.iter().map(|b| b.2[1 + j]).sum();
                assert!((ours - brute).abs() < 1e-6 * base, "{j}: {ours} vs {brute}");
                gains.push(brute);
            }
            winner = (0..picks.len())
                .max_by(|&a, &b| gains[a].total_cmp(&gains[b]).then(b.cmp(&a)))
                .unwrap();
            for (n, r) in nearest.iter_mut().zip(x.rows()) {
                *n = n.min(sq(r, x.row(picks[winner])));
            }
            centers.push_row(x.row(picks[winner])).unwrap();
        }
    }
}
