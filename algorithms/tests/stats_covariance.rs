//! Covariance, correlation and PCA: against a naive loop, a closed form and
//! NumPy; data far from zero; streaming; the same bits on every executor,
//! for local tables and however the rows are cut into parts; bad input.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use shardkit::Executor;
use shardkit_algorithms::npz::{NpzReader, NpzWriter};
use shardkit_algorithms::stats::{
    covariance, Covariance, CovariancePartial, Pca, PcaMethod, PcaModel, StatsError, Table,
    CHUNK_ROWS,
};
use shardkit_testkit::rng::Rng;

const METHODS: [PcaMethod; 3] = [
    PcaMethod::Covariance,
    PcaMethod::Correlation,
    PcaMethod::Svd,
];

/// `n` × `d` correlated rows around `offset`: independent normals of
/// spreads 1, 2, …, d, mixed by a fixed lower-triangular matrix.
fn data(n: usize, d: usize, offset: f64, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let z = Array2::from_shape_fn((n, d), |(_, j)| (j + 1) as f64 * rng.normal());
    let mix = Array2::from_shape_fn((d, d), |(i, j)| match i.cmp(&j) {
        std::cmp::Ordering::Equal => 1.0,
        std::cmp::Ordering::Greater => 0.3 / (i - j) as f64,
        std::cmp::Ordering::Less => 0.0,
    });
    z.dot(&mix) + offset
}

/// The textbook: the mean, then Σ (x − mean)(x − mean)ᵀ / (n − 1), a
/// double loop over the columns for every row.
fn naive_covariance(x: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let (n, d) = x.dim();
    let mut mean = Array1::<f64>::zeros(d);
    for row in x.rows() {
        for j in 0..d {
            mean[j] += row[j];
        }
    }
    mean /= n as f64;
    let mut cov = Array2::<f64>::zeros((d, d));
    for row in x.rows() {
        for i in 0..d {
            for j in 0..d {
                cov[[i, j]] += (row[i] - mean[i]) * (row[j] - mean[j]);
            }
        }
    }
    (mean, cov / (n as f64 - 1.0))
}

fn naive_correlation(cov: &Array2<f64>) -> Array2<f64> {
    let d = cov.nrows();
    Array2::from_shape_fn((d, d), |(i, j)| {
        cov[[i, j]] / (cov[[i, i]].sqrt() * cov[[j, j]].sqrt())
    })
}

/// `|a − b| ≤ rel · max |b|`, entry by entry.
fn close<D: ndarray::Dimension>(
    a: &ndarray::Array<f64, D>,
    b: &ndarray::Array<f64, D>,
    rel: f64,
    what: &str,
) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes");
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= rel * scale,
            "{what}: {x} vs {y} (rel {rel} of {scale})\n{a}\n{b}"
        );
    }
}

/// The same bits (0.0 and −0.0 differ).
fn same_bits<D: ndarray::Dimension>(
    a: &ndarray::Array<f64, D>,
    b: &ndarray::Array<f64, D>,
) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn same_model(a: &PcaModel, b: &PcaModel) -> bool {
    same_bits(&a.components, &b.components)
        && same_bits(&a.explained_variance, &b.explained_variance)
        && same_bits(&a.explained_variance_ratio, &b.explained_variance_ratio)
        && same_bits(&a.singular_values, &b.singular_values)
        && same_bits(&a.mean, &b.mean)
        && a.scale.is_some() == b.scale.is_some()
        && a.scale.iter().zip(&b.scale).all(|(x, y)| same_bits(x, y))
        && (a.method, a.rows, a.whiten) == (b.method, b.rows, b.whiten)
}

fn same_covariance(a: &Covariance, b: &Covariance) -> bool {
    a.rows == b.rows && same_bits(&a.mean, &b.mean) && same_bits(&a.covariance, &b.covariance)
}

fn cov_of(x: ArrayView2<'_, f64>) -> Covariance {
    covariance(&Table::rows(x).unwrap()).unwrap()
}

fn fit(method: PcaMethod, x: ArrayView2<'_, f64>) -> PcaModel {
    Pca::params()
        .method(method)
        .fit(&Table::rows(x).unwrap())
        .unwrap()
}

