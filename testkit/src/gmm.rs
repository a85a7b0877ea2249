//! Seeded synthetic GMM data: MFCC-like frames and a UBM-like model fitted
//! loosely to them (the E-step tests, benches and measurement programs), a
//! known GMM, its sampler and the check that EM recovered it (the UBM and
//! pruned-EM tests).

use ndarray::{array, Array1, Array2, Axis};
use shardkit_algorithms::gmm::DiagGmm;

use crate::rng::{Rng, XorShift};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frames_are_a_function_of_the_seed() {
        let a = mfcc_like(500, 12, 8, 1);
        assert_eq!(a.dim(), (500, 12));
        assert_eq!(a, mfcc_like(500, 12, 8, 1));
        assert_ne!(a, mfcc_like(500, 12, 8, 2));
        // c0 sits around 50, the other columns around 0.
        let mean = a.mapv(f64::from).mean_axis(Axis(0)).unwrap();
        assert!((mean[0] - 50.0).abs() < 15.0, "c0 mean {}", mean[0]);
        let ubm = ubm_like(&a, 16, 2);
        assert_eq!((ubm.n_components(), ubm.dim()), (16, 12));
        assert!((ubm.weights().sum() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sample_gmm_seeds_with_the_low_bit_set() {
        let truth = known_gmm();
        let x = sample_gmm(&truth, 100, 6);
        assert_eq!(x.dim(), (100, 3));
        assert_eq!(x, sample_gmm(&truth, 100, 7));
        assert_ne!(x, sample_gmm(&truth, 100, 9));
    }

    #[test]
    fn a_model_recovers_itself() {
        assert_recovers(&known_gmm(), &known_gmm());
    }

    #[test]
    #[should_panic(expected = "component")]
    fn a_shifted_model_does_not() {
        let truth = known_gmm();
        let moved = DiagGmm::new(
            truth.weights().to_owned(),
            &truth.means() + 1.0,
            truth.variances().to_owned(),
        )
        .unwrap();
        assert_recovers(&moved, &truth);
    }
}
