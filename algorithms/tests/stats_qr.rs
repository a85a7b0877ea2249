//! QR and SVD of tables: R against XᵀX and NumPy, Q and U orthonormal and
//! reproducing X, singular values against the eigenvalues of XᵀX (a Jacobi
//! sweep here), errors for short and rank-deficient tables, and the same
//! bits on every executor and however the rows are cut into parts.

use ndarray::{s, Array2};
use shardkit::Executor;
use shardkit_algorithms::stats::{qr, svd, Qr, StatsError, Svd, Table, CHUNK_ROWS};
use shardkit_testkit::rng::Rng;

/// `n` × `d` rows: column `j` has spread `j + 1` around `j`, and column 1
/// leans on column 0 (so R is not diagonal).
fn data(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let mut x = Array2::from_shape_fn((n, d), |(_, j)| j as f64 + (j + 1) as f64 * rng.normal());
    for i in 0..n {
        x[[i, 1]] += 0.5 * x[[i, 0]];
    }
    x
}

/// Xᵀ·X by three loops.
fn gram(x: &Array2<f64>) -> Array2<f64> {
    let d = x.ncols();
    let mut g = Array2::zeros((d, d));
    for row in x.rows() {
        for a in 0..d {
            for b in 0..d {
                g[[a, b]] += row[a] * row[b];
            }
        }
    }
    g
}

/// The largest |a − b| over the largest |b|.
fn rel_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations
/// (descending).
fn jacobi_eigenvalues(a: &Array2<f64>) -> Vec<f64> {
    let mut a = a.clone();
    let n = a.nrows();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[[p, q]] == 0.0 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
            }
        }
    }
    let mut e: Vec<f64> = (0..n).map(|i| a[[i, i]]).collect();
    e.sort_by(|x, y| y.total_cmp(x));
    e
}

fn identity_error(m: &Array2<f64>) -> f64 {
    let g = m.t().dot(m);
    rel_diff(&g, &Array2::eye(m.ncols()))
}

#[test]
fn r_gives_the_gram_matrix_and_q_is_orthonormal() {
    let x = data(3 * CHUNK_ROWS + 777, 5, 1);
    let table = Table::rows(x.view()).unwrap();
    let f = qr(&table).unwrap();
    assert_eq!(f.rows, x.nrows() as u64);
    assert_eq!(f.r.dim(), (5, 5));
    for i in 0..5 {
        assert!(f.r[[i, i]] > 0.0, "diagonal {i}: {}", f.r[[i, i]]);
        for j in 0..i {
            assert_eq!(f.r[[i, j]], 0.0, "R is upper triangular");
        }
    }
    let err = rel_diff(&f.r.t().dot(&f.r), &gram(&x));
    assert!(err < 1e-10, "RᵀR vs XᵀX: {err:e}");

    let q = f.q(&table).unwrap();
    assert_eq!(q.dim(), x.dim());
    let orth = identity_error(&q);
    assert!(orth < 1e-12, "QᵀQ vs I: {orth:e}");
    let back = rel_diff(&q.dot(&f.r), &x);
    assert!(back < 1e-13, "Q·R vs X: {back:e}");
}

