//! Score normalisation against an impostor cohort: Z-norm, T-norm,
//! ZT-norm, S-norm and adaptive S-norm ([`ScoreNorm`]).

mod errors;
mod stats;

pub use errors::NormError;

use stats::{stats, Side, Stats};

use crate::protocol::{Cohort, Scores};

/// A score normalisation, with the cohort and the cohort score tables it
/// needs; [`ScoreNorm::apply`] normalises trial scores with it.
///
/// Every method maps a raw score `s` of model `m` and test segment `t` to
/// a normalised score through the mean `μ` and the standard deviation `σ`
/// of impostor scores:
///
/// | method | normalised score | statistics |
/// |---|---|---|
/// | [`Z`](ScoreNorm::Z) | `(s − μ_z(m)) / σ_z(m)` | `m` against the cohort's segments (`enrol_cohort`) |
/// | [`T`](ScoreNorm::T) | `(s − μ_t(t)) / σ_t(t)` | the cohort's models against `t` (`cohort_test`) |
/// | [`ZT`](ScoreNorm::ZT) | `(z − μ'_t(t)) / σ'_t(t)`, `z = (s − μ_z(m)) / σ_z(m)` | `μ'_t, σ'_t`: of the cohort models' scores against `t`, each Z-normalised first |
/// | [`S`](ScoreNorm::S) | `½ [(s − μ_z(m)) / σ_z(m) + (s − μ_t(t)) / σ_t(t)]` | both sides, one cohort |
/// | [`AdaptiveS`](ScoreNorm::AdaptiveS) | as S-norm | each side from its `top_n` highest cohort scores only |
///
/// - **Statistics.** `μ` is the mean and `σ` the population standard
///   deviation (divided by the number of scores `n`, not `n − 1`: NumPy's
///   `std`, as SIDEKIT's `znorm` and `tnorm` use it) of the cohort scores.
///   Every method is invariant under an affine change `a·s + b`, `a > 0`,
///   of all scores.
/// - **ZT-norm** (as SIDEKIT's `ztnorm` does it): the
///   trial scores are Z-normalised with the statistics of their models
///   against the Z-norm cohort (`enrol_cohort`); each T-norm cohort model
///   `c` is Z-normalised too, with the statistics of its scores against the
///   same Z-norm cohort (`cohort_cohort`), leaving out its score against
///   itself (a Z-norm cohort segment with the same id); then the Z-normalised
///   trial scores are T-normalised with the Z-normalised cohort scores
///   `(cohort_test(c, t) − μ_z(c)) / σ_z(c)` of the T-norm cohort models.
/// - **S-norm** (symmetric normalisation, Kenny, 2010): the mean of the
///   Z-normalised and the T-normalised score, one cohort scored against
///   the enrolment side (as segments) and the test side (as models).
/// - **Adaptive S-norm** (AS-norm; Matějka et al., 2017, after Cumani et
///   al., 2011): as S-norm, but the statistics of model `m`
///   are those of its `top_n` highest scores against the cohort, and the
///   statistics of segment `t` those of the `top_n` highest cohort scores
///   against it: each side picks its own closest impostors.
///
/// ## Inputs
///
/// The trial scores and the cohort tables are [`Scores`], typically from
/// the same back end: `enrol_cohort` holds trial models (rows) × cohort
/// segments (columns), `cohort_test` cohort models × trial test segments,
/// `cohort_cohort` T-norm cohort models × Z-norm cohort segments. A table
/// may hold more rows and columns than needed; only the cohort's ids are
/// used, and the score of every (model or segment, cohort id) pair must
/// be there ([`NormError::MissingCohortScore`]). A [`Cohort`] is a list of
/// ids ([`Cohort::read_txt`]: one per line).
///
/// The output has the trials' models, segments and trials. Errors
/// ([`NormError`]) name the table and the model or segment at fault: one
/// with no score in a table, a missing cohort score, a cohort of fewer
/// than 2 ids (fewer than `top_n` for AS-norm), `top_n < 2`, cohort scores
/// that are all equal (standard deviation 0).
///
/// ## Parallelisation
///
/// The statistics of each side are one `#[parallelize(split = "ids",
/// reduce = "concat")]` pass over the models (or segments, or ZT-norm's
/// cohort models): each shard gathers its ids' cohort scores and returns
/// their statistics, in order. Each id's statistics depend on its scores
/// alone (summed in the cohort's order; AS-norm: highest first), so the
/// result has the same bits on any number of threads or MPI ranks.
/// Applying the statistics to the trials is one cheap serial loop.
///
/// ```
/// use shardkit_algorithms::backend::ScoreNorm;
/// use shardkit_algorithms::protocol::{Cohort, Scores};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trials = Scores::from_triples([("spk1", "seg1", 3.0), ("spk1", "seg2", 0.5)])?;
/// let cohort = Cohort::new(["imp1", "imp2", "imp3"])?;
/// // spk1 against the cohort: mean 1, population standard deviation 1.
/// let enrol_cohort = Scores::from_triples([
///     ("spk1", "imp1", 1.0 - 1.5f64.sqrt()),
///     ("spk1", "imp2", 1.0),
///     ("spk1", "imp3", 1.0 + 1.5f64.sqrt()),
/// ])?;
/// let z = ScoreNorm::Z { cohort: &cohort, enrol_cohort: &enrol_cohort }.apply(&trials)?;
/// assert!((z.score("spk1", "seg1")? - 2.0).abs() < 1e-15);
/// assert!((z.score("spk1", "seg2")? + 0.5).abs() < 1e-15);
///
/// // The cohort models against the test segments: S-norm averages both sides.
/// let cohort_test = Scores::from_triples([
///     ("imp1", "seg1", 0.0), ("imp2", "seg1", 2.0), ("imp3", "seg1", 4.0),
///     ("imp1", "seg2", -1.0), ("imp2", "seg2", 0.0), ("imp3", "seg2", 1.0),
/// ])?;
/// let s = ScoreNorm::S { cohort: &cohort, enrol_cohort: &enrol_cohort, cohort_test: &cohort_test }
///     .apply(&trials)?;
/// let t_seg1 = (3.0 - 2.0) / (8.0f64 / 3.0).sqrt();
/// assert!((s.score("spk1", "seg1")? - 0.5 * (2.0 + t_seg1)).abs() < 1e-15);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ScoreNorm<'a> {
    /// Z-norm: each trial model's statistics against the cohort segments.
    Z {
        /// The cohort segments.
        cohort: &'a Cohort,
        /// Trial models × cohort segments.
        enrol_cohort: &'a Scores,
    },
    /// T-norm: each test segment's statistics against the cohort models.
    T {
        /// The cohort models.
        cohort: &'a Cohort,
        /// Cohort models × test segments.
        cohort_test: &'a Scores,
    },
    /// ZT-norm: Z-norm, then T-norm with Z-normalised cohort scores (see
    /// the [type docs](ScoreNorm)).
    ZT {
        /// The Z-norm cohort segments.
        z_cohort: &'a Cohort,
        /// The T-norm cohort models (may share ids with `z_cohort`: a
        /// model's score against its own id is left out).
        t_cohort: &'a Cohort,
        /// Trial models × Z-norm cohort segments.
        enrol_cohort: &'a Scores,
        /// T-norm cohort models × test segments.
        cohort_test: &'a Scores,
        /// T-norm cohort models × Z-norm cohort segments.
        cohort_cohort: &'a Scores,
    },
    /// S-norm: the mean of the Z-normalised and the T-normalised score.
    S {
        /// The cohort: segments of `enrol_cohort`, models of `cohort_test`.
        cohort: &'a Cohort,
        /// Trial models × cohort segments.
        enrol_cohort: &'a Scores,
        /// Cohort models × test segments.
        cohort_test: &'a Scores,
    },
    /// Adaptive S-norm: S-norm with each side's statistics from its
    /// `top_n` highest cohort scores.
    AdaptiveS {
        /// The cohort: segments of `enrol_cohort`, models of `cohort_test`.
        cohort: &'a Cohort,
        /// Trial models × cohort segments.
        enrol_cohort: &'a Scores,
        /// Cohort models × test segments.
        cohort_test: &'a Scores,
        /// How many of the highest cohort scores each side keeps (≥ 2, at
        /// most the cohort's size).
        top_n: usize,
    },
}

