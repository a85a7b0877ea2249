//! Tables and low-order moments: the reader's errors, the moments against a
//! naive loop and NumPy, data far from zero, streaming, and the same bits
//! on every executor and however the rows are cut into parts.

use ndarray::{s, Array1, Array2, Axis};
use shardkit::Executor;
use shardkit_algorithms::stats::{
    covariance, low_order_moments, CovariancePartial, Header, Moments, MomentsPartial, StatsError,
    Table, TableError, TableOptions, CHUNK_ROWS,
};
use shardkit_testkit::rng::Rng;

/// `n` × `d` rows, column `j` centred on `offset + j` with spread `j + 1`.
fn data(n: usize, d: usize, offset: f64, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((n, d), |(_, j)| {
        offset + j as f64 + (j + 1) as f64 * rng.normal()
    })
}

/// Moments by the textbook: two passes, left to right.
fn naive(x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
    let n = x.nrows() as f64;
    let mean = x.sum_axis(Axis(0)) / n;
    let mut var = Array1::zeros(x.ncols());
    for row in x.rows() {
        for j in 0..x.ncols() {
            var[j] += (row[j] - mean[j]).powi(2);
        }
    }
    (mean, var / (n - 1.0))
}

fn close(a: &Array1<f64>, b: &Array1<f64>, rel: f64) {
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= rel * y.abs().max(1e-300),
            "{x} vs {y} (rel {rel})\n{a}\n{b}"
        );
    }
}

#[test]
fn moments_match_a_naive_computation() {
    let x = data(10_000, 7, 3.0, 1);
    let m = low_order_moments(&Table::rows(x.view()).unwrap()).unwrap();
    let (mean, var) = naive(&x);
    assert_eq!(m.rows, 10_000);
    close(&m.mean, &mean, 1e-13);
    close(&m.variance, &var, 1e-12);
    close(&m.standard_deviation, &var.mapv(f64::sqrt), 1e-12);
    close(&m.sum, &x.sum_axis(Axis(0)), 1e-13);
    close(&m.sum_squares, &x.mapv(|v| v * v).sum_axis(Axis(0)), 1e-13);
    close(
        &m.second_order_raw_moment,
        &(x.mapv(|v| v * v).sum_axis(Axis(0)) / 10_000.0),
        1e-13,
    );
    close(&m.variation, &(var.mapv(f64::sqrt) / &mean), 1e-12);
    close(&m.sum_squares_centered, &(&var * 9_999.0), 1e-12);
    for j in 0..7 {
        let col = x.column(j);
        assert_eq!(m.minimum[j], col.fold(f64::INFINITY, |a, &b| a.min(b)));
        assert_eq!(m.maximum[j], col.fold(f64::NEG_INFINITY, |a, &b| a.max(b)));
    }
}

#[test]
fn data_far_from_zero_keeps_its_variance() {
    // 1e8 ± 1: Σx²/n − mean² in f64 would lose every digit of the variance
    // (mean² = 1e16, one ulp of which is 2).
    let x = data(50_000, 3, 1e8, 2);
    let m = low_order_moments(&Table::rows(x.view()).unwrap()).unwrap();
    // The reference takes the offset out first, exactly (1e8 and the
    // values are representable; x − 1e8 rounds once).
    let (mean, var) = naive(&(&x - 1e8));
    close(&m.mean, &(mean + 1e8), 1e-15);
    close(&m.variance, &var, 1e-9);
}

#[test]
fn same_bits_on_every_executor_and_however_the_parts_fall() {
    let x = data(5 * CHUNK_ROWS + 123, 5, -2.0, 3);
    let one = Table::rows(x.view()).unwrap();
    let serial = Executor::serial().install(|| low_order_moments(&one).unwrap());
    for threads in 1..=3 {
        let pool = Executor::threads(threads).unwrap();
        assert_eq!(pool.install(|| low_order_moments(&one).unwrap()), serial);
        let local = one.clone().local();
        assert_eq!(pool.install(|| low_order_moments(&local).unwrap()), serial);
    }
    // Parts cut on chunk boundaries are the same chunks.
    let cut = 2 * CHUNK_ROWS;
    let parts = [x.slice(s![..cut, ..]), x.slice(s![cut.., ..])];
    let two = Table::parts(&parts).unwrap();
    assert_eq!(low_order_moments(&two).unwrap(), serial);
}

