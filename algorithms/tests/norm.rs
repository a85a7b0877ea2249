//! Score normalisation (Z-, T-, ZT-, S- and adaptive S-norm) against
//! direct loops over the definitions on generated tables, against NumPy
//! (scripts/peers/norm_numpy.py) when python3 with numpy is present, the
//! same bits on 1, 2 and 3 threads, every error, cohort lists read from
//! files, and two properties (the cohort mean Z-normalises to 0; every
//! method is invariant under `a·s + b`, `a > 0`).

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use proptest::prelude::*;
use shardkit::Executor;
use shardkit_algorithms::backend::{NormError, ScoreNorm};
use shardkit_algorithms::npz::NpzWriter;
use shardkit_algorithms::protocol::{Cohort, Location, ProtocolError, Scores};
use shardkit_testkit::{python_with_numpy, Rng};

/// Ids `prefix000`, `prefix001`…
fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// The position of each of `wanted` in `all`.
fn positions(wanted: &[String], all: &[String]) -> Vec<usize> {
    wanted
        .iter()
        .map(|w| all.iter().position(|a| a == w).unwrap())
        .collect()
}

/// A generated evaluation: trials, cohorts and their score tables, dense
/// (rows and columns in the order of the id lists) and as [`Scores`].
///
/// Each model and each test segment gets its own offset and spread, so
/// their statistics differ; the tables hold rows and columns beyond the
/// cohorts ("x…" ids, scores near 1000) that must not be used, and
/// `cohort_cohort` holds the self-scores of the ids the two cohorts share
/// (near 50) that ZT-norm must leave out.
struct Data {
    models: Vec<String>,
    segments: Vec<String>,
    /// Cohort of Z-, T-, S- and AS-norm, and ZT-norm's Z-norm cohort,
    /// not in sorted order.
    cohort: Cohort,
    /// ZT-norm's T-norm cohort: some ids of `cohort`, and others.
    t_cohort: Cohort,
    trial_matrix: Array2<f64>,
    trial_mask: Array2<bool>,
    /// Columns of `enrol_matrix`; rows are `models`.
    enrol_cols: Vec<String>,
    enrol_matrix: Array2<f64>,
    /// Rows of `test_matrix`; columns are `segments`.
    test_rows: Vec<String>,
    test_matrix: Array2<f64>,
    cc_rows: Vec<String>,
    cc_cols: Vec<String>,
    cc_matrix: Array2<f64>,
    trials: Scores,
    enrol_cohort: Scores,
    cohort_test: Scores,
    cohort_cohort: Scores,
}

impl Data {
    fn new(seed: u64, n_models: usize, n_segments: usize, n_cohort: usize) -> Data {
        let mut rng = Rng::new(seed);
        let models = ids("m", n_models);
        let segments = ids("t", n_segments);
        // The cohort in a scrambled order; the T-norm cohort shares its
        // even positions and adds ids of its own.
        let c_ids = ids("c", n_cohort);
        let order: Vec<String> = (0..n_cohort)
            .map(|i| c_ids[(i * 7 + 3) % n_cohort].clone())
            .collect();
        assert!(!n_cohort.is_multiple_of(7));
        let mut t_order: Vec<String> = order.iter().step_by(2).cloned().collect();
        t_order.extend(ids("d", 4));
        t_order.reverse();
        let extra = ids("x", 3);

        let offset = |rng: &mut Rng| rng.range(-3.0, 3.0);
        let spread = |rng: &mut Rng| rng.range(0.5, 2.0);
        let model_shape: Vec<(f64, f64)> = (0..n_models)
            .map(|_| (offset(&mut rng), spread(&mut rng)))
            .collect();
        let segment_shape: Vec<(f64, f64)> = (0..n_segments)
            .map(|_| (offset(&mut rng), spread(&mut rng)))
            .collect();
        let trial_matrix = Array2::from_shape_fn((n_models, n_segments), |(m, t)| {
            model_shape[m].0 + segment_shape[t].0 + 4.0 * rng.normal()
        });
        let trial_mask =
            Array2::from_shape_fn((n_models, n_segments), |(m, t)| (m + 2 * t) % 5 != 0);

        let enrol_cols: Vec<String> = c_ids.iter().chain(&extra).cloned().collect();
        let enrol_matrix = Array2::from_shape_fn((n_models, enrol_cols.len()), |(m, c)| {
            if c < n_cohort {
                model_shape[m].0 + model_shape[m].1 * rng.normal()
            } else {
                1000.0 + rng.normal()
            }
        });
        let mut test_rows: Vec<String> = c_ids.clone();
        test_rows.extend(ids("d", 4));
        test_rows.extend(extra.iter().cloned());
        let test_matrix = Array2::from_shape_fn((test_rows.len(), n_segments), |(c, t)| {
            if c < n_cohort + 4 {
                segment_shape[t].0 + segment_shape[t].1 * rng.normal()
            } else {
                1000.0 + rng.normal()
            }
        });
        let cc_rows: Vec<String> = t_order.iter().chain(&extra).cloned().collect();
        let cc_cols = enrol_cols.clone();
        let cc_matrix = Array2::from_shape_fn((cc_rows.len(), cc_cols.len()), |(r, c)| {
            if cc_rows[r] == cc_cols[c] {
                50.0 + rng.normal()
            } else if r < t_order.len() && c < n_cohort {
                0.1 * r as f64 + (1.0 + 0.05 * r as f64) * rng.normal()
            } else {
                1000.0 + rng.normal()
            }
        });

        let triples = trial_mask
            .indexed_iter()
            .filter(|(_, &on)| on)
            .map(|((m, t), _)| (models[m].clone(), segments[t].clone(), trial_matrix[(m, t)]));
        let trials = Scores::from_triples(triples).unwrap();
        let enrol_cohort = Scores::from_matrix(&models, &enrol_cols, enrol_matrix.view()).unwrap();
        let cohort_test = Scores::from_matrix(&test_rows, &segments, test_matrix.view()).unwrap();
        let cohort_cohort = Scores::from_matrix(&cc_rows, &cc_cols, cc_matrix.view()).unwrap();
        Data {
            models,
            segments,
            cohort: Cohort::new(order).unwrap(),
            t_cohort: Cohort::new(t_order).unwrap(),
            trial_matrix,
            trial_mask,
            enrol_cols,
            enrol_matrix,
            test_rows,
            test_matrix,
            cc_rows,
            cc_cols,
            cc_matrix,
            trials,
            enrol_cohort,
            cohort_test,
            cohort_cohort,
        }
    }

