//! Naive Bayes (issue 14): closed forms on hand tables, a naive loop and
//! NumPy's reimplementation of scikit-learn's formulas (and scikit-learn
//! itself, when importable), the same bits on every executor, streaming
//! partials, saved models, and every bad input named.

use ndarray::{array, concatenate, s, Array1, Array2, ArrayView2, Axis};
use ndarray_npy::{read_npy, write_npy};
use shardkit::Executor;
use shardkit_algorithms::naive_bayes::{
    GaussianModel, GaussianNb, GaussianPartial, MultinomialModel, MultinomialNb,
    MultinomialPartial, NbError,
};
use shardkit_algorithms::stats::{StatsError, Table, TableOptions, CHUNK_ROWS};
use shardkit_testkit::python::{py_str, run_python};
use shardkit_testkit::rng::Rng;

// ---------------------------------------------------------------- helpers

/// Features and labels side by side: the training table's layout.
fn with_labels(x: &Array2<f64>, y: &[usize]) -> Array2<f64> {
    let labels = Array2::from_shape_fn((y.len(), 1), |(i, _)| y[i] as f64);
    concatenate(Axis(1), &[x.view(), labels.view()]).unwrap()
}

/// Multinomial data: `rows` rows of `draws` draws over `d` features from
/// one of `k` random distributions, the class drawn with `priors`.
struct Multi {
    probs: Array2<f64>,
    priors: Vec<f64>,
    x: Array2<f64>,
    y: Vec<usize>,
}

fn multinomial_data(seed: u64, k: usize, d: usize, rows: usize, draws: usize) -> Multi {
    let mut rng = Rng::new(seed);
    let mut probs = Array2::from_shape_fn((k, d), |_| rng.uniform().powi(3) + 1e-3);
    for mut row in probs.rows_mut() {
        let total = row.sum();
        row /= total;
    }
    let priors: Vec<f64> = (0..k).map(|c| (c + 1) as f64).collect();
    let total: f64 = priors.iter().sum();
    let priors: Vec<f64> = priors.iter().map(|p| p / total).collect();
    let pick = |rng: &mut Rng, p: &[f64]| {
        let u = rng.uniform();
        let mut acc = 0.0;
        for (i, &pi) in p.iter().enumerate() {
            acc += pi;
            if u < acc {
                return i;
            }
        }
        p.len() - 1
    };
    let mut x = Array2::zeros((rows, d));
    let mut y = Vec::with_capacity(rows);
    for i in 0..rows {
        let c = pick(&mut rng, &priors);
        y.push(c);
        let p = probs.row(c).to_vec();
        for _ in 0..draws {
            x[[i, pick(&mut rng, &p)]] += 1.0;
        }
    }
    Multi {
        probs,
        priors,
        x,
        y,
    }
}

/// Gaussian data: `k` classes with their own means and spreads, far from
/// zero.
fn gaussian_data(seed: u64, k: usize, d: usize, rows: usize) -> (Array2<f64>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let means = Array2::from_shape_fn((k, d), |_| 1000.0 + rng.range(-3.0, 3.0));
    let sds = Array2::from_shape_fn((k, d), |_| rng.range(0.5, 2.0));
    let mut x = Array2::zeros((rows, d));
    let mut y = Vec::with_capacity(rows);
    for i in 0..rows {
        let c = rng.below(k);
        y.push(c);
        for j in 0..d {
            x[[i, j]] = means[[c, j]] + sds[[c, j]] * rng.normal();
        }
    }
    (x, y)
}

fn bits1(a: &Array1<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn bits2(a: &Array2<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn multinomial_bits(m: &MultinomialModel) -> Vec<Vec<u64>> {
    vec![
        vec![m.alpha.to_bits()],
        bits1(&m.class_count),
        bits2(&m.feature_count),
        bits1(&m.class_log_prior),
        bits2(&m.feature_log_prob),
    ]
}

fn gaussian_bits(m: &GaussianModel) -> Vec<Vec<u64>> {
    vec![
        bits1(&m.class_count),
        bits1(&m.class_prior),
        bits2(&m.mean),
        bits2(&m.variance),
        vec![m.epsilon.to_bits()],
    ]
}

fn assert_close(what: &str, a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, tol: f64) {
    assert_eq!(a.dim(), b.dim(), "{what}: shapes");
    for ((i, j), &x) in a.indexed_iter() {
        let y = b[[i, j]];
        if x == y {
            continue; // equal infinities too
        }
        let scale = 1.0f64.max(x.abs()).max(y.abs());
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}, {j}]: {x} vs {y} (difference {:e})",
            (x - y).abs()
        );
    }
}

fn row(a: &Array1<f64>) -> ArrayView2<'_, f64> {
    a.view().insert_axis(Axis(0))
}

// ---------------------------------------------------- closed forms by hand

