//! Scoring back ends, each against an independent computation: scatter
//! matrices by explicit loops, the generalised eigen equation for LDA,
//! identity covariances after WCCN and whitening, and PLDA scores against
//! Gaussian log-densities of the stacked enrolment and test vectors with
//! dense covariances.

use ndarray::{array, s, Array1, Array2, ArrayView2};
use shardkit::Executor;
use shardkit_algorithms::backend::{
    average_by_label, cosine_scores, length_normalize, Backend, BackendError, ClassStats, Lda,
    LengthNorm, Plda, Recipe, Wccn,
};
use shardkit_testkit::python_with_numpy;

/// splitmix64 and Box–Muller: a seeded normal generator.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn matrix(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || self.normal())
    }
    /// A random symmetric positive definite matrix.
    fn spd(&mut self, d: usize, floor: f64) -> Array2<f64> {
        let a = self.matrix(d, d);
        a.dot(&a.t()) + Array2::<f64>::eye(d) * floor
    }
}

/// Lower Cholesky factor by the textbook loop.
fn chol(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = if i == j { s.sqrt() } else { s / l[[j, j]] };
        }
    }
    l
}

/// Forward substitution `L y = b`.
fn forward(l: &Array2<f64>, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; b.len()];
    for i in 0..b.len() {
        let mut s = b[i];
        for k in 0..i {
            s -= l[[i, k]] * y[k];
        }
        y[i] = s / l[[i, i]];
    }
    y
}

/// `log N(z; mean, cov)` with a dense covariance.
fn log_gauss(z: &[f64], mean: &[f64], cov: &Array2<f64>) -> f64 {
    let l = chol(cov);
    let diff: Vec<f64> = z.iter().zip(mean).map(|(a, b)| a - b).collect();
    let y = forward(&l, &diff);
    let quad: f64 = y.iter().map(|v| v * v).sum();
    let log_det: f64 = 2.0 * l.diag().iter().map(|v| v.ln()).sum::<f64>();
    -0.5 * (quad + log_det + z.len() as f64 * (2.0 * std::f64::consts::PI).ln())
}

/// The covariance of `n` stacked vectors of one speaker under the
/// two-covariance model: `I ⊗ Σ_w + 11ᵀ ⊗ Σ_b`.
fn stacked_cov(n: usize, between: &Array2<f64>, within: &Array2<f64>) -> Array2<f64> {
    let d = between.nrows();
    let mut c = Array2::zeros((n * d, n * d));
    for a in 0..n {
        for b in 0..n {
            let mut block = c.slice_mut(s![a * d..(a + 1) * d, b * d..(b + 1) * d]);
            block += between;
            if a == b {
                block += within;
            }
        }
    }
    c
}

fn log_marginal(rows: ArrayView2<f64>, plda: &Plda) -> f64 {
    let n = rows.nrows();
    let z: Vec<f64> = rows.iter().copied().collect();
    let mean: Vec<f64> = (0..n).flat_map(|_| plda.mean().iter().copied()).collect();
    log_gauss(&z, &mean, &stacked_cov(n, plda.between(), plda.within()))
}

/// Samples `speakers × per` vectors from a two-covariance model.
fn sample_plda(
    rng: &mut Rng,
    mean: &Array1<f64>,
    between: &Array2<f64>,
    within: &Array2<f64>,
    speakers: usize,
    per: usize,
) -> (Array2<f64>, Vec<usize>) {
    let d = mean.len();
    let (lb, lw) = (chol(between), chol(within));
    let mut x = Array2::zeros((speakers * per, d));
    let mut labels = Vec::new();
    for s in 0..speakers {
        let y = mean + &lb.dot(&Array1::from_shape_simple_fn(d, || rng.normal()));
        for i in 0..per {
            let e = lw.dot(&Array1::from_shape_simple_fn(d, || rng.normal()));
            x.row_mut(s * per + i).assign(&(&y + &e));
            labels.push(s);
        }
    }
    (x, labels)
}