    fn z(&self) -> ScoreNorm<'_> {
        ScoreNorm::Z {
            cohort: &self.cohort,
            enrol_cohort: &self.enrol_cohort,
        }
    }

    fn t(&self) -> ScoreNorm<'_> {
        ScoreNorm::T {
            cohort: &self.cohort,
            cohort_test: &self.cohort_test,
        }
    }

    fn zt(&self) -> ScoreNorm<'_> {
        ScoreNorm::ZT {
            z_cohort: &self.cohort,
            t_cohort: &self.t_cohort,
            enrol_cohort: &self.enrol_cohort,
            cohort_test: &self.cohort_test,
            cohort_cohort: &self.cohort_cohort,
        }
    }

    fn s(&self) -> ScoreNorm<'_> {
        ScoreNorm::S {
            cohort: &self.cohort,
            enrol_cohort: &self.enrol_cohort,
            cohort_test: &self.cohort_test,
        }
    }

    fn as_norm(&self, top_n: usize) -> ScoreNorm<'_> {
        ScoreNorm::AdaptiveS {
            cohort: &self.cohort,
            enrol_cohort: &self.enrol_cohort,
            cohort_test: &self.cohort_test,
            top_n,
        }
    }

    fn all(&self) -> Vec<ScoreNorm<'_>> {
        vec![self.z(), self.t(), self.zt(), self.s(), self.as_norm(5)]
    }
}

// ------------------------------------------------- the definitions, by loop

/// Mean and population standard deviation, by the textbook formulas.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The `n` largest values.
fn top(mut v: Vec<f64>, n: Option<usize>) -> Vec<f64> {
    if let Some(n) = n {
        v.sort_by(|a, b| b.partial_cmp(a).unwrap());
        v.truncate(n);
    }
    v
}

/// A model's scores against the cohort's segments.
fn row(table: &Scores, model: &str, cohort: &Cohort) -> Vec<f64> {
    cohort
        .ids()
        .iter()
        .map(|c| table.score(model, c).unwrap())
        .collect()
}

/// The cohort models' scores against a segment.
fn column(table: &Scores, segment: &str, cohort: &Cohort) -> Vec<f64> {
    cohort
        .ids()
        .iter()
        .map(|c| table.score(c, segment).unwrap())
        .collect()
}