#[test]
fn multinomial_hand_table_gives_exact_log_probabilities() {
    // 3 features, classes 0 and 1 (and 2, without rows).
    let t = array![
        [1.0, 0.0, 2.0, 0.0],
        [0.0, 1.0, 1.0, 0.0],
        [4.0, 4.0, 0.0, 1.0],
        [0.0, 2.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, 1.0],
    ];
    let table = Table::rows(t.view()).unwrap();
    let model = MultinomialNb::params()
        .classes(3)
        .alpha(0.5)
        .fit(&table)
        .unwrap();
    assert_eq!(model.class_count, array![2.0, 3.0, 0.0]);
    assert_eq!(
        model.feature_count,
        array![[1.0, 1.0, 3.0], [5.0, 6.0, 0.0], [0.0, 0.0, 0.0]]
    );
    // class priors: 2/5, 3/5, 0 → −∞
    assert!((model.class_log_prior[0] - (0.4f64).ln()).abs() < 1e-15);
    assert!((model.class_log_prior[1] - (0.6f64).ln()).abs() < 1e-15);
    assert_eq!(model.class_log_prior[2], f64::NEG_INFINITY);
    // (F + ½) / (ΣF + ½·3): class 0 over 6.5, class 1 over 12.5, class 2
    // uniform (½ / 1.5).
    let expected = array![
        [1.5 / 6.5, 1.5 / 6.5, 3.5 / 6.5],
        [5.5 / 12.5, 6.5 / 12.5, 0.5 / 12.5],
        [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    ]
    .mapv(f64::ln);
    assert_close(
        "feature_log_prob",
        model.feature_log_prob.view(),
        expected.view(),
        1e-15,
    );

    // Joint log-likelihood of [2, 0, 1] by hand, for class 0 and 1.
    let x = array![[2.0, 0.0, 1.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]];
    let jll0 = 0.4f64.ln() + 2.0 * (1.5f64 / 6.5).ln() + (3.5f64 / 6.5).ln();
    let jll1 = 0.6f64.ln() + 2.0 * (5.5f64 / 12.5).ln() + (0.5f64 / 12.5).ln();
    let jll = model.joint_log_likelihood(x.view()).unwrap();
    assert!((jll[[0, 0]] - jll0).abs() < 1e-13);
    assert!((jll[[0, 1]] - jll1).abs() < 1e-13);
    assert_eq!(jll[[0, 2]], f64::NEG_INFINITY);
    let log_proba = model.predict_log_proba(x.view()).unwrap();
    let lse = jll0.max(jll1) + ((jll0 - jll0.max(jll1)).exp() + (jll1 - jll0.max(jll1)).exp()).ln();
    assert!((log_proba[[0, 0]] - (jll0 - lse)).abs() < 1e-13);
    for r in log_proba.rows() {
        let total: f64 = r.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-14, "{total}");
    }
    // jll0 = −4.47 > jll1 = −5.37; [0, 3, 0] is class 1; an empty row goes
    // by the priors.
    assert!(jll0 > jll1);
    assert_eq!(model.predict(x.view()).unwrap(), array![0, 1, 1]);
    assert_eq!(model.classes(), 3);
    assert_eq!(model.features(), 3);
}

#[test]
fn multinomial_alpha_zero_and_ties() {
    let t = array![[2.0, 0.0, 0.0], [0.0, 2.0, 1.0]];
    let model = MultinomialNb::params()
        .classes(2)
        .alpha(0.0)
        .fit(&Table::rows(t.view()).unwrap())
        .unwrap();
    // Unseen features are impossible in their class.
    assert_eq!(
        model.feature_log_prob,
        array![[0.0, f64::NEG_INFINITY], [f64::NEG_INFINITY, 0.0]]
    );
    let x = array![[1.0, 0.0], [0.0, 5.0], [0.0, 0.0]];
    // The empty row: equal priors, equal (zero) likelihoods: the lowest
    // class wins the tie.
    assert_eq!(model.predict(x.view()).unwrap(), array![0, 1, 0]);
    let lp = model.predict_log_proba(x.view()).unwrap();
    assert_eq!(lp[[0, 0]], 0.0);
    assert_eq!(lp[[0, 1]], f64::NEG_INFINITY);
    assert!((lp[[2, 0]] - 0.5f64.ln()).abs() < 1e-15);
    // A row impossible in every class: NaN log-probabilities, class 0.
    let both = array![[1.0, 1.0]];
    assert_eq!(model.predict(both.view()).unwrap(), array![0]);
    assert!(model.predict_log_proba(both.view()).unwrap()[[0, 0]].is_nan());

    // α = 0 and a class whose counts are all 0: the uniform limit.
    let t = array![[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 1.0]];
    let model = MultinomialNb::params()
        .classes(2)
        .alpha(0.0)
        .fit(&Table::rows(t.view()).unwrap())
        .unwrap();
    assert_eq!(
        model.feature_log_prob.row(0).to_vec(),
        vec![-(3f64.ln()); 3]
    );
}