/// Each row's entry of largest magnitude made positive (the first of
/// equals): the documented convention, written again here.
fn flipped(mut v: Array2<f64>) -> Array2<f64> {
    for mut row in v.rows_mut() {
        let mut best = 0;
        for j in 0..row.len() {
            if row[j].abs() > row[best].abs() {
                best = j;
            }
        }
        if row[best] < 0.0 {
            row.mapv_inplace(|x| -x);
        }
    }
    v
}

#[test]
fn covariance_and_correlation_match_a_naive_loop() {
    let x = data(10_000, 6, 3.0, 1);
    let c = cov_of(x.view());
    let (mean, cov) = naive_covariance(&x);
    assert_eq!(c.rows, 10_000);
    close(&c.mean, &mean, 1e-13, "mean");
    close(&c.covariance, &cov, 1e-12, "covariance");
    assert!(
        same_bits(&c.covariance, &c.covariance.t().to_owned()),
        "not symmetric"
    );
    let corr = c.correlation().unwrap();
    close(&corr, &naive_correlation(&cov), 1e-12, "correlation");
    assert!(corr.diag().iter().all(|&v| v == 1.0));
    assert!(same_bits(&corr, &corr.t().to_owned()));
    // The data are correlated (the test would not notice a diagonal).
    assert!(corr[[1, 0]] > 0.05, "{corr}");
}

#[test]
fn data_far_from_zero_keep_their_covariance() {
    let x = data(20_000, 4, 1e8, 2);
    let c = cov_of(x.view());
    let (_, cov) = naive_covariance(&x);
    close(&c.covariance, &cov, 1e-6, "covariance at 1e8");
    close(
        &c.correlation().unwrap(),
        &naive_correlation(&cov),
        1e-6,
        "correlation at 1e8",
    );
    // The one-pass textbook formula Σx²/n − mean² loses it all.
    let n = x.nrows() as f64;
    let col = x.column(0);
    let m = col.sum() / n;
    let one_pass = (col.mapv(|v| v * v).sum() / n - m * m) * n / (n - 1.0);
    assert!(
        (one_pass - cov[[0, 0]]).abs() > 1e-3 * cov[[0, 0]],
        "the naive one-pass formula happened to work: {one_pass} vs {}",
        cov[[0, 0]]
    );
    // PCA there too: the methods agree with each other.
    let a = fit(PcaMethod::Covariance, x.view());
    let b = fit(PcaMethod::Svd, x.view());
    close(
        &a.explained_variance,
        &b.explained_variance,
        1e-8,
        "variance at 1e8",
    );
    close(&a.components, &b.components, 1e-7, "components at 1e8");
}

/// Rows whose sample covariance is exactly `rot · diag(scales²) · rotᵀ`
/// (up to rounding): orthonormal centred columns (Gram–Schmidt, twice),
/// scaled, rotated, moved to `mean`.
fn known(n: usize, scales: &[f64], rot: &Array2<f64>, mean: &Array1<f64>) -> Array2<f64> {
    let d = scales.len();
    let mut rng = Rng::new(11);
    let mut z = Array2::from_shape_fn((n, d), |_| rng.normal());
    for j in 0..d {
        for _ in 0..2 {
            let m = z.column(j).sum() / n as f64;
            z.column_mut(j).mapv_inplace(|v| v - m);
            for i in 0..j {
                let dot = z.column(j).dot(&z.column(i));
                let ci = z.column(i).to_owned();
                z.column_mut(j).scaled_add(-dot, &ci);
            }
            let norm = z.column(j).dot(&z.column(j)).sqrt();
            z.column_mut(j).mapv_inplace(|v| v / norm);
        }
    }
    let scale = Array1::from_iter(scales.iter().map(|s| s * (n as f64 - 1.0).sqrt()));
    (z * &scale).dot(&rot.t()) + mean
}

/// A rotation of 4 dimensions: Givens rotations in the planes (0,1), (1,2),
/// (2,3), (0,3).
fn rotation() -> Array2<f64> {
    let mut q = Array2::<f64>::eye(4);
    for (a, b, angle) in [(0, 1, 0.7), (1, 2, -1.1), (2, 3, 0.4), (0, 3, 2.0f64)] {
        let mut g = Array2::<f64>::eye(4);
        g[[a, a]] = angle.cos();
        g[[b, b]] = angle.cos();
        g[[a, b]] = -angle.sin();
        g[[b, a]] = angle.sin();
        q = q.dot(&g);
    }
    q
}

