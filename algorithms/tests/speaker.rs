//! MAP adaptation and GMM-UBM scoring.

use std::path::PathBuf;

use ndarray::{array, Array2};
use shardkit::Executor;
use shardkit_algorithms::features::write_npy;
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::gmm::map::{
    adapt_speakers, llr, map_adapt, score_trials, score_trials_scaled, LlrScale, MapConfig,
    MapError, MapParamsError, Speaker, Trial,
};
use shardkit_algorithms::gmm::{DiagGmm, GmmStats};

fn ubm() -> DiagGmm {
    DiagGmm::new(
        array![0.25, 0.25, 0.25, 0.25],
        array![[-4.0, 0.0], [4.0, 0.0], [0.0, -4.0], [0.0, 4.0]],
        Array2::ones((4, 2)),
    )
    .unwrap()
}

/// Frames around the UBM's components, shifted by `shift` (a speaker).
fn frames(n: usize, shift: [f32; 2], seed: u64) -> Array2<f32> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    let centres = [[-4.0, 0.0], [4.0, 0.0], [0.0, -4.0], [0.0, 4.0]];
    Array2::from_shape_fn((n, 2), |(t, j)| centres[t % 4][j] + shift[j] + 2.0 * next())
}

#[test]
fn map_moves_means_by_the_relevance_rule_and_keeps_unseen_components() {
    let ubm = ubm();
    let stats = GmmStats {
        zero: array![16.0, 0.0, 48.0, 0.0],
        first: array![[-16.0 * 3.0, 16.0], [0.0, 0.0], [48.0, 0.0], [0.0, 0.0]],
        second: Array2::ones((4, 2)) * 100.0,
        log_likelihood: -100.0,
        frames: 64,
    };
    let model = map_adapt(&ubm, &stats, &MapConfig::new()).unwrap();
    // n = r = 16: half way from the UBM's mean (-4, 0) to the data's (-3, 1).
    assert_eq!(model.means().row(0), array![-3.5, 0.5]);
    // Unseen: the UBM's mean, exactly.
    assert_eq!(model.means().row(1), ubm.means().row(1));
    // n = 48: three quarters of the way from (0, -4) to (1, 0).
    assert_eq!(model.means().row(2), array![0.75, -1.0]);
    assert_eq!(model.weights(), ubm.weights());
    assert_eq!(model.variances(), ubm.variances());

    let all = MapConfig::new().weights(true).variances(true);
    let model = map_adapt(&ubm, &stats, &all).unwrap();
    assert!((model.weights().sum() - 1.0).abs() < 1e-12);
    assert!(model.weights()[2] > model.weights()[0]);
    assert!(model.variances().iter().all(|v| v.is_finite() && *v > 0.0));
    assert_eq!(model.variances().row(1), ubm.variances().row(1));

    // Statistics of another UBM, and settings that cannot be used.
    let err = map_adapt(&ubm, &GmmStats::zeros(3, 2), &MapConfig::new()).unwrap_err();
    assert!(
        matches!(
            err,
            MapError::StatsShape {
                expected: (4, 2),
                found: (3, 2)
            }
        ),
        "{err}"
    );
    let err = map_adapt(&ubm, &stats, &MapConfig::new().relevance(f64::NAN)).unwrap_err();
    assert!(
        matches!(err, MapError::Params(MapParamsError::Relevance(_))),
        "{err}"
    );
}