#[test]
fn r_matches_numpy() {
    let x = data(2 * CHUNK_ROWS + 99, 4, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    ndarray_npy::write_npy(&path, &x).unwrap();
    let code = format!(
        "import numpy as np\n\
         r = np.linalg.qr(np.load({}), mode='r')\n\
         r = r * np.sign(np.diag(r))[:, None]\n\
         print(' '.join(repr(float(v)) for v in r.ravel()))",
        shardkit_testkit::python::py_str(&path)
    );
    let Some(out) = shardkit_testkit::python::run_python(&code, &[]) else {
        return;
    };
    let values: Vec<f64> = out.split_whitespace().map(|v| v.parse().unwrap()).collect();
    let numpy = Array2::from_shape_vec((4, 4), values).unwrap();
    let f = qr(&Table::rows(x.view()).unwrap()).unwrap();
    let err = rel_diff(&f.r, &numpy);
    assert!(err < 1e-12, "R vs NumPy: {err:e}\n{}\n{numpy}", f.r);
}

#[test]
fn svd_gives_the_eigenvalues_of_the_gram_matrix() {
    let x = data(CHUNK_ROWS + 500, 5, 3);
    let table = Table::rows(x.view()).unwrap();
    let s = svd(&table).unwrap();
    let g = gram(&x);
    let eig = jacobi_eigenvalues(&g);
    for (i, (&sv, &e)) in s.singular_values.iter().zip(&eig).enumerate() {
        assert!(
            (sv * sv - e).abs() <= 1e-10 * eig[0],
            "σ{i}² = {} vs eigenvalue {e}",
            sv * sv
        );
    }
    assert!(s
        .singular_values
        .windows(2)
        .into_iter()
        .all(|w| w[0] >= w[1]));
    // Each row of Vᵀ is an eigenvector of XᵀX, its largest entry positive.
    for (i, v) in s.vt.rows().into_iter().enumerate() {
        let gv = g.dot(&v);
        let lambda = s.singular_values[i].powi(2);
        let resid = (&gv - &(lambda * &v))
            .iter()
            .fold(0.0f64, |m, e| m.max(e.abs()));
        assert!(resid <= 1e-9 * eig[0], "vector {i}: residual {resid:e}");
        let big = v
            .iter()
            .copied()
            .fold(0.0f64, |m, e| if e.abs() > m.abs() { e } else { m });
        assert!(big > 0.0, "vector {i}: largest entry {big}");
    }
    assert!(identity_error(&s.vt.t().to_owned()) < 1e-13);
    // U = X·V·Σ⁻¹ is orthonormal and U·Σ·Vᵀ = X.
    let u = s.left_vectors(&table).unwrap();
    assert!(identity_error(&u) < 1e-12);
    let us = &u * &s.singular_values;
    assert!(rel_diff(&us.dot(&s.vt), &x) < 1e-12);
}

#[test]
fn same_bits_on_every_executor() {
    let x = data(4 * CHUNK_ROWS + 321, 6, 4);
    let parts = [
        x.slice(s![..5000, ..]),
        x.slice(s![5000..6000, ..]),
        x.slice(s![6000.., ..]),
    ];
    let table = Table::parts(&parts).unwrap();
    let run = || {
        let f = qr(&table).unwrap();
        let q = f.q(&table).unwrap();
        let s = f.svd().unwrap();
        let u = s.left_vectors(&table).unwrap();
        (f, q, s, u)
    };
    let serial = Executor::serial().install(run);
    for threads in [1, 2, 3] {
        let on = Executor::threads(threads).unwrap().install(run);
        assert_eq!(on.0, serial.0, "R on {threads} threads");
        assert_eq!(on.1, serial.1, "Q on {threads} threads");
        assert_eq!(on.2, serial.2, "SVD on {threads} threads");
        assert_eq!(on.3, serial.3, "U on {threads} threads");
    }
    // A local table on one process is the same table.
    let local = Table::parts(&parts).unwrap().local();
    let f = qr(&local).unwrap();
    assert_eq!(f, serial.0, "local R");
    assert_eq!(f.q(&local).unwrap(), serial.1, "local Q");
}

#[test]
fn parts_cut_on_chunk_boundaries_give_one_parts_bits() {
    let x = data(2 * CHUNK_ROWS + 100, 4, 5);
    let one = Table::rows(x.view()).unwrap();
    let cut = [
        x.slice(s![..CHUNK_ROWS, ..]),
        x.slice(s![CHUNK_ROWS..2 * CHUNK_ROWS, ..]),
        x.slice(s![2 * CHUNK_ROWS.., ..]),
    ];
    let cut = Table::parts(&cut).unwrap();
    let (a, b) = (qr(&one).unwrap(), qr(&cut).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.q(&one).unwrap(), b.q(&cut).unwrap());
    // Cut elsewhere, the tree differs: equal to rounding, not in bits.
    let other = [x.slice(s![..1000, ..]), x.slice(s![1000.., ..])];
    let c = qr(&Table::parts(&other).unwrap()).unwrap();
    assert!(rel_diff(&c.r, &a.r) < 1e-13);
}

#[test]
fn fewer_rows_than_columns_is_refused() {
    let x = data(3, 4, 6);
    let err = qr(&Table::rows(x.view()).unwrap()).unwrap_err();
    assert!(
        matches!(
            &err,
            StatsError::TooFewRows {
                needed: 4,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "a QR factorisation of 4 columns needs at least 4 rows, but the table has 3"
    );
    assert!(matches!(
        svd(&Table::rows(x.view()).unwrap()),
        Err(StatsError::TooFewRows { .. })
    ));
}

#[test]
fn rank_deficient_tables_have_r_but_no_q() {
    let mut x = data(500, 4, 7);
    for i in 0..500 {
        x[[i, 2]] = 2.0 * x[[i, 0]] - 3.0 * x[[i, 1]];
    }
    let table = Table::rows(x.view()).unwrap();
    let f = qr(&table).unwrap();
    // R still gives XᵀX.
    assert!(rel_diff(&f.r.t().dot(&f.r), &gram(&x)) < 1e-12);
    let err = f.q(&table).unwrap_err();
    assert!(matches!(err, StatsError::RankDeficient { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("column 3 is (numerically) a linear combination"),
        "{err}"
    );
    let s = f.svd().unwrap();
    assert!(s.singular_values[3] < 1e-10 * s.singular_values[0]);
    let err = s.left_vectors(&table).unwrap_err();
    assert!(err.to_string().contains("singular value 4 of 4"), "{err}");
}

#[test]
fn q_of_a_table_of_other_columns_is_refused() {
    let x = data(100, 3, 8);
    let f = qr(&Table::rows(x.view()).unwrap()).unwrap();
    let y = data(100, 4, 8);
    let err = f.q(&Table::rows(y.view()).unwrap()).unwrap_err();
    assert!(matches!(err, StatsError::Mismatch(_)), "{err:?}");
}

#[test]
fn results_save_and_load() {
    let x = data(300, 3, 9);
    let f = qr(&Table::rows(x.view()).unwrap()).unwrap();
    let s = f.svd().unwrap();
    let dir = tempfile::tempdir().unwrap();
    f.save(dir.path().join("qr.npz")).unwrap();
    s.save(dir.path().join("svd.npz")).unwrap();
    assert_eq!(Qr::load(dir.path().join("qr.npz")).unwrap(), f);
    assert_eq!(Svd::load(dir.path().join("svd.npz")).unwrap(), s);
    // A file without R says so.
    let err = Qr::load(dir.path().join("svd.npz")).unwrap_err();
    assert!(err.to_string().contains("r"), "{err}");
}

/// A user's own pass: one factorisation per batch, merged by `Reduce`.
#[shardkit::parallelize(split = "batches", reduce = "sum", block_size = 1)]
fn qr_per_batch(batches: &[Array2<f64>]) -> Qr {
    qr(&Table::rows(batches[0].view()).unwrap()).unwrap()
}

#[test]
fn factorisations_of_batches_merge_into_the_whole_tables() {
    let x = data(3000, 6, 41);
    let whole = qr(&Table::rows(x.view()).unwrap()).unwrap();
    let mut first = qr(&Table::rows(x.slice(s![..1000, ..])).unwrap()).unwrap();
    first
        .merge(qr(&Table::rows(x.slice(s![1000.., ..])).unwrap()).unwrap())
        .unwrap();
    assert_eq!(first.rows, 3000);
    assert!(rel_diff(&first.r, &whole.r) < 1e-12);
    // Its SVD is the whole table's.
    let (a, b) = (first.svd().unwrap(), whole.svd().unwrap());
    for (p, q) in a.singular_values.iter().zip(&b.singular_values) {
        assert!((p - q).abs() <= 1e-12 * q, "{p} vs {q}");
    }
    // As `Reduce`: the same bits on 1 and 3 threads, R of all the rows.
    let batches: Vec<Array2<f64>> = (0..3)
        .map(|i| x.slice(s![i * 1000..(i + 1) * 1000, ..]).to_owned())
        .collect();
    let serial = Executor::serial().install(|| qr_per_batch(&batches));
    let pool = Executor::threads(3).unwrap();
    assert_eq!(pool.install(|| qr_per_batch(&batches)), serial);
    assert!(rel_diff(&serial.r, &whole.r) < 1e-12);
    // Other widths do not merge.
    let narrow = qr(&Table::rows(x.slice(s![.., ..3])).unwrap()).unwrap();
    assert!(matches!(first.merge(narrow), Err(StatsError::Mismatch(_))));
}