/// Within- and between-class scatter by explicit loops, divided by N.
fn scatters(x: &Array2<f64>, labels: &[usize]) -> (Array2<f64>, Array2<f64>) {
    let (n, d) = x.dim();
    let mut sw = Array2::<f64>::zeros((d, d));
    let mut sb = Array2::<f64>::zeros((d, d));
    let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
    let mut speakers = labels.to_vec();
    speakers.sort_unstable();
    speakers.dedup();
    for s in speakers {
        let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == s).collect();
        let ms = rows
            .iter()
            .fold(Array1::<f64>::zeros(d), |acc, &i| acc + x.row(i))
            / rows.len() as f64;
        for &i in &rows {
            let v = &x.row(i) - &ms;
            for a in 0..d {
                for b in 0..d {
                    sw[[a, b]] += v[a] * v[b];
                }
            }
        }
        let v = &ms - &mean;
        for a in 0..d {
            for b in 0..d {
                sb[[a, b]] += rows.len() as f64 * v[a] * v[b];
            }
        }
    }
    (sw / n as f64, sb / n as f64)
}

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

fn labelled(rng: &mut Rng, speakers: usize, per: usize, d: usize) -> (Array2<f64>, Vec<usize>) {
    let mean = Array1::zeros(d);
    let between = rng.spd(d, 1.0);
    let within = rng.spd(d, 0.5) * 0.3;
    sample_plda(rng, &mean, &between, &within, speakers, per)
}

#[test]
fn length_normalisation_gives_unit_norms() {
    let mut rng = Rng(1);
    let x = rng.matrix(20, 5);
    let y = length_normalize(x.view()).unwrap();
    for (a, b) in y.rows().into_iter().zip(x.rows()) {
        assert!((a.dot(&a) - 1.0).abs() < 1e-14);
        // Same direction.
        let cos = a.dot(&b) / b.dot(&b).sqrt();
        assert!((cos - 1.0).abs() < 1e-14);
    }
    let mut z = x.clone();
    z.row_mut(3).fill(0.0);
    let e = length_normalize(z.view()).unwrap_err();
    assert!(matches!(e, BackendError::ZeroNorm { row: 3, .. }));
    assert_eq!(
        e.to_string(),
        "the vectors: row 3 (counting from 0) has zero length and cannot be length-normalised"
    );
    z[[1, 2]] = f64::NAN;
    assert!(length_normalize(z.view())
        .unwrap_err()
        .to_string()
        .starts_with("the vectors: row 1, column 2 (counting from 0) is NaN"));
}

#[test]
fn cosine_scores_of_normalised_vectors_are_dot_products() {
    let mut rng = Rng(2);
    let e = length_normalize(rng.matrix(150, 7).view()).unwrap();
    let t = length_normalize(rng.matrix(40, 7).view()).unwrap();
    let s = cosine_scores(e.view(), t.view()).unwrap();
    assert_eq!(s.dim(), (150, 40));
    for i in 0..150 {
        for j in 0..40 {
            assert!((s[[i, j]] - e.row(i).dot(&t.row(j))).abs() < 1e-14);
        }
    }
    // Scale does not matter.
    let s2 = cosine_scores((&e * 3.0).view(), (&t * 0.5).view()).unwrap();
    assert!(max_abs(&(&s2 - &s)) < 1e-14);
    // Same bits on one thread and on three (enrolment rows are shards).
    let serial = Executor::serial()
        .install(|| cosine_scores(e.view(), t.view()))
        .unwrap();
    let threads = Executor::threads(3)
        .unwrap()
        .install(|| cosine_scores(e.view(), t.view()))
        .unwrap();
    assert_eq!(serial, threads);
    let err = cosine_scores(e.view(), rng.matrix(3, 6).view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the test vectors: dimension 6, but the model (or the other side) has 7"
    );
}

