//! [`NormError`]: why scores could not be normalised, naming the table and
//! the model or segment at fault.

use shardkit::RemoteError;

/// The layout of a cohort score table, by the name of its
/// [`ScoreNorm`](super::ScoreNorm) field.
fn layout(table: &str) -> &'static str {
    match table {
        "enrol_cohort" => "trial models × cohort segments",
        "cohort_test" => "cohort models × test segments",
        "cohort_cohort" => "T-norm cohort models × Z-norm cohort segments",
        _ => "a cohort score table",
    }
}

/// Why trial scores could not be normalised ([`ScoreNorm::apply`]).
///
/// Tables are named by their [`ScoreNorm`] field: `enrol_cohort` (trial
/// models × cohort segments), `cohort_test` (cohort models × test segments)
/// and `cohort_cohort` (ZT-norm: T-norm cohort models × Z-norm cohort
/// segments).
///
/// ```
/// use shardkit_algorithms::backend::{NormError, ScoreNorm};
/// use shardkit_algorithms::protocol::{Cohort, Scores};
///
/// let trials = Scores::from_triples([("spk1", "seg1", 1.0)]).unwrap();
/// let cohort = Cohort::new(["imp1", "imp2"]).unwrap();
/// // The cohort table scores another model than the trials'.
/// let enrol_cohort = Scores::from_triples([("spk2", "imp1", 0.1), ("spk2", "imp2", 0.3)]).unwrap();
/// let err = ScoreNorm::Z { cohort: &cohort, enrol_cohort: &enrol_cohort }
///     .apply(&trials)
///     .unwrap_err();
/// assert_eq!(
///     err,
///     NormError::MissingId { table: "enrol_cohort", kind: "trial model", id: "spk1".into() }
/// );
/// ```
///
/// [`ScoreNorm::apply`]: super::ScoreNorm::apply
/// [`ScoreNorm`]: super::ScoreNorm
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NormError {
    /// AS-norm's `top_n` is below 2: the standard deviation of fewer than
    /// two scores is 0.
    #[error(
        "AS-norm's `top_n` is {top_n}: keep at least 2 cohort scores per side (SIDEKIT keeps 200)"
    )]
    TopN {
        /// The `top_n` given.
        top_n: usize,
    },

    /// A cohort with fewer ids than the method needs.
    #[error("the {cohort} has {found} id(s), but {method} needs at least {needed}{hint}")]
    CohortTooSmall {
        /// `"Z-norm"`, `"T-norm"`, `"ZT-norm"`, `"S-norm"` or `"AS-norm"`.
        method: &'static str,
        /// Which cohort: `"cohort"`, `"Z-norm cohort"`, `"T-norm cohort"`.
        cohort: &'static str,
        /// Ids it has.
        found: usize,
        /// Ids needed.
        needed: usize,
        /// Why that many, when it is not the plain 2.
        hint: &'static str,
    },

    /// A model or segment with no score at all in a cohort table: the
    /// table was scored for other models or segments.
    #[error(
        "{kind} `{id}` has no score in `{table}` ({}): score every {kind} against the cohort",
        layout(table)
    )]
    MissingId {
        /// The table: `"enrol_cohort"`, `"cohort_test"` or `"cohort_cohort"`.
        table: &'static str,
        /// `"trial model"`, `"test segment"` or `"T-norm cohort model"`.
        kind: &'static str,
        /// The id.
        id: String,
    },

    /// A cohort score missing from a cohort table.
    #[error("`{table}` ({}) has no score of model `{model}` against segment `{segment}`: it must hold the score of every pair", layout(table))]
    MissingCohortScore {
        /// The table.
        table: &'static str,
        /// The row of the missing score.
        model: String,
        /// Its column.
        segment: String,
    },

    /// The cohort scores of a model or segment are all equal: their
    /// standard deviation is 0, and its scores cannot be normalised.
    #[error("the {n} cohort scores of {kind} `{id}` in `{table}` are all {value}: their standard deviation is 0, so its scores cannot be normalised (check that `{table}` was scored, or use a larger cohort)")]
    ZeroDeviation {
        /// The table.
        table: &'static str,
        /// `"trial model"`, `"test segment"` or `"T-norm cohort model"`.
        kind: &'static str,
        /// The id.
        id: String,
        /// How many scores were used (AS-norm: the `top_n` highest).
        n: usize,
        /// Their value (after Z-norm for the T-norm statistics of
        /// ZT-norm).
        value: f64,
    },

    /// The mean or the standard deviation of a model's or a segment's
    /// cohort scores is not a finite `f64` (scores near ±1e308).
    #[error("the cohort scores of {kind} `{id}` in `{table}` overflow: their mean or standard deviation is not a finite number; scale the scores down")]
    Overflow {
        /// The table.
        table: &'static str,
        /// `"trial model"`, `"test segment"` or `"T-norm cohort model"`.
        kind: &'static str,
        /// The id.
        id: String,
    },

    /// A normalised score that is not a finite `f64` (a standard deviation
    /// so small that the quotient overflows).
    #[error("the normalised score of model `{model}` and segment `{segment}` (raw score {score}) is not a finite number: a cohort standard deviation is too small for it")]
    ScoreOverflow {
        /// The trial's model.
        model: String,
        /// The trial's segment.
        segment: String,
        /// Its raw score.
        score: f64,
    },

    /// The statistics pass failed on another MPI rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}