#[test]
fn gaussian_hand_table() {
    // Two features; class 0: x1 ∈ {1, 3, 5}, x2 ∈ {10, 10, 13}; class 1:
    // x1 ∈ {11, 13}, x2 ∈ {0, 4}.
    let t = array![
        [1.0, 10.0, 0.0],
        [11.0, 0.0, 1.0],
        [3.0, 10.0, 0.0],
        [13.0, 4.0, 1.0],
        [5.0, 13.0, 0.0],
    ];
    let model = GaussianNb::params()
        .classes(2)
        .fit(&Table::rows(t.view()).unwrap())
        .unwrap();
    assert_eq!(model.class_count, array![3.0, 2.0]);
    assert_eq!(model.class_prior, array![0.6, 0.4]);
    assert_eq!(model.mean, array![[3.0, 11.0], [12.0, 2.0]]);
    // Over all rows: x1 has mean 6.6 and variance 21.44, x2 mean 7.4 and
    // variance 22.24 (the largest).
    let epsilon = 1e-9 * 22.24;
    assert!((model.epsilon - epsilon).abs() < 1e-22, "{}", model.epsilon);
    let within = array![[8.0 / 3.0, 2.0], [1.0, 4.0]];
    assert_close(
        "variance",
        model.variance.view(),
        (&within + epsilon).view(),
        1e-15,
    );
    // A point at class 0's mean, one at class 1's.
    let x = array![[3.0, 11.0], [12.0, 2.0], [7.5, 6.5]];
    let jll = model.joint_log_likelihood(x.view()).unwrap();
    let v = &within + epsilon;
    let by_hand = |c: usize, p: [f64; 2]| {
        let mut s = model.class_prior[c].ln();
        for j in 0..2 {
            let m = model.mean[[c, j]];
            s += -0.5 * (2.0 * std::f64::consts::PI * v[[c, j]]).ln()
                - 0.5 * (p[j] - m) * (p[j] - m) / v[[c, j]];
        }
        s
    };
    for (i, p) in [[3.0, 11.0], [12.0, 2.0], [7.5, 6.5]]
        .into_iter()
        .enumerate()
    {
        for c in 0..2 {
            assert!((jll[[i, c]] - by_hand(c, p)).abs() < 1e-12);
        }
    }
    assert_eq!(
        model.predict(x.view()).unwrap().slice(s![..2]),
        array![0, 1]
    );
    assert_eq!(model.classes(), 2);
    assert_eq!(model.features(), 2);

    // A class without rows: prior 0, mean 0, variance ε, never predicted.
    let model = GaussianNb::params()
        .classes(3)
        .fit(&Table::rows(t.view()).unwrap())
        .unwrap();
    assert_eq!(model.class_prior[2], 0.0);
    assert_eq!(model.mean.row(2).to_vec(), vec![0.0, 0.0]);
    assert_eq!(model.variance.row(2).to_vec(), vec![model.epsilon; 2]);
    let near_zero = array![[0.0, 0.0]];
    assert_ne!(model.predict(near_zero.view()).unwrap()[0], 2);
    assert_eq!(
        model.predict_log_proba(near_zero.view()).unwrap()[[0, 2]],
        f64::NEG_INFINITY
    );
}

// ------------------------------------------------- generated data, a loop

#[test]
fn multinomial_generated_data_matches_a_naive_loop_and_recovers_the_classes() {
    let (k, d) = (5, 60);
    let data = multinomial_data(14, k, d, 6000, 100);
    let (train_x, test_x) = (data.x.slice(s![..5000, ..]), data.x.slice(s![5000.., ..]));
    let train = with_labels(&train_x.to_owned(), &data.y[..5000]);
    let alpha = 1.0;
    let model = MultinomialNb::params()
        .classes(k)
        .alpha(alpha)
        .fit(&Table::rows(train.view()).unwrap())
        .unwrap();

    // The naive loop.
    let mut class_count = vec![0.0; k];
    let mut feature_count = Array2::<f64>::zeros((k, d));
    for (i, &c) in data.y[..5000].iter().enumerate() {
        class_count[c] += 1.0;
        for j in 0..d {
            feature_count[[c, j]] += train_x[[i, j]];
        }
    }
    assert_eq!(model.class_count.to_vec(), class_count);
    assert_eq!(model.feature_count, feature_count);
    for c in 0..k {
        let total: f64 = feature_count.row(c).sum() + alpha * d as f64;
        assert!((model.class_log_prior[c] - (class_count[c] / 5000.0).ln()).abs() < 1e-14);
        for j in 0..d {
            let p = ((feature_count[[c, j]] + alpha) / total).ln();
            assert!((model.feature_log_prob[[c, j]] - p).abs() < 1e-13);
        }
    }

    // Training recovers the class probabilities…
    for c in 0..k {
        assert!(
            (model.class_log_prior[c].exp() - data.priors[c]).abs() < 0.03,
            "class {c}: prior {} vs {}",
            model.class_log_prior[c].exp(),
            data.priors[c]
        );
        for j in 0..d {
            let p = model.feature_log_prob[[c, j]].exp();
            assert!(
                (p - data.probs[[c, j]]).abs() < 0.01,
                "class {c}, feature {j}: {p} vs {}",
                data.probs[[c, j]]
            );
        }
    }
    // …and classifies held-out rows far above chance (0.2).
    let predicted = model.predict(test_x).unwrap();
    let right = predicted
        .iter()
        .zip(&data.y[5000..])
        .filter(|(p, y)| p == y)
        .count();
    let accuracy = right as f64 / 1000.0;
    assert!(accuracy > 0.9, "held-out accuracy {accuracy}");
}