#[test]
fn averaging_helper_groups_by_label() {
    let x = array![[1.0, 2.0], [3.0, 4.0], [10.0, 0.0], [5.0, 6.0]];
    let (means, labels) = average_by_label(x.view(), &[9, 9, 4, 9]).unwrap();
    assert_eq!(labels, vec![4, 9]);
    assert_eq!(means, array![[10.0, 0.0], [3.0, 4.0]]);
    let stats = ClassStats::from_labels(x.view(), &[9, 9, 4, 9]).unwrap();
    assert_eq!(stats.counts(), &[1, 3]);
    assert_eq!(stats.sums(), array![[10.0, 0.0], [9.0, 12.0]]);
    assert_eq!(stats.total(), 4);
    let e = average_by_label(x.view(), &[1, 2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "4 vectors but 2 speaker labels: give one label per row"
    );
}

#[test]
fn whitening_gives_identity_covariance_and_round_trips() {
    let mut rng = Rng(3);
    let mix = rng.matrix(4, 4);
    let x = rng.matrix(500, 4).dot(&mix) + 5.0;
    let norm = LengthNorm::fit(x.view(), true).unwrap();
    let w = norm.whitening().unwrap();
    let centred = &x - norm.mean();
    let white = centred.dot(w);
    let cov = white.t().dot(&white) / 500.0;
    assert!(max_abs(&(&cov - &Array2::<f64>::eye(4))) < 1e-10);
    let y = norm.transform(x.view()).unwrap();
    for r in y.rows() {
        assert!((r.dot(&r) - 1.0).abs() < 1e-14);
    }
    // Without whitening: centring then length normalisation.
    let plain = LengthNorm::fit(x.view(), false).unwrap();
    let expected = length_normalize((&x - plain.mean()).view()).unwrap();
    assert_eq!(plain.transform(x.view()).unwrap(), expected);

    let dir = tempfile::tempdir().unwrap();
    for (name, model) in [("white.npz", &norm), ("plain.npz", &plain)] {
        let path = dir.path().join(name);
        model.save(&path).unwrap();
        assert_eq!(&LengthNorm::load(&path).unwrap(), model);
    }
    let e = LengthNorm::fit(x.slice(s![..4, ..]), true).unwrap_err();
    assert!(matches!(e, BackendError::RankDeficient { .. }));
    assert!(e.to_string().contains("give at least 5 vectors"), "{e}");
    let e = norm.transform(rng.matrix(2, 3).view()).unwrap_err();
    assert!(matches!(
        e,
        BackendError::Dimension {
            expected: 4,
            found: 3,
            ..
        }
    ));
}

#[test]
fn lda_solves_the_generalised_eigenproblem() {
    let mut rng = Rng(4);
    let (x, labels) = labelled(&mut rng, 12, 9, 6);
    let k = 4;
    let lda = Lda::fit(x.view(), &labels, k).unwrap();
    let (sw, sb) = scatters(&x, &labels);
    let v = lda.projection();
    assert_eq!(v.dim(), (6, k));
    // S_b v = λ S_w v, i.e. S_w⁻¹ S_b v = λ v.
    for j in 0..k {
        let col = v.column(j);
        let lambda = lda.eigenvalues()[j];
        let residual = sb.dot(&col) - sw.dot(&col) * lambda;
        assert!(
            residual.iter().all(|r| r.abs() < 1e-9 * (1.0 + lambda)),
            "direction {j}"
        );
    }
    // Decreasing eigenvalues; Vᵀ S_w V = I.
    assert!(lda
        .eigenvalues()
        .windows(2)
        .into_iter()
        .all(|w| w[0] >= w[1]));
    let proj_within = v.t().dot(&sw).dot(v);
    assert!(max_abs(&(&proj_within - &Array2::<f64>::eye(k))) < 1e-10);
    // The projected vectors' within-class covariance is the identity, and
    // they are centred.
    let y = lda.transform(x.view()).unwrap();
    let (yw, _) = scatters(&y, &labels);
    assert!(max_abs(&(&yw - &Array2::<f64>::eye(k))) < 1e-10);
    assert!(y
        .mean_axis(ndarray::Axis(0))
        .unwrap()
        .iter()
        .all(|m| m.abs() < 1e-10));
    // The kept directions are the largest: no vector does better than the
    // first (Rayleigh quotient).
    for _ in 0..20 {
        let r = Array1::from_shape_simple_fn(6, || rng.normal());
        let q = r.dot(&sb.dot(&r)) / r.dot(&sw.dot(&r));
        assert!(q <= lda.eigenvalues()[0] * (1.0 + 1e-10));
    }

    let dir = tempfile::tempdir().unwrap();
    lda.save(dir.path().join("lda.npz")).unwrap();
    assert_eq!(Lda::load(dir.path().join("lda.npz")).unwrap(), lda);
}

#[test]
fn lda_errors_name_the_problem() {
    let mut rng = Rng(5);
    // 4 speakers × 2 vectors in 6 dimensions: within-class rank 4 < 6.
    let (x, labels) = labelled(&mut rng, 4, 2, 6);
    let e = Lda::fit(x.view(), &labels, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "LDA: 8 vectors of 4 speakers give a within-class scatter of rank at most 4, below the \
         dimension 6; give at least 10 vectors (a speaker with a single vector adds nothing to a \
         within-class scatter), or reduce the dimension first (LDA, PCA)"
    );
    let (x, labels) = labelled(&mut rng, 4, 10, 6);
    let e = Lda::fit(x.view(), &labels, 4).unwrap_err();
    assert_eq!(
        e.to_string(),
        "LDA cannot keep 4 directions: with 4 speakers in dimension 6 there are at most \
         min(speakers − 1, dim) = 3"
    );
    let e = Lda::fit(x.view(), &vec![0; 40], 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "LDA needs vectors of at least 2 speakers, found 1"
    );
    assert!(matches!(
        Lda::fit(x.view(), &labels, 0),
        Err(BackendError::Param { name: "k", .. })
    ));
    // A repeated dimension: enough vectors, singular all the same.
    let mut dup = x.clone();
    let c0 = dup.column(0).to_owned();
    dup.column_mut(5).assign(&c0);
    let e = Lda::fit(dup.view(), &labels, 2).unwrap_err();
    assert!(matches!(e, BackendError::Singular { .. }));
    assert!(e
        .to_string()
        .starts_with("the within-class scatter is singular"));
}

#[test]
fn wccn_makes_the_within_class_covariance_identity() {
    let mut rng = Rng(6);
    let (mut x, mut labels) = labelled(&mut rng, 10, 7, 5);
    // Unequal speakers, and one speaker with a single vector.
    x = x.slice(s![..66, ..]).to_owned();
    labels.truncate(66);
    labels[65] = 99;
    let wccn = Wccn::fit(x.view(), &labels).unwrap();
    // Within-class covariance as SIDEKIT defines it: the average of the
    // speakers' covariances.
    let within = |x: &Array2<f64>| {
        let mut speakers = labels.clone();
        speakers.sort_unstable();
        speakers.dedup();
        let d = x.ncols();
        let mut w = Array2::<f64>::zeros((d, d));
        for &s in &speakers {
            let rows: Vec<usize> = (0..x.nrows()).filter(|&i| labels[i] == s).collect();
            let sub = x.select(ndarray::Axis(0), &rows);
            let c = &sub - &sub.mean_axis(ndarray::Axis(0)).unwrap();
            w = w + c.t().dot(&c) / rows.len() as f64;
        }
        w / speakers.len() as f64
    };
    let y = wccn.transform(x.view()).unwrap();
    assert!(max_abs(&(&within(&y) - &Array2::<f64>::eye(5))) < 1e-10);
    // B Bᵀ = W⁻¹, B lower triangular.
    let b = wccn.factor();
    let w = within(&x);
    assert!(max_abs(&(w.dot(&b.dot(&b.t())) - Array2::<f64>::eye(5))) < 1e-10);
    assert!((0..5).all(|i| (i + 1..5).all(|j| b[[i, j]] == 0.0)));

    let dir = tempfile::tempdir().unwrap();
    wccn.save(dir.path().join("wccn.npz")).unwrap();
    assert_eq!(Wccn::load(dir.path().join("wccn.npz")).unwrap(), wccn);
    // 3 speakers × 2 vectors in 5 dimensions.
    let rows = [0, 1, 7, 8, 14, 15];
    let few = x.select(ndarray::Axis(0), &rows);
    let few_labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    let e = Wccn::fit(few.view(), &few_labels).unwrap_err();
    assert!(matches!(e, BackendError::RankDeficient { .. }), "{e}");
}

fn model(rng: &mut Rng, d: usize) -> Plda {
    let mean = Array1::from_shape_simple_fn(d, || rng.normal());
    Plda::new(mean, rng.spd(d, 0.5), rng.spd(d, 0.3) * 0.5).unwrap()
}

#[test]
fn plda_llr_is_the_gaussian_log_density_ratio() {
    let mut rng = Rng(7);
    let plda = model(&mut rng, 3);
    // Enrolment models of 1 and 3 vectors, tests of 1 and 2 vectors.
    let enrol = rng.matrix(7, 3) * 2.0;
    let enrol_labels = [0, 1, 1, 1, 2, 3, 3];
    let test = rng.matrix(5, 3) * 2.0;
    let test_labels = [10, 11, 11, 12, 13];
    let e_stats = ClassStats::from_labels(enrol.view(), &enrol_labels).unwrap();
    let t_stats = ClassStats::from_labels(test.view(), &test_labels).unwrap();
    let scores = plda.score_stats(&e_stats, &t_stats).unwrap();
    assert_eq!(scores.dim(), (4, 4));
    let rows_of = |x: &Array2<f64>, labels: &[usize], l: usize| {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == l).collect();
        x.select(ndarray::Axis(0), &rows)
    };
    for (i, &el) in e_stats.labels().iter().enumerate() {
        for (j, &tl) in t_stats.labels().iter().enumerate() {
            let e = rows_of(&enrol, &enrol_labels, el);
            let t = rows_of(&test, &test_labels, tl);
            let joint = ndarray::concatenate![ndarray::Axis(0), e, t];
            let direct = log_marginal(joint.view(), &plda)
                - log_marginal(e.view(), &plda)
                - log_marginal(t.view(), &plda);
            assert!(
                (scores[[i, j]] - direct).abs() < 1e-9 * (1.0 + direct.abs()),
                "model {el} vs test {tl}: {} vs {direct}",
                scores[[i, j]]
            );
        }
    }
    // Single-vector scoring is the same as statistics of singles.
    let single = plda.score(enrol.view(), test.view()).unwrap();
    for i in 0..7 {
        for j in 0..5 {
            let e = enrol.slice(s![i..i + 1, ..]);
            let t = test.slice(s![j..j + 1, ..]);
            let joint = ndarray::concatenate![ndarray::Axis(0), e, t];
            let direct =
                log_marginal(joint.view(), &plda) - log_marginal(e, &plda) - log_marginal(t, &plda);
            assert!((single[[i, j]] - direct).abs() < 1e-9 * (1.0 + direct.abs()));
        }
    }
}

