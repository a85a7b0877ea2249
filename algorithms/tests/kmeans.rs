//! k-means: against a naive f64 implementation, determinism across thread
//! counts, rows against files, initialisations, empty clusters, errors.

use std::path::PathBuf;

use ndarray::{array, s, Array1, Array2, ArrayView2, Axis};
use proptest::prelude::*;
use shardkit::Executor;
use shardkit_algorithms::features::{write_npy, FeatureError};
use shardkit_algorithms::frames::{Frames, FramesError};
use shardkit_algorithms::kmeans::{Init, KMeans, KMeansError, KMeansModel, KMeansParamsError};

/// Deterministic pseudo-random numbers for test data.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal: the sum of four uniforms, centred.
    fn normal(&mut self) -> f64 {
        (self.next() + self.next() + self.next() + self.next() - 2.0) * 1.7
    }
}

fn uniform(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut g = Gen(seed);
    Array2::from_shape_fn((n, d), |_| (g.next() * 10.0 - 5.0) as f32)
}

/// `n` points in `centres.len()` blobs of spread `spread`; point `i` is in
/// blob `i % blobs`.
fn blobs(n: usize, centres: &Array2<f64>, spread: f64, seed: u64) -> Array2<f32> {
    let mut g = Gen(seed);
    let k = centres.nrows();
    Array2::from_shape_fn((n, centres.ncols()), |(i, j)| {
        (centres[(i % k, j)] + spread * g.normal()) as f32
    })
}

