//! The pruned (Kaldi-style Gaussian selection) E-step: its statistics
//! against a naive `f64` computation with the same selection, its selection
//! against naive log-densities, its log-likelihood against the exact mode,
//! the determinism promise, EM with pruning, and the errors.
//!
//! `cargo test -p shardkit-algorithms --release --test gmm_prune -- --nocapture`
//! prints the accuracy reached.

use std::path::PathBuf;

use ndarray::{array, s, Array2};
use shardkit::Executor;
use shardkit_algorithms::features::{write_npy, ReadOptions};
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::gmm::ubm::{em, train_ubm, EmConfig, UbmError, UbmParamsError};
use shardkit_algorithms::gmm::{self, DiagGmm, GmmStats, PruneError, Pruning};
use shardkit_testkit::{
    assert_recovers, known_gmm as known, mfcc_like, sample_gmm as sample, ubm_like,
};

/// `log w_m + log N(x; μ_m, σ²_m)` in `f64`, plain loops.
fn log_density(x: &[f64], gmm: &DiagGmm, m: usize) -> f64 {
    let (mu, var) = (gmm.means(), gmm.variances());
    let mut q = 0.0;
    for (j, &xj) in x.iter().enumerate() {
        let dx = xj - mu[[m, j]];
        q += (2.0 * std::f64::consts::PI * var[[m, j]]).ln() + dx * dx / var[[m, j]];
    }
    gmm.weights()[m].ln() - 0.5 * q
}

/// The pruned E-step's rule in naive `f64`: each frame's selected
/// components, log-sum-exp over them, posteriors below `min_post` dropped
/// (the largest kept), the rest renormalised.
fn naive_pruned(
    frames: &Array2<f32>,
    gmm: &DiagGmm,
    selection: &Array2<u32>,
    min_post: f64,
) -> GmmStats {
    let (n, d) = frames.dim();
    let mut stats = GmmStats::zeros(gmm.n_components(), d);
    for t in 0..n {
        let x: Vec<f64> = frames.row(t).iter().map(|&v| f64::from(v)).collect();
        let sel: Vec<usize> = selection.row(t).iter().map(|&c| c as usize).collect();
        let lp: Vec<f64> = sel.iter().map(|&m| log_density(&x, gmm, m)).collect();
        let max = lp.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + lp.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        stats.log_likelihood += lse;
        let post: Vec<f64> = lp.iter().map(|l| (l - lse).exp()).collect();
        let best = (0..sel.len())
            .max_by(|&a, &b| lp[a].total_cmp(&lp[b]).then(b.cmp(&a)))
            .unwrap();
        let keep: Vec<bool> = (0..sel.len())
            .map(|i| i == best || post[i] >= min_post)
            .collect();
        let kept: f64 = (0..sel.len()).filter(|&i| keep[i]).map(|i| post[i]).sum();
        for (i, &m) in sel.iter().enumerate() {
            if !keep[i] {
                continue;
            }
            let g = post[i] / kept;
            stats.zero[m] += g;
            for (j, &xj) in x.iter().enumerate() {
                stats.first[[m, j]] += g * xj;
                stats.second[[m, j]] += g * xj * xj;
            }
        }
    }
    stats.frames = n as u64;
    stats
}

/// Largest relative differences `(zero, first, second, log-likelihood,
/// variance)`; `first` relative to `Σγ|x|`-like scale `|F| + n`.
fn rel_errors(got: &GmmStats, want: &GmmStats) -> [f64; 5] {
    let mut e = [0.0f64; 5];
    for m in 0..want.zero.len() {
        let n = want.zero[m];
        if n < 1e-3 {
            continue;
        }
        e[0] = e[0].max((got.zero[m] - n).abs() / n);
        for j in 0..want.first.ncols() {
            let (f, s) = (want.first[[m, j]], want.second[[m, j]]);
            e[1] = e[1].max((got.first[[m, j]] - f).abs() / (f.abs() + n));
            e[2] = e[2].max((got.second[[m, j]] - s).abs() / s);
            if n >= 10.0 {
                let var = |st: &GmmStats| {
                    let nn = st.zero[m];
                    st.second[[m, j]] / nn - (st.first[[m, j]] / nn).powi(2)
                };
                e[4] = e[4].max((var(got) - var(want)).abs() / var(want));
            }
        }
    }
    e[3] = (got.log_likelihood - want.log_likelihood).abs() / want.log_likelihood.abs();
    e
}

