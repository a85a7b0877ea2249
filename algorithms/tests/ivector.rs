//! I-vectors: statistics, extraction and total-variability EM against a
//! direct dense computation (plain loops, the per-session `C·D × R`
//! products formed explicitly), EM's objective, threads, chunking, files
//! and errors.

// Plain index loops are the point of the direct computation.
#![allow(clippy::needless_range_loop)]

use ndarray::{array, s, Array1, Array2, ArrayView2, Axis, ShapeBuilder};
use shardkit::Executor;
use shardkit_algorithms::features::write_npy;
use shardkit_algorithms::frames::{Frames, FramesError};
use shardkit_algorithms::gmm::{self, DiagGmm};
use shardkit_algorithms::ivector::{
    baum_welch, extract, extract_into, train_tv, train_tv_resumable, tv_em, tv_iteration,
    Checkpoint, IvectorError, SessionStats, TvCommunication, TvConfig, TvModel, TvParamsError,
    TvTraffic,
};

/// A deterministic stream of numbers in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random model and statistics: `s` sessions, `c` components, `d`
/// dimensions, rank `r`.
fn problem(s: usize, c: usize, d: usize, r: usize, seed: u64) -> (SessionStats, TvModel) {
    let mut g = Lcg(seed);
    let means = Array2::from_shape_fn((c, d), |_| 2.0 * g.next() - 1.0);
    let variances = Array2::from_shape_fn((c, d), |_| 0.5 + g.next());
    let t = Array2::from_shape_fn((c * d, r), |_| g.next() - 0.5);
    let zero = Array2::from_shape_fn((s, c), |_| 20.0 * g.next() * g.next());
    let first = Array2::from_shape_fn((s, c * d), |(i, j)| {
        zero[[i, j / d]] * (means[[j / d, j % d]] + 2.0 * g.next() - 1.0)
    });
    (
        SessionStats::new(zero, first).unwrap(),
        TvModel::new(t, means, variances).unwrap(),
    )
}

/// Gauss-Jordan inverse with partial pivoting.
fn inverse(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut m = a.clone();
    let mut inv = Array2::eye(n);
    for col in 0..n {
        let p = (col..n)
            .max_by(|&i, &j| m[[i, col]].abs().total_cmp(&m[[j, col]].abs()))
            .unwrap();
        for k in 0..n {
            m.swap([col, k], [p, k]);
            inv.swap([col, k], [p, k]);
        }
        let pivot = m[[col, col]];
        for k in 0..n {
            m[[col, k]] /= pivot;
            inv[[col, k]] /= pivot;
        }
        for i in 0..n {
            if i != col {
                let f = m[[i, col]];
                for k in 0..n {
                    m[[i, k]] -= f * m[[col, k]];
                    inv[[i, k]] -= f * inv[[col, k]];
                }
            }
        }
    }
    inv
}

/// Lower Cholesky factor, plain loops.
fn cholesky(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut v = a[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = if i == j { v.sqrt() } else { v / l[[j, j]] };
        }
    }
    l
}

fn log_det(a: &Array2<f64>) -> f64 {
    let l = cholesky(a);
    2.0 * l.diag().iter().map(|v| v.ln()).sum::<f64>()
}

/// Session `i`'s posterior (mean, covariance, precision, b) computed
/// directly: the `C·D × R` matrix `Σ⁻¹ N T` is formed.
fn direct_posterior(
    stats: &SessionStats,
    model: &TvModel,
    i: usize,
) -> (Array1<f64>, Array2<f64>, Array2<f64>, Array1<f64>) {
    let (c, d, r) = (model.n_components(), model.dim(), model.rank());
    let t = model.t();
    let mut prec = Array2::<f64>::eye(r);
    let mut b = Array1::<f64>::zeros(r);
    for row in 0..c * d {
        let (cc, dd) = (row / d, row % d);
        let var = model.variances()[[cc, dd]];
        let n = stats.zero[[i, cc]];
        let f = stats.first[[i, row]] - n * model.means()[[cc, dd]];
        for p in 0..r {
            b[p] += t[[row, p]] * f / var;
            for q in 0..r {
                prec[[p, q]] += t[[row, p]] * n / var * t[[row, q]];
            }
        }
    }
    let cov = inverse(&prec);
    let w = cov.dot(&b);
    (w, cov, prec, b)
}