/// Plain-loop f64 Lloyd: the reference. Returns labels of each iteration's
/// assignment, the inertia of each, and the final centroids.
fn naive_lloyd(
    x: ArrayView2<f32>,
    init: &Array2<f64>,
    iters: usize,
) -> (Vec<Vec<usize>>, Vec<f64>, Array2<f64>) {
    let (n, d) = x.dim();
    let k = init.nrows();
    let mut c = init.clone();
    let mut all_labels = Vec::new();
    let mut inertia = Vec::new();
    for _ in 0..iters {
        let mut labels = vec![0; n];
        let mut total = 0.0;
        for i in 0..n {
            let mut best = f64::INFINITY;
            for j in 0..k {
                let mut dist = 0.0;
                for t in 0..d {
                    let diff = f64::from(x[(i, t)]) - c[(j, t)];
                    dist += diff * diff;
                }
                if dist < best {
                    best = dist;
                    labels[i] = j;
                }
            }
            total += best;
        }
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = vec![0usize; k];
        for i in 0..n {
            counts[labels[i]] += 1;
            for t in 0..d {
                sums[(labels[i], t)] += f64::from(x[(i, t)]);
            }
        }
        for j in 0..k {
            assert!(counts[j] > 0, "reference data must not empty a cluster");
            for t in 0..d {
                c[(j, t)] = sums[(j, t)] / counts[j] as f64;
            }
        }
        all_labels.push(labels);
        inertia.push(total);
    }
    (all_labels, inertia, c)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

fn bits(m: &KMeansModel) -> (Vec<u64>, Vec<u64>) {
    (
        m.centroids().iter().map(|v| v.to_bits()).collect(),
        m.inertia().iter().map(|v| v.to_bits()).collect(),
    )
}

#[test]
fn matches_naive_f64_lloyd_from_the_same_init() {
    for (n, d, k, seed) in [(500, 3, 4, 1), (1200, 13, 9, 2), (3000, 60, 16, 3)] {
        let x = uniform(n, d, seed);
        let init: Array2<f64> = x.slice(s![..k, ..]).mapv(f64::from);
        let iters = 6;
        let model = KMeans::new(k)
            .init(Init::Given(init.clone()))
            .max_iter(iters)
            .tol(0.0)
            .fit(&Frames::rows(x.view()))
            .unwrap();
        assert_eq!(model.iterations(), iters, "n={n}: ran every iteration");
        let (labels, inertia, centroids) = naive_lloyd(x.view(), &init, iters);
        for (ours, theirs) in model.inertia().iter().zip(&inertia) {
            assert!(close(*ours, *theirs, 1e-9), "inertia {ours} vs {theirs}");
        }
        for (a, b) in model.centroids().iter().zip(&centroids) {
            assert!(
                close(*a, *b, 1e-6) || (a - b).abs() < 1e-9,
                "centroid {a} vs {b}"
            );
        }
        // The model's assignment of the data is the reference's next one.
        let (next, _, _) = naive_lloyd(x.view(), &centroids, 1);
        let predicted = model.predict(x.view()).unwrap();
        let ours: Vec<usize> = predicted.iter().map(|&l| l as usize).collect();
        assert_eq!(ours, next[0], "n={n}: same assignments");
        assert_eq!(labels.len(), iters);
    }
}

#[test]
fn same_bits_on_one_two_and_three_threads() {
    let x = uniform(6000, 7, 11);
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(&x, dir.path(), &[700, 1300, 1, 2000, 1999]);
    for init in [Init::PlusPlus, Init::parallel()] {
        let params = KMeans::new(12)
            .init(init.clone())
            .seed(5)
            .max_iter(8)
            .tol(0.0);
        let serial = Executor::serial()
            .install(|| params.fit(&Frames::rows(x.view())))
            .unwrap();
        let serial_files = Executor::serial()
            .install(|| params.fit(&Frames::files(&files).expect_dim(7)))
            .unwrap();
        for threads in 1..=3 {
            let pool = Executor::threads(threads).unwrap();
            let m = pool
                .install(|| params.fit(&Frames::rows(x.view())))
                .unwrap();
            assert_eq!(
                bits(&m),
                bits(&serial),
                "{init:?} rows on {threads} threads"
            );
            let f = pool
                .install(|| params.fit(&Frames::files(&files).expect_dim(7)))
                .unwrap();
            assert_eq!(
                bits(&f),
                bits(&serial_files),
                "{init:?} files on {threads} threads"
            );
        }
    }
}

/// `Frames::local` on one process (no MPI): the same fit, bit for bit, as
/// the same frames without it, for rows, segments in memory and files, with
/// each initialisation and with empty clusters re-seeded; on 1, 2 and 3
/// threads.
#[test]
fn local_frames_on_one_process_are_the_same_frames() {
    let x = uniform(3000, 5, 41);
    let dir = tempfile::tempdir().unwrap();
    let sizes = [700, 900, 1, 1399];
    let files = write_files(&x, dir.path(), &sizes);
    let mut at = 0;
    let parts: Vec<ArrayView2<f32>> = sizes
        .iter()
        .map(|&n| {
            at += n;
            x.slice(s![at - n..at, ..])
        })
        .collect();
    // Far-away initial centroids leave clusters empty in the first
    // iteration: the farthest points re-seed them.
    let far = Array2::from_shape_fn(
        (6, 5),
        |(i, j)| if i < 2 { j as f64 } else { 1e3 + i as f64 },
    );
    for init in [Init::PlusPlus, Init::parallel(), Init::Given(far)] {
        let params = KMeans::new(6)
            .init(init.clone())
            .seed(3)
            .max_iter(6)
            .tol(0.0);
        let kinds: [(&str, Frames); 3] = [
            ("rows", Frames::rows(x.view())),
            ("segments", Frames::segments(&parts)),
            ("files", Frames::files(&files).expect_dim(5)),
        ];
        for (kind, frames) in kinds {
            assert!(!frames.is_local() && frames.local().is_local());
            let same = Executor::serial().install(|| params.fit(&frames)).unwrap();
            for threads in 1..=3 {
                let pool = Executor::threads(threads).unwrap();
                let local = pool.install(|| params.fit(&frames.local())).unwrap();
                assert_eq!(
                    bits(&local),
                    bits(&same),
                    "{init:?} {kind} on {threads} threads"
                );
                assert_eq!(local.iterations(), same.iterations());
                let first = pool
                    .install(|| params.initial_centroids(&frames.local()))
                    .unwrap();
                assert_eq!(first, params.initial_centroids(&frames).unwrap());
            }
        }
    }
}

/// Errors of local frames are those of the same frames: a bad file is
/// named, and no data at all is refused.
#[test]
fn local_frames_report_what_the_same_frames_report() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    let bad = dir.path().join("bad.npy");
    write_npy(&good, &uniform(50, 3, 1)).unwrap();
    let mut nan = uniform(50, 3, 2);
    nan[(7, 1)] = f32::NAN;
    write_npy(&bad, &nan).unwrap();
    let files = vec![good.clone(), bad];
    let params = KMeans::new(2).seed(1);
    let same = params.fit(&Frames::files(&files)).unwrap_err().to_string();
    let local = params
        .fit(&Frames::files(&files).local())
        .unwrap_err()
        .to_string();
    assert!(local.contains("bad.npy"), "{local}");
    assert_eq!(local, same);
    let none: Vec<PathBuf> = Vec::new();
    let err = params.fit(&Frames::files(&none).local()).unwrap_err();
    assert!(matches!(err, KMeansError::NoData { .. }), "{err}");
    let empty = Array2::<f32>::zeros((0, 3));
    let err = params.fit(&Frames::rows(empty.view()).local()).unwrap_err();
    assert!(matches!(err, KMeansError::NoData { .. }), "{err}");
    // A non-finite row in memory is named by its row, as without `local`.
    let same = params
        .fit(&Frames::rows(nan.view()))
        .unwrap_err()
        .to_string();
    let local = params
        .fit(&Frames::rows(nan.view()).local())
        .unwrap_err()
        .to_string();
    assert_eq!(local, same);
}