/// D = 60 (c0 around 50), 64 components sharing 16 clusters, 3000 frames.
fn mfcc_case() -> (Array2<f32>, DiagGmm) {
    let frames = mfcc_like(3000, 60, 16, 7);
    let gmm = ubm_like(&frames, 64, 8);
    (frames, gmm)
}

#[test]
fn pruned_statistics_match_a_naive_f64_computation_with_the_same_selection() {
    let (frames, gmm) = mfcc_case();
    let prepared = gmm.prepare();
    let selection = gmm::select(frames.view(), &prepared, 8).unwrap();
    assert_eq!(selection.dim(), (3000, 8));
    for min_post in [0.0, 1e-3, 0.2] {
        let got =
            gmm::accumulate_pruned(frames.view(), &prepared, selection.view(), min_post).unwrap();
        let want = naive_pruned(&frames, &gmm, &selection, min_post);
        let e = rel_errors(&got, &want);
        println!(
            "min_posterior {min_post}: rel errors of zero, first, second, log-lik, variance: {:.2e} {:.2e} {:.2e} {:.2e} {:.2e}",
            e[0], e[1], e[2], e[3], e[4]
        );
        assert!(e[..4].iter().all(|&x| x <= 1e-11), "{e:?}");
        // Uncentred `f64` sums: the variance keeps ~12 digits.
        assert!(e[4] <= 1e-9, "{e:?}");
        assert_eq!(got.frames, 3000);
        // Every frame's posteriors sum to 1.
        assert!((got.zero.sum() - 3000.0).abs() <= 1e-9 * 3000.0);
    }
    // The combined pass gives the same selection and the same bits.
    let pruning = Pruning {
        top_n: 8,
        min_posterior: 1e-3,
        ..Pruning::default()
    };
    let (stats, sel) = gmm::select_and_accumulate(frames.view(), &prepared, &pruning).unwrap();
    assert_eq!(sel, selection);
    let separate =
        gmm::accumulate_pruned(frames.view(), &prepared, selection.view(), 1e-3).unwrap();
    assert_eq!(stats, separate);
}

#[test]
fn the_selection_is_each_frames_top_n_by_log_density() {
    let (frames, gmm) = mfcc_case();
    let top = 10;
    let selection = gmm::select(frames.view(), &gmm.prepare(), top).unwrap();
    // The `f32` log-densities carry errors near 1e-5 (values near -100):
    // a component may swap places with one that close.
    let tol = 1e-3;
    for t in 0..frames.nrows() {
        let x: Vec<f64> = frames.row(t).iter().map(|&v| f64::from(v)).collect();
        let lp: Vec<f64> = (0..64).map(|m| log_density(&x, &gmm, m)).collect();
        let sel: Vec<usize> = selection.row(t).iter().map(|&c| c as usize).collect();
        let mut distinct = sel.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), top, "frame {t}: {sel:?}");
        assert!(sel.windows(2).all(|w| w[0] < w[1]), "frame {t}: {sel:?}");
        let worst_in = sel.iter().map(|&m| lp[m]).fold(f64::INFINITY, f64::min);
        let best_out = (0..64)
            .filter(|m| !sel.contains(m))
            .map(|m| lp[m])
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(
            worst_in >= best_out - tol,
            "frame {t}: {worst_in} < {best_out}"
        );
    }
}