#[test]
fn pca_recovers_a_known_covariance() {
    let scales = [5.0, 3.0, 1.5, 0.5];
    let rot = rotation();
    let mean = Array1::from(vec![10.0, -4.0, 0.5, 1e3]);
    let x = known(2_000, &scales, &rot, &mean);
    let variances = Array1::from_iter(scales.iter().map(|s| s * s));
    let truth = flipped(rot.t().to_owned());
    let total: f64 = variances.sum();
    for method in [PcaMethod::Covariance, PcaMethod::Svd] {
        let m = fit(method, x.view());
        assert_eq!(m.components.dim(), (4, 4));
        close(
            &m.explained_variance,
            &variances,
            1e-10,
            "explained variance",
        );
        close(&m.components, &truth, 1e-10, "components");
        close(&m.mean, &mean, 1e-12, "mean");
        close(
            &m.explained_variance_ratio,
            &(&variances / total),
            1e-10,
            "ratio",
        );
        close(
            &m.singular_values,
            &(&variances * 1_999.0).mapv(f64::sqrt),
            1e-10,
            "singular values",
        );
        assert!(m.scale.is_none());
    }
    let c = cov_of(x.view());
    let expected = rot.dot(&Array2::from_diag(&variances)).dot(&rot.t());
    close(&c.covariance, &expected, 1e-12, "covariance");
}

#[test]
fn covariance_and_svd_methods_agree() {
    for (seed, k) in [(3u64, 5usize), (4, 2)] {
        let x = data(9_000, 5, -20.0, seed);
        let a = Pca::params()
            .components(k)
            .fit(&Table::rows(x.view()).unwrap())
            .unwrap();
        let b = Pca::params()
            .method(PcaMethod::Svd)
            .components(k)
            .fit(&Table::rows(x.view()).unwrap())
            .unwrap();
        assert_eq!(a.components.dim(), (k, 5));
        close(
            &a.explained_variance,
            &b.explained_variance,
            1e-9,
            "variance",
        );
        close(
            &a.explained_variance_ratio,
            &b.explained_variance_ratio,
            1e-9,
            "ratio",
        );
        close(
            &a.singular_values,
            &b.singular_values,
            1e-9,
            "singular values",
        );
        close(&a.components, &b.components, 1e-8, "components");
        close(&a.mean, &b.mean, 1e-13, "mean");
        // Signs: the largest entry of each component is positive.
        assert_eq!(a.components, flipped(a.components.clone()));
        assert_eq!(b.components, flipped(b.components.clone()));
        // Unit rows, orthogonal.
        close(
            &a.components.dot(&a.components.t()),
            &Array2::eye(k),
            1e-12,
            "orthonormal",
        );
    }
}

#[test]
fn transformed_columns_have_the_explained_variances() {
    let x = data(5_000, 4, 7.0, 5);
    for method in METHODS {
        for whiten in [false, true] {
            let m = Pca::params()
                .method(method)
                .whiten(whiten)
                .fit(&Table::rows(x.view()).unwrap())
                .unwrap();
            let y = m.transform(x.view()).unwrap();
            assert_eq!(y.dim(), (5_000, 4));
            let c = cov_of(y.view());
            let expected = if whiten {
                Array1::ones(4)
            } else {
                m.explained_variance.clone()
            };
            close(
                &c.covariance.diag().to_owned(),
                &expected,
                1e-9,
                "variances",
            );
            let sd = expected[0].sqrt();
            assert!(
                c.mean.iter().all(|m| m.abs() < 1e-12 * sd),
                "means {}",
                c.mean
            );
            // Uncorrelated components.
            let off = &c.covariance - &Array2::from_diag(&c.covariance.diag());
            let worst = off.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(
                worst < 1e-9 * expected[0],
                "covariances of components: {off}"
            );
            // All components: the inverse gives the rows back.
            let back = m.inverse_transform(y.view()).unwrap();
            close(&back, &x, 1e-12, "inverse transform");
        }
    }
}