/// Each trial's normalised score by the definition of its method.
fn by_definition(norm: &ScoreNorm<'_>, trials: &Scores) -> Vec<f64> {
    let z_of = |table: &Scores, cohort: &Cohort, m: &str, n: Option<usize>| {
        mean_std(&top(row(table, m, cohort), n))
    };
    let t_of = |table: &Scores, cohort: &Cohort, t: &str, n: Option<usize>| {
        mean_std(&top(column(table, t, cohort), n))
    };
    trials
        .iter()
        .map(|(m, t, s)| match *norm {
            ScoreNorm::Z {
                cohort,
                enrol_cohort,
            } => {
                let (mu, sd) = z_of(enrol_cohort, cohort, m, None);
                (s - mu) / sd
            }
            ScoreNorm::T {
                cohort,
                cohort_test,
            } => {
                let (mu, sd) = t_of(cohort_test, cohort, t, None);
                (s - mu) / sd
            }
            ScoreNorm::S {
                cohort,
                enrol_cohort,
                cohort_test,
            } => {
                let (mz, sz) = z_of(enrol_cohort, cohort, m, None);
                let (mt, st) = t_of(cohort_test, cohort, t, None);
                0.5 * ((s - mz) / sz + (s - mt) / st)
            }
            ScoreNorm::AdaptiveS {
                cohort,
                enrol_cohort,
                cohort_test,
                top_n,
            } => {
                let (mz, sz) = z_of(enrol_cohort, cohort, m, Some(top_n));
                let (mt, st) = t_of(cohort_test, cohort, t, Some(top_n));
                0.5 * ((s - mz) / sz + (s - mt) / st)
            }
            ScoreNorm::ZT {
                z_cohort,
                t_cohort,
                enrol_cohort,
                cohort_test,
                cohort_cohort,
            } => {
                let (mz, sz) = z_of(enrol_cohort, z_cohort, m, None);
                let z = (s - mz) / sz;
                // Each T-norm cohort model, Z-normalised without its
                // score against itself.
                let cohort_z: Vec<f64> = t_cohort
                    .ids()
                    .iter()
                    .map(|c| {
                        let own: Vec<f64> = z_cohort
                            .ids()
                            .iter()
                            .filter(|seg| *seg != c)
                            .map(|seg| cohort_cohort.score(c, seg).unwrap())
                            .collect();
                        let (mc, sc) = mean_std(&own);
                        (cohort_test.score(c, t).unwrap() - mc) / sc
                    })
                    .collect();
                let (mt, st) = mean_std(&cohort_z);
                (z - mt) / st
            }
            _ => unreachable!("a method the test does not know"),
        })
        .collect()
}