#[test]
fn plda_log_likelihood_is_the_sum_of_marginals() {
    let mut rng = Rng(8);
    let plda = model(&mut rng, 2);
    let x = rng.matrix(9, 2);
    let labels = [0, 0, 1, 2, 2, 2, 3, 1, 0];
    let ll = plda.log_likelihood(x.view(), &labels).unwrap();
    let mut direct = 0.0;
    for s in 0..4 {
        let rows: Vec<usize> = (0..9).filter(|&i| labels[i] == s).collect();
        direct += log_marginal(x.select(ndarray::Axis(0), &rows).view(), &plda);
    }
    assert!((ll * 9.0 - direct).abs() < 1e-9 * direct.abs());
}

#[test]
fn plda_em_never_decreases_the_likelihood_and_recovers_the_model() {
    let mut rng = Rng(9);
    let d = 3;
    let mean = array![1.0, -2.0, 0.5];
    let between = rng.spd(d, 1.0);
    let within = rng.spd(d, 0.5) * 0.4;
    let (x, labels) = sample_plda(&mut rng, &mean, &between, &within, 400, 6);
    let fit = Plda::fit(x.view(), &labels, 40).unwrap();
    let ll = &fit.log_likelihood;
    assert_eq!(ll.len(), 41);
    for (k, w) in ll.windows(2).enumerate() {
        assert!(
            w[1] >= w[0] - 1e-12 * w[0].abs(),
            "iteration {k}: {} < {}",
            w[1],
            w[0]
        );
    }
    assert!(ll[40] > ll[0]);
    let rel = |a: &Array2<f64>, b: &Array2<f64>| {
        let diff: f64 = (a - b).iter().map(|v| v * v).sum::<f64>().sqrt();
        diff / b.iter().map(|v| v * v).sum::<f64>().sqrt()
    };
    let m = &fit.model;
    // 400 speakers: Σ_b within about 2·sqrt(2/400) ≈ 14 %; Σ_w is
    // estimated from 2000 degrees of freedom.
    assert!(
        rel(m.between(), &between) < 0.2,
        "Σ_b {}",
        rel(m.between(), &between)
    );
    assert!(
        rel(m.within(), &within) < 0.08,
        "Σ_w {}",
        rel(m.within(), &within)
    );
    assert!((m.mean() - &mean).iter().all(|v| v.abs() < 0.3));
    // The trained model's likelihood is the one recorded.
    let again = m.log_likelihood(x.view(), &labels).unwrap();
    assert!((again - ll[40]).abs() < 1e-10 * again.abs());
}