#[test]
fn correlation_pca_is_pca_of_standardised_columns() {
    let x = data(3_000, 4, 2.0, 6);
    let c = cov_of(x.view());
    let sd = c.standard_deviation();
    let z = (&x - &c.mean) / &sd;
    let on_z = fit(PcaMethod::Covariance, z.view());
    let m = fit(PcaMethod::Correlation, x.view());
    close(
        &m.explained_variance,
        &on_z.explained_variance,
        1e-10,
        "variance",
    );
    close(&m.components, &on_z.components, 1e-9, "components");
    close(m.scale.as_ref().unwrap(), &sd, 0.0, "scale");
    close(
        &m.explained_variance_ratio.sum_axis(Axis(0)),
        &ndarray::arr0(1.0),
        1e-12,
        "ratios",
    );
    close(
        &m.transform(x.view()).unwrap(),
        &on_z.transform(z.view()).unwrap(),
        1e-9,
        "transform",
    );
}

#[test]
fn numpy_agrees() {
    let x = data(3_000, 5, 100.0, 7);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.npz");
    let output = dir.path().join("numpy.npz");
    let mut npz = NpzWriter::new(&input);
    npz.add("x", &x).unwrap();
    npz.finish().unwrap();
    let code = format!(
        r#"
import numpy as np
x = np.load({input})["x"]
n = x.shape[0]
def flip(v):
    i = np.argmax(np.abs(v), axis=1)
    return v * np.sign(v[np.arange(v.shape[0]), i])[:, None]
cov = np.cov(x, rowvar=False)
corr = np.corrcoef(x, rowvar=False)
w, u = np.linalg.eigh(cov)
eig_cov = flip(u[:, ::-1].T)
wc, uc = np.linalg.eigh(corr)
eig_corr = flip(uc[:, ::-1].T)
xc = x - x.mean(axis=0)
_, sv, vt = np.linalg.svd(xc, full_matrices=False)
np.savez({output}, mean=x.mean(axis=0), cov=cov, corr=corr, eig_values=w[::-1], eig_cov=eig_cov,
         corr_values=wc[::-1], eig_corr=eig_corr, svd_values=sv, svd=flip(vt),
         svd_variance=sv ** 2 / (n - 1))
"#,
        input = shardkit_testkit::python::py_str(&input),
        output = shardkit_testkit::python::py_str(&output),
    );
    if shardkit_testkit::run_python(&code, &["numpy"]).is_none() {
        eprintln!("note: no python3 with numpy: the NumPy cross-check is skipped");
        return;
    }
    let mut np = NpzReader::open(&output).unwrap();
    let mut one = |name: &str| -> Array2<f64> { np.read(name).unwrap() };
    let (np_cov, np_corr, eig_cov, eig_corr, svd) = (
        one("cov"),
        one("corr"),
        one("eig_cov"),
        one("eig_corr"),
        one("svd"),
    );
    let mut vec = |name: &str| -> Array1<f64> { np.read(name).unwrap() };
    let (mean, eig_values, corr_values, svd_values, svd_variance) = (
        vec("mean"),
        vec("eig_values"),
        vec("corr_values"),
        vec("svd_values"),
        vec("svd_variance"),
    );
    let c = cov_of(x.view());
    close(&c.mean, &mean, 1e-13, "mean");
    close(&c.covariance, &np_cov, 1e-12, "np.cov");
    close(&c.correlation().unwrap(), &np_corr, 1e-12, "np.corrcoef");
    let m = fit(PcaMethod::Covariance, x.view());
    close(&m.explained_variance, &eig_values, 1e-10, "eigh values");
    close(&m.components, &eig_cov, 1e-9, "eigh vectors");
    let m = fit(PcaMethod::Correlation, x.view());
    close(
        &m.explained_variance,
        &corr_values,
        1e-10,
        "eigh of corrcoef values",
    );
    close(&m.components, &eig_corr, 1e-9, "eigh of corrcoef vectors");
    let m = fit(PcaMethod::Svd, x.view());
    close(&m.singular_values, &svd_values, 1e-10, "svd values");
    close(&m.explained_variance, &svd_variance, 1e-10, "svd variance");
    close(&m.components, &svd, 1e-9, "svd vectors");
}