fn write_files(x: &Array2<f32>, dir: &std::path::Path, sizes: &[usize]) -> Vec<PathBuf> {
    assert_eq!(sizes.iter().sum::<usize>(), x.nrows());
    let mut at = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let p = dir.join(format!("part{i}.npy"));
            write_npy(&p, &x.slice(s![at..at + n, ..])).unwrap();
            at += n;
            p
        })
        .collect()
}

#[test]
fn files_give_what_rows_give() {
    let x = uniform(4000, 5, 21);
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(&x, dir.path(), &[1000, 333, 2000, 667]);
    for init in [
        Init::Given(x.slice(s![..10, ..]).mapv(f64::from)),
        Init::PlusPlus,
        Init::parallel(),
    ] {
        let params = KMeans::new(10)
            .init(init.clone())
            .seed(9)
            .max_iter(10)
            .tol(0.0);
        let rows = params.fit(&Frames::rows(x.view())).unwrap();
        let from_files = params.fit(&Frames::files(&files).expect_dim(5)).unwrap();
        assert_eq!(rows.iterations(), from_files.iterations());
        for (a, b) in rows.inertia().iter().zip(from_files.inertia()) {
            assert!(close(*a, b, 1e-12), "{init:?}: inertia {a} vs {b}");
        }
        for (a, b) in rows.centroids().iter().zip(from_files.centroids()) {
            assert!(
                close(*a, *b, 1e-12) || (a - b).abs() < 1e-12,
                "{init:?}: {a} vs {b}"
            );
        }
        assert_eq!(
            rows.predict(x.view()).unwrap(),
            from_files.predict(x.view()).unwrap()
        );
    }
}

#[test]
fn well_separated_blobs_are_recovered() {
    let centres = array![
        [0.0, 0.0, 0.0],
        [20.0, 0.0, 0.0],
        [0.0, 20.0, 0.0],
        [0.0, 0.0, 20.0],
        [20.0, 20.0, 20.0]
    ];
    let x = blobs(2500, &centres, 1.0, 4);
    for init in [Init::PlusPlus, Init::parallel()] {
        for seed in 0..4 {
            let model = KMeans::new(5)
                .init(init.clone())
                .seed(seed)
                .fit(&Frames::rows(x.view()))
                .unwrap();
            assert!(model.converged());
            let labels = model.predict(x.view()).unwrap();
            let mut seen = [usize::MAX; 5];
            for (i, &l) in labels.iter().enumerate() {
                let blob = i % 5;
                if seen[blob] == usize::MAX {
                    seen[blob] = l as usize;
                }
                assert_eq!(seen[blob], l as usize, "{init:?} seed {seed}: point {i}");
            }
            let mut distinct = seen.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(
                distinct.len(),
                5,
                "{init:?} seed {seed}: one cluster per blob"
            );
            for (blob, &l) in seen.iter().enumerate() {
                let c = model.centroids().row(l);
                let err = (&c - &centres.row(blob)).mapv(|v| v * v).sum().sqrt();
                assert!(
                    err < 0.2,
                    "{init:?} seed {seed}: centroid {blob} off by {err}"
                );
            }
        }
    }
}