#[test]
fn plda_scores_separate_speakers_and_are_deterministic() {
    let mut rng = Rng(10);
    let (x, labels) = labelled(&mut rng, 30, 4, 4);
    let plda = Plda::fit(x.view(), &labels, 10).unwrap().model;
    let (y, test_labels) = {
        let mut r = Rng(11);
        // New sessions of the same speakers: reuse the speaker means.
        let stats = ClassStats::from_labels(x.view(), &labels).unwrap();
        let means = stats.means();
        let y = Array2::from_shape_fn((90, 4), |(i, j)| means[[i % 30, j]] + 0.3 * r.normal());
        (y, (0..90).map(|i| i % 30).collect::<Vec<_>>())
    };
    let enrol = ClassStats::from_labels(x.view(), &labels).unwrap();
    let tests = ClassStats::singles(y.view()).unwrap();
    let serial = Executor::serial()
        .install(|| plda.score_stats(&enrol, &tests))
        .unwrap();
    let threaded = Executor::threads(2)
        .unwrap()
        .install(|| plda.score_stats(&enrol, &tests))
        .unwrap();
    assert_eq!(serial, threaded);
    // 90 enrolment rows: two blocks of the scoring pass.
    let serial_rows = Executor::serial()
        .install(|| plda.score(y.view(), x.view()))
        .unwrap();
    let threaded_rows = Executor::threads(2)
        .unwrap()
        .install(|| plda.score(y.view(), x.view()))
        .unwrap();
    assert_eq!(serial_rows.nrows(), 90);
    assert_eq!(serial_rows, threaded_rows);
    let curve = shardkit_algorithms::metrics::DetCurve::from_score_matrix(
        serial.view(),
        enrol.labels(),
        &test_labels,
    )
    .unwrap();
    assert!(curve.eer().eer < 0.1, "EER {}", curve.eer().eer);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plda.npz");
    plda.save(&path).unwrap();
    let back = Plda::load(&path).unwrap();
    assert_eq!(back, plda);
    assert_eq!(back.score_stats(&enrol, &tests).unwrap(), serial);
}