#[test]
fn two_halves_merged_equal_one_pass() {
    // The halves start at different rows, so their shifts differ.
    let x = data(7_001, 5, 50.0, 8);
    let cut = 3_333;
    let whole = cov_of(x.view());
    let mut a = CovariancePartial::of(&Table::rows(x.slice(s![..cut, ..])).unwrap()).unwrap();
    let b = CovariancePartial::of(&Table::rows(x.slice(s![cut.., ..])).unwrap()).unwrap();
    assert_eq!((a.rows(), b.rows(), a.cols()), (3_333, 3_668, 5));
    a.merge(b).unwrap();
    let merged = a.finish().unwrap();
    assert_eq!(merged.rows, 7_001);
    close(&merged.mean, &whole.mean, 1e-12, "merged mean");
    close(
        &merged.covariance,
        &whole.covariance,
        1e-12,
        "merged covariance",
    );
    assert!(same_bits(
        &merged.covariance,
        &merged.covariance.t().to_owned()
    ));
    // PCA from the streamed covariance.
    let streamed = Pca::params().fit_covariance(&merged).unwrap();
    let batch = fit(PcaMethod::Covariance, x.view());
    close(
        &streamed.explained_variance,
        &batch.explained_variance,
        1e-11,
        "streamed PCA",
    );
    close(
        &streamed.components,
        &batch.components,
        1e-9,
        "streamed components",
    );
}

#[test]
fn saved_results_load_with_the_same_bits() {
    let x = data(5_000, 3, 1e6, 9);
    let dir = tempfile::tempdir().unwrap();
    let partial = CovariancePartial::of(&Table::rows(x.view()).unwrap()).unwrap();
    let path = dir.path().join("partial.npz");
    partial.save(&path).unwrap();
    let loaded = CovariancePartial::load(&path).unwrap();
    assert_eq!(loaded, partial);
    assert!(same_covariance(
        &loaded.finish().unwrap(),
        &partial.finish().unwrap()
    ));

    // The covariance's archive: mean, covariance, correlation.
    let c = partial.finish().unwrap();
    let path = dir.path().join("covariance.npz");
    c.save(&path).unwrap();
    let mut npz = NpzReader::open(&path).unwrap();
    let cov: Array2<f64> = npz.read("covariance").unwrap();
    let corr: Array2<f64> = npz.read("correlation").unwrap();
    let mean: Array1<f64> = npz.read("mean").unwrap();
    assert!(same_bits(&cov, &c.covariance) && same_bits(&mean, &c.mean));
    assert!(same_bits(&corr, &c.correlation().unwrap()));
    // No correlation where a column is constant.
    let mut flat = x.clone();
    flat.column_mut(1).fill(4.0);
    cov_of(flat.view()).save(&path).unwrap();
    assert!(!NpzReader::open(&path).unwrap().contains("correlation"));

    for method in METHODS {
        for whiten in [false, true] {
            let m = Pca::params()
                .method(method)
                .components(2)
                .whiten(whiten)
                .fit(&Table::rows(x.view()).unwrap())
                .unwrap();
            let path = dir.path().join("pca.npz");
            m.save(&path).unwrap();
            let back = PcaModel::load(&path).unwrap();
            assert!(same_model(&back, &m), "{method:?} {whiten}");
            assert_eq!(back, m);
        }
    }
}

#[test]
fn bits_are_the_same_on_every_executor_and_layout() {
    // Several chunks, the last one short.
    let n = 3 * CHUNK_ROWS + 517;
    let x = data(n, 5, -3.0, 10);
    let run = |table: &Table<'_>| {
        let c = covariance(table).unwrap();
        let models: Vec<PcaModel> = METHODS
            .iter()
            .map(|&m| Pca::params().method(m).components(3).fit(table).unwrap())
            .collect();
        (c, models)
    };
    let same = |a: &(Covariance, Vec<PcaModel>), b: &(Covariance, Vec<PcaModel>), what: &str| {
        assert!(same_covariance(&a.0, &b.0), "{what}: covariance differs");
        for (m, o) in a.1.iter().zip(&b.1) {
            assert!(same_model(m, o), "{what}: {:?} PCA differs", m.method);
        }
    };
    let table = Table::rows(x.view()).unwrap();
    let serial = Executor::serial().install(|| run(&table));
    for threads in [1, 2, 3] {
        let pool = Executor::threads(threads).unwrap();
        same(
            &serial,
            &pool.install(|| run(&table)),
            &format!("{threads} threads"),
        );
    }
    // A local table on one process: the same table.
    let local = Table::rows(x.view()).unwrap().local();
    same(
        &serial,
        &Executor::serial().install(|| run(&local)),
        "local",
    );
    let pool = Executor::threads(3).unwrap();
    same(&serial, &pool.install(|| run(&local)), "local, 3 threads");
    // Parts cut on chunk boundaries: the same chunks.
    let cut = 2 * CHUNK_ROWS;
    let parts = Table::parts(&[
        x.slice(s![..CHUNK_ROWS, ..]),
        x.slice(s![CHUNK_ROWS..cut, ..]),
        x.slice(s![cut.., ..]),
    ])
    .unwrap();
    same(
        &serial,
        &Executor::serial().install(|| run(&parts)),
        "parts",
    );
    let parts = parts.local();
    same(
        &serial,
        &pool.install(|| run(&parts)),
        "local parts, 3 threads",
    );
}