#[test]
fn gaussian_generated_data_matches_a_naive_loop() {
    let (k, d) = (4, 7);
    let (x, y) = gaussian_data(3, k, d, 3000);
    let train = with_labels(&x, &y);
    let model = GaussianNb::params()
        .classes(k)
        .fit(&Table::rows(train.view()).unwrap())
        .unwrap();
    // Two passes per class, the textbook way.
    let mut n = vec![0.0; k];
    let mut mean = Array2::<f64>::zeros((k, d));
    for (i, &c) in y.iter().enumerate() {
        n[c] += 1.0;
        for j in 0..d {
            mean[[c, j]] += x[[i, j]];
        }
    }
    for (mut r, &nc) in mean.rows_mut().into_iter().zip(&n) {
        r.mapv_inplace(|v| v / nc);
    }
    let mut var = Array2::<f64>::zeros((k, d));
    for (i, &c) in y.iter().enumerate() {
        for j in 0..d {
            var[[c, j]] += (x[[i, j]] - mean[[c, j]]).powi(2);
        }
    }
    for (mut r, &nc) in var.rows_mut().into_iter().zip(&n) {
        r.mapv_inplace(|v| v / nc);
    }
    let mut largest = 0.0f64;
    for j in 0..d {
        let col = x.column(j);
        let m = col.sum() / col.len() as f64;
        largest = largest.max(col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / col.len() as f64);
    }
    let epsilon = 1e-9 * largest;
    assert!((model.epsilon - epsilon).abs() <= 1e-12 * epsilon);
    assert_eq!(model.class_count.to_vec(), n);
    assert_close("mean", model.mean.view(), mean.view(), 1e-14);
    assert_close(
        "variance",
        model.variance.view(),
        (&var + epsilon).view(),
        1e-12,
    );
    let right = model
        .predict(x.view())
        .unwrap()
        .iter()
        .zip(&y)
        .filter(|(p, y)| p == y)
        .count();
    assert!(
        right as f64 / 3000.0 > 0.9,
        "training accuracy {right}/3000"
    );
}

// --------------------------------------------------- NumPy and scikit-learn