fn assert_close(got: &Scores, want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for ((m, t, g), w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: ({m}, {t}) gives {g}, the definition {w}"
        );
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn every_method_follows_its_definition() {
    let data = Data::new(1, 12, 9, 11);
    for norm in data.all() {
        let out = norm.apply(&data.trials).unwrap();
        // Keyed as the trials.
        assert_eq!(out.models(), data.trials.models());
        assert_eq!(out.segments(), data.trials.segments());
        assert_eq!(out.score_mask(), data.trials.score_mask());
        assert_close(
            &out,
            &by_definition(&norm, &data.trials),
            1e-12,
            norm.name(),
        );
    }
    // The normalisations differ from each other and from the raw scores.
    let raw: Vec<f64> = data.trials.iter().map(|t| t.2).collect();
    let outs: Vec<Vec<f64>> = data
        .all()
        .iter()
        .map(|n| n.apply(&data.trials).unwrap().iter().map(|t| t.2).collect())
        .collect();
    for (i, a) in outs.iter().enumerate() {
        assert_ne!(a, &raw);
        for b in &outs[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn z_and_t_norm_give_their_cohorts_zero_mean_and_unit_deviation() {
    let data = Data::new(2, 6, 5, 9);
    // Z-norm of the cohort table itself: every model's cohort scores come
    // out with mean 0 and deviation 1.
    let cohort_only = Scores::from_triples(data.models.iter().flat_map(|m| {
        data.cohort
            .ids()
            .iter()
            .map(|c| (m.clone(), c.clone(), data.enrol_cohort.score(m, c).unwrap()))
    }))
    .unwrap();
    let z = data.z().apply(&cohort_only).unwrap();
    for m in &data.models {
        let (mu, sd) = mean_std(&row(&z, m, &data.cohort));
        assert!(
            mu.abs() < 1e-13 && (sd - 1.0).abs() < 1e-13,
            "{m}: {mu} {sd}"
        );
    }
    let t_table = Scores::from_triples(data.segments.iter().flat_map(|t| {
        data.cohort
            .ids()
            .iter()
            .map(|c| (c.clone(), t.clone(), data.cohort_test.score(c, t).unwrap()))
    }))
    .unwrap();
    let t = data.t().apply(&t_table).unwrap();
    for seg in &data.segments {
        let (mu, sd) = mean_std(&column(&t, seg, &data.cohort));
        assert!(
            mu.abs() < 1e-13 && (sd - 1.0).abs() < 1e-13,
            "{seg}: {mu} {sd}"
        );
    }
}

#[test]
fn zt_norm_leaves_out_self_scores_and_unused_rows() {
    let data = Data::new(3, 8, 6, 10);
    let zt = data.zt().apply(&data.trials).unwrap();
    // Including the self-scores (near 50) would change every result.
    let z = data.z().apply(&data.trials).unwrap();
    let with_self: Vec<f64> = data
        .trials
        .iter()
        .map(|(m, t, _)| {
            let cohort_z: Vec<f64> = data
                .t_cohort
                .ids()
                .iter()
                .map(|c| {
                    let (mc, sc) = mean_std(&row(&data.cohort_cohort, c, &data.cohort));
                    (data.cohort_test.score(c, t).unwrap() - mc) / sc
                })
                .collect();
            let (mt, st) = mean_std(&cohort_z);
            (z.score(m, t).unwrap() - mt) / st
        })
        .collect();
    for ((m, t, got), other) in zt.iter().zip(&with_self) {
        assert!((got - other).abs() > 1e-6, "({m}, {t})");
    }
    // ZT-norm is T-norm of the Z-normalised scores when no cohort model
    // shares an id with the Z-norm cohort and the cohort tables are the
    // Z-normalised ones: build those and compare.
    let t_only = Cohort::new(data.t_cohort.ids().iter().filter(|c| c.starts_with('d'))).unwrap();
    let zt_only = ScoreNorm::ZT {
        z_cohort: &data.cohort,
        t_cohort: &t_only,
        enrol_cohort: &data.enrol_cohort,
        cohort_test: &data.cohort_test,
        cohort_cohort: &data.cohort_cohort,
    }
    .apply(&data.trials)
    .unwrap();
    let z_cohort_test = ScoreNorm::Z {
        cohort: &data.cohort,
        enrol_cohort: &data.cohort_cohort,
    }
    .apply(
        &Scores::from_triples(t_only.ids().iter().flat_map(|c| {
            data.segments
                .iter()
                .map(|t| (c.clone(), t.clone(), data.cohort_test.score(c, t).unwrap()))
        }))
        .unwrap(),
    )
    .unwrap();
    let composed = ScoreNorm::T {
        cohort: &t_only,
        cohort_test: &z_cohort_test,
    }
    .apply(&z)
    .unwrap();
    let want: Vec<f64> = composed.iter().map(|t| t.2).collect();
    assert_close(&zt_only, &want, 1e-12, "ZT = T ∘ Z");
}

#[test]
fn adaptive_s_norm_over_the_whole_cohort_is_s_norm() {
    let data = Data::new(4, 7, 7, 8);
    let s = data.s().apply(&data.trials).unwrap();
    let all = data.as_norm(8).apply(&data.trials).unwrap();
    let want: Vec<f64> = s.iter().map(|t| t.2).collect();
    assert_close(&all, &want, 1e-13, "AS-norm, top_n = cohort");
    // A smaller top_n changes the scores, and each side uses its own
    // top scores (checked by definition).
    for n in [2, 3, 7] {
        let norm = data.as_norm(n);
        let out = norm.apply(&data.trials).unwrap();
        assert_ne!(out, s);
        assert_close(&out, &by_definition(&norm, &data.trials), 1e-12, "AS-norm");
    }
}

#[test]
fn same_bits_on_one_two_and_three_threads() {
    // 300 models and 200 segments: many blocks per pass.
    let data = Data::new(5, 300, 200, 13);
    for norm in data.all() {
        let serial = Executor::serial()
            .install(|| norm.apply(&data.trials))
            .unwrap();
        let bits = |s: &Scores| s.iter().map(|t| t.2.to_bits()).collect::<Vec<_>>();
        for n in [2, 3] {
            let pooled = Executor::threads(n)
                .unwrap()
                .install(|| norm.apply(&data.trials))
                .unwrap();
            assert_eq!(
                bits(&serial),
                bits(&pooled),
                "{} on {n} threads",
                norm.name()
            );
        }
    }
    // Errors are the same too: the first failing id in sorted order.
    let mut broken = data.enrol_cohort.iter().collect::<Vec<_>>();
    broken.retain(|&(m, c, _)| !((m == "m120" || m == "m250") && c == data.cohort.ids()[2]));
    let broken = Scores::from_triples(broken).unwrap();
    let norm = ScoreNorm::Z {
        cohort: &data.cohort,
        enrol_cohort: &broken,
    };
    let serial = Executor::serial().install(|| norm.apply(&data.trials));
    let pooled = Executor::threads(3)
        .unwrap()
        .install(|| norm.apply(&data.trials));
    assert_eq!(serial, pooled);
    assert!(
        matches!(serial, Err(NormError::MissingCohortScore { ref model, .. }) if model == "m120")
    );
}

// ----------------------------------------------------------------- errors

/// Scores from (model, segment, score) triples.
fn table(triples: &[(&str, &str, f64)]) -> Scores {
    Scores::from_triples(triples.iter().copied()).unwrap()
}

#[test]
fn cohorts_too_small_and_bad_top_n_are_refused() {
    let data = Data::new(6, 4, 4, 5);
    let one = Cohort::new(["c000"]).unwrap();
    let err = ScoreNorm::Z {
        cohort: &one,
        enrol_cohort: &data.enrol_cohort,
    }
    .apply(&data.trials)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the cohort has 1 id(s), but Z-norm needs at least 2"
    );
    let empty = Cohort::default();
    let err = ScoreNorm::T {
        cohort: &empty,
        cohort_test: &data.cohort_test,
    }
    .apply(&data.trials)
    .unwrap_err();
    assert!(matches!(
        err,
        NormError::CohortTooSmall {
            method: "T-norm",
            found: 0,
            needed: 2,
            ..
        }
    ));
    for top_n in [0, 1] {
        let err = data.as_norm(top_n).apply(&data.trials).unwrap_err();
        assert_eq!(err, NormError::TopN { top_n });
        assert_eq!(
            err.to_string(),
            format!("AS-norm's `top_n` is {top_n}: keep at least 2 cohort scores per side (SIDEKIT keeps 200)")
        );
    }
    let err = data.as_norm(6).apply(&data.trials).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the cohort has 5 id(s), but AS-norm needs at least 6 (`top_n`: the cohort scores each side keeps)"
    );
    // ZT-norm: a T-norm cohort model that is also a Z-norm cohort segment
    // leaves one score out, so two Z-norm cohort ids are too few.
    let two = Cohort::new(["c000", "c001"]).unwrap();
    let shared = Cohort::new(["c001", "d000"]).unwrap();
    let zt = |z_cohort, t_cohort| ScoreNorm::ZT {
        z_cohort,
        t_cohort,
        enrol_cohort: &data.enrol_cohort,
        cohort_test: &data.cohort_test,
        cohort_cohort: &data.cohort_cohort,
    };
    let err = zt(&two, &shared).apply(&data.trials).unwrap_err();
    assert!(
        matches!(
            err,
            NormError::CohortTooSmall {
                cohort: "Z-norm cohort",
                needed: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    let separate = Cohort::new(["d000", "d001"]).unwrap();
    let cc = Scores::from_triples(["d000", "d001"].iter().flat_map(|d| {
        [("c000", 0.5), ("c001", -0.5)]
            .map(|(c, v)| (*d, c, v * if *d == "d000" { 1.0 } else { 2.0 }))
    }))
    .unwrap();
    ScoreNorm::ZT {
        z_cohort: &two,
        t_cohort: &separate,
        enrol_cohort: &data.enrol_cohort,
        cohort_test: &data.cohort_test,
        cohort_cohort: &cc,
    }
    .apply(&data.trials)
    .unwrap();
    let err = zt(&data.cohort, &one).apply(&data.trials).unwrap_err();
    assert!(matches!(
        err,
        NormError::CohortTooSmall {
            cohort: "T-norm cohort",
            ..
        }
    ));
}

#[test]
fn missing_ids_and_scores_are_named() {
    let cohort = Cohort::new(["imp1", "imp2", "imp3"]).unwrap();
    let trials = table(&[("spk1", "seg1", 1.0), ("spk2", "seg1", 2.0)]);
    let enrol = table(&[
        ("spk1", "imp1", 0.0),
        ("spk1", "imp2", 1.0),
        ("spk1", "imp3", 2.0),
        ("spk2", "imp1", 0.0),
        ("spk2", "imp3", 2.0),
    ]);
    let err = ScoreNorm::Z {
        cohort: &cohort,
        enrol_cohort: &enrol,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`enrol_cohort` (trial models × cohort segments) has no score of model `spk2` against \
         segment `imp2`: it must hold the score of every pair"
    );
    // A trial model the table does not score at all.
    let err = ScoreNorm::Z {
        cohort: &cohort,
        enrol_cohort: &table(&[
            ("spk1", "imp1", 0.0),
            ("spk1", "imp2", 1.0),
            ("spk1", "imp3", 2.0),
        ]),
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "trial model `spk2` has no score in `enrol_cohort` (trial models × cohort segments): score \
         every trial model against the cohort"
    );
    // A test segment missing from the test side.
    let test = table(&[
        ("imp1", "seg2", 0.0),
        ("imp2", "seg2", 1.0),
        ("imp3", "seg2", 2.0),
    ]);
    let err = ScoreNorm::T {
        cohort: &cohort,
        cohort_test: &test,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err,
        NormError::MissingId {
            table: "cohort_test",
            kind: "test segment",
            id: "seg1".into()
        }
    );
    // A cohort id the test side does not have.
    let test = table(&[
        ("imp1", "seg1", 0.0),
        ("imp2", "seg1", 1.0),
        ("imp4", "seg1", 2.0),
    ]);
    let err = ScoreNorm::T {
        cohort: &cohort,
        cohort_test: &test,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err,
        NormError::MissingCohortScore {
            table: "cohort_test",
            model: "imp3".into(),
            segment: "seg1".into()
        }
    );
    // ZT-norm: a T-norm cohort model missing from `cohort_cohort`.
    let full_enrol = table(&[
        ("spk1", "imp1", 0.0),
        ("spk1", "imp2", 1.0),
        ("spk1", "imp3", 2.0),
        ("spk2", "imp1", 0.0),
        ("spk2", "imp2", 1.5),
        ("spk2", "imp3", 2.0),
    ]);
    let t_cohort = Cohort::new(["tm1", "tm2"]).unwrap();
    let test = table(&[("tm1", "seg1", 0.0), ("tm2", "seg1", 1.0)]);
    let cc = table(&[
        ("tm1", "imp1", 0.0),
        ("tm1", "imp2", 1.0),
        ("tm1", "imp3", 3.0),
    ]);
    let err = ScoreNorm::ZT {
        z_cohort: &cohort,
        t_cohort: &t_cohort,
        enrol_cohort: &full_enrol,
        cohort_test: &test,
        cohort_cohort: &cc,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "T-norm cohort model `tm2` has no score in `cohort_cohort` (T-norm cohort models × Z-norm \
         cohort segments): score every T-norm cohort model against the cohort"
    );
}

#[test]
fn constant_cohort_scores_name_the_model_or_segment() {
    let cohort = Cohort::new(["imp1", "imp2", "imp3"]).unwrap();
    let trials = table(&[("spk1", "seg1", 1.0), ("spk2", "seg1", 2.0)]);
    let enrol = table(&[
        ("spk1", "imp1", 0.0),
        ("spk1", "imp2", 1.0),
        ("spk1", "imp3", 2.0),
        ("spk2", "imp1", 0.1),
        ("spk2", "imp2", 0.1),
        ("spk2", "imp3", 0.1),
    ]);
    let err = ScoreNorm::Z {
        cohort: &cohort,
        enrol_cohort: &enrol,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the 3 cohort scores of trial model `spk2` in `enrol_cohort` are all 0.1: their standard \
         deviation is 0, so its scores cannot be normalised (check that `enrol_cohort` was scored, \
         or use a larger cohort)"
    );
    let test = table(&[
        ("imp1", "seg1", -2.0),
        ("imp2", "seg1", -2.0),
        ("imp3", "seg1", -2.0),
    ]);
    let err = ScoreNorm::T {
        cohort: &cohort,
        cohort_test: &test,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err,
        NormError::ZeroDeviation {
            table: "cohort_test",
            kind: "test segment",
            id: "seg1".into(),
            n: 3,
            value: -2.0
        }
    );
    // AS-norm: the two highest scores of spk1 are equal, though its
    // cohort scores are not.
    let enrol = table(&[
        ("spk1", "imp1", 0.0),
        ("spk1", "imp2", 2.0),
        ("spk1", "imp3", 2.0),
        ("spk2", "imp1", 0.0),
        ("spk2", "imp2", 1.0),
        ("spk2", "imp3", 2.0),
    ]);
    let test = table(&[
        ("imp1", "seg1", 0.0),
        ("imp2", "seg1", 1.0),
        ("imp3", "seg1", 2.0),
    ]);
    let norm = |top_n| ScoreNorm::AdaptiveS {
        cohort: &cohort,
        enrol_cohort: &enrol,
        cohort_test: &test,
        top_n,
    };
    assert_eq!(
        norm(2).apply(&trials).unwrap_err(),
        NormError::ZeroDeviation {
            table: "enrol_cohort",
            kind: "trial model",
            id: "spk1".into(),
            n: 2,
            value: 2.0
        }
    );
    norm(3).apply(&trials).unwrap();
}

#[test]
fn overflowing_statistics_and_scores_are_errors() {
    let cohort = Cohort::new(["imp1", "imp2", "imp3"]).unwrap();
    let trials = table(&[("spk1", "seg1", 1e308)]);
    let huge = table(&[
        ("spk1", "imp1", 1.7e308),
        ("spk1", "imp2", -1.7e308),
        ("spk1", "imp3", 1.7e308),
    ]);
    let err = ScoreNorm::Z {
        cohort: &cohort,
        enrol_cohort: &huge,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err,
        NormError::Overflow {
            table: "enrol_cohort",
            kind: "trial model",
            id: "spk1".into()
        }
    );
    let tiny = table(&[
        ("spk1", "imp1", 0.0),
        ("spk1", "imp2", 1e-300),
        ("spk1", "imp3", 0.0),
    ]);
    let err = ScoreNorm::Z {
        cohort: &cohort,
        enrol_cohort: &tiny,
    }
    .apply(&trials)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the normalised score of model `spk1` and segment `seg1` (raw score {}) is not a \
             finite number: a cohort standard deviation is too small for it",
            1e308
        )
    );
}

#[test]
fn errors_are_send_sync() {
    fn assert_traits<T: Send + Sync + 'static + std::error::Error>() {}
    assert_traits::<NormError>();
    fn assert_data<T: Send + Sync>() {}
    assert_data::<ScoreNorm<'static>>();
    assert_data::<Cohort>();
}

// ---------------------------------------------------------- cohort files

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn cohort_lists_read_write_and_name_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cohort.lst", "imp3\r\n\n  imp1\t\nimp2\n");
    let cohort = Cohort::read_txt(&path).unwrap();
    assert_eq!(cohort.ids(), ["imp3", "imp1", "imp2"]);
    let out = dir.path().join("out.lst");
    cohort.write_txt(&out).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "imp3\nimp1\nimp2\n");
    assert_eq!(Cohort::read_txt(&out).unwrap(), cohort);

    let bad = write(dir.path(), "two.lst", "imp1\nimp2 imp3\n");
    let err = Cohort::read_txt(&bad).unwrap_err();
    assert!(matches!(
        &err,
        ProtocolError::FieldCount { at: Location::Line { path, line: 2 }, found: 2, .. } if path == &bad
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "{}, line 2: 2 field(s), but cohort lines have 1 field: the id",
            bad.display()
        )
    );
    let repeated = write(dir.path(), "rep.lst", "imp1\nimp2\n\nimp1\n");
    let err = Cohort::read_txt(&repeated).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{p}, line 4: cohort id `imp1` is already listed at {p}, line 1",
            p = repeated.display()
        )
    );
    let empty = write(dir.path(), "empty.lst", "\n \n");
    assert!(matches!(
        Cohort::read_txt(&empty),
        Err(ProtocolError::Empty {
            what: "cohort ids",
            ..
        })
    ));
    assert!(matches!(
        Cohort::read_txt(dir.path().join("missing.lst")),
        Err(ProtocolError::Io { op: "read", .. })
    ));
    assert!(matches!(
        Cohort::new(["imp1", "imp 2"]),
        Err(ProtocolError::BadId {
            at: Location::Item(1),
            ..
        })
    ));
    assert!(matches!(
        Cohort::default().write_txt(dir.path().join("none.lst")),
        Err(ProtocolError::EmptyWrite { .. })
    ));
}