#[test]
fn bad_input_is_named() {
    let x = data(50, 3, 0.0, 12);

    // A constant column: no correlation, no correlation PCA.
    let mut flat = x.clone();
    flat.column_mut(2).fill(-1.5);
    let c = cov_of(flat.view());
    assert_eq!(c.covariance[[2, 2]], 0.0);
    let err = c.correlation().unwrap_err();
    assert!(
        matches!(err, StatsError::ConstantColumn { column: 3, value, .. } if value == -1.5),
        "{err:?}"
    );
    assert!(err.to_string().contains("column 3 is constant"), "{err}");
    let err = Pca::params()
        .method(PcaMethod::Correlation)
        .fit(&Table::rows(flat.view()).unwrap())
        .unwrap_err();
    assert!(
        matches!(err, StatsError::ConstantColumn { column: 3, .. }),
        "{err:?}"
    );
    // … while the covariance method takes it.
    fit(PcaMethod::Covariance, flat.view());

    // Components: 1 to the columns.
    for method in METHODS {
        for k in [0, 4] {
            let err = Pca::params()
                .method(method)
                .components(k)
                .fit(&Table::rows(x.view()).unwrap())
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    StatsError::Setting {
                        name: "components",
                        ..
                    }
                ),
                "{method:?} k={k}: {err:?}"
            );
            assert!(
                err.to_string()
                    .starts_with(&format!("components = {k}: between 1 and")),
                "{err}"
            );
        }
    }

    // One row.
    let one = x.slice(s![..1, ..]);
    let err = covariance(&Table::rows(one).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            StatsError::TooFewRows {
                needed: 2,
                found: 1,
                ..
            }
        ),
        "{err:?}"
    );
    for method in METHODS {
        let err = Pca::params()
            .method(method)
            .fit(&Table::rows(one).unwrap())
            .unwrap_err();
        assert!(
            matches!(
                err,
                StatsError::TooFewRows {
                    needed: 2,
                    found: 1,
                    ..
                }
            ),
            "{method:?}: {err:?}"
        );
    }

    // Rows of the wrong width for a model.
    let m = fit(PcaMethod::Svd, x.view());
    let err = m.transform(x.slice(s![.., ..2])).unwrap_err();
    assert!(
        matches!(
            err,
            StatsError::Width {
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = m
        .inverse_transform(x.view().slice(s![.., ..1]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StatsError::Width {
                expected: 3,
                found: 1,
                ..
            }
        ),
        "{err:?}"
    );

    // Partial results of other widths.
    let mut a = CovariancePartial::of(&Table::rows(x.view()).unwrap()).unwrap();
    let b = CovariancePartial::of(&Table::rows(x.slice(s![.., ..2])).unwrap()).unwrap();
    assert!(matches!(a.merge(b), Err(StatsError::Mismatch(_))));

    // Whitening a direction without variance.
    let mut dup = x.clone();
    let c0 = dup.column(0).to_owned();
    dup.column_mut(2).assign(&c0);
    for method in [PcaMethod::Covariance, PcaMethod::Svd] {
        let err = Pca::params()
            .method(method)
            .whiten(true)
            .fit(&Table::rows(dup.view()).unwrap())
            .unwrap_err();
        assert!(
            matches!(err, StatsError::Setting { name: "whiten", .. }),
            "{method:?}: {err:?}"
        );
        // Two components are fine.
        Pca::params()
            .method(method)
            .whiten(true)
            .components(2)
            .fit(&Table::rows(dup.view()).unwrap())
            .unwrap();
    }

    // The SVD method needs the rows.
    let err = Pca::params()
        .method(PcaMethod::Svd)
        .fit_covariance(&cov_of(x.view()))
        .unwrap_err();
    assert!(
        matches!(err, StatsError::Setting { name: "method", .. }),
        "{err:?}"
    );
}