#[test]
fn multinomial_and_gaussian_match_numpy_and_sklearn() {
    let (k, d) = (5, 60);
    let data = multinomial_data(7, k, d, 1200, 40);
    let train = with_labels(&data.x.slice(s![..1000, ..]).to_owned(), &data.y[..1000]);
    let test = data.x.slice(s![1000.., ..]).to_owned();
    let alpha = 0.7;
    let model = MultinomialNb::params()
        .classes(k)
        .alpha(alpha)
        .fit(&Table::rows(train.view()).unwrap())
        .unwrap();
    let (gx, gy) = gaussian_data(5, 3, 6, 800);
    let gtrain = with_labels(&gx, &gy);
    let gauss = GaussianNb::params()
        .classes(3)
        .fit(&Table::rows(gtrain.view()).unwrap())
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    write_npy(p("train.npy"), &train).unwrap();
    write_npy(p("test.npy"), &test).unwrap();
    write_npy(p("gtrain.npy"), &gtrain).unwrap();
    let numpy = format!(
        r#"
import numpy as np
t = np.load({train}); X, y = t[:, :-1], t[:, -1].astype(int)
k, alpha = {k}, {alpha}
cc = np.array([(y == c).sum() for c in range(k)], dtype=float)
fc = np.array([X[y == c].sum(axis=0) for c in range(k)])
clp = np.log(cc) - np.log(cc.sum())
sfc = fc + alpha
flp = np.log(sfc) - np.log(sfc.sum(axis=1).reshape(-1, 1))
T = np.load({test})
jll = T @ flp.T + clp
m = jll.max(axis=1, keepdims=True)
lp = jll - (m + np.log(np.exp(jll - m).sum(axis=1, keepdims=True)))
np.save({out_flp}, flp); np.save({out_clp}, clp); np.save({out_lp}, lp)
np.save({out_pred}, jll.argmax(axis=1).astype(float))
g = np.load({gtrain}); GX, gy = g[:, :-1], g[:, -1].astype(int)
eps = 1e-9 * GX.var(axis=0).max()
theta = np.array([GX[gy == c].mean(axis=0) for c in range(3)])
var = np.array([GX[gy == c].var(axis=0) for c in range(3)]) + eps
np.save({out_theta}, theta); np.save({out_var}, var)
"#,
        train = py_str(&p("train.npy")),
        test = py_str(&p("test.npy")),
        gtrain = py_str(&p("gtrain.npy")),
        out_flp = py_str(&p("flp.npy")),
        out_clp = py_str(&p("clp.npy")),
        out_lp = py_str(&p("lp.npy")),
        out_pred = py_str(&p("pred.npy")),
        out_theta = py_str(&p("theta.npy")),
        out_var = py_str(&p("var.npy")),
    );
    if run_python(&numpy, &[]).is_none() {
        eprintln!("skipped: the NumPy cross-check (the closed forms and loops still ran)");
        return;
    }
    let flp: Array2<f64> = read_npy(p("flp.npy")).unwrap();
    let clp: Array1<f64> = read_npy(p("clp.npy")).unwrap();
    let lp: Array2<f64> = read_npy(p("lp.npy")).unwrap();
    let pred: Array1<f64> = read_npy(p("pred.npy")).unwrap();
    assert_close(
        "feature_log_prob",
        model.feature_log_prob.view(),
        flp.view(),
        1e-12,
    );
    assert_close(
        "class_log_prior",
        row(&model.class_log_prior),
        row(&clp),
        1e-12,
    );
    let ours = model.predict_log_proba(test.view()).unwrap();
    assert_close("predict_log_proba", ours.view(), lp.view(), 1e-12);
    let predicted = model.predict(test.view()).unwrap().mapv(|c| c as f64);
    assert_eq!(predicted, pred);
    let theta: Array2<f64> = read_npy(p("theta.npy")).unwrap();
    let var: Array2<f64> = read_npy(p("var.npy")).unwrap();
    assert_close("theta", gauss.mean.view(), theta.view(), 1e-12);
    assert_close("var", gauss.variance.view(), var.view(), 1e-12);

    let sklearn = format!(
        r#"
import numpy as np
from sklearn.naive_bayes import MultinomialNB, GaussianNB
t = np.load({train}); T = np.load({test})
nb = MultinomialNB(alpha={alpha}).fit(t[:, :-1], t[:, -1].astype(int))
np.save({sk_flp}, nb.feature_log_prob_); np.save({sk_lp}, nb.predict_log_proba(T))
g = np.load({gtrain})
gnb = GaussianNB().fit(g[:, :-1], g[:, -1].astype(int))
np.save({sk_theta}, gnb.theta_); np.save({sk_var}, gnb.var_)
np.save({sk_glp}, gnb.predict_log_proba(g[:50, :-1]))
"#,
        train = py_str(&p("train.npy")),
        test = py_str(&p("test.npy")),
        gtrain = py_str(&p("gtrain.npy")),
        sk_flp = py_str(&p("sk_flp.npy")),
        sk_lp = py_str(&p("sk_lp.npy")),
        sk_theta = py_str(&p("sk_theta.npy")),
        sk_var = py_str(&p("sk_var.npy")),
        sk_glp = py_str(&p("sk_glp.npy")),
    );
    if run_python(&sklearn, &["sklearn"]).is_none() {
        eprintln!("skipped: the scikit-learn cross-check (NumPy's formulas were checked)");
        return;
    }
    let read2 = |name: &str| -> Array2<f64> { read_npy(p(name)).unwrap() };
    assert_close(
        "sklearn feature_log_prob_",
        model.feature_log_prob.view(),
        read2("sk_flp.npy").view(),
        1e-12,
    );
    assert_close(
        "sklearn predict_log_proba",
        ours.view(),
        read2("sk_lp.npy").view(),
        1e-12,
    );
    assert_close(
        "sklearn theta_",
        gauss.mean.view(),
        read2("sk_theta.npy").view(),
        1e-12,
    );
    assert_close(
        "sklearn var_",
        gauss.variance.view(),
        read2("sk_var.npy").view(),
        1e-12,
    );
    let glp = gauss.predict_log_proba(gx.slice(s![..50, ..])).unwrap();
    assert_close(
        "sklearn GaussianNB log proba",
        glp.view(),
        read2("sk_glp.npy").view(),
        1e-9,
    );
}

// -------------------------------------------- same bits on every executor

#[test]
fn same_bits_on_serial_and_threads_and_local_tables() {
    // Three parts, two longer than a chunk, so there are several chunks.
    let data = multinomial_data(21, 5, 60, 2 * CHUNK_ROWS + 1500, 30);
    // Frequencies, not counts, so that the sums' order would show.
    let freq = &data.x / 30.0;
    let all = with_labels(&freq, &data.y);
    let n = all.nrows();
    let parts = [
        all.slice(s![..CHUNK_ROWS + 700, ..]),
        all.slice(s![CHUNK_ROWS + 700..CHUNK_ROWS + 900, ..]),
        all.slice(s![CHUNK_ROWS + 900..n, ..]),
    ];
    let table = Table::parts(&parts).unwrap();
    let mnb = MultinomialNb::params().classes(5).alpha(0.3);
    let gnb = GaussianNb::params().classes(5);
    let serial =
        Executor::serial().install(|| (mnb.fit(&table).unwrap(), gnb.fit(&table).unwrap()));
    let (m0, g0) = (multinomial_bits(&serial.0), gaussian_bits(&serial.1));
    for threads in 1..=3 {
        let pool = Executor::threads(threads).unwrap();
        let (m, g) = pool.install(|| (mnb.fit(&table).unwrap(), gnb.fit(&table).unwrap()));
        assert_eq!(multinomial_bits(&m), m0, "multinomial, {threads} threads");
        assert_eq!(gaussian_bits(&g), g0, "gaussian, {threads} threads");
        let local = table.clone().local();
        let (m, g) = pool.install(|| (mnb.fit(&local).unwrap(), gnb.fit(&local).unwrap()));
        assert_eq!(
            multinomial_bits(&m),
            m0,
            "multinomial local, {threads} threads"
        );
        assert_eq!(gaussian_bits(&g), g0, "gaussian local, {threads} threads");
    }
    // And the fitted sums are those of a plain loop, to the rounding of
    // the frequencies.
    let mut fc = Array2::<f64>::zeros((5, 60));
    for (i, &c) in data.y.iter().enumerate() {
        let mut r = fc.row_mut(c);
        r += &freq.row(i);
    }
    assert_close(
        "feature_count",
        serial.0.feature_count.view(),
        fc.view(),
        1e-12,
    );
}