// ------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A trial score equal to its model's cohort mean (summed in the
    /// cohort's order) Z-normalises to 0 exactly.
    #[test]
    fn the_cohort_mean_z_normalises_to_zero(
        values in proptest::collection::vec(-1e3f64..1e3, 2..12),
    ) {
        prop_assume!(values.iter().any(|&v| v != values[0]));
        let names = ids("c", values.len());
        let cohort = Cohort::new(names.iter().rev()).unwrap();
        let enrol = Scores::from_triples(names.iter().zip(&values).map(|(c, &v)| ("m", c.clone(), v))).unwrap();
        let mean = cohort.ids().iter().map(|c| enrol.score("m", c).unwrap()).sum::<f64>() / values.len() as f64;
        let trials = table(&[("m", "t", mean)]);
        let z = ScoreNorm::Z { cohort: &cohort, enrol_cohort: &enrol }.apply(&trials).unwrap();
        prop_assert_eq!(z.score("m", "t").unwrap(), 0.0);
    }

    /// `a·s + b` (a > 0) of every score of every table leaves every method's
    /// result unchanged.
    #[test]
    fn every_method_is_invariant_under_affine_maps(
        seed in any::<u64>(),
        a in 0.01f64..100.0,
        b in -100.0f64..100.0,
        n_cohort in 5usize..10,
        top_n in 2usize..5,
    ) {
        let data = Data::new(seed, 3, 4, if n_cohort.is_multiple_of(7) { 8 } else { n_cohort });
        let map = |s: &Scores| Scores::from_triples(s.iter().map(|(m, t, v)| (m, t, a * v + b))).unwrap();
        let (trials, enrol, test, cc) =
            (map(&data.trials), map(&data.enrol_cohort), map(&data.cohort_test), map(&data.cohort_cohort));
        let mapped = [
            ScoreNorm::Z { cohort: &data.cohort, enrol_cohort: &enrol },
            ScoreNorm::T { cohort: &data.cohort, cohort_test: &test },
            ScoreNorm::ZT {
                z_cohort: &data.cohort,
                t_cohort: &data.t_cohort,
                enrol_cohort: &enrol,
                cohort_test: &test,
                cohort_cohort: &cc,
            },
            ScoreNorm::S { cohort: &data.cohort, enrol_cohort: &enrol, cohort_test: &test },
            ScoreNorm::AdaptiveS { cohort: &data.cohort, enrol_cohort: &enrol, cohort_test: &test, top_n },
        ];
        let raw = [data.z(), data.t(), data.zt(), data.s(), data.as_norm(top_n)];
        for (plain, mapped) in raw.iter().zip(&mapped) {
            let want = plain.apply(&data.trials).unwrap();
            let got = mapped.apply(&trials).unwrap();
            for ((m, t, w), (_, _, g)) in want.iter().zip(got.iter()) {
                prop_assert!(
                    (g - w).abs() <= 1e-8 * (1.0 + w.abs()),
                    "{}: ({}, {}) {} vs {}", plain.name(), m, t, g, w
                );
            }
        }
    }
}