#[test]
fn streaming_partials_merge_save_and_load() {
    let x = data(3000, 4, 50.0, 4);
    let all = low_order_moments(&Table::rows(x.view()).unwrap()).unwrap();
    let mut first = MomentsPartial::of(&Table::rows(x.slice(s![..1000, ..])).unwrap()).unwrap();
    let second = MomentsPartial::of(&Table::rows(x.slice(s![1000.., ..])).unwrap()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("second.npz");
    second.save(&path).unwrap();
    let loaded = MomentsPartial::load(&path).unwrap();
    assert_eq!(loaded, second);

    first.merge(loaded).unwrap();
    let streamed = first.finish().unwrap();
    assert_eq!(streamed.rows, all.rows);
    assert_eq!(streamed.minimum, all.minimum);
    assert_eq!(streamed.maximum, all.maximum);
    close(&streamed.mean, &all.mean, 1e-14);
    close(&streamed.variance, &all.variance, 1e-12);

    let other = MomentsPartial::of(&Table::rows(x.slice(s![.., ..3])).unwrap()).unwrap();
    let err = first.merge(other).unwrap_err();
    assert!(matches!(err, StatsError::Mismatch(_)), "{err}");
    assert!(
        err.to_string().contains("4 columns and of 3 columns"),
        "{err}"
    );
}

#[test]
fn moments_save_as_npz_that_numpy_reads() {
    let x = data(500, 3, 1.0, 5);
    let m = low_order_moments(&Table::rows(x.view()).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moments.npz");
    m.save(&path).unwrap();
    let mut npz = shardkit_algorithms::npz::NpzReader::open(&path).unwrap();
    let mean: Array1<f64> = npz.read("mean").unwrap();
    assert_eq!(mean, m.mean);
    let rows: Array1<f64> = npz.read("rows").unwrap();
    assert_eq!(rows[0], 500.0);
}

#[test]
fn numpy_agrees_when_present() {
    let x = data(2000, 4, 10.0, 6);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.npy");
    shardkit_algorithms::features::write_npy(&input, &x.mapv(|v| v as f32)).unwrap();
    // Read back through the table reader, as float32 widened exactly.
    let t = Table::read(&[&input], &TableOptions::new()).unwrap();
    let m: Moments = low_order_moments(&t).unwrap();
    let code = format!(
        "import numpy as np\nx = np.load({}).astype(np.float64)\n\
         for a in (x.mean(0), x.var(0, ddof=1), x.min(0), x.max(0)):\n    print(' '.join(repr(float(v)) for v in a))",
        shardkit_testkit::py_str(&input)
    );
    let Some(out) = shardkit_testkit::run_python(&code, &["numpy"]) else {
        eprintln!("note: no python3 with numpy: the NumPy cross-check is skipped");
        return;
    };
    let rows: Vec<Array1<f64>> = out
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    close(&m.mean, &rows[0], 1e-13);
    close(&m.variance, &rows[1], 1e-11);
    assert_eq!(m.minimum, rows[2]);
    assert_eq!(m.maximum, rows[3]);
}

#[test]
fn csv_files_are_read_with_or_without_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, "x,y\n1,2\n3,4\n").unwrap();
    std::fs::write(&b, "# a comment\n5 , 6e0\n\n7,8\n").unwrap();
    let t = Table::read(&[&a, &b], &TableOptions::new()).unwrap();
    assert_eq!((t.nrows(), t.ncols(), t.num_parts()), (4, 2, 2));
    assert_eq!(t.column_names().unwrap(), ["x", "y"]);
    assert_eq!(
        t.to_array().into_owned(),
        ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    );
    // A numeric first line is data unless told otherwise.
    let t = Table::read(&[&b], &TableOptions::new().header(Header::Present)).unwrap();
    assert_eq!(t.nrows(), 1);
    let tab = dir.path().join("t.txt");
    std::fs::write(&tab, "1\t2\n3\t4\n").unwrap();
    let t = Table::read(&[&tab], &TableOptions::new().delimiter(b'\t')).unwrap();
    assert_eq!(t.nrows(), 2);
}

/// The message of reading `text` as a CSV file named `bad.csv`.
fn csv_error(text: &str, options: &TableOptions) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, text).unwrap();
    let err = Table::read(&[&path], options).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("bad.csv"), "{message}");
    message.rsplit("bad.csv: ").next().unwrap().to_string()
}