// ------------------------------------------------------------- streaming

#[test]
fn streaming_partials_of_two_halves_equal_one_pass() {
    let data = multinomial_data(8, 5, 60, 3000, 50);
    let all = with_labels(&data.x, &data.y);
    let (a, b) = (all.slice(s![..1300, ..]), all.slice(s![1300.., ..]));
    let params = MultinomialNb::params().classes(5).alpha(1.0);
    let one = params.fit(&Table::parts(&[a, b]).unwrap()).unwrap();
    let mut partial = MultinomialPartial::of(&Table::rows(a).unwrap(), &params).unwrap();
    let second = MultinomialPartial::of(&Table::rows(b).unwrap(), &params).unwrap();
    assert_eq!(second.rows(), 1700);
    partial.merge(second).unwrap();
    assert_eq!(
        (partial.classes(), partial.features(), partial.rows()),
        (5, 60, 3000)
    );
    // Integer counts add exactly: the same bits.
    assert_eq!(multinomial_bits(&partial.finish()), multinomial_bits(&one));

    // Gaussian: the halves' shifts differ, and are re-expressed.
    let (x, y) = gaussian_data(9, 3, 5, 2000);
    let all = with_labels(&x, &y);
    let (a, b) = (all.slice(s![..900, ..]), all.slice(s![900.., ..]));
    let params = GaussianNb::params().classes(3);
    let one = params.fit(&Table::rows(all.view()).unwrap()).unwrap();
    let mut partial = GaussianPartial::of(&Table::rows(a).unwrap(), &params).unwrap();
    partial
        .merge(GaussianPartial::of(&Table::rows(b).unwrap(), &params).unwrap())
        .unwrap();
    assert_eq!(partial.rows(), 2000);
    let merged = partial.finish().unwrap();
    assert_eq!(merged.class_count, one.class_count);
    assert_close("mean", merged.mean.view(), one.mean.view(), 1e-14);
    assert_close(
        "variance",
        merged.variance.view(),
        one.variance.view(),
        1e-12,
    );

    // A class only in the second half is taken with its shift.
    let only0 = array![[1.0, 2.0, 0.0], [3.0, 2.5, 0.0]];
    let only1 = array![[100.0, 7.0, 1.0], [104.0, 9.0, 1.0]];
    let params = GaussianNb::params().classes(2);
    let mut p = GaussianPartial::of(&Table::rows(only0.view()).unwrap(), &params).unwrap();
    p.merge(GaussianPartial::of(&Table::rows(only1.view()).unwrap(), &params).unwrap())
        .unwrap();
    let both = concatenate(Axis(0), &[only0.view(), only1.view()]).unwrap();
    let direct = params.fit(&Table::rows(both.view()).unwrap()).unwrap();
    assert_eq!(gaussian_bits(&p.finish().unwrap()), gaussian_bits(&direct));
}

// ------------------------------------------------------------- save, load