#[test]
fn plda_errors_name_the_problem() {
    let mut rng = Rng(12);
    // Every speaker has one vector: no within-class information at all.
    let x = rng.matrix(20, 3);
    let labels: Vec<usize> = (0..20).collect();
    let e = Plda::fit(x.view(), &labels, 5).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "PLDA: 20 vectors of 20 speakers give a within-class scatter of rank at most 0"
        ),
        "{e}"
    );
    let e = Plda::fit(x.view(), &[3; 20], 5).unwrap_err();
    assert_eq!(
        e.to_string(),
        "PLDA needs vectors of at least 2 speakers, found 1"
    );
    let plda = model(&mut rng, 3);
    let e = plda.score(x.view(), rng.matrix(2, 4).view()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the test vectors: dimension 4, but the model (or the other side) has 3"
    );
    let e = Plda::new(Array1::zeros(2), Array2::eye(2), Array2::zeros((2, 2))).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the PLDA within-class covariance is singular"),
        "{e}"
    );
    // A saved archive with a broken covariance is refused by name.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.npz");
    let mut npz = shardkit_algorithms::npz::NpzWriter::new(&path);
    npz.add("mean", &Array1::<f64>::zeros(2)).unwrap();
    npz.add("between", &Array2::<f64>::eye(2)).unwrap();
    npz.add("within", &array![[1.0, 2.0], [2.0, 1.0]]).unwrap();
    npz.finish().unwrap();
    let e = Plda::load(&path).unwrap_err();
    assert!(matches!(e, BackendError::BadModel { .. }));
    assert!(
        e.to_string().contains("bad.npz: not a valid PLDA model"),
        "{e}"
    );
    let e = Plda::load(dir.path().join("missing.npz")).unwrap_err();
    assert!(matches!(e, BackendError::Npz(_)));
}