#[test]
fn ties_go_to_the_lower_index() {
    // Components 1 and 2 are the same Gaussian.
    let gmm = DiagGmm::new(
        array![0.25, 0.25, 0.25, 0.25],
        array![[5.0], [0.0], [0.0], [-5.0]],
        Array2::ones((4, 1)),
    )
    .unwrap();
    let frames: Array2<f32> = array![[0.1], [-0.1], [4.0]];
    let sel = gmm::select(frames.view(), &gmm.prepare(), 2).unwrap();
    assert_eq!(sel, array![[1, 2], [1, 2], [0, 1]]);
    let all = gmm::select(frames.view(), &gmm.prepare(), 4).unwrap();
    assert_eq!(all.row(0).to_vec(), vec![0, 1, 2, 3]);
    // Component 0 is better than 3, 1 and 2 tie: with two, the lower index.
    let three = gmm::select(frames.view(), &gmm.prepare(), 3).unwrap();
    assert_eq!(three.row(2).to_vec(), vec![0, 1, 2]);
    let gmm5 = DiagGmm::new(
        array![0.2, 0.2, 0.2, 0.2, 0.2],
        array![[0.0], [0.0], [0.0], [0.0], [9.0]],
        Array2::ones((5, 1)),
    )
    .unwrap();
    let four_ties: Array2<f32> = array![[0.0]];
    let two = gmm::select(four_ties.view(), &gmm5.prepare(), 2).unwrap();
    assert_eq!(two.row(0).to_vec(), vec![0, 1]);
}

/// An MFCC-like UBM case: 256 components over 64 clusters, 40 dims.
fn realistic() -> (Array2<f32>, DiagGmm) {
    let frames = mfcc_like(20_000, 40, 64, 31);
    let gmm = ubm_like(&frames, 256, 32);
    (frames, gmm)
}

#[test]
fn pruned_log_likelihood_is_within_1e3_relative_of_exact() {
    let (frames, gmm) = realistic();
    let prepared = gmm.prepare();
    let exact = gmm::accumulate(frames.view(), &prepared).average_log_likelihood();
    for pruning in [
        Pruning::default(),
        Pruning {
            top_n: 5,
            min_posterior: 0.01,
            ..Pruning::default()
        },
    ] {
        let (stats, _) = gmm::select_and_accumulate(frames.view(), &prepared, &pruning).unwrap();
        let rel = (stats.average_log_likelihood() - exact).abs() / exact.abs();
        println!("{pruning:?}: one E-step, avg log-lik rel diff {rel:.2e}");
        assert!(rel <= 1e-3, "{rel}");
        // A lower bound: components are left out of each frame's sum.
        assert!(stats.average_log_likelihood() <= exact + 1e-9 * exact.abs());
    }
    // Through EM, with the selection kept between re-selections.
    let data = Frames::rows(frames.view());
    let exact_cfg = EmConfig::new();
    let pruned_cfg = EmConfig::new().pruning(Some(Pruning::default()));
    let a = em(&data, gmm.clone(), 6, &exact_cfg, &mut |_| {}).unwrap();
    let b = em(&data, gmm, 6, &pruned_cfg, &mut |_| {}).unwrap();
    for (i, (x, y)) in a.history.iter().zip(&b.history).enumerate() {
        let rel = (x.average_log_likelihood - y.average_log_likelihood).abs()
            / x.average_log_likelihood.abs();
        println!(
            "EM iteration {}: exact {:.6}, pruned {:.6} (selection pass: {}), rel diff {rel:.2e}",
            i + 1,
            x.average_log_likelihood,
            y.average_log_likelihood,
            y.selection_pass
        );
        assert!(rel <= 1e-3, "iteration {i}: {rel}");
        assert!(y.pruned && !x.pruned);
        // The default selects once per stage, as Kaldi.
        assert_eq!(y.selection_pass, i == 0);
    }
}