#[test]
fn bad_tables_are_refused_naming_file_line_and_column() {
    let o = TableOptions::new();
    assert_eq!(
        csv_error("a,b\n1,2\n3,x\n", &o),
        "line 3, column 2: \"x\" is not a number"
    );
    assert_eq!(
        csv_error("1,2\n3\n", &o),
        "line 2 has 1 cells, but the first line has 2"
    );
    assert_eq!(
        csv_error("1,2\n3,nan\n", &o),
        "row 2, column 2: NaN is not a finite number"
    );
    assert!(
        csv_error("1,2e20\n", &o).starts_with("row 1, column 2: 2e20 is larger in magnitude than")
    );
    assert_eq!(csv_error("a,b\n", &o), "holds no rows");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.csv");
    std::fs::write(&big, "1,2e20\n").unwrap();
    // A limit above 2^35 could overflow the exact sums: refused, not a
    // panic later; at 2^35 the largest values sum exactly.
    let e = Table::read(&[&big], &o.clone().max_magnitude(1e21)).unwrap_err();
    assert!(
        e.to_string()
            .contains("max_magnitude(1e21) is not a number in (0, 2^35]"),
        "{e}"
    );
    assert!(Table::read(&[&big], &o.clone().max_magnitude(f64::NAN)).is_err());
    let most = shardkit_algorithms::stats::MOST_MAGNITUDE;
    let extreme = Array2::from_shape_fn((3 * 4096 + 7, 2), |(i, j)| {
        if (i + j) % 2 == 0 {
            most
        } else {
            -most
        }
    });
    let table = Table::parts_with(&[extreme.view()], &o.clone().max_magnitude(most)).unwrap();
    let m = shardkit_algorithms::stats::low_order_moments(&table).unwrap();
    assert!(m.maximum.iter().all(|&v| v == most) && m.minimum.iter().all(|&v| v == -most));
    let c = shardkit_algorithms::stats::covariance(&table).unwrap();
    assert!(c.covariance.iter().all(|v| v.is_finite()));

    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, "1,2\n").unwrap();
    std::fs::write(&b, "1,2,3\n").unwrap();
    let err = Table::read(&[&a, &b], &o).unwrap_err();
    assert!(
        matches!(
            err,
            TableError::Columns {
                found: 3,
                expected: 2,
                ..
            }
        ),
        "{err}"
    );
    let other = dir.path().join("x.parquet");
    std::fs::write(&other, "").unwrap();
    assert!(Table::read(&[&other], &o)
        .unwrap_err()
        .to_string()
        .contains("unknown table format"));
    let missing = dir.path().join("missing.npy");
    assert!(Table::read(&[&missing], &o).is_err());

    // Too few rows for a variance, and no rows at all.
    let one = Array2::<f64>::ones((1, 2));
    let err = low_order_moments(&Table::rows(one.view()).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            StatsError::TooFewRows {
                needed: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    let none = Array2::<f64>::zeros((0, 2));
    let err = low_order_moments(&Table::rows(none.view()).unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "the table has no rows");
}

/// A user's own pass: one partial per batch of rows, merged by `Reduce`.
#[shardkit::parallelize(split = "batches", reduce = "sum", block_size = 1)]
fn per_batch(batches: &[Array2<f64>]) -> (MomentsPartial, CovariancePartial) {
    let table = Table::rows(batches[0].view()).unwrap();
    (
        MomentsPartial::of(&table).unwrap(),
        CovariancePartial::of(&table).unwrap(),
    )
}

#[test]
fn partials_merge_as_reduce_in_a_users_own_pass() {
    let x = data(3000, 4, 1e6, 7);
    let batches: Vec<Array2<f64>> = (0..5)
        .map(|i| x.slice(s![i * 600..(i + 1) * 600, ..]).to_owned())
        .collect();
    let (m, c) = Executor::serial().install(|| per_batch(&batches));
    for threads in 2..=3 {
        let pool = Executor::threads(threads).unwrap();
        assert_eq!(pool.install(|| per_batch(&batches)), (m.clone(), c.clone()));
    }
    let table = Table::rows(x.view()).unwrap();
    let all = low_order_moments(&table).unwrap();
    let streamed = m.finish().unwrap();
    assert_eq!(streamed.rows, 3000);
    assert_eq!(streamed.minimum, all.minimum);
    close(&streamed.mean, &all.mean, 1e-15);
    close(&streamed.variance, &all.variance, 1e-10);
    let cov = covariance(&table).unwrap();
    let merged = c.finish().unwrap();
    for (a, b) in merged.covariance.iter().zip(&cov.covariance) {
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
}
