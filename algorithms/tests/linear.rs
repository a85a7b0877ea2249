//! Linear and ridge regression: exact recovery of known coefficients, the
//! two methods against each other, ridge against its closed form (solved
//! here by Gaussian elimination), ordinary least squares against NumPy,
//! R² against a naive loop, collinear features, settings, streaming,
//! saving, and the same bits on every executor.

use ndarray::{concatenate, s, Array1, Array2, Axis};
use shardkit::Executor;
use shardkit_algorithms::linear::{
    LinearError, LinearModel, LinearRegression, Method, NormalEquationsPartial,
};
use shardkit_algorithms::stats::{StatsError, Table, TableOptions, CHUNK_ROWS};
use shardkit_testkit::rng::Rng;

const METHODS: [Method; 2] = [Method::NormalEquations, Method::Qr];

/// `n` × `p` features (column `j` around `10·j`, spread `j + 1`, column 1
/// leaning on column 0).
fn features(n: usize, p: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let mut x = Array2::from_shape_fn((n, p), |(_, j)| {
        10.0 * j as f64 + (j + 1) as f64 * rng.normal()
    });
    for i in 0..n {
        x[[i, 1]] += 0.3 * x[[i, 0]];
    }
    x
}

/// The known model: targets × features coefficients and intercepts.
fn known(p: usize, k: usize, intercept: bool) -> (Array2<f64>, Array1<f64>) {
    let coef = Array2::from_shape_fn((k, p), |(t, j)| (t as f64 + 1.0) * (j as f64 - 1.5) + 0.25);
    let b = if intercept {
        Array1::from_shape_fn(k, |t| 3.0 - 2.0 * t as f64)
    } else {
        Array1::zeros(k)
    };
    (coef, b)
}

/// Features then responses Y = X·coefᵀ + b (+ noise of spread `noise`).
fn table_data(
    x: &Array2<f64>,
    coef: &Array2<f64>,
    b: &Array1<f64>,
    noise: f64,
    seed: u64,
) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let mut y = x.dot(&coef.t()) + b;
    y.mapv_inplace(|v| v + noise * rng.normal());
    concatenate(Axis(1), &[x.view(), y.view()]).unwrap()
}