fn max_rel(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn extraction_matches_the_direct_computation() {
    let (stats, model) = problem(7, 4, 3, 5, 1);
    let r = model.rank();
    let k = r * (r + 1) / 2;
    let mut w = Array2::zeros((7, r));
    let mut cov = Array2::zeros((7, k));
    extract_into(&stats, &model, w.view_mut(), Some(cov.view_mut())).unwrap();
    assert_eq!(
        extract(&stats, &model).unwrap(),
        w,
        "with or without covariances"
    );
    // Outputs in column-major layout get the same bits.
    let mut wf = Array2::<f64>::zeros((7, r).f());
    let mut covf = Array2::<f64>::zeros((7, k).f());
    extract_into(&stats, &model, wf.view_mut(), Some(covf.view_mut())).unwrap();
    assert_eq!((&wf, &covf), (&w, &cov), "column-major outputs");
    for i in 0..7 {
        let (want_w, want_cov, _, _) = direct_posterior(&stats, &model, i);
        let got = w.row(i).to_owned().insert_axis(Axis(0));
        let want = want_w.insert_axis(Axis(0));
        assert!(max_rel(got.view(), want.view()) < 1e-12, "{got} vs {want}");
        let mut at = 0;
        for p in 0..r {
            for q in 0..=p {
                let (g, e) = (cov[[i, at]], want_cov[[p, q]]);
                assert!(
                    (g - e).abs() < 1e-12 * want_cov[[p, p]],
                    "cov ({p},{q}) {g} vs {e}"
                );
                at += 1;
            }
        }
    }
}

/// One EM iteration computed directly: A_c, C_c from the dense posteriors,
/// T_c = C_c A_c⁻¹, then T·G with G the Cholesky factor of the mean second
/// moment. Returns the new T and the objective of the old model.
fn direct_iteration(stats: &SessionStats, model: &TvModel, min_div: bool) -> (Array2<f64>, f64) {
    let (s, c, d, r) = (
        stats.n_sessions(),
        model.n_components(),
        model.dim(),
        model.rank(),
    );
    let mut a = vec![Array2::<f64>::zeros((r, r)); c];
    let mut cc = Array2::<f64>::zeros((c * d, r));
    let mut second = Array2::<f64>::zeros((r, r));
    let mut objective = 0.0;
    for i in 0..s {
        let (w, cov, prec, b) = direct_posterior(stats, model, i);
        let ww = &cov
            + &w.view()
                .insert_axis(Axis(1))
                .dot(&w.view().insert_axis(Axis(0)));
        second += &ww;
        objective += 0.5 * b.dot(&w) - 0.5 * log_det(&prec);
        for comp in 0..c {
            a[comp] += &(&ww * stats.zero[[i, comp]]);
            for dd in 0..d {
                let row = comp * d + dd;
                let f = stats.first[[i, row]] - stats.zero[[i, comp]] * model.means()[[comp, dd]];
                for p in 0..r {
                    cc[[row, p]] += f * w[p];
                }
            }
        }
    }
    let mut t = Array2::<f64>::zeros((c * d, r));
    for comp in 0..c {
        let block = cc
            .slice(s![comp * d..(comp + 1) * d, ..])
            .dot(&inverse(&a[comp]));
        t.slice_mut(s![comp * d..(comp + 1) * d, ..]).assign(&block);
    }
    if min_div {
        t = t.dot(&cholesky(&(second / s as f64)));
    }
    (t, objective / s as f64)
}

#[test]
fn one_em_iteration_matches_the_direct_computation() {
    let (stats, model) = problem(9, 3, 2, 4, 2);
    for min_div in [false, true] {
        let step = tv_iteration(&stats, &model, min_div, 1 << 30).unwrap();
        let (want, objective) = direct_iteration(&stats, &model, min_div);
        let err = max_rel(step.model.t(), want.view());
        assert!(err < 1e-10, "min_div {min_div}: T differs by {err:e}");
        assert!((step.objective - objective).abs() < 1e-10 * objective.abs());
        assert_eq!(step.kept_components, 0);
        assert_eq!(step.model.means(), model.means());
    }
}

#[test]
fn em_never_lowers_the_objective() {
    for (seed, min_div) in [(3, true), (4, false), (5, true)] {
        let (stats, ubm_model) = problem(40, 6, 3, 4, seed);
        let ubm = DiagGmm::new(
            Array1::from_elem(6, 1.0 / 6.0),
            ubm_model.means().to_owned(),
            ubm_model.variances().to_owned(),
        )
        .unwrap();
        let config = TvConfig::new(4)
            .iterations(12)
            .min_divergence(min_div)
            .seed(seed);
        let trained = train_tv(&stats, &ubm, &config, &mut |_| {}).unwrap();
        let obj: Vec<f64> = trained.history.iter().map(|it| it.objective).collect();
        for p in obj.windows(2) {
            assert!(
                p[1] >= p[0] - 1e-9 * p[0].abs(),
                "seed {seed}, min_div {min_div}: {obj:?}"
            );
        }
        assert!(
            obj[obj.len() - 1] > obj[0] + 1e-3,
            "EM made progress: {obj:?}"
        );
    }
}

#[test]
fn threads_give_the_same_bits() {
    // 150 sessions (3 session blocks), 10 components (2 component blocks),
    // rank 23 (K = 276: 2 packed blocks).
    let (stats, model) = problem(150, 10, 3, 23, 6);
    let run = |threads: usize| {
        Executor::threads(threads).unwrap().install(|| {
            let step = tv_iteration(&stats, &model, true, 1 << 30).unwrap();
            let w = extract(&stats, &model).unwrap();
            (step.model, step.objective, w)
        })
    };
    let serial = Executor::serial().install(|| {
        let step = tv_iteration(&stats, &model, true, 1 << 30).unwrap();
        (step.model, step.objective, extract(&stats, &model).unwrap())
    });
    for threads in [1, 2, 3] {
        let got = run(threads);
        assert_eq!(got.0, serial.0, "T on {threads} threads");
        assert_eq!(
            got.1.to_bits(),
            serial.1.to_bits(),
            "objective on {threads} threads"
        );
        assert_eq!(got.2, serial.2, "i-vectors on {threads} threads");
    }
}

#[test]
fn gathering_and_reducing_give_the_same_bits_on_any_threads_and_budget() {
    // 600 sessions: groups of 256, 256 and 88; 10 components (2 tiles of
    // 8); rank 23 (K = 276: 2 tiles of 256 packed entries).
    let (stats, model) = problem(600, 10, 3, 23, 11);
    let per_session = 8 * (23 + 276);
    let run = |how: TvCommunication, memory: usize, threads: usize| {
        let config = TvConfig::new(23)
            .iterations(2)
            .memory(memory)
            .communication(how);
        Executor::threads(threads).unwrap().install(|| {
            let trained = tv_em(&stats, model.clone(), &config, &mut |_| {}).unwrap();
            let objectives: Vec<u64> = trained
                .history
                .iter()
                .map(|it| it.objective.to_bits())
                .collect();
            (trained.model.t().to_owned(), objectives)
        })
    };
    // The whole set in one chunk; chunks of 512 sessions (2 groups each);
    // 100 sessions' posteriors (groups of 100, one per chunk).
    for memory in [1 << 30, 512 * per_session, 100 * per_session] {
        let reference = run(TvCommunication::Gather, memory, 1);
        for how in [
            TvCommunication::Gather,
            TvCommunication::Reduce,
            TvCommunication::Auto,
        ] {
            for threads in [1, 2, 3] {
                let got = run(how, memory, threads);
                assert_eq!(
                    got.0, reference.0,
                    "T: {how:?} on {threads} threads, memory {memory}"
                );
                assert_eq!(
                    got.1, reference.1,
                    "objectives: {how:?} on {threads} threads, memory {memory}"
                );
            }
        }
    }
    // The grouping is the budget's: 100-session groups differ in the last
    // bits from 256-session ones, and agree to rounding.
    let big = run(TvCommunication::Reduce, 1 << 30, 2);
    let small = run(TvCommunication::Reduce, 100 * per_session, 2);
    let err = max_rel(big.0.view(), small.0.view());
    assert!(err < 1e-10, "{err:e}");
}

#[test]
fn the_rule_reduces_only_across_ranks_when_it_moves_less_and_fits() {
    // FSDD-sized on 4 ranks: 2,700 sessions, 64 components, 60
    // dimensions, rank 100.
    let t = TvTraffic::new(2700, 64, 60, 100, 4);
    let k = 5050u64;
    let acc = 64 * k + 64 * 60 * 100;
    assert_eq!(t.reduce_bytes, 16 * (acc + 100 + k + 1) + 48);
    assert_eq!(
        t.gather_bytes,
        8 * (2700 - 675) * (100 + k + 1) + 8 * acc * 3 / 4
    );
    assert_eq!(t.reduce_memory, 112 * acc);
    assert_eq!(t.choose(1 << 30), TvCommunication::Reduce);
    // A budget below a worker's share: gather.
    assert_eq!(t.choose(112 * acc as usize - 1), TvCommunication::Gather);
    // Few sessions, many components: gathering the posteriors is cheaper.
    assert_eq!(
        TvTraffic::new(20, 2048, 60, 100, 4).choose(1 << 40),
        TvCommunication::Gather
    );
    // One rank: nothing travels either way.
    let one = TvTraffic::new(2700, 64, 60, 100, 1);
    assert_eq!((one.gather_bytes, one.reduce_bytes), (0, 0));
    assert_eq!(one.choose(1 << 40), TvCommunication::Gather);
}

#[test]
fn chunked_sessions_agree_with_one_pass() {
    let (stats, model) = problem(100, 5, 2, 6, 7);
    let whole = tv_iteration(&stats, &model, true, 1 << 30).unwrap();
    // Room for 17 sessions' posteriors at a time: 6 chunks.
    let per_session = 8 * (6 + 21);
    let chunked = tv_iteration(&stats, &model, true, 17 * per_session).unwrap();
    let err = max_rel(chunked.model.t(), whole.model.t());
    assert!(err < 1e-12, "{err:e}");
    assert!((chunked.objective - whole.objective).abs() < 1e-12 * whole.objective.abs());
    let err = tv_iteration(&stats, &model, true, per_session - 1).unwrap_err();
    assert!(err.to_string().contains("cannot hold one session"), "{err}");
}

#[test]
fn unused_components_keep_their_rows() {
    let (mut stats, model) = problem(12, 4, 2, 3, 8);
    stats.zero.column_mut(2).fill(0.0);
    stats.first.slice_mut(s![.., 4..6]).fill(0.0);
    let step = tv_iteration(&stats, &model, false, 1 << 30).unwrap();
    assert_eq!(step.kept_components, 1);
    assert_eq!(
        step.model.t().slice(s![4..6, ..]),
        model.t().slice(s![4..6, ..])
    );
    assert!(step.model.t().iter().all(|v| v.is_finite()));
}

#[test]
fn baum_welch_matches_the_gmm_statistics_and_files_match_memory() {
    let ubm = DiagGmm::new(
        array![0.3, 0.7],
        array![[0.0, 1.0], [2.0, -1.0]],
        array![[1.0, 0.5], [2.0, 1.0]],
    )
    .unwrap();
    let mut g = Lcg(9);
    let sessions: Vec<Array2<f32>> = (0..5)
        .map(|i| Array2::from_shape_fn((10 + 7 * i, 2), |_| (4.0 * g.next() - 1.0) as f32))
        .collect();
    let views: Vec<_> = sessions.iter().map(|x| x.view()).collect();
    let stats = baum_welch(&Frames::segments(&views), &ubm).unwrap();
    for (i, x) in sessions.iter().enumerate() {
        let want = gmm::accumulate(x.view(), &ubm.prepare());
        assert_eq!(stats.zero.row(i), want.zero);
        assert_eq!(
            stats.first.row(i),
            Array1::from_iter(want.first.iter().copied())
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let p = dir.path().join(format!("s{i}.npy"));
            write_npy(&p, x).unwrap();
            p
        })
        .collect();
    for threads in [1, 3] {
        let from_files = Executor::threads(threads)
            .unwrap()
            .install(|| baum_welch(&Frames::files(&files), &ubm).unwrap());
        assert_eq!(from_files, stats, "{threads} threads");
    }
    let mut bad = files.clone();
    bad[3] = dir.path().join("missing.npy");
    let err = baum_welch(&Frames::files(&bad), &ubm).unwrap_err();
    assert!(matches!(
        err,
        IvectorError::Frames(FramesError::Features(_))
    ));
    assert!(err.to_string().contains("missing.npy"), "{err}");
    let wide = Array2::<f32>::zeros((3, 5));
    let err = baum_welch(&Frames::segments(&[wide.view()]), &ubm).unwrap_err();
    assert_eq!(
        err.to_string(),
        "in-memory segment 0: has 5 columns per frame but 2 are expected"
    );
}

#[test]
fn models_and_statistics_round_trip_through_npz() {
    let (stats, model) = problem(4, 3, 2, 2, 10);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path().join("tv.npz")).unwrap();
    assert_eq!(TvModel::load(dir.path().join("tv.npz")).unwrap(), model);
    stats.save(dir.path().join("stats.npz")).unwrap();
    assert_eq!(
        SessionStats::load(dir.path().join("stats.npz")).unwrap(),
        stats
    );
    let err = TvModel::load(dir.path().join("stats.npz")).unwrap_err();
    assert!(err.to_string().contains("stats.npz"), "{err}");
}