#[test]
fn models_and_partials_round_trip_through_npz() {
    let dir = tempfile::tempdir().unwrap();
    let data = multinomial_data(4, 3, 10, 500, 20);
    let t = with_labels(&data.x, &data.y);
    let table = Table::rows(t.view()).unwrap();
    let params = MultinomialNb::params().classes(4).alpha(0.25); // class 3 empty
    let model = params.fit(&table).unwrap();
    assert_eq!(model.class_log_prior[3], f64::NEG_INFINITY);
    let path = dir.path().join("mnb.npz");
    model.save(&path).unwrap();
    let back = MultinomialModel::load(&path).unwrap();
    assert_eq!(multinomial_bits(&back), multinomial_bits(&model));

    let partial = MultinomialPartial::of(&table, &params).unwrap();
    let path = dir.path().join("mnb_partial.npz");
    partial.save(&path).unwrap();
    let back = MultinomialPartial::load(&path).unwrap();
    assert_eq!(back, partial);
    assert_eq!(multinomial_bits(&back.finish()), multinomial_bits(&model));

    let (x, y) = gaussian_data(2, 3, 4, 300);
    let t = with_labels(&x, &y);
    let table = Table::rows(t.view()).unwrap();
    let params = GaussianNb::params().classes(3).var_smoothing(1e-6);
    let model = params.fit(&table).unwrap();
    let path = dir.path().join("gnb.npz");
    model.save(&path).unwrap();
    assert_eq!(
        gaussian_bits(&GaussianModel::load(&path).unwrap()),
        gaussian_bits(&model)
    );
    let partial = GaussianPartial::of(&table, &params).unwrap();
    let path = dir.path().join("gnb_partial.npz");
    partial.save(&path).unwrap();
    let back = GaussianPartial::load(&path).unwrap();
    assert_eq!(back, partial);
    assert_eq!(
        gaussian_bits(&back.finish().unwrap()),
        gaussian_bits(&model)
    );

    // A file of another kind is refused, naming the missing array.
    let err = GaussianModel::load(dir.path().join("mnb.npz")).unwrap_err();
    assert!(matches!(err, NbError::Npz(_)), "{err}");
    assert!(err.to_string().contains("'mean'"), "{err}");
    // Values no model holds.
    let mut npz = shardkit_algorithms::npz::NpzWriter::new(dir.path().join("bad.npz"));
    npz.add("alpha", &array![1.0]).unwrap();
    npz.add("class_count", &array![1.0, 0.5]).unwrap();
    npz.add("feature_count", &array![[1.0], [2.0]]).unwrap();
    npz.finish().unwrap();
    let err = MultinomialPartial::load(dir.path().join("bad.npz")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("bad.npz: `class_count` is not a count for each of 2 or more classes"),
        "{err}"
    );
}

// ------------------------------------------------------------ bad input