// ------------------------------------------------------------------ NumPy

/// Every method against scripts/peers/norm_numpy.py.
#[test]
fn numpy_cross_check_when_available() {
    let Some(python) = python_with_numpy() else {
        eprintln!(
            "skipped: no python3 with numpy (set SHARDKIT_TEST_PYTHON to one to run this check)"
        );
        return;
    };
    let data = Data::new(7, 15, 11, 12);
    let top_n = 4;
    let dir = tempfile::tempdir().unwrap();
    let index = |v: Vec<usize>| v.into_iter().map(|i| i as f64).collect::<Array1<f64>>();
    let mut npz = NpzWriter::new(dir.path().join("norm.npz"));
    npz.add("trials", &data.trial_matrix).unwrap();
    npz.add(
        "mask",
        &data.trial_mask.mapv(|on| if on { 1.0 } else { 0.0 }),
    )
    .unwrap();
    npz.add("enrol_cohort", &data.enrol_matrix).unwrap();
    npz.add("cohort_test", &data.test_matrix).unwrap();
    npz.add("cohort_cohort", &data.cc_matrix).unwrap();
    // Where the cohorts' ids are among the tables' rows and columns.
    npz.add(
        "z_cols",
        &index(positions(data.cohort.ids(), &data.enrol_cols)),
    )
    .unwrap();
    npz.add(
        "t_rows",
        &index(positions(data.cohort.ids(), &data.test_rows)),
    )
    .unwrap();
    npz.add(
        "zt_test_rows",
        &index(positions(data.t_cohort.ids(), &data.test_rows)),
    )
    .unwrap();
    npz.add(
        "zt_cc_rows",
        &index(positions(data.t_cohort.ids(), &data.cc_rows)),
    )
    .unwrap();
    npz.add(
        "zt_cc_cols",
        &index(positions(data.cohort.ids(), &data.cc_cols)),
    )
    .unwrap();
    let own: Array1<f64> = data
        .t_cohort
        .ids()
        .iter()
        .map(|c| {
            data.cohort
                .ids()
                .iter()
                .position(|z| z == c)
                .map_or(-1.0, |k| k as f64)
        })
        .collect();
    npz.add("zt_self", &own).unwrap();
    npz.add("top_n", &Array1::from_elem(1, top_n as f64))
        .unwrap();
    let norms = [
        ("z", data.z()),
        ("t", data.t()),
        ("zt", data.zt()),
        ("s", data.s()),
        ("as", data.as_norm(top_n)),
    ];
    for (name, norm) in norms {
        let out = norm.apply(&data.trials).unwrap();
        let dense = Array2::from_shape_fn(data.trial_matrix.dim(), |(m, t)| {
            out.get(&data.models[m], &data.segments[t])
                .unwrap_or(f64::NAN)
        });
        npz.add(&format!("out_{name}"), &dense).unwrap();
    }
    npz.finish().unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/peers/norm_numpy.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir.path().join("norm.npz"))
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