/// The statistics of the trial models.
const ENROL: (&str, &str) = ("enrol_cohort", "trial model");
/// The statistics of the test segments.
const TEST: (&str, &str) = ("cohort_test", "test segment");

impl ScoreNorm<'_> {
    /// The method's short name: `"Z-norm"`, `"T-norm"`, `"ZT-norm"`,
    /// `"S-norm"` or `"AS-norm"`.
    ///
    /// ```
    /// use shardkit_algorithms::backend::ScoreNorm;
    /// use shardkit_algorithms::protocol::{Cohort, Scores};
    ///
    /// let cohort = Cohort::new(["imp1", "imp2"]).unwrap();
    /// let table = Scores::from_triples([("imp1", "seg1", 0.0)]).unwrap();
    /// assert_eq!(ScoreNorm::T { cohort: &cohort, cohort_test: &table }.name(), "T-norm");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            ScoreNorm::Z { .. } => "Z-norm",
            ScoreNorm::T { .. } => "T-norm",
            ScoreNorm::ZT { .. } => "ZT-norm",
            ScoreNorm::S { .. } => "S-norm",
            ScoreNorm::AdaptiveS { .. } => "AS-norm",
        }
    }

    /// The normalised scores of `trials`, keyed as `trials` (see the [type
    /// docs](ScoreNorm) for the formulas and an example).
    ///
    /// # Errors
    ///
    /// [`NormError::TopN`] for AS-norm's `top_n < 2`;
    /// [`NormError::CohortTooSmall`] for a cohort of fewer than 2 ids
    /// (AS-norm: fewer than `top_n`; ZT-norm: fewer than 3 Z-norm cohort
    /// ids when a T-norm cohort id is among them);
    /// [`NormError::MissingId`] for a trial model, test segment or ZT-norm
    /// cohort model with no score in its table;
    /// [`NormError::MissingCohortScore`] for a missing cohort score;
    /// [`NormError::ZeroDeviation`] naming the model or segment whose
    /// cohort scores are all equal; [`NormError::Overflow`] and
    /// [`NormError::ScoreOverflow`] for scores beyond `f64` arithmetic.
    /// Where several ids fail, the first in sorted order (trial models,
    /// then test segments) is named.
    pub fn apply(&self, trials: &Scores) -> Result<Scores, NormError> {
        let name = self.name();
        match *self {
            ScoreNorm::Z {
                cohort,
                enrol_cohort,
            } => {
                at_least(cohort, name, "cohort", 2, "")?;
                let z = enrol_stats(trials, enrol_cohort, cohort, None)?;
                finish(trials, |m, _, s| z[m].apply(s))
            }
            ScoreNorm::T {
                cohort,
                cohort_test,
            } => {
                at_least(cohort, name, "cohort", 2, "")?;
                let t = test_stats(trials, cohort_test, cohort, None)?;
                finish(trials, |_, t_, s| t[t_].apply(s))
            }
            ScoreNorm::S {
                cohort,
                enrol_cohort,
                cohort_test,
            } => {
                at_least(cohort, name, "cohort", 2, "")?;
                symmetric(trials, enrol_cohort, cohort_test, cohort, None)
            }
            ScoreNorm::AdaptiveS {
                cohort,
                enrol_cohort,
                cohort_test,
                top_n,
            } => {
                if top_n < 2 {
                    return Err(NormError::TopN { top_n });
                }
                at_least(
                    cohort,
                    name,
                    "cohort",
                    top_n,
                    " (`top_n`: the cohort scores each side keeps)",
                )?;
                symmetric(trials, enrol_cohort, cohort_test, cohort, Some(top_n))
            }
            ScoreNorm::ZT {
                z_cohort,
                t_cohort,
                enrol_cohort,
                cohort_test,
                cohort_cohort,
            } => {
                let shared = t_cohort.ids().iter().any(|c| z_cohort.contains(c));
                if shared {
                    at_least(
                        z_cohort,
                        name,
                        "Z-norm cohort",
                        3,
                        " (a T-norm cohort model shares an id with it, and its score against itself is left out)",
                    )?;
                } else {
                    at_least(z_cohort, name, "Z-norm cohort", 2, "")?;
                }
                at_least(t_cohort, name, "T-norm cohort", 2, "")?;
                let z = enrol_stats(trials, enrol_cohort, z_cohort, None)?;
                let cohort_z = stats(
                    t_cohort.ids(),
                    &Side::models(
                        cohort_cohort,
                        "cohort_cohort",
                        "T-norm cohort model",
                        z_cohort,
                    )
                    .without_self(),
                )?;
                let t = stats(
                    trials.segments(),
                    &Side::segments(cohort_test, TEST.0, TEST.1, t_cohort).normalised_by(&cohort_z),
                )?;
                finish(trials, |m, t_, s| t[t_].apply(z[m].apply(s)))
            }
        }
    }
}