fn fit_err(t: &Array2<f64>, params: MultinomialNb) -> String {
    params
        .fit(&Table::rows(t.view()).unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_labels_and_counts_are_named_by_part_row_and_column() {
    let ok = MultinomialNb::params().classes(3);
    for (label, shown) in [(2.5, "2.5"), (-1.0, "-1"), (3.0, "3"), (1e9, "1000000000")] {
        let t = array![[1.0, 0.0, 0.0], [0.0, 2.0, label]];
        assert_eq!(
            fit_err(&t, ok),
            format!(
                "in-memory rows: row 2, column 3: {shown} is not a class label: the last \
                 column holds the class as an integer 0..=2 (classes = 3)"
            )
        );
        let err = GaussianNb::params()
            .classes(3)
            .fit(&Table::rows(t.view()).unwrap())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("in-memory rows: row 2, column 3: "),
            "{err}"
        );
    }
    let t = array![[1.0, 0.0, 0.0], [0.0, -2.0, 1.0]];
    let err = ok.fit(&Table::rows(t.view()).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            NbError::Stats(StatsError::Value {
                row: 2,
                column: 2,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "in-memory rows: row 2, column 2: -2 is negative; multinomial naive Bayes takes \
         counts or frequencies ≥ 0"
    );

    // In a file, past the first chunk: the file and its row.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train1.csv");
    let mut text = String::from("a,b,label\n");
    for i in 0..CHUNK_ROWS + 10 {
        let label = if i == CHUNK_ROWS + 5 { "7" } else { "1" };
        text.push_str(&format!("{},{},{label}\n", i % 3, i % 5));
    }
    std::fs::write(&path, text).unwrap();
    let table = Table::read(&[&path], &TableOptions::new()).unwrap();
    let err = ok.fit(&table).unwrap_err().to_string();
    let row = CHUNK_ROWS + 6;
    assert!(
        err.starts_with(&format!(
            "{}: row {row}, column 3: 7 is not a class label",
            path.display()
        )),
        "{err}"
    );
    // Several parts: the second part's own row.
    let good = array![[1.0, 1.0, 0.0]];
    let bad = array![[1.0, 1.0, 1.0], [1.0, 1.0, 0.5]];
    let err = ok
        .fit(&Table::parts(&[good.view(), bad.view()]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("in-memory part 2: row 2, column 3: 0.5 is not"),
        "{err}"
    );
}

#[test]
fn bad_settings_tables_and_rows_to_predict_are_refused() {
    let t = array![[1.0, 0.0, 0.0], [0.0, 2.0, 1.0]];
    assert_eq!(
        fit_err(&t, MultinomialNb::params()),
        "classes = 0: the number of classes must be at least 2 (set it with .classes(k))"
    );
    assert!(fit_err(&t, MultinomialNb::params().classes(1)).starts_with("classes = 1: "));
    for (alpha, shown) in [(-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        assert_eq!(
            fit_err(&t, MultinomialNb::params().classes(2).alpha(alpha)),
            format!("alpha = {shown}: the smoothing must be a finite number ≥ 0")
        );
    }
    let table = Table::rows(t.view()).unwrap();
    for vs in [-1e-9, f64::NAN] {
        let err = GaussianNb::params()
            .classes(2)
            .var_smoothing(vs)
            .fit(&table)
            .unwrap_err();
        assert!(err.to_string().starts_with("var_smoothing = "), "{err}");
    }
    let err = GaussianNb::params().fit(&table).unwrap_err();
    assert!(err.to_string().starts_with("classes = 0: "), "{err}");

    // Labels alone, no features.
    let labels = array![[0.0], [1.0]];
    let err = fit_err(&labels, MultinomialNb::params().classes(2));
    assert!(
        err.starts_with("the table has 1 column(s), but naive Bayes needs"),
        "{err}"
    );
    // No rows.
    let empty = Table::empty(Some(3));
    let err = MultinomialNb::params().classes(2).fit(&empty).unwrap_err();
    assert_eq!(err.to_string(), "the table has no rows");

    // Rows to predict.
    let model = MultinomialNb::params().classes(2).fit(&table).unwrap();
    let err = model.predict(array![[1.0, 2.0, 3.0]].view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the rows to predict have 3 features, but the model was trained on 2"
    );
    let err = model
        .predict(array![[1.0, 2.0], [0.0, -1.0]].view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rows to predict: row 2, column 2: -1 is negative; multinomial naive Bayes takes \
         counts or frequencies ≥ 0"
    );
    let err = model
        .predict_log_proba(array![[f64::NAN, 2.0]].view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rows to predict: row 1, column 1: NaN is not a finite number"
    );
    let g = GaussianNb::params()
        .classes(2)
        .fit(&Table::rows(array![[1.0, 0.0], [2.0, 0.0], [5.0, 1.0], [7.0, 1.0]].view()).unwrap())
        .unwrap();
    // Negative values are fine for Gaussian features; infinities are not.
    assert_eq!(g.predict(array![[-3.0]].view()).unwrap(), array![0]);
    let err = g.predict(array![[f64::INFINITY]].view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rows to predict: row 1, column 1: inf is not a finite number"
    );

    // Merging partials of other settings.
    let a = MultinomialPartial::of(&table, &MultinomialNb::params().classes(2)).unwrap();
    let mut b = MultinomialPartial::of(&table, &MultinomialNb::params().classes(3)).unwrap();
    let err = b.merge(a.clone()).unwrap_err();
    assert!(matches!(err, NbError::Mismatch(_)), "{err}");
    let mut c =
        MultinomialPartial::of(&table, &MultinomialNb::params().classes(2).alpha(2.0)).unwrap();
    assert!(c
        .merge(a)
        .unwrap_err()
        .to_string()
        .contains("alpha 2 and of 2 classes, 2 features, alpha 1"));

    // Gaussian: a feature constant within a class and no smoothing.
    let flat = array![
        [1.0, 5.0, 0.0],
        [2.0, 5.0, 0.0],
        [3.0, 6.0, 1.0],
        [4.0, 7.0, 1.0]
    ];
    let err = GaussianNb::params()
        .classes(2)
        .var_smoothing(0.0)
        .fit(&Table::rows(flat.view()).unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "class 0, column 2: the feature's variance within the class is 0 and var_smoothing \
         adds 0, so its density is undefined: raise var_smoothing"
    );
    // With the default smoothing it trains.
    let model = GaussianNb::params()
        .classes(2)
        .fit(&Table::rows(flat.view()).unwrap())
        .unwrap();
    assert!(model.variance[[0, 1]] > 0.0);
}

/// A user's own pass: one multinomial and one Gaussian partial per batch
/// of labelled rows, merged by `Reduce`.
#[shardkit::parallelize(split = "batches", reduce = "sum", block_size = 1)]
fn nb_per_batch(batches: &[Array2<f64>]) -> (MultinomialPartial, GaussianPartial) {
    let table = Table::rows(batches[0].view()).unwrap();
    (
        MultinomialPartial::of(&table, &MultinomialNb::params().classes(4)).unwrap(),
        GaussianPartial::of(&table, &GaussianNb::params().classes(4)).unwrap(),
    )
}

#[test]
fn partials_merge_as_reduce_in_a_users_own_pass() {
    let data = multinomial_data(11, 4, 6, 2000, 30);
    let xy = with_labels(&data.x, &data.y);
    let batches: Vec<Array2<f64>> = (0..4)
        .map(|i| xy.slice(s![i * 500..(i + 1) * 500, ..]).to_owned())
        .collect();
    let (m, g) = Executor::serial().install(|| nb_per_batch(&batches));
    let pool = Executor::threads(3).unwrap();
    assert_eq!(
        pool.install(|| nb_per_batch(&batches)),
        (m.clone(), g.clone())
    );
    let table = Table::rows(xy.view()).unwrap();
    let whole = MultinomialNb::params().classes(4).fit(&table).unwrap();
    // Counts are integers: the merged model has the whole table's bits.
    assert_eq!(multinomial_bits(&m.finish()), multinomial_bits(&whole));
    let gauss = GaussianNb::params().classes(4).fit(&table).unwrap();
    let merged = g.finish().unwrap();
    assert_close("means", merged.mean.view(), gauss.mean.view(), 1e-12);
    assert_close(
        "variances",
        merged.variance.view(),
        gauss.variance.view(),
        1e-9,
    );
}