#[test]
fn speakers_are_adapted_in_order_with_the_same_bits_on_any_pool_and_scored() {
    let ubm = ubm();
    let dir = tempfile::tempdir().unwrap();
    let shifts = [[1.5f32, 0.0], [-1.5, 0.0], [0.0, 1.5]];
    let mut enrolment: Vec<Vec<PathBuf>> = Vec::new();
    let mut tests: Vec<PathBuf> = Vec::new();
    for (s, shift) in shifts.iter().enumerate() {
        let mut files = Vec::new();
        for u in 0..3 {
            let path = dir.path().join(format!("spk{s}_enroll{u}.npy"));
            write_npy(&path, &frames(200, *shift, (s * 10 + u + 1) as u64)).unwrap();
            files.push(path);
        }
        enrolment.push(files);
        let test = dir.path().join(format!("spk{s}_test.npy"));
        write_npy(&test, &frames(150, *shift, (s * 10 + 9) as u64)).unwrap();
        tests.push(test);
    }
    let speakers: Vec<Speaker> = enrolment
        .iter()
        .enumerate()
        .map(|(s, files)| Speaker {
            name: format!("spk{s}"),
            frames: Frames::files(files),
        })
        .collect();
    let config = MapConfig::new();
    let serial = Executor::serial()
        .install(|| adapt_speakers(&speakers, &ubm, &config))
        .unwrap();
    let pooled = Executor::threads(2)
        .unwrap()
        .install(|| adapt_speakers(&speakers, &ubm, &config))
        .unwrap();
    assert_eq!(serial, pooled);
    assert_eq!(serial.len(), 3);
    // Speaker 0 moved right, speaker 1 left.
    assert!(serial[0].means()[[0, 0]] > -4.0 && serial[1].means()[[0, 0]] < -4.0);

    let models = serial;
    let trials: Vec<Trial> = (0..3)
        .flat_map(|model| (0..3).map(move |segment| Trial { model, segment }))
        .collect();
    let test = Frames::files(&tests);
    let scores = score_trials(&trials, &models, &ubm, &test, 10).unwrap();
    assert_eq!(scores.len(), 9);
    for m in 0..3 {
        let target = scores[m * 3 + m];
        for t in (0..3).filter(|&t| t != m) {
            assert!(target > scores[m * 3 + t], "model {m}: {scores:?}");
        }
    }
    let again = Executor::threads(3)
        .unwrap()
        .install(|| score_trials(&trials, &models, &ubm, &test, 10))
        .unwrap();
    assert_eq!(scores, again);

    // The same frames in memory give the same scores.
    let loaded: Vec<Array2<f32>> = tests
        .iter()
        .map(|t| shardkit_algorithms::features::read_features(t).unwrap())
        .collect();
    let views: Vec<_> = loaded.iter().map(|x| x.view()).collect();
    let in_memory = score_trials(&trials, &models, &ubm, &Frames::segments(&views), 10).unwrap();
    assert_eq!(scores, in_memory);

    let bad = [Trial {
        model: 7,
        segment: 0,
    }];
    let err = score_trials(&bad, &models, &ubm, &test, 10).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trial 0 names model 7, but there are 3 models"
    );
    let bad = [Trial {
        model: 0,
        segment: 3,
    }];
    let err = score_trials(&bad, &models, &ubm, &test, 10).unwrap_err();
    assert!(
        matches!(
            err,
            MapError::UnknownSegment {
                segment: 3,
                segments: 3,
                ..
            }
        ),
        "{err}"
    );
    let err = score_trials(&trials, &models, &ubm, &test, 0).unwrap_err();
    assert!(
        matches!(
            err,
            MapError::TopN {
                top_n: 0,
                components: 4
            }
        ),
        "{err}"
    );

    // A speaker without frames, and settings that adapt nothing.
    let empty: Vec<PathBuf> = Vec::new();
    let nobody = [Speaker {
        name: "nobody".into(),
        frames: Frames::files(&empty),
    }];
    let err = adapt_speakers(&nobody, &ubm, &config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "speaker `nobody` has no enrolment frames: give at least one segment with frames"
    );
    let nothing = MapConfig::new().means(false);
    assert!(matches!(
        adapt_speakers(&speakers, &ubm, &nothing),
        Err(MapError::Params(MapParamsError::NothingAdapted))
    ));
}

#[test]
fn the_ubm_against_itself_scores_zero() {
    let ubm = ubm();
    let x = frames(50, [0.3, -0.2], 5);
    assert_eq!(llr(x.view(), &ubm, &ubm, 2).unwrap(), 0.0);
}

/// `log w_m N(x; μ_m, σ²_m)` for every component, written out.
fn naive_log_densities(x: &[f64], gmm: &DiagGmm) -> Vec<f64> {
    (0..gmm.n_components())
        .map(|m| {
            let mut s = gmm.weights()[m].ln();
            for (j, &xj) in x.iter().enumerate() {
                let (mu, var) = (gmm.means()[[m, j]], gmm.variances()[[m, j]]);
                s += -0.5 * (2.0 * std::f64::consts::PI * var).ln()
                    - (xj - mu).powi(2) / (2.0 * var);
            }
            s
        })
        .collect()
}