fn max_rel(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let scale = b.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn max_abs1(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

/// Solves A·X = B by Gaussian elimination with partial pivoting.
fn gauss_solve(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut m = concatenate(Axis(1), &[a.view(), b.view()]).unwrap();
    for c in 0..n {
        let piv = (c..n)
            .max_by(|&i, &j| m[[i, c]].abs().total_cmp(&m[[j, c]].abs()))
            .unwrap();
        for j in 0..m.ncols() {
            m.swap([c, j], [piv, j]);
        }
        for i in 0..n {
            if i != c {
                let f = m[[i, c]] / m[[c, c]];
                for j in c..m.ncols() {
                    m[[i, j]] -= f * m[[c, j]];
                }
            }
        }
    }
    let mut x = m.slice(s![.., n..]).to_owned();
    for i in 0..n {
        let d = m[[i, i]];
        x.row_mut(i).mapv_inplace(|v| v / d);
    }
    x
}

/// Ridge (α ≥ 0) by its closed form: on centred data with an intercept,
/// on raw data without.
fn closed_form(
    data: &Array2<f64>,
    k: usize,
    alpha: f64,
    intercept: bool,
) -> (Array2<f64>, Array1<f64>) {
    let p = data.ncols() - k;
    let x = data.slice(s![.., ..p]).to_owned();
    let y = data.slice(s![.., p..]).to_owned();
    let (xm, ym) = if intercept {
        (x.mean_axis(Axis(0)).unwrap(), y.mean_axis(Axis(0)).unwrap())
    } else {
        (Array1::zeros(p), Array1::zeros(k))
    };
    let xc = &x - &xm;
    let yc = &y - &ym;
    let a = xc.t().dot(&xc) + alpha * Array2::<f64>::eye(p);
    let beta = gauss_solve(&a, &xc.t().dot(&yc));
    let b = &ym - &beta.t().dot(&xm);
    (beta.t().to_owned(), b)
}

#[test]
fn noiseless_data_gives_the_coefficients_back() {
    let x = features(CHUNK_ROWS + 300, 3, 1);
    for intercept in [true, false] {
        let (coef, b) = known(3, 2, intercept);
        let data = table_data(&x, &coef, &b, 0.0, 2);
        let table = Table::rows(data.view()).unwrap();
        for method in METHODS {
            let m = LinearRegression::params()
                .intercept(intercept)
                .method(method)
                .fit(&table, 2)
                .unwrap();
            assert_eq!(m.coefficients.dim(), (2, 3));
            assert!(
                max_rel(&m.coefficients, &coef) < 1e-11,
                "{method:?}, intercept {intercept}: {} vs {coef}",
                m.coefficients
            );
            assert!(
                max_abs1(&m.intercept, &b) < 1e-9,
                "{method:?}: {} vs {b}",
                m.intercept
            );
            if !intercept {
                assert_eq!(m.intercept, Array1::zeros(2));
            }
            let r2 = m.score(&table).unwrap();
            assert!(r2.iter().all(|&v| (v - 1.0).abs() < 1e-12), "R² {r2}");
        }
    }
}

#[test]
fn both_methods_agree_on_noisy_data() {
    let x = features(2 * CHUNK_ROWS + 50, 4, 3);
    let (coef, b) = known(4, 2, true);
    let data = table_data(&x, &coef, &b, 2.0, 4);
    let table = Table::rows(data.view()).unwrap();
    for intercept in [true, false] {
        for alpha in [0.0, 30.0] {
            let fit = |method| {
                LinearRegression::params()
                    .intercept(intercept)
                    .method(method)
                    .ridge(alpha)
                    .fit(&table, 2)
                    .unwrap()
            };
            let (ne, qr) = (fit(Method::NormalEquations), fit(Method::Qr));
            assert!(
                max_rel(&ne.coefficients, &qr.coefficients) < 1e-9,
                "intercept {intercept}, α {alpha}: {} vs {}",
                ne.coefficients,
                qr.coefficients
            );
            assert!(max_abs1(&ne.intercept, &qr.intercept) < 1e-9);
            // And both are the closed form.
            let (c, i) = closed_form(&data, 2, alpha, intercept);
            assert!(
                max_rel(&ne.coefficients, &c) < 1e-9,
                "{} vs {c}",
                ne.coefficients
            );
            assert!(
                max_abs1(&ne.intercept, &i) < 1e-8,
                "{} vs {i}",
                ne.intercept
            );
        }
    }
}

#[test]
fn ridge_is_its_closed_form_and_shrinks() {
    let x = features(500, 3, 5);
    let (coef, b) = known(3, 2, true);
    let data = table_data(&x, &coef, &b, 1.0, 6);
    let table = Table::rows(data.view()).unwrap();
    let mut previous = f64::INFINITY;
    for alpha in [0.0, 1.0, 100.0, 1e4] {
        let (c, i) = closed_form(&data, 2, alpha, true);
        for method in METHODS {
            let m = LinearRegression::params()
                .method(method)
                .ridge(alpha)
                .fit(&table, 2)
                .unwrap();
            assert!(
                max_rel(&m.coefficients, &c) < 1e-10,
                "{method:?} α {alpha}: {} vs {c}",
                m.coefficients
            );
            assert!(
                max_abs1(&m.intercept, &i) < 1e-9,
                "{method:?} α {alpha}: {} vs {i}",
                m.intercept
            );
        }
        let norm = c.iter().map(|v| v * v).sum::<f64>();
        assert!(norm < previous, "α {alpha} shrinks the coefficients");
        previous = norm;
    }
}

#[test]
fn least_squares_matches_numpy() {
    let x = features(3000, 3, 7);
    let (coef, b) = known(3, 2, true);
    let data = table_data(&x, &coef, &b, 5.0, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.npy");
    ndarray_npy::write_npy(&path, &data).unwrap();
    let code = format!(
        "import numpy as np\n\
         d = np.load({})\n\
         x, y = d[:, :3], d[:, 3:]\n\
         a = np.hstack([np.ones((len(x), 1)), x])\n\
         w = np.linalg.lstsq(a, y, rcond=None)[0]\n\
         print(' '.join(repr(float(v)) for v in w.T.ravel()))",
        shardkit_testkit::py_str(&path)
    );
    let Some(out) = shardkit_testkit::run_python(&code, &[]) else {
        return;
    };
    let w: Vec<f64> = out.split_whitespace().map(|v| v.parse().unwrap()).collect();
    let w = Array2::from_shape_vec((2, 4), w).unwrap();
    let table = Table::rows(data.view()).unwrap();
    for method in METHODS {
        let m = LinearRegression::params()
            .method(method)
            .fit(&table, 2)
            .unwrap();
        assert!(
            max_rel(&m.coefficients, &w.slice(s![.., 1..]).to_owned()) < 1e-10,
            "{method:?}"
        );
        assert!(
            max_abs1(&m.intercept, &w.column(0).to_owned()) < 1e-9,
            "{method:?}"
        );
    }
}

#[test]
fn score_is_one_minus_sse_over_sst() {
    let x = features(CHUNK_ROWS + 10, 2, 9);
    let (coef, b) = known(2, 2, true);
    let data = table_data(&x, &coef, &b, 1.0, 10);
    let table = Table::rows(data.view()).unwrap();
    let m = LinearRegression::params().fit(&table, 2).unwrap();
    let r2 = m.score(&table).unwrap();
    let pred = m.predict(x.view()).unwrap();
    for t in 0..2 {
        let y = data.column(2 + t);
        let mean = y.sum() / y.len() as f64;
        let (mut sse, mut sst) = (0.0, 0.0);
        for i in 0..y.len() {
            sse += (y[i] - pred[[i, t]]).powi(2);
            sst += (y[i] - mean).powi(2);
        }
        let naive = 1.0 - sse / sst;
        assert!(
            (r2[t] - naive).abs() < 1e-12,
            "target {t}: {} vs {naive}",
            r2[t]
        );
        assert!(r2[t] > 0.5 && r2[t] < 1.0);
    }
    // A constant target predicted exactly scores 1; a model off it, 0.
    let mut flat = data.clone();
    flat.column_mut(3).fill(7.0);
    let table = Table::rows(flat.view()).unwrap();
    let m = LinearRegression::params().fit(&table, 2).unwrap();
    assert_eq!(m.score(&table).unwrap()[1], 1.0);
    let off = LinearModel {
        intercept: &m.intercept + 1.0,
        ..m.clone()
    };
    assert_eq!(off.score(&table).unwrap()[1], 0.0);
}

#[test]
fn collinear_features_need_ridge() {
    let mut x = features(400, 4, 11);
    for i in 0..400 {
        x[[i, 2]] = 2.0 * x[[i, 0]] - x[[i, 1]] + 5.0;
    }
    let (coef, b) = known(4, 1, true);
    let data = table_data(&x, &coef, &b, 0.5, 12);
    // With a header, the error names the column.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.csv");
    let mut csv = String::from("a,b,c,d,y\n");
    for row in data.rows() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        csv += &cells.join(",");
        csv += "\n";
    }
    std::fs::write(&path, csv).unwrap();
    let table = Table::read(&[&path], &TableOptions::new()).unwrap();
    for method in METHODS {
        let err = LinearRegression::params()
            .method(method)
            .fit(&table, 1)
            .unwrap_err();
        assert!(
            matches!(err, LinearError::Singular { column: 3, .. }),
            "{method:?}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the features are collinear; add ridge or drop a column (column 3 (\"c\") is a \
             linear combination of the columns before it)"
        );
        let (c, i) = closed_form(&data, 1, 2.0, true);
        let m = LinearRegression::params()
            .method(method)
            .ridge(2.0)
            .fit(&table, 1)
            .unwrap();
        assert!(max_rel(&m.coefficients, &c) < 1e-9, "{method:?}");
        assert!(max_abs1(&m.intercept, &i) < 1e-8, "{method:?}");
    }
    // Without an intercept the shift makes them independent again …
    let raw = Table::rows(data.view()).unwrap();
    for method in METHODS {
        LinearRegression::params()
            .intercept(false)
            .method(method)
            .fit(&raw, 1)
            .unwrap();
    }
    // … but a constant column is collinear with the intercept.
    let mut flat = data.clone();
    flat.column_mut(1).fill(4.0);
    let flat = Table::rows(flat.view()).unwrap();
    for method in METHODS {
        let err = LinearRegression::params()
            .method(method)
            .fit(&flat, 1)
            .unwrap_err();
        assert!(
            err.to_string().contains("column 2 is constant"),
            "{method:?}: {err}"
        );
    }
}

#[test]
fn bad_settings_and_shapes_are_named() {
    let x = features(50, 3, 13);
    let (coef, b) = known(3, 1, true);
    let data = table_data(&x, &coef, &b, 0.1, 14);
    let table = Table::rows(data.view()).unwrap();
    for alpha in [-1.0, f64::NAN, f64::INFINITY] {
        let err = LinearRegression::params()
            .ridge(alpha)
            .fit(&table, 1)
            .unwrap_err();
        assert!(
            matches!(err, LinearError::Setting { name: "ridge", .. }),
            "{err:?}"
        );
    }
    for targets in [0, 4, 9] {
        let err = LinearRegression::params().fit(&table, targets).unwrap_err();
        assert!(
            matches!(
                err,
                LinearError::Setting {
                    name: "targets",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("targets must be from 1 to 3"),
            "{err}"
        );
    }
    let m = LinearRegression::params().fit(&table, 1).unwrap();
    let err = m.predict(data.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the rows to predict has 4 columns, but the model takes 3"
    );
    let err = m.score(&Table::rows(x.view()).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            LinearError::Width {
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    // Fewer rows than unknowns.
    let short = data.slice(s![..3, ..]);
    let err = LinearRegression::params()
        .fit(&Table::rows(short).unwrap(), 1)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LinearError::Stats(StatsError::TooFewRows {
                needed: 4,
                found: 3,
                ..
            })
        ),
        "{err:?}"
    );
    // With ridge, any number of rows will do.
    LinearRegression::params()
        .ridge(1.0)
        .fit(&Table::rows(short).unwrap(), 1)
        .unwrap();
}

/// A user's own pass: one partial per batch of rows, merged by `Reduce`.
#[shardkit::parallelize(split = "batches", reduce = "sum", block_size = 1)]
fn per_batch(batches: &[Array2<f64>]) -> NormalEquationsPartial {
    NormalEquationsPartial::of(&Table::rows(batches[0].view()).unwrap(), 2).unwrap()
}

#[test]
fn streaming_halves_give_the_one_pass_model() {
    let x = features(3000, 3, 15);
    let (coef, b) = known(3, 2, true);
    let data = table_data(&x, &coef, &b, 1.0, 16);
    let whole = Table::rows(data.view()).unwrap();
    for (intercept, alpha) in [(true, 0.0), (false, 0.0), (true, 5.0)] {
        let params = LinearRegression::params().intercept(intercept).ridge(alpha);
        let one = params.fit(&whole, 2).unwrap();
        // The partial of the whole table gives fit's bits.
        let p = NormalEquationsPartial::of(&whole, 2).unwrap();
        assert_eq!(p.finish(&params).unwrap(), one);
        let mut a =
            NormalEquationsPartial::of(&Table::rows(data.slice(s![..1700, ..])).unwrap(), 2)
                .unwrap();
        let bpart =
            NormalEquationsPartial::of(&Table::rows(data.slice(s![1700.., ..])).unwrap(), 2)
                .unwrap();
        a.merge(bpart).unwrap();
        assert_eq!(a.rows(), 3000);
        let streamed = a.finish(&params).unwrap();
        assert!(max_rel(&streamed.coefficients, &one.coefficients) < 1e-12);
        assert!(max_abs1(&streamed.intercept, &one.intercept) < 1e-10);
    }
    // As `Reduce`, in a pass of one's own: one partial per batch, merged in
    // block order (the same bits on 1 and 3 threads).
    let batches: Vec<Array2<f64>> = (0..3)
        .map(|i| data.slice(s![i * 1000..(i + 1) * 1000, ..]).to_owned())
        .collect();
    let serial = Executor::serial().install(|| per_batch(&batches));
    let pool = Executor::threads(3).unwrap();
    assert_eq!(pool.install(|| per_batch(&batches)), serial);
    let params = LinearRegression::params();
    let streamed = serial.finish(&params).unwrap();
    let one = params.fit(&whole, 2).unwrap();
    assert!(max_rel(&streamed.coefficients, &one.coefficients) < 1e-12);
    // Partials of other shapes do not merge.
    let mut a = NormalEquationsPartial::of(&whole, 2).unwrap();
    let other = NormalEquationsPartial::of(&whole, 1).unwrap();
    assert!(matches!(a.merge(other), Err(LinearError::Mismatch(_))));
}

#[test]
fn models_and_partials_save_and_load() {
    let x = features(200, 3, 17);
    let (coef, b) = known(3, 2, true);
    let data = table_data(&x, &coef, &b, 1.0, 18);
    let table = Table::rows(data.view()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = LinearRegression::params()
        .method(Method::Qr)
        .fit(&table, 2)
        .unwrap();
    m.save(dir.path().join("model.npz")).unwrap();
    assert_eq!(LinearModel::load(dir.path().join("model.npz")).unwrap(), m);
    let p = NormalEquationsPartial::of(&table, 2).unwrap();
    p.save(dir.path().join("partial.npz")).unwrap();
    let back = NormalEquationsPartial::load(dir.path().join("partial.npz")).unwrap();
    assert_eq!(back, p);
    assert_eq!((back.features(), back.targets()), (3, 2));
    // A model file is not a partial.
    let err = NormalEquationsPartial::load(dir.path().join("model.npz")).unwrap_err();
    assert!(matches!(err, LinearError::Npz(_)), "{err:?}");
}

#[test]
fn same_bits_on_every_executor_and_layout() {
    let x = features(3 * CHUNK_ROWS + 123, 4, 19);
    let (coef, b) = known(4, 2, true);
    let data = table_data(&x, &coef, &b, 1.0, 20);
    let parts = [data.slice(s![..5000, ..]), data.slice(s![5000.., ..])];
    let table = Table::parts(&parts).unwrap();
    let local = Table::parts(&parts).unwrap().local();
    for method in METHODS {
        for (intercept, alpha) in [(true, 0.0), (false, 0.0), (true, 3.0)] {
            let params = LinearRegression::params()
                .method(method)
                .intercept(intercept)
                .ridge(alpha);
            let run = |t: &Table<'_>| {
                let m = params.fit(t, 2).unwrap();
                let r2 = m.score(t).unwrap();
                (m, r2)
            };
            let serial = Executor::serial().install(|| run(&table));
            for threads in [1, 2, 3] {
                let on = Executor::threads(threads).unwrap().install(|| run(&table));
                assert_eq!(on, serial, "{method:?} on {threads} threads");
            }
            assert_eq!(run(&local), serial, "{method:?} local");
        }
    }
}