/// The recipes give the scores of the parts put together by hand, bit for
/// bit, and survive a save and a load.
#[test]
fn recipes_are_their_parts_put_together() {
    let mut rng = Rng(21);
    let (train, labels) = labelled(&mut rng, 9, 8, 12);
    let (test, _) = labelled(&mut rng, 9, 2, 12);
    let enrol_labels: Vec<usize> = labels.iter().map(|l| l * 10 + 3).collect();

    // By hand: length norm, then LDA to 8 (= speakers − 1), then WCCN or a
    // second length norm and PLDA.
    let norm = LengthNorm::fit(train.view(), false).unwrap();
    let (train_n, test_n) = (
        norm.transform(train.view()).unwrap(),
        norm.transform(test.view()).unwrap(),
    );
    let (enrol, speakers) = average_by_label(train_n.view(), &enrol_labels).unwrap();
    let cosine = cosine_scores(enrol.view(), test_n.view()).unwrap();
    let lda = Lda::fit(train_n.view(), &labels, 8).unwrap();
    let (train_l, test_l) = (
        lda.transform(train_n.view()).unwrap(),
        lda.transform(test_n.view()).unwrap(),
    );
    let wccn = Wccn::fit(train_l.view(), &labels).unwrap();
    let (train_w, test_w) = (
        wccn.transform(train_l.view()).unwrap(),
        wccn.transform(test_l.view()).unwrap(),
    );
    let (enrol_w, _) = average_by_label(train_w.view(), &enrol_labels).unwrap();
    let lda_wccn = cosine_scores(enrol_w.view(), test_w.view()).unwrap();
    let renorm = LengthNorm::fit(train_l.view(), false).unwrap();
    let (train_p, test_p) = (
        renorm.transform(train_l.view()).unwrap(),
        renorm.transform(test_l.view()).unwrap(),
    );
    let plda = Plda::fit(train_p.view(), &labels, 5).unwrap().model;
    let plda_scores = plda
        .score_stats(
            &ClassStats::from_labels(train_p.view(), &enrol_labels).unwrap(),
            &ClassStats::singles(test_p.view()).unwrap(),
        )
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    for (recipe, want) in [
        (Recipe::Cosine, cosine),
        (Recipe::LdaWccnCosine { lda_dim: None }, lda_wccn),
        (
            Recipe::Plda {
                lda_dim: Some(8),
                iterations: 5,
            },
            plda_scores,
        ),
    ] {
        let backend = recipe.fit(train.view(), &labels).unwrap();
        let models = backend.enrol(train.view(), &enrol_labels).unwrap();
        assert_eq!(models.labels(), &speakers[..]);
        let scores = backend.score(&models, test.view()).unwrap();
        assert_eq!(scores, want, "{recipe:?}");
        let path = dir.path().join("backend.npz");
        backend.save(&path).unwrap();
        let back = Backend::load(&path).unwrap();
        assert_eq!(
            back.score(&models, test.view()).unwrap(),
            want,
            "{recipe:?}"
        );
        // The same on two threads.
        let pooled = Executor::threads(2)
            .unwrap()
            .install(|| backend.score(&models, test.view()))
            .unwrap();
        assert_eq!(pooled, want);
    }

    // Vectors of another dimension are refused, naming the problem.
    let backend = Recipe::Cosine.fit(train.view(), &labels).unwrap();
    let models = backend.enrol(train.view(), &labels).unwrap();
    let err = backend.score(&models, test.slice(s![.., ..5])).unwrap_err();
    assert!(matches!(err, BackendError::Dimension { .. }), "{err}");
    // An archive that is not a back end.
    let lda_path = dir.path().join("lda.npz");
    lda.save(&lda_path).unwrap();
    let err = Backend::load(&lda_path).unwrap_err();
    assert!(err.to_string().contains("'recipe'"), "{err}");
}

#[test]
fn models_and_errors_are_send_sync() {
    fn assert_traits<T: Send + Sync + 'static>() {}
    assert_traits::<BackendError>();
    assert_traits::<LengthNorm>();
    assert_traits::<Lda>();
    assert_traits::<Wccn>();
    assert_traits::<Plda>();
    assert_traits::<ClassStats>();
    assert_traits::<Backend>();
    assert_traits::<shardkit_algorithms::backend::Enrolled>();
}