#[test]
fn errors_name_what_is_wrong() {
    let (stats, model) = problem(4, 3, 2, 2, 11);
    let err = SessionStats::new(array![[1.0, -1.0]], Array2::zeros((1, 4))).unwrap_err();
    assert_eq!(err.to_string(), "session 0: a zero-order statistic is -1");
    let err = SessionStats::new(Array2::zeros((2, 3)), Array2::zeros((2, 4))).unwrap_err();
    assert!(matches!(err, IvectorError::StatsParts { .. }), "{err}");
    let other = TvModel::new(
        Array2::zeros((4, 2)),
        Array2::zeros((2, 2)),
        Array2::ones((2, 2)),
    )
    .unwrap();
    let err = extract(&stats, &other).unwrap_err();
    assert!(
        err.to_string().contains("3 components in 2 dimensions"),
        "{err}"
    );
    let mut w = Array2::zeros((4, 3));
    let err = extract_into(&stats, &model, w.view_mut(), None).unwrap_err();
    assert!(err.to_string().contains("(4, 2)"), "{err}");
    let err = TvModel::new(
        Array2::zeros((6, 2)),
        Array2::zeros((3, 2)),
        Array2::zeros((3, 2)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("variance (0, 0) is 0"), "{err}");
    let ubm = DiagGmm::new(
        Array1::from_elem(3, 1.0 / 3.0),
        Array2::zeros((3, 2)),
        Array2::ones((3, 2)),
    )
    .unwrap();
    let zero_rank = TvConfig::new(0);
    let err = train_tv(&stats, &ubm, &zero_rank, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, IvectorError::Params(TvParamsError::Rank)),
        "{err}"
    );
    // 3 components × 2 features: a supervector of 6, so rank 7 is refused.
    let err = train_tv(&stats, &ubm, &TvConfig::new(7), &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            IvectorError::Params(TvParamsError::RankAboveSupervector {
                rank: 7,
                supervector: 6,
                ..
            })
        ),
        "{err}"
    );
    assert!(train_tv(&stats, &ubm, &TvConfig::new(6).iterations(1), &mut |_| {}).is_ok());
    let tiny = TvConfig::new(2).memory(8);
    let err = train_tv(&stats, &ubm, &tiny, &mut |_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid total-variability setting: `memory` = 8 bytes cannot hold one session's posterior (40 bytes at rank 2); give at least 40"
    );
    let config = TvConfig::default().iterations(2);
    let trained = tv_em(&stats, model.clone(), &config, &mut |_| {}).unwrap();
    assert_eq!(trained.history.len(), 2);
}

