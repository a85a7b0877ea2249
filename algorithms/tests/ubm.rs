//! UBM training: recovery of a known mixture, EM's monotone likelihood, the
//! same bits on any number of threads, files vs rows, the guards, and the
//! errors.

use std::path::PathBuf;

use ndarray::{array, s, Array1, Array2};
use proptest::prelude::*;
use shardkit::Executor;
use shardkit_algorithms::features::{write_npy, ReadOptions};
use shardkit_algorithms::frames::{Frames, FramesError};
use shardkit_algorithms::gmm::ubm::{
    em, global_moments, maximize, split, train_ubm, train_ubm_resumable, EmConfig, UbmError,
    UbmParamsError,
};
use shardkit_algorithms::gmm::DiagGmm;
use shardkit_testkit::{
    assert_recovers, known_gmm as known, sample_gmm as sample, XorShift as Rng,
};

#[test]
fn a_mixture_drawn_from_a_known_gmm_is_recovered() {
    let truth = known();
    let frames = sample(&truth, 20_000, 7);
    let config = EmConfig::new().iterations(vec![10, 30]);
    let trained = train_ubm(&Frames::rows(frames.view()), 4, &config, &mut |_| {}).unwrap();
    assert_recovers(&trained.model, &truth);
    assert_eq!(trained.history.len(), 40);
    assert!(trained.history.iter().all(|it| it.frames == 20_000));
}

