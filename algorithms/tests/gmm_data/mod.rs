//! Seeded synthetic data for the GMM tests, benches and examples:
//! MFCC-like frames and a UBM-like model fitted loosely to them, a known
//! GMM and its sampler, and the generators behind them. Shared by
//! path (`#[path = "../tests/gmm_data/mod.rs"] mod gmm_data;`), so that
//! every measurement uses the same generator.

#![allow(dead_code)]

use ndarray::{array, Array1, Array2, Axis};
use shardkit_algorithms::gmm::DiagGmm;

/// splitmix64: a tiny, seeded, well-mixed generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The spread between clusters of dimension `j` of `d`, and its offset:
/// the first third are static cepstra (c0 around 50 with a spread of 8,
/// then spreads of 10/sqrt(1+k)), the second third deltas (0.3 of that),
/// the last third delta-deltas (0.1 of that), all centred on 0 but c0.
fn dim_scale(j: usize, d: usize) -> (f64, f64) {
    let third = d.div_ceil(3).max(1);
    let (band, k) = (j / third, j % third);
    let spread = if k == 0 {
        8.0
    } else {
        10.0 / (1.0 + k as f64).sqrt()
    };
    let spread = spread * [1.0, 0.3, 0.1][band.min(2)];
    let offset = if j == 0 { 50.0 } else { 0.0 };
    (offset, spread)
}

/// `n` MFCC-like frames of dimension `d`, drawn from `clusters` Gaussian
/// clusters ("phones") whose within-cluster spread is 0.6 of the spread
/// between them.
pub fn mfcc_like(n: usize, d: usize, clusters: usize, seed: u64) -> Array2<f32> {
    let mut rng = Rng::new(seed);
    let scales: Vec<(f64, f64)> = (0..d).map(|j| dim_scale(j, d)).collect();
    let centres: Vec<Vec<f64>> = (0..clusters)
        .map(|_| scales.iter().map(|&(o, s)| o + s * rng.normal()).collect())
        .collect();
    let mut x = Array2::zeros((n, d));
    for mut row in x.rows_mut() {
        let c = &centres[rng.below(clusters)];
        for (j, v) in row.iter_mut().enumerate() {
            *v = (c[j] + 0.6 * scales[j].1 * rng.normal()) as f32;
        }
    }
    x
}

/// A UBM-like model of `m` components for `frames`: means at random frames
/// (so several components share a cluster and posteriors overlap, as in a
/// trained UBM), variances 0.3 of the global variance times a factor in
/// [0.5, 1.5), weights in [0.5, 1.5) normalised.
pub fn ubm_like(frames: &Array2<f32>, m: usize, seed: u64) -> DiagGmm {
    let mut rng = Rng::new(seed);
    let x = frames.mapv(f64::from);
    let var = x.var_axis(Axis(0), 0.0);
    let means = Array2::from_shape_fn((m, x.ncols()), |_| 0.0);
    let mut means = means;
    for mut row in means.rows_mut() {
        let t = rng.below(x.nrows());
        row.assign(&x.row(t));
    }
    let variances = Array2::from_shape_fn((m, x.ncols()), |(_, j)| {
        0.3 * var[j] * (0.5 + rng.uniform())
    });
    let weights = Array1::from_shape_fn(m, |_| 0.5 + rng.uniform());
    let weights = &weights / weights.sum();
    DiagGmm::new(weights, means, variances).expect("a valid model")
}

/// A small seeded generator (xorshift) with normal deviates (Box-Muller):
/// the UBM tests' draws.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` frames drawn from `gmm` with [`XorShift`] seeded by `seed | 1`
/// (so `2k` and `2k + 1` give the same frames: pass distinct odd seeds).
pub fn sample_gmm(gmm: &DiagGmm, n: usize, seed: u64) -> Array2<f32> {
    let mut rng = XorShift(seed | 1);
    let cumulative: Vec<f64> = gmm
        .weights()
        .iter()
        .scan(0.0, |s, w| {
            *s += w;
            Some(*s)
        })
        .collect();
    let mut frames = Array2::zeros((n, gmm.dim()));
    for t in 0..n {
        let u = rng.uniform();
        let m = cumulative
            .iter()
            .position(|&c| u <= c)
            .unwrap_or(cumulative.len() - 1);
        for d in 0..gmm.dim() {
            let x = gmm.means()[[m, d]] + gmm.variances()[[m, d]].sqrt() * rng.normal();
            frames[[t, d]] = x as f32;
        }
    }
    frames
}

/// A well-separated 4-component GMM in 3 dimensions that EM should
/// recover (the UBM and pruned-EM recovery tests).
pub fn known_gmm() -> DiagGmm {
    DiagGmm::new(
        array![0.1, 0.2, 0.3, 0.4],
        array![
            [-6.0, 0.0, 10.0],
            [6.0, 1.0, 10.0],
            [0.0, -7.0, 12.0],
            [0.0, 7.0, 8.0]
        ],
        array![
            [1.0, 0.5, 2.0],
            [0.5, 1.0, 1.0],
            [2.0, 1.0, 0.5],
            [1.0, 2.0, 1.0]
        ],
    )
    .unwrap()
}

/// Asserts that `model` recovers `truth` (the 4-component, 3-dimension
/// [`known_gmm`]): each true component is matched to the nearest unused
/// trained mean, then means agree to 0.1 (the standard error of a mean
/// here is below 0.02), variances to 10 % and weights to 0.02.
pub fn assert_recovers(model: &DiagGmm, truth: &DiagGmm) {
    let (m_count, dim) = truth.means().dim();
    let mut used = vec![false; model.n_components()];
    for m in 0..m_count {
        let distance = |k: usize| -> f64 {
            (0..dim)
                .map(|d| (model.means()[[k, d]] - truth.means()[[m, d]]).powi(2))
                .sum()
        };
        let k = (0..model.n_components())
            .filter(|&k| !used[k])
            .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
            .unwrap();
        used[k] = true;
        for d in 0..dim {
            let (got, want) = (model.means()[[k, d]], truth.means()[[m, d]]);
            assert!(
                (got - want).abs() < 0.1,
                "component {m} dim {d}: {got} vs {want}"
            );
            let (got, want) = (model.variances()[[k, d]], truth.variances()[[m, d]]);
            assert!(
                (got / want - 1.0).abs() < 0.1,
                "variance {m} dim {d}: {got} vs {want}"
            );
        }
        let (got, want) = (model.weights()[k], truth.weights()[m]);
        assert!((got - want).abs() < 0.02, "weight {m}: {got} vs {want}");
    }
}