#[test]
fn inits_are_seeded() {
    let x = uniform(3000, 4, 8);
    for init in [Init::PlusPlus, Init::parallel()] {
        let a = KMeans::new(20).init(init.clone()).seed(1);
        let first = a.initial_centroids(&Frames::rows(x.view())).unwrap();
        assert_eq!(first, a.initial_centroids(&Frames::rows(x.view())).unwrap());
        let other = a
            .clone()
            .seed(2)
            .initial_centroids(&Frames::rows(x.view()))
            .unwrap();
        assert_ne!(first, other, "{init:?}: another seed, other centroids");
        // Initial centroids are rows of the data, all different here.
        for c in first.rows() {
            assert!(x.rows().into_iter().any(|r| r.mapv(f64::from) == c));
        }
        let mut rows: Vec<Vec<u64>> = first
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        rows.sort();
        rows.dedup();
        assert_eq!(rows.len(), 20);
    }
}

#[test]
fn plus_plus_inits_beat_random_rows() {
    // Greedy k-means++ and k-means|| start far better than the first rows.
    let centres = Array2::from_shape_fn((12, 4), |(i, j)| ((i * 7 + j * 3) % 12) as f64 * 8.0);
    let x = blobs(6000, &centres, 0.5, 6);
    let first_iteration = |init: Init| {
        KMeans::new(12)
            .init(init)
            .seed(3)
            .max_iter(1)
            .fit(&Frames::rows(x.view()))
            .unwrap()
            .inertia()[0]
    };
    let naive = first_iteration(Init::Given(
        x.slice(s![..12, ..]).mapv(|v| f64::from(v) + 0.5),
    ));
    let pp = first_iteration(Init::PlusPlus);
    let par = first_iteration(Init::parallel());
    assert!(
        pp < naive && par < naive,
        "++ {pp}, || {par}, first rows {naive}"
    );
    let floor = 6000.0 * 4.0 * (0.5f64 * 1.7).powi(2) * 4.0 / 12.0; // about the blobs' own spread
    assert!(
        pp < 3.0 * floor && par < 3.0 * floor,
        "++ {pp}, || {par}, floor {floor}"
    );
}

#[test]
fn empty_clusters_take_the_farthest_points_deterministically() {
    // Two tight groups and a centroid far from everything: it gets no point
    // in the first iteration and is re-seeded with the point farthest from
    // its centroid.
    let mut x = blobs(900, &array![[0.0, 0.0], [10.0, 0.0]], 0.3, 2);
    x.row_mut(123).assign(&array![5.0f32, 3.0]); // the outlier of blob 0
    let init = array![[0.0, 0.0], [10.0, 0.0], [1000.0, 1000.0]];
    let params = KMeans::new(3)
        .init(Init::Given(init.clone()))
        .max_iter(5)
        .tol(0.0);
    let model = params.fit(&Frames::rows(x.view())).unwrap();
    assert_eq!(model.history()[0].reseeded, 1);
    assert!(model.history()[1..].iter().all(|it| it.reseeded == 0));
    // After the first update, centroid 2 was the outlier; the outlier then
    // forms its own cluster.
    let labels = model.predict(x.view()).unwrap();
    assert_eq!(labels.iter().filter(|&&l| l == labels[123]).count(), 1);
    assert_eq!(
        model.centroids().row(labels[123] as usize),
        array![5.0, 3.0]
    );
    let first = KMeans::new(3)
        .init(Init::Given(init))
        .max_iter(1)
        .tol(0.0)
        .fit(&Frames::rows(x.view()))
        .unwrap();
    assert_eq!(first.centroids().row(2), array![5.0, 3.0]);
    for threads in 1..=3 {
        let again = Executor::threads(threads)
            .unwrap()
            .install(|| params.fit(&Frames::rows(x.view())))
            .unwrap();
        assert_eq!(bits(&again), bits(&model));
    }
}

#[test]
fn several_empty_clusters_take_distinct_points_in_order() {
    let x = uniform(400, 2, 31);
    // Clusters 1 and 3 start far away; they take the two farthest points.
    let init = array![[0.0, 0.0], [500.0, 500.0], [1.0, 1.0], [-500.0, 500.0]];
    let m = KMeans::new(4)
        .init(Init::Given(init.clone()))
        .max_iter(1)
        .fit(&Frames::rows(x.view()))
        .unwrap();
    assert_eq!(m.history()[0].reseeded, 2);
    // The reference: distances of each point to its nearest of clusters 0, 2.
    let mut d: Vec<(f64, usize)> = x
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let dist = |c: usize| {
                (0..2)
                    .map(|t| (f64::from(r[t]) - init[(c, t)]).powi(2))
                    .sum::<f64>()
            };
            (dist(0).min(dist(2)), i)
        })
        .collect();
    d.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(m.centroids().row(1), x.row(d[0].1).mapv(f64::from));
    assert_eq!(m.centroids().row(3), x.row(d[1].1).mapv(f64::from));
}