/// The UBM of [`problem`]'s model.
fn ubm_of(model: &TvModel) -> DiagGmm {
    let c = model.n_components();
    DiagGmm::new(
        Array1::from_elem(c, 1.0 / c as f64),
        model.means().to_owned(),
        model.variances().to_owned(),
    )
    .unwrap()
}

#[test]
fn a_run_stopped_anywhere_and_resumed_on_other_threads_has_the_same_bits() {
    // 150 sessions and rank 23: several blocks in every pass.
    let (stats, model) = problem(150, 10, 3, 23, 8);
    let ubm = ubm_of(&model);
    let config = |n: usize| TvConfig::new(23).iterations(n).seed(3);
    let straight = Executor::threads(2)
        .unwrap()
        .install(|| train_tv(&stats, &ubm, &config(5), &mut |_| {}))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for stop in 0..=5 {
        let checkpoint = Checkpoint::new(dir.path().join(format!("stop{stop}.npz")));
        // The first part on 1 thread, stopped after `stop` iterations …
        if stop > 0 {
            Executor::threads(1)
                .unwrap()
                .install(|| {
                    train_tv_resumable(&stats, &ubm, &config(stop), &checkpoint, &mut |_| {})
                })
                .unwrap();
        }
        // … the rest on 3.
        let mut new = Vec::new();
        let resumed = Executor::threads(3)
            .unwrap()
            .install(|| {
                train_tv_resumable(&stats, &ubm, &config(5), &checkpoint, &mut |it| {
                    new.push(it.iteration)
                })
            })
            .unwrap();
        assert_eq!(resumed.model, straight.model, "T after stopping at {stop}");
        let bits = |h: &[shardkit_algorithms::ivector::TvIteration]| {
            h.iter()
                .map(|it| it.objective.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bits(&resumed.history),
            bits(&straight.history),
            "objectives, stop {stop}"
        );
        assert_eq!(
            new,
            (stop..5).collect::<Vec<_>>(),
            "iterations run after stop {stop}"
        );
    }
}

#[test]
fn a_checkpoint_of_another_run_is_refused_saying_what_differs() {
    let (stats, model) = problem(30, 4, 2, 3, 9);
    let ubm = ubm_of(&model);
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = Checkpoint::new(dir.path().join("tv.npz")).every(2);
    let config = TvConfig::new(3).iterations(3);
    train_tv_resumable(&stats, &ubm, &config, &checkpoint, &mut |_| {}).unwrap();
    // Written after iterations 2 and 3 (the last).
    let refused = |stats: &SessionStats, ubm: &DiagGmm, config: &TvConfig| match train_tv_resumable(
        stats,
        ubm,
        config,
        &checkpoint,
        &mut |_| {},
    ) {
        Err(e @ IvectorError::Checkpoint { .. }) => e.to_string(),
        other => panic!("{other:?}"),
    };
    let (other_stats, _) = problem(30, 4, 2, 3, 10);
    assert!(refused(&other_stats, &ubm, &config).contains("different statistics"));
    let other_ubm = ubm_of(&problem(30, 4, 2, 3, 11).1);
    assert!(refused(&stats, &other_ubm, &config).contains("different starting model"));
    let text = refused(&stats, &ubm, &config.clone().seed(99));
    assert!(
        text.contains("different starting model") && text.contains("tv.npz"),
        "{text}"
    );
    let text = refused(&stats, &ubm, &config.clone().min_divergence(false));
    assert!(text.contains("different settings"), "{text}");
    let text = refused(&stats, &ubm, &TvConfig::new(3).iterations(2));
    assert!(
        text.contains("holds 3 iterations, more than the 2"),
        "{text}"
    );
    // The same run with more iterations continues.
    let more = train_tv_resumable(
        &stats,
        &ubm,
        &TvConfig::new(3).iterations(4),
        &checkpoint,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(more.history.len(), 4);
    assert_eq!(
        more.history[..3].iter().map(|it| it.seconds).sum::<f64>(),
        0.0
    );
}