/// LDA, WCCN, cosine and PLDA against scripts/peers/backend_numpy.py.
#[test]
fn numpy_cross_check_when_available() {
    let Some(python) = python_with_numpy() else {
        eprintln!(
            "skipped: no python3 with numpy (set SHARDKIT_TEST_PYTHON to one to run this check)"
        );
        return;
    };
    let mut rng = Rng(13);
    let (x, labels) = labelled(&mut rng, 15, 8, 5);
    let enrol = rng.matrix(6, 5) * 2.0;
    let test = rng.matrix(9, 5) * 2.0;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let mut npz = shardkit_algorithms::npz::NpzWriter::new(path("data.npz"));
    npz.add("x", &x).unwrap();
    let float_labels: Array1<f64> = labels.iter().map(|&l| l as f64).collect();
    npz.add("labels", &float_labels).unwrap();
    npz.add("enrol", &enrol).unwrap();
    npz.add("test", &test).unwrap();
    npz.finish().unwrap();

    Lda::fit(x.view(), &labels, 3)
        .unwrap()
        .save(path("lda.npz"))
        .unwrap();
    Wccn::fit(x.view(), &labels)
        .unwrap()
        .save(path("wccn.npz"))
        .unwrap();
    let plda = Plda::fit(x.view(), &labels, 5).unwrap().model;
    plda.save(path("plda.npz")).unwrap();
    let mut npz = shardkit_algorithms::npz::NpzWriter::new(path("scores.npz"));
    npz.add("cosine", &cosine_scores(enrol.view(), test.view()).unwrap())
        .unwrap();
    npz.add("plda", &plda.score(enrol.view(), test.view()).unwrap())
        .unwrap();
    npz.finish().unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/peers/backend_numpy.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// PLDA stopped after any iteration (checkpoint on 1 thread) and resumed
/// on 3 ends with the bits of an uninterrupted fit on 2; other vectors, or
/// fewer iterations than the checkpoint holds, are refused.
#[test]
fn plda_stopped_anywhere_and_resumed_on_other_threads_has_the_same_bits() {
    use shardkit_algorithms::checkpoint::Checkpoint;
    let mut rng = Rng(17);
    let d = 4;
    let mean = array![0.5, -1.0, 2.0, 0.0];
    let between = rng.spd(d, 1.0);
    let within = rng.spd(d, 0.5) * 0.3;
    let (x, labels) = sample_plda(&mut rng, &mean, &between, &within, 30, 5);
    let iters = 6;
    let whole = Executor::threads(2)
        .unwrap()
        .install(|| Plda::fit(x.view(), &labels, iters))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for stop in 0..=iters {
        let checkpoint = Checkpoint::new(dir.path().join(format!("p{stop}.npz")));
        Executor::threads(1)
            .unwrap()
            .install(|| Plda::fit_resumable(x.view(), &labels, stop, &checkpoint))
            .unwrap();
        assert_eq!(
            checkpoint.path().exists(),
            stop > 0,
            "a checkpoint after {stop}"
        );
        let resumed = Executor::threads(3)
            .unwrap()
            .install(|| Plda::fit_resumable(x.view(), &labels, iters, &checkpoint))
            .unwrap();
        let bits = |f: &shardkit_algorithms::backend::PldaFit| {
            let m = &f.model;
            (m.mean()
                .iter()
                .chain(m.between())
                .chain(m.within())
                .chain(&f.log_likelihood))
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
        };
        assert_eq!(bits(&resumed), bits(&whole), "stopped after {stop}");
    }
    let checkpoint = Checkpoint::new(dir.path().join(format!("p{iters}.npz")));
    let e = Plda::fit_resumable(x.view(), &labels, 2, &checkpoint).unwrap_err();
    assert!(
        e.to_string()
            .contains("holds 6 iterations, more than the 2"),
        "{e}"
    );
    let mut other = x.clone();
    other[[0, 0]] += 1.0;
    let e = Plda::fit_resumable(other.view(), &labels, iters, &checkpoint).unwrap_err();
    assert!(e.to_string().contains("different training vectors"), "{e}");
}