#[test]
fn any_number_of_threads_gives_the_same_model() {
    let frames = sample(&known(), 20_000, 11);
    let data = Frames::rows(frames.view());
    let config = EmConfig::new().iterations(vec![2, 3, 2]);
    let train = || train_ubm(&data, 8, &config, &mut |_| {}).unwrap();
    let serial = Executor::serial().install(train);
    for n in [1, 2, 3] {
        let threaded = Executor::threads(n).unwrap().install(train);
        assert_eq!(threaded.model, serial.model, "{n} threads");
        assert_eq!(threaded.history.len(), serial.history.len());
        for (a, b) in threaded.history.iter().zip(&serial.history) {
            assert_eq!(
                a.average_log_likelihood.to_bits(),
                b.average_log_likelihood.to_bits()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// EM never decreases the likelihood (up to the f32 E-step's rounding).
    #[test]
    fn em_never_decreases_the_likelihood(seed in 1u64..u64::MAX, components in 2usize..6) {
        let frames = sample(&known(), 3000, seed);
        let data = Frames::rows(frames.view());
        // A deliberately poor start: components on random frames.
        let mut rng = Rng(seed.rotate_left(17) | 1);
        let picks: Vec<usize> = (0..components).map(|_| (rng.uniform() * 3000.0) as usize % 3000).collect();
        let means = Array2::from_shape_fn((components, 3), |(m, d)| f64::from(frames[[picks[m], d]]));
        let start = DiagGmm::new(
            Array1::from_elem(components, 1.0 / components as f64),
            means,
            Array2::from_elem((components, 3), 4.0),
        ).unwrap();
        let trained = em(&data, start, 15, &EmConfig::new(), &mut |_| {}).unwrap();
        for pair in trained.history.windows(2) {
            let (a, b) = (pair[0].average_log_likelihood, pair[1].average_log_likelihood);
            prop_assert!(b >= a - 1e-6 * a.abs(), "{a} then {b}");
        }
    }
}

#[test]
fn files_give_the_statistics_of_the_same_rows() {
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
    assert_eq!(at, 5000);
    let options = ReadOptions::default();
    let config = EmConfig::new().iterations(vec![3, 3]);
    let from_files = train_ubm(
        &Frames::files(&files).options(options),
        4,
        &config,
        &mut |_| {},
    )
    .unwrap();
    let from_rows = train_ubm(&Frames::rows(frames.view()), 4, &config, &mut |_| {}).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    for (a, b) in from_files.model.means().iter().zip(from_rows.model.means()) {
        assert!(close(*a, *b), "{a} vs {b}");
    }
    for (a, b) in from_files.history.iter().zip(&from_rows.history) {
        assert!(close(a.average_log_likelihood, b.average_log_likelihood));
    }
}

/// With a cache the files are read by the first passes only: deleted after
/// the first EM iteration, training goes on, and the model has the bits
/// of an uncached run on 1 and 3 threads. Without room in the cache the
/// deletion is an error naming the file.
#[test]
fn cached_files_are_read_once_and_give_the_same_bits() {
    use shardkit_algorithms::frames::FrameCache;
    let frames = sample(&known(), 4000, 5);
    let config = EmConfig::new().iterations(vec![2, 3]);
    let write = |dir: &std::path::Path| -> Vec<PathBuf> {
        [900, 1100, 1, 1999]
            .into_iter()
            .scan(0, |at, len| {
                let start = *at;
                *at += len;
                Some((start, len))
            })
            .enumerate()
            .map(|(i, (at, len))| {
                let path = dir.join(format!("utt{i}.npy"));
                write_npy(&path, &frames.slice(s![at..at + len, ..])).unwrap();
                path
            })
            .collect()
    };
    // Trains on cached files, deleting them after the first iteration.
    let train_deleting = |files: &[PathBuf], cache: &FrameCache| {
        let mut deleted = false;
        let trained = train_ubm(&Frames::files(files).cached(cache), 4, &config, &mut |_| {
            if !deleted {
                files.iter().for_each(|f| std::fs::remove_file(f).unwrap());
                deleted = true;
            }
        });
        (trained, deleted)
    };
    let dir = tempfile::tempdir().unwrap();
    let files = write(dir.path());
    let plain = train_ubm(&Frames::files(&files), 4, &config, &mut |_| {}).unwrap();
    for threads in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let files = write(dir.path());
        let cache = FrameCache::new(files.len(), 1 << 30);
        let (cached, deleted) = Executor::threads(threads)
            .unwrap()
            .install(|| train_deleting(&files, &cache));
        let cached = cached.unwrap();
        assert!(deleted);
        assert_eq!(cache.files_held(), 4);
        assert_eq!(cache.bytes_held(), 4 * 4000 * frames.ncols());
        assert_eq!(cached.model, plain.model, "{threads} threads");
        let ll = |t: &shardkit_algorithms::gmm::ubm::UbmTrained| {
            t.history
                .iter()
                .map(|h| h.average_log_likelihood.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(ll(&cached), ll(&plain));
    }
    // A budget too small for any file: every pass reads the files.
    let dir = tempfile::tempdir().unwrap();
    let files = write(dir.path());
    let cache = FrameCache::new(files.len(), 0);
    let (err, _) = train_deleting(&files, &cache);
    let err = err.unwrap_err();
    assert_eq!(cache.files_held(), 0);
    assert!(err.to_string().contains("utt"), "{err}");
}

#[test]
fn global_moments_match_a_direct_computation() {
    let frames = sample(&known(), 3000, 5);
    let (mean, variance, n) = global_moments(&Frames::rows(frames.view())).unwrap();
    assert_eq!(n, 3000);
    let x = frames.mapv(f64::from);
    let want_mean = x.mean_axis(ndarray::Axis(0)).unwrap();
    let want_var = x.var_axis(ndarray::Axis(0), 0.0);
    for d in 0..3 {
        assert!((mean[d] - want_mean[d]).abs() < 1e-6 * want_mean[d].abs().max(1.0));
        assert!((variance[d] / want_var[d] - 1.0).abs() < 1e-6);
    }
}

#[test]
fn split_moves_means_along_the_widest_axis() {
    let gmm = DiagGmm::new(array![1.0], array![[1.0, 2.0]], array![[4.0, 9.0]]).unwrap();
    let two = split(&gmm);
    assert_eq!(two.weights(), array![0.5, 0.5]);
    assert_eq!(two.means(), array![[1.0, -1.0], [1.0, 5.0]]);
    assert_eq!(two.variances(), array![[4.0, 9.0], [4.0, 9.0]]);
}

#[test]
fn collapsed_components_keep_their_parameters_and_never_become_nan() {
    let frames = sample(&known(), 2000, 9);
    // A third component far from every frame: it wins (almost) nothing.
    let start = DiagGmm::new(
        array![0.45, 0.45, 0.1],
        array![[-3.0, 0.0, 10.0], [3.0, 0.0, 10.0], [1e4, 1e4, 1e4]],
        Array2::ones((3, 3)),
    )
    .unwrap();
    let trained = em(
        &Frames::rows(frames.view()),
        start.clone(),
        3,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap();
    let model = &trained.model;
    assert!(model.weights().iter().all(|w| w.is_finite() && *w > 0.0));
    assert!(model.weights()[2] < 1e-9, "{}", model.weights()[2]);
    assert_eq!(model.means().row(2), start.means().row(2));
    assert_eq!(model.variances().row(2), start.variances().row(2));
    assert!(model
        .means()
        .iter()
        .chain(model.variances())
        .all(|x| x.is_finite()));
}

#[test]
fn variances_are_floored_and_capped_relative_to_the_global_variance() {
    let gmm = DiagGmm::new(array![0.5, 0.5], array![[0.0], [1.0]], array![[1.0], [1.0]]).unwrap();
    let stats = shardkit_algorithms::gmm::GmmStats {
        zero: array![10.0, 10.0],
        first: array![[0.0], [10.0]],
        // Variance 0 for the first component, 1000 for the second.
        second: array![[0.0], [10.0 * 1001.0]],
        log_likelihood: -20.0,
        frames: 20,
    };
    let model = maximize(&stats, &gmm, &array![0.02], &array![20.0], 1.0);
    assert_eq!(model.variances(), array![[0.02], [20.0]]);
}

#[test]
fn sizes_that_are_not_powers_of_two_are_refused_with_advice() {
    let frames = Array2::<f32>::zeros((10, 2));
    let err = train_ubm(
        &Frames::rows(frames.view()),
        500,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(
        err,
        UbmError::Params(UbmParamsError::NotPowerOfTwo { .. })
    ));
    assert!(
        text.contains("500 components") && text.contains("256 or 512"),
        "{text}"
    );
}

#[test]
fn bad_inputs_are_errors_that_say_what_is_wrong() {
    let mut frames = Array2::<f32>::ones((10, 2));
    frames[[3, 1]] = f32::NAN;
    let err = train_ubm(
        &Frames::rows(frames.view()),
        2,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "in-memory rows: non-finite value NaN at frame 3, column 1 (counting from 0)"
    );

    let empty = Array2::<f32>::zeros((0, 2));
    let err = train_ubm(
        &Frames::rows(empty.view()),
        2,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, UbmError::Frames(FramesError::Features(_))),
        "{err}"
    );
    assert_eq!(err.to_string(), "in-memory rows: no frames (0 × 2)");

    let short = EmConfig::new().iterations(vec![1, 1]);
    let ok = Array2::<f32>::from_shape_fn((50, 2), |(i, j)| (i * 3 + j) as f32);
    let err = train_ubm(&Frames::rows(ok.view()), 8, &short, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("3 split stages"), "{err}");

    let missing = vec![PathBuf::from("/nonexistent/utt1.npy")];
    let options = ReadOptions::default();
    let err = train_ubm(
        &Frames::files(&missing).options(options),
        2,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/utt1.npy"), "{err}");

    let model = DiagGmm::new(array![1.0], array![[0.0, 0.0, 0.0]], Array2::ones((1, 3))).unwrap();
    let err = em(
        &Frames::rows(ok.view()),
        model,
        1,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("2 columns, but the model has 3 dimensions"),
        "{err}"
    );
}

#[test]
fn a_file_of_the_wrong_dimension_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    let bad = dir.path().join("bad.npy");
    write_npy(
        &good,
        &Array2::<f32>::from_shape_fn((20, 3), |(i, j)| (i + j) as f32),
    )
    .unwrap();
    write_npy(&bad, &Array2::<f32>::ones((20, 2))).unwrap();
    let options = ReadOptions::default();
    let files = vec![good, bad.clone()];
    let err = train_ubm(
        &Frames::files(&files).options(options),
        2,
        &EmConfig::new(),
        &mut |_| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("bad.npy"), "{text}");
}

#[test]
fn degenerate_data_is_refused_before_em_and_tiny_initial_variances_are_floored() {
    let config = EmConfig::new().iterations(vec![2, 2, 2]);
    // A constant column (digitally silent audio, a padding column) is named
    // instead of making the E-step divide by zero.
    let mut frames = sample(&known(), 2_000, 3);
    frames.column_mut(1).fill(3.0);
    let err = train_ubm(&Frames::rows(frames.view()), 8, &config, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, UbmError::ConstantColumn { column: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("column 1"), "{err}");
    let silent = Array2::<f32>::from_elem((500, 3), 0.25);
    let err = train_ubm(&Frames::rows(silent.view()), 2, &config, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, UbmError::ConstantColumn { column: 0, .. }),
        "{err:?}"
    );

    // Fewer frames than components.
    let few = sample(&known(), 5, 4);
    let err = train_ubm(&Frames::rows(few.view()), 8, &config, &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            UbmError::TooFewFrames {
                frames: 5,
                components: 8
            }
        ),
        "{err:?}"
    );

    // An initial model whose variances are 1e-300 (scaled by mistake) is
    // clamped to the variance floor, not divided by: EM runs and the
    // likelihood is finite.
    let frames = sample(&known(), 5_000, 5);
    let truth = known();
    let tiny = DiagGmm::new(
        truth.weights().to_owned(),
        truth.means().to_owned(),
        truth.variances().mapv(|v| v * 1e-300),
    )
    .unwrap();
    let trained = em(&Frames::rows(frames.view()), tiny, 3, &config, &mut |_| {}).unwrap();
    assert!(
        trained
            .history
            .iter()
            .all(|it| it.average_log_likelihood.is_finite()),
        "{:?}",
        trained.history
    );
}

#[test]
fn extreme_values_are_named_where_they_are_read_instead_of_panicking_in_the_sums() {
    // One feature value of 1e20 in the second of three files: the error
    // names the file, the frame and the column (before: a panic in the
    // exact sum that named no file and blamed NaN).
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..3)
        .map(|k| dir.path().join(format!("f{k}.npy")))
        .collect();
    for (k, path) in files.iter().enumerate() {
        let mut x = sample(&known(), 400, 10 + k as u64);
        if k == 1 {
            x[(123, 2)] = 1e20;
        }
        write_npy(path, &x).unwrap();
    }
    let err = train_ubm(&Frames::files(&files), 4, &EmConfig::new(), &mut |_| {}).unwrap_err();
    let text = err.to_string();
    for want in ["f1.npy", "frame 123", "column 2", "1e20"] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    // Every value near 1e13 (in memory) is refused at its first value;
    // values of 1e7 times the usual scale, inside the limit, train.
    let near = sample(&known(), 2_000, 3).mapv(|v| 1e13 + v);
    let err = train_ubm(&Frames::rows(near.view()), 4, &EmConfig::new(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("frame 0, column 0"), "{err}");
    let inside = sample(&known(), 2_000, 3).mapv(|v| v * 1e7);
    let config = EmConfig::new().iterations(vec![1, 1, 1]);
    let trained = train_ubm(&Frames::rows(inside.view()), 4, &config, &mut |_| {});
    assert!(trained.is_ok(), "{:?}", trained.err());
}

/// Trains with a checkpoint and stops (a panic in `report`, as a kill
/// would, between the iteration's end and its checkpoint) after `stop`
/// iterations in all.
fn stopped_after(
    frames: &Frames<'_>,
    components: usize,
    config: &EmConfig,
    checkpoint: &shardkit_algorithms::checkpoint::Checkpoint,
    stop: usize,
) {
    let mut seen = 0;
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_ubm_resumable(frames, components, config, checkpoint, &mut |_| {
            seen += 1;
            if seen > stop {
                panic!("stopped");
            }
        })
    }));
    assert!(run.is_err() || seen <= stop);
}