/// S-norm, and with `top_n` AS-norm.
fn symmetric(
    trials: &Scores,
    enrol_cohort: &Scores,
    cohort_test: &Scores,
    cohort: &Cohort,
    top_n: Option<usize>,
) -> Result<Scores, NormError> {
    let z = enrol_stats(trials, enrol_cohort, cohort, top_n)?;
    let t = test_stats(trials, cohort_test, cohort, top_n)?;
    finish(trials, |m, t_, s| 0.5 * (z[m].apply(s) + t[t_].apply(s)))
}

/// The statistics of the trial models, by row of `trials`.
fn enrol_stats(
    trials: &Scores,
    enrol_cohort: &Scores,
    cohort: &Cohort,
    top_n: Option<usize>,
) -> Result<Vec<Stats>, NormError> {
    let side = Side::models(enrol_cohort, ENROL.0, ENROL.1, cohort).top(top_n);
    stats(trials.models(), &side)
}

/// The statistics of the test segments, by column of `trials`.
fn test_stats(
    trials: &Scores,
    cohort_test: &Scores,
    cohort: &Cohort,
    top_n: Option<usize>,
) -> Result<Vec<Stats>, NormError> {
    let side = Side::segments(cohort_test, TEST.0, TEST.1, cohort).top(top_n);
    stats(trials.segments(), &side)
}

/// Checks that `cohort` has at least `needed` ids.
fn at_least(
    cohort: &Cohort,
    method: &'static str,
    which: &'static str,
    needed: usize,
    hint: &'static str,
) -> Result<(), NormError> {
    if cohort.len() < needed {
        return Err(NormError::CohortTooSmall {
            method,
            cohort: which,
            found: cohort.len(),
            needed,
            hint,
        });
    }
    Ok(())
}

/// The trials with each score `s` of (row `m`, column `t`) replaced by
/// `f(m, t, s)`.
fn finish(trials: &Scores, f: impl Fn(usize, usize, f64) -> f64) -> Result<Scores, NormError> {
    let mut values = Vec::with_capacity(trials.len());
    for (m, t, s) in trials.indexed() {
        let v = f(m, t, s);
        if !v.is_finite() {
            return Err(NormError::ScoreOverflow {
                model: trials.models()[m].clone(),
                segment: trials.segments()[t].clone(),
                score: s,
            });
        }
        values.push(v);
    }
    Ok(trials.with_values(values))
}