#[test]
fn same_bits_on_one_two_and_three_threads() {
    // Four blocks of BLOCK_FRAMES (the last one short).
    let frames = mfcc_like(3 * gmm::BLOCK_FRAMES + 123, 20, 8, 11);
    let gmm = ubm_like(&frames, 16, 12);
    let prepared = gmm.prepare();
    let pruning = Pruning {
        top_n: 4,
        min_posterior: 1e-3,
        ..Pruning::default()
    };
    let on = |exec: Executor| {
        exec.install(|| {
            let (stats, sel) =
                gmm::select_and_accumulate(frames.view(), &prepared, &pruning).unwrap();
            let again = gmm::accumulate_pruned(frames.view(), &prepared, sel.view(), 0.0).unwrap();
            (stats, sel, again)
        })
    };
    let bits = |s: &GmmStats| -> Vec<u64> {
        s.zero
            .iter()
            .chain(&s.first)
            .chain(&s.second)
            .chain([&s.log_likelihood])
            .map(|x| x.to_bits())
            .collect()
    };
    let one = on(Executor::threads(1).unwrap());
    for other in [
        on(Executor::threads(2).unwrap()),
        on(Executor::threads(3).unwrap()),
        on(Executor::serial()),
    ] {
        assert_eq!(other.1, one.1);
        assert_eq!(bits(&other.0), bits(&one.0));
        assert_eq!(bits(&other.2), bits(&one.2));
    }
    // And pruned EM, from rows.
    let data = Frames::rows(frames.view());
    let config = EmConfig::new()
        .iterations(vec![1, 1, 1, 3])
        .pruning(Some(Pruning {
            top_n: 3,
            reselect_every: 2,
            ..Pruning::default()
        }));
    let train = || train_ubm(&data, 16, &config, &mut |_| {}).unwrap();
    let serial = Executor::serial().install(train);
    for n in [1, 2, 3] {
        let threaded = Executor::threads(n).unwrap().install(train);
        assert_eq!(threaded.model, serial.model, "{n} threads");
    }
}

#[test]
fn pruned_em_recovers_a_known_gmm() {
    let truth = known();
    let frames = sample(&truth, 20_000, 7);
    let config = EmConfig::new().iterations(vec![10, 30]).pruning(
        // The 4-component stage keeps each frame's best 2 components.
        Some(Pruning {
            top_n: 2,
            min_posterior: 1e-3,
            reselect_every: 5,
        }),
    );
    let trained = train_ubm(&Frames::rows(frames.view()), 4, &config, &mut |_| {}).unwrap();
    assert_recovers(&trained.model, &truth);
    // The 2-component stage is exact (M ≤ top_n), the 4-component one pruned.
    assert!(trained.history[..10].iter().all(|it| !it.pruned));
    assert!(trained.history[10..].iter().all(|it| it.pruned));
    let selected: Vec<bool> = trained.history[10..]
        .iter()
        .map(|it| it.selection_pass)
        .collect();
    assert_eq!(selected.iter().filter(|&&s| s).count(), 6);
    // The likelihood rises to the exact mode's (within 1e-3).
    let exact = train_ubm(
        &Frames::rows(frames.view()),
        4,
        &config.clone().pruning(None),
        &mut |_| {},
    )
    .unwrap();
    let (a, b) = (
        exact.history.last().unwrap().average_log_likelihood,
        trained.history.last().unwrap().average_log_likelihood,
    );
    assert!((a - b).abs() <= 1e-3 * a.abs(), "{a} vs {b}");
}

#[test]
fn pruned_em_on_files_matches_rows() {
    let frames = sample(&known(), 5000, 3);
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut at = 0;
    for (i, len) in [700, 1300, 1, 999, 2000].into_iter().enumerate() {
        let path = dir.path().join(format!("utt{i}.npy"));
        write_npy(&path, &frames.slice(s![at..at + len, ..])).unwrap();
        files.push(path);
        at += len;
    }
    let options = ReadOptions::default();
    let config = EmConfig::new().pruning(Some(Pruning {
        top_n: 2,
        reselect_every: 3,
        ..Pruning::default()
    }));
    let data = Frames::files(&files).options(options);
    // Every iteration pruned (4 components, top 2): the files' statistics
    // differ from the rows' only by the order of the f64 sums.
    let start = split_known();
    let from_files = em(&data, start.clone(), 7, &config, &mut |_| {}).unwrap();
    let from_rows = em(&Frames::rows(frames.view()), start, 7, &config, &mut |_| {}).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    for (a, b) in from_files.model.means().iter().zip(from_rows.model.means()) {
        assert!(close(*a, *b), "{a} vs {b}");
    }
    for (a, b) in from_files.history.iter().zip(&from_rows.history) {
        assert!(close(a.average_log_likelihood, b.average_log_likelihood));
        assert_eq!((a.pruned, a.selection_pass), (b.pruned, b.selection_pass));
    }
    assert_eq!(
        from_files
            .history
            .iter()
            .map(|it| it.selection_pass)
            .collect::<Vec<_>>(),
        [true, false, false, true, false, false, true]
    );
    // Threads do not change the files' result.
    let two = Executor::threads(2)
        .unwrap()
        .install(|| em(&data, split_known(), 7, &config, &mut |_| {}).unwrap());
    assert_eq!(two.model, from_files.model);
}