#[test]
fn a_ubm_run_stopped_anywhere_and_resumed_on_other_threads_has_the_same_bits() {
    let x = sample(&known(), 3_000, 21);
    let frames = Frames::rows(x.view());
    let pruned = EmConfig::new().iterations(vec![1, 3, 4]).pruning(Some(
        shardkit_algorithms::gmm::Pruning {
            top_n: 2,
            reselect_every: 2,
            ..shardkit_algorithms::gmm::Pruning::default()
        },
    ));
    for config in [EmConfig::new().iterations(vec![1, 3, 4]), pruned] {
        let straight = Executor::threads(2)
            .unwrap()
            .install(|| train_ubm(&frames, 8, &config, &mut |_| {}))
            .unwrap();
        let total = straight.history.len();
        let dir = tempfile::tempdir().unwrap();
        for stop in 0..=total {
            let checkpoint = shardkit_algorithms::checkpoint::Checkpoint::new(
                dir.path().join(format!("stop{stop}.npz")),
            );
            Executor::threads(1)
                .unwrap()
                .install(|| stopped_after(&frames, 8, &config, &checkpoint, stop));
            let mut new = 0;
            let resumed = Executor::threads(3)
                .unwrap()
                .install(|| {
                    train_ubm_resumable(&frames, 8, &config, &checkpoint, &mut |_| new += 1)
                })
                .unwrap();
            assert_eq!(resumed.model, straight.model, "stop {stop}, {config:?}");
            let ll = |h: &[shardkit_algorithms::gmm::ubm::EmIteration]| {
                h.iter()
                    .map(|it| {
                        (
                            it.components,
                            it.average_log_likelihood.to_bits(),
                            it.selection_pass,
                        )
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(ll(&resumed.history), ll(&straight.history), "stop {stop}");
            assert_eq!(new, total - stop, "iterations run after stop {stop}");
        }
    }
}

#[test]
fn a_ubm_checkpoint_of_other_data_or_settings_is_refused() {
    let x = sample(&known(), 1_000, 22);
    let dir = tempfile::tempdir().unwrap();
    let checkpoint =
        shardkit_algorithms::checkpoint::Checkpoint::new(dir.path().join("ubm.npz")).every(2);
    let config = EmConfig::new().iterations(vec![1, 2]);
    train_ubm_resumable(
        &Frames::rows(x.view()),
        4,
        &config,
        &checkpoint,
        &mut |_| {},
    )
    .unwrap();
    let refused = |x: &Array2<f32>, config: &EmConfig| match train_ubm_resumable(
        &Frames::rows(x.view()),
        4,
        config,
        &checkpoint,
        &mut |_| {},
    ) {
        Err(e @ UbmError::Checkpoint { .. }) => e.to_string(),
        other => panic!("{other:?}"),
    };
    let mut other = x.clone();
    other[(5, 1)] += 0.25;
    assert!(refused(&other, &config).contains("different training data"));
    let text = refused(&x, &EmConfig::new().iterations(vec![1, 3]));
    assert!(
        text.contains("different settings") && text.contains("ubm.npz"),
        "{text}"
    );
}