#[test]
fn duplicate_points_and_k_equal_n() {
    // Fewer distinct points than clusters: a fit still ends, with
    // duplicated centroids, and never panics.
    let x = Array2::from_shape_fn((10, 2), |(i, j)| ((i % 2) * 3 + j) as f32);
    for init in [Init::PlusPlus, Init::parallel()] {
        let m = KMeans::new(4)
            .init(init.clone())
            .fit(&Frames::rows(x.view()))
            .unwrap();
        assert_eq!(m.clusters(), 4);
        assert_eq!(*m.inertia().last().unwrap(), 0.0, "{init:?}");
    }
    let x = uniform(7, 3, 1);
    let m = KMeans::new(7).fit(&Frames::rows(x.view())).unwrap();
    assert_eq!(*m.inertia().last().unwrap(), 0.0);
    let k1 = KMeans::new(1).fit(&Frames::rows(x.view())).unwrap();
    let mean = x.mapv(f64::from).mean_axis(Axis(0)).unwrap();
    for (a, b) in k1.centroids().row(0).iter().zip(&mean) {
        assert!(close(*a, *b, 1e-12));
    }
}

#[test]
fn stop_rule_is_the_relative_decrease_of_inertia() {
    let x = uniform(3000, 2, 77);
    let loose = KMeans::new(30)
        .tol(1e-2)
        .fit(&Frames::rows(x.view()))
        .unwrap();
    let tight = KMeans::new(30)
        .tol(1e-7)
        .fit(&Frames::rows(x.view()))
        .unwrap();
    assert!(loose.converged() && loose.iterations() < tight.iterations());
    let i = loose.inertia();
    let n = i.len();
    assert!(i[n - 2] - i[n - 1] <= 1e-2 * i[n - 2]);
    assert!(
        i[..n - 1].windows(2).all(|w| w[0] - w[1] > 1e-2 * w[0]),
        "{i:?}"
    );
    let capped = KMeans::new(30)
        .tol(0.0)
        .max_iter(3)
        .fit(&Frames::rows(x.view()))
        .unwrap();
    assert_eq!(capped.iterations(), 3);
    assert!(!capped.converged());
}

#[test]
fn save_and_load_centroids() {
    let x = uniform(500, 3, 5);
    let m = KMeans::new(4).fit(&Frames::rows(x.view())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("km.npz");
    m.save(&path).unwrap();
    let back = KMeansModel::load(&path).unwrap();
    assert_eq!(back.centroids(), m.centroids());
    assert_eq!(
        back.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
    // Saved centroids start a fit where it stopped.
    let resumed = KMeans::new(4)
        .init(Init::Given(back.centroids().clone()))
        .fit(&Frames::rows(x.view()))
        .unwrap();
    assert!(resumed.inertia()[0] <= *m.inertia().last().unwrap());

    let err = KMeansModel::load(dir.path().join("missing.npz")).unwrap_err();
    assert!(
        err.to_string().contains("missing.npz: cannot read"),
        "{err}"
    );
    let other = dir.path().join("other.npz");
    let mut npz = shardkit_algorithms::npz::NpzWriter::new(&other);
    npz.add("means", &Array2::<f64>::zeros((2, 2))).unwrap();
    npz.finish().unwrap();
    let err = KMeansModel::load(&other).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("other.npz: no array named 'centroids' (the archive holds 'means')"),
        "{err}"
    );

    if std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let code = format!(
            "import numpy as np; c = np.load({:?})['centroids']; print(c.shape, c.dtype, repr(float(c[1, 2])))",
            path.to_str().unwrap()
        );
        let out = std::process::Command::new("python3")
            .args(["-c", &code])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            format!("(4, 3) float64 {:?}", m.centroids()[(1, 2)])
        );
    } else {
        eprintln!("skipped the NumPy check: python3 with numpy is not available");
    }
}