/// A 4-component start: the known model's means moved by 1.
fn split_known() -> DiagGmm {
    let k = known();
    DiagGmm::new(
        k.weights().to_owned(),
        k.means().mapv(|m| m + 1.0),
        k.variances().to_owned(),
    )
    .unwrap()
}

#[test]
fn bad_options_are_errors_that_say_what_is_wrong() {
    let (frames, gmm) = mfcc_case();
    let prepared = gmm.prepare();
    let x = frames.slice(s![..50, ..]);
    assert_eq!(
        gmm::select(x, &prepared, 0).unwrap_err(),
        PruneError::TopNZero
    );
    let too_many = gmm::select(x, &prepared, 65).unwrap_err();
    assert_eq!(
        too_many,
        PruneError::TopNTooLarge {
            top_n: 65,
            components: 64
        }
    );
    assert!(too_many.to_string().contains("at most 64"), "{too_many}");
    let sel = gmm::select(x, &prepared, 3).unwrap();
    for bad in [-0.1, 1.0, 1.5, f64::NAN, f64::INFINITY] {
        let err = gmm::accumulate_pruned(x, &prepared, sel.view(), bad).unwrap_err();
        assert!(
            matches!(err, PruneError::MinPosterior { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("[0, 1)"), "{err}");
    }
    // A selection that does not fit.
    let err =
        gmm::accumulate_pruned(frames.slice(s![..49, ..]), &prepared, sel.view(), 0.0).unwrap_err();
    assert_eq!(
        err,
        PruneError::SelectionRows {
            expected: 49,
            found: 50
        }
    );
    let mut wrong = sel.clone();
    wrong[[7, 1]] = 64;
    let err = gmm::accumulate_pruned(x, &prepared, wrong.view(), 0.0).unwrap_err();
    assert_eq!(
        err,
        PruneError::SelectionComponent {
            frame: 7,
            component: 64,
            components: 64
        }
    );
    let empty = Array2::<u32>::zeros((50, 0));
    assert_eq!(
        gmm::accumulate_pruned(x, &prepared, empty.view(), 0.0).unwrap_err(),
        PruneError::SelectionEmpty
    );
    // Through the combined pass and EM.
    let bad = Pruning {
        min_posterior: 1.0,
        ..Pruning::default()
    };
    assert!(matches!(
        gmm::select_and_accumulate(x, &prepared, &bad),
        Err(PruneError::MinPosterior { .. })
    ));
    let data = Frames::rows(frames.view());
    let cases: [(Pruning, PruneError); 3] = [
        (
            Pruning {
                top_n: 0,
                ..Pruning::default()
            },
            PruneError::TopNZero,
        ),
        (
            Pruning {
                top_n: 100,
                ..Pruning::default()
            },
            PruneError::TopNTooLarge {
                top_n: 100,
                components: 64,
            },
        ),
        (
            Pruning {
                min_posterior: -1.0,
                ..Pruning::default()
            },
            PruneError::MinPosterior { value: -1.0 },
        ),
    ];
    for (pruning, want) in cases {
        let config = EmConfig::new().pruning(Some(pruning));
        match em(&data, gmm.clone(), 1, &config, &mut |_| {}) {
            Err(UbmError::Params(UbmParamsError::Pruning(e))) => assert_eq!(e, want),
            other => panic!("{pruning:?}: {other:?}"),
        }
        match train_ubm(&data, 64, &config, &mut |_| {}) {
            Err(UbmError::Params(UbmParamsError::Pruning(e))) => assert_eq!(e, want),
            other => panic!("{pruning:?}: {other:?}"),
        }
    }
    // No frames: zero statistics, no panic.
    let none = Array2::<f32>::zeros((0, 60));
    let (stats, sel) =
        gmm::select_and_accumulate(none.view(), &prepared, &Pruning::default()).unwrap();
    assert_eq!(stats, GmmStats::zeros(64, 60));
    assert_eq!(sel.dim(), (0, 30));
}