#[test]
fn llr_matches_a_naive_top_n_log_likelihood_ratio() {
    let ubm = ubm();
    // A speaker model that differs in weights, means and variances.
    let speaker = DiagGmm::new(
        array![0.1, 0.2, 0.3, 0.4],
        array![[-3.5, 0.2], [4.2, -0.1], [0.3, -3.6], [-0.2, 4.4]],
        array![[0.8, 1.2], [1.1, 0.9], [1.3, 0.7], [0.6, 1.4]],
    )
    .unwrap();
    let x = frames(40, [0.3, -0.2], 11);
    for top_n in 1..=4 {
        let mut total = 0.0;
        for row in x.rows() {
            let row: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            let u = naive_log_densities(&row, &ubm);
            let s = naive_log_densities(&row, &speaker);
            // The UBM's best top_n components (no ties on these frames).
            let mut order: Vec<usize> = (0..4).collect();
            order.sort_by(|&a, &b| u[b].total_cmp(&u[a]));
            let lse = |d: &[f64]| order[..top_n].iter().map(|&m| d[m].exp()).sum::<f64>().ln();
            total += lse(&s) - lse(&u);
        }
        let want = total / x.nrows() as f64;
        let got = llr(x.view(), &speaker, &ubm, top_n).unwrap();
        assert!(
            (got - want).abs() < 1e-9 * want.abs().max(1.0),
            "top_n {top_n}: {got} vs {want}"
        );
    }
}

#[test]
fn sqrt_frames_scores_are_the_summed_frame_ratios_over_the_root_of_the_frames() {
    let ubm = ubm();
    let speaker = DiagGmm::new(
        array![0.25, 0.25, 0.25, 0.25],
        array![[-3.5, 0.2], [4.2, -0.1], [0.3, -3.6], [-0.2, 4.4]],
        Array2::ones((4, 2)),
    )
    .unwrap();
    let other = DiagGmm::new(
        array![0.25, 0.25, 0.25, 0.25],
        array![[-4.4, -0.3], [3.7, 0.4], [-0.5, -4.2], [0.4, 3.5]],
        Array2::ones((4, 2)),
    )
    .unwrap();
    let models = [speaker, other];
    // Segments of different lengths.
    let segments: Vec<Array2<f32>> = [7, 20, 53]
        .iter()
        .enumerate()
        .map(|(k, &n)| frames(n, [0.3, -0.2], 31 + k as u64))
        .collect();
    let views: Vec<_> = segments.iter().map(|x| x.view()).collect();
    let test = Frames::segments(&views);
    let trials: Vec<Trial> = (0..2)
        .flat_map(|model| (0..3).map(move |segment| Trial { model, segment }))
        .collect();
    let mean = score_trials(&trials, &models, &ubm, &test, 4).unwrap();
    let same = score_trials_scaled(&trials, &models, &ubm, &test, 4, LlrScale::FrameMean).unwrap();
    assert_eq!(mean, same, "frame-mean is score_trials, bit for bit");
    let scaled = score_trials_scaled(&trials, &models, &ubm, &test, 4, LlrScale::SqrtFrames);
    let scaled = scaled.unwrap();
    for (k, t) in trials.iter().enumerate() {
        let x = &segments[t.segment];
        // The sum of the frames' full log-likelihood ratios, written out.
        let mut sum = 0.0;
        for row in x.rows() {
            let row: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            let lse = |d: Vec<f64>| d.iter().map(|v| v.exp()).sum::<f64>().ln();
            sum += lse(naive_log_densities(&row, &models[t.model]))
                - lse(naive_log_densities(&row, &ubm));
        }
        let want = sum / (x.nrows() as f64).sqrt();
        assert!(
            (scaled[k] - want).abs() < 1e-9 * want.abs().max(1.0),
            "trial {k}: {} vs {want}",
            scaled[k]
        );
        // The average times the root of the frames.
        let root = (x.nrows() as f64).sqrt();
        assert!((scaled[k] - mean[k] * root).abs() < 1e-9 * want.abs().max(1.0));
    }
    // The lengths differ, so the two scales rank some trials differently
    // in magnitude: the 53-frame segment's score grows by √53.
    assert!(scaled[2].abs() > 7.0 * mean[2].abs());
}