#[test]
fn bad_settings_are_refused() {
    let x = uniform(10, 2, 1);
    let cases: Vec<(KMeans, KMeansParamsError)> = vec![
        (KMeans::new(0), KMeansParamsError::Clusters),
        (KMeans::new(2).max_iter(0), KMeansParamsError::MaxIter),
        (KMeans::new(2).tol(-1.0), KMeansParamsError::Tol(-1.0)),
        (
            KMeans::new(2).local_trials(Some(0)),
            KMeansParamsError::LocalTrials,
        ),
        (
            KMeans::new(2).local_trials(Some(53)),
            KMeansParamsError::LocalTrials,
        ),
        (
            KMeans::new(2).init(Init::Parallel {
                oversampling: 0.0,
                rounds: 5,
            }),
            KMeansParamsError::Oversampling(0.0),
        ),
        (
            KMeans::new(2).init(Init::Parallel {
                oversampling: 2.0,
                rounds: 0,
            }),
            KMeansParamsError::Rounds,
        ),
    ];
    for (params, expected) in cases {
        match params.fit(&Frames::rows(x.view())) {
            Err(KMeansError::Params(e)) => assert_eq!(e, expected),
            other => panic!("{params:?}: {other:?}"),
        }
    }
    let err = KMeans::new(2)
        .tol(f64::NAN)
        .fit(&Frames::rows(x.view()))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid k-means setting: `tol` must be a number >= 0"),
        "{err}"
    );
    assert_eq!(
        KMeans::new(0)
            .fit(&Frames::rows(x.view()))
            .unwrap_err()
            .to_string(),
        "invalid k-means setting: `clusters` must be at least 1"
    );
}

#[test]
fn bad_data_errors_say_what_is_wrong() {
    let x = uniform(10, 3, 1);
    let err = KMeans::new(11).fit(&Frames::rows(x.view())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot make 11 clusters from 10 points: ask for at most 10 clusters, or give more data"
    );
    let mut nan = x.clone();
    nan[(4, 2)] = f32::NAN;
    let err = KMeans::new(2).fit(&Frames::rows(nan.view())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "in-memory rows: non-finite value NaN at frame 4, column 2 (counting from 0)"
    );
    nan[(4, 2)] = f32::NEG_INFINITY;
    nan[(7, 0)] = f32::NAN;
    assert!(matches!(
        KMeans::new(2).fit(&Frames::rows(nan.view())),
        Err(KMeansError::Frames(FramesError::Features(
            FeatureError::NonFinite {
                frame: 4,
                column: 2,
                ..
            }
        )))
    ));
    let err = KMeans::new(2)
        .fit(&Frames::rows(Array2::<f32>::zeros((0, 3)).view()))
        .unwrap_err();
    assert_eq!(err.to_string(), "no data: no rows");
    let err = KMeans::new(2)
        .fit(&Frames::rows(Array2::<f32>::zeros((5, 0)).view()))
        .unwrap_err();
    assert_eq!(err.to_string(), "no data: rows of 0 columns");
    // Values beyond the readers' limit are refused where they are read,
    // naming the first one …
    let mut huge = Array2::from_elem((10, 3), 1.0f32);
    huge[(6, 1)] = 1e30;
    assert!(matches!(
        KMeans::new(2).fit(&Frames::rows(huge.view())),
        Err(KMeansError::Frames(FramesError::Features(
            FeatureError::TooLarge {
                frame: 6,
                column: 1,
                ..
            }
        )))
    ));
    // … and values within it, but too many of them to sum squared
    // distances exactly, by k-means itself.
    let big = Array2::from_elem((200_000, 3), 1.0e9f32);
    assert!(matches!(
        KMeans::new(2).fit(&Frames::rows(big.view())),
        Err(KMeansError::TooLarge { .. })
    ));

    // Given centroids that do not fit.
    let err = KMeans::new(2)
        .init(Init::Given(Array2::zeros((2, 4))))
        .fit(&Frames::rows(x.view()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "initial centroids have 4 columns but the data have 3"
    );
    let err = KMeans::new(3)
        .init(Init::Given(Array2::zeros((2, 3))))
        .fit(&Frames::rows(x.view()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "initial centroids: 2 were given for 3 clusters"
    );
    let mut c = Array2::zeros((2, 3));
    c[(1, 1)] = f64::INFINITY;
    let err = KMeans::new(2)
        .init(Init::Given(c))
        .fit(&Frames::rows(x.view()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "initial centroids: centroid 1, column 1 (counting from 0) is inf"
    );

    // Predicting rows of another dimension.
    let m = KMeans::new(2).fit(&Frames::rows(x.view())).unwrap();
    let err = m.predict(uniform(4, 5, 2).view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rows have 5 columns but the centroids have 3"
    );
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    write_npy(&good, &uniform(20, 3, 1)).unwrap();
    let wide = dir.path().join("wide.npy");
    write_npy(&wide, &uniform(20, 4, 2)).unwrap();
    let err = KMeans::new(2)
        .fit(&Frames::files(&[good.clone(), wide.clone()]).expect_dim(3))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: has 4 columns per frame but 3 are expected",
            wide.display()
        )
    );
    let mut bad = uniform(20, 3, 3);
    bad[(6, 1)] = f32::NAN;
    let nan = dir.path().join("nan.npy");
    write_npy(&nan, &bad).unwrap();
    let err = KMeans::new(2)
        .fit(&Frames::files(&[good.clone(), nan.clone()]).expect_dim(3))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: non-finite value NaN at frame 6, column 1 (counting from 0)",
            nan.display()
        )
    );
    let missing = dir.path().join("missing.npy");
    let err = KMeans::new(2)
        .fit(&Frames::files(std::slice::from_ref(&missing)).expect_dim(3))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read", missing.display())),
        "{err}"
    );
    let err = KMeans::new(41)
        .fit(&Frames::files(&[good.clone(), good.clone()]).expect_dim(3))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot make 41 clusters from 40 points: ask for at most 40 clusters, or give more data"
    );
    assert_eq!(
        KMeans::new(2)
            .fit(&Frames::files(&[]).expect_dim(3))
            .unwrap_err()
            .to_string(),
        "no data: the list of segments is empty"
    );
}

#[test]
fn non_standard_layouts_are_accepted() {
    let x = uniform(300, 4, 12);
    let t = x.t().to_owned(); // 4 × 300
    let fortran = t.t(); // 300 × 4, column-major view
    let params = KMeans::new(5).seed(3);
    assert_eq!(
        bits(&params.fit(&Frames::rows(x.view())).unwrap()),
        bits(&params.fit(&Frames::rows(fortran)).unwrap())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Lloyd never increases the inertia.
    #[test]
    fn inertia_never_increases(n in 5usize..400, d in 1usize..7, k in 1usize..9, seed in 0u64..1000, pp in any::<bool>()) {
        let k = k.min(n);
        let x = uniform(n, d, seed);
        let init = if pp { Init::PlusPlus } else { Init::parallel() };
        let m = KMeans::new(k).init(init).seed(seed).tol(0.0).max_iter(30).fit(&Frames::rows(x.view())).unwrap();
        let i = m.inertia();
        for w in i.windows(2) {
            prop_assert!(w[1] <= w[0], "{:?}", i);
        }
    }

    /// Whatever the inputs, a fit returns a model or an error: no panic.
    #[test]
    fn never_panics(n in 0usize..40, d in 0usize..4, k in 0usize..50, bad in 0usize..4, init in 0usize..3, tol in -1.0f64..1.0) {
        let mut x = uniform(n, d, 7);
        if n > 0 && d > 0 {
            match bad {
                1 => x[(n / 2, d - 1)] = f32::NAN,
                2 => x[(0, 0)] = f32::INFINITY,
                3 => x[(n - 1, 0)] = 3e38,
                _ => {}
            }
        }
        let init = match init {
            0 => Init::PlusPlus,
            1 => Init::parallel(),
            _ => Init::Given(Array2::zeros((k, d))),
        };
        let params = KMeans::new(k).init(init).tol(tol).max_iter(5);
        if let Ok(m) = params.fit(&Frames::rows(x.view())) {
            prop_assert_eq!(m.clusters(), k);
            let labels: Array1<u32> = m.predict(x.view()).unwrap();
            prop_assert!(labels.iter().all(|&l| (l as usize) < k));
        }
    }
}

#[test]
fn autotraits() {
    fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}
    has_autotraits::<KMeans>();
    has_autotraits::<Init>();
    has_autotraits::<KMeansModel>();
    has_autotraits::<KMeansError>();
    has_autotraits::<KMeansParamsError>();
    has_autotraits::<shardkit_algorithms::kmeans::LloydIteration>();
    has_autotraits::<shardkit_algorithms::npz::NpzError>();
    has_autotraits::<shardkit_algorithms::npz::NpzReader>();
    has_autotraits::<shardkit_algorithms::npz::NpzWriter>();
}

/// A fit stopped after any Lloyd iteration (its checkpoint written on 1
/// thread, from rows or files) and resumed on 3 threads ends with the bits
/// of a fit that never stopped, on 2; a checkpoint of other data or
/// settings, or of more iterations, is refused saying which.
#[test]
fn a_fit_stopped_anywhere_and_resumed_on_other_threads_has_the_same_bits() {
    use shardkit_algorithms::checkpoint::Checkpoint;
    let x = uniform(3000, 5, 21);
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(&x, dir.path(), &[1000, 999, 1001]);
    let iters = 6;
    for (init, reseed) in [
        (Init::PlusPlus, false),
        (Init::parallel(), false),
        (Init::PlusPlus, true),
    ] {
        // 40 clusters of 3000 points in 5 dimensions, starting from
        // duplicated points, leave clusters empty: re-seeding is resumed too.
        let (clusters, init) = if reseed {
            let dup: Array2<f64> =
                Array2::from_shape_fn((40, 5), |(i, j)| f64::from(x[[i % 3, j]]));
            (40, Init::Given(dup))
        } else {
            (9, init)
        };
        let params = |max_iter| {
            KMeans::new(clusters)
                .init(init.clone())
                .seed(3)
                .tol(0.0)
                .max_iter(max_iter)
        };
        for use_files in [false, true] {
            let frames = if use_files {
                Frames::files(&files).expect_dim(5)
            } else {
                Frames::rows(x.view())
            };
            let whole = Executor::threads(2)
                .unwrap()
                .install(|| params(iters).fit(&frames))
                .unwrap();
            if reseed {
                assert!(whole.history().iter().any(|it| it.reseeded > 0));
            }
            for stop in 1..iters {
                let checkpoint = Checkpoint::new(dir.path().join(format!("k{stop}.npz")));
                let _ = std::fs::remove_file(checkpoint.path());
                Executor::threads(1)
                    .unwrap()
                    .install(|| params(stop).fit_resumable(&frames, &checkpoint))
                    .unwrap();
                let resumed = Executor::threads(3)
                    .unwrap()
                    .install(|| params(iters).fit_resumable(&frames, &checkpoint))
                    .unwrap();
                assert_eq!(
                    bits(&resumed),
                    bits(&whole),
                    "{init:?}, stopped after {stop}"
                );
                assert_eq!(resumed.converged(), whole.converged());
                let reseeded =
                    |m: &KMeansModel| m.history().iter().map(|it| it.reseeded).collect::<Vec<_>>();
                assert_eq!(reseeded(&resumed), reseeded(&whole));
            }
        }
    }
    // Refusals.
    let frames = Frames::rows(x.view());
    let checkpoint = Checkpoint::new(dir.path().join("refuse.npz"));
    KMeans::new(4)
        .seed(1)
        .max_iter(3)
        .tol(0.0)
        .fit_resumable(&frames, &checkpoint)
        .unwrap();
    let e = KMeans::new(4)
        .seed(2)
        .fit_resumable(&frames, &checkpoint)
        .unwrap_err();
    assert!(matches!(e, KMeansError::Checkpoint { .. }), "{e}");
    assert!(e.to_string().contains("different settings"), "{e}");
    let mut other = x.clone();
    other[[2999, 4]] += 1.0;
    let e = KMeans::new(4)
        .seed(1)
        .fit_resumable(&Frames::rows(other.view()), &checkpoint)
        .unwrap_err();
    assert!(e.to_string().contains("different data"), "{e}");
    let e = KMeans::new(4)
        .seed(1)
        .max_iter(2)
        .tol(0.0)
        .fit_resumable(&frames, &checkpoint)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("holds 3 Lloyd iterations, more than the 2"),
        "{e}"
    );
    // A finished run asked for no more iterations returns what it holds.
    let again = KMeans::new(4)
        .seed(1)
        .max_iter(3)
        .tol(0.0)
        .fit_resumable(&frames, &checkpoint)
        .unwrap();
    let whole = KMeans::new(4)
        .seed(1)
        .max_iter(3)
        .tol(0.0)
        .fit(&frames)
        .unwrap();
    assert_eq!(bits(&again), bits(&whole));
}
