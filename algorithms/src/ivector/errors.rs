//! [`IvectorError`] and [`TvParamsError`]: what can stop Baum-Welch
//! statistics, total-variability training or i-vector extraction, with a
//! message that says what to change.

use shardkit::RemoteError;

use crate::frames::FramesError;
use crate::npz::NpzError;

/// A [`TvConfig`](super::TvConfig) setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TvParamsError {
    /// A rank of 0.
    #[error("`rank` (the i-vector dimension) must be at least 1; SIDEKIT's recipes use 400, small corpora 50 to 100")]
    Rank,
    /// A rank above the supervector dimension `C·D`: `T` would have more
    /// columns than rows, and the i-vector more dimensions than the
    /// statistics it is estimated from.
    #[error("`rank` {rank} is above the UBM's supervector dimension {supervector} ({components} components × {dim} features): an i-vector cannot have more dimensions than the statistics it summarises; use a rank of at most {supervector} (SIDEKIT's recipes use 400 with C·D in the tens of thousands)")]
    RankAboveSupervector {
        /// The rank asked for.
        rank: usize,
        /// `C·D`.
        supervector: usize,
        /// The UBM's components.
        components: usize,
        /// The feature dimension.
        dim: usize,
    },
    /// The initial scale is not a positive number.
    #[error("`init_scale` must be a number > 0 (the random T's scale relative to the UBM's standard deviations; default 0.1), found {0}")]
    InitScale(f64),
    /// Less memory than one session's posterior takes.
    #[error("`memory` = {bytes} bytes cannot hold one session's posterior ({needed} bytes at rank {rank}); give at least {needed}")]
    Memory {
        /// The bytes given.
        bytes: usize,
        /// The bytes one session needs: `8·(R + R(R+1)/2)`.
        needed: usize,
        /// The rank.
        rank: usize,
    },
}

/// Which statistic of a session is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Statistic {
    /// A zero-order statistic (negative or not finite).
    Zero,
    /// A first-order statistic (not finite).
    First,
}

/// Which part of a total-variability model holds a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelPart {
    /// The matrix `T` (`C·D × R`).
    T,
    /// The UBM means (`C × D`).
    Means,
    /// The UBM variances (`C × D`), which must be positive.
    Variances,
}

impl std::fmt::Display for Statistic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Statistic::Zero => "zero-order",
            Statistic::First => "first-order",
        })
    }
}

impl std::fmt::Display for ModelPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelPart::T => "T",
            ModelPart::Means => "mean",
            ModelPart::Variances => "variance",
        })
    }
}

/// What can go wrong with i-vectors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IvectorError {
    /// A setting is unusable.
    #[error("invalid total-variability setting: {0}")]
    Params(#[from] TvParamsError),
    /// A segment is unreadable or fails its checks (the message names the
    /// file or the matrix), or this happened on another MPI rank.
    #[error(transparent)]
    Frames(#[from] FramesError),
    /// A model or statistics file could not be read or written.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// Under MPI: the error happened on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The parts of the statistics do not fit together.
    #[error("statistics: zero-order {zero:?} and first-order {first:?} need the same rows, and C·D columns for C > 0 components")]
    StatsParts {
        /// The zero-order statistics' shape.
        zero: (usize, usize),
        /// The first-order statistics' shape.
        first: (usize, usize),
    },
    /// The statistics were accumulated under another UBM than the model's.
    #[error("the statistics are for {stats_components} components in {stats_dim} dimensions, the model has {model_components} in {model_dim}")]
    StatsModel {
        /// Components of the statistics.
        stats_components: usize,
        /// Dimension of the statistics.
        stats_dim: usize,
        /// Components of the model.
        model_components: usize,
        /// Dimension of the model.
        model_dim: usize,
    },
    /// A session's statistics are unusable.
    #[error("session {session}: a {statistic} statistic is {value}")]
    BadStatistics {
        /// The session (row of the statistics).
        session: usize,
        /// Which statistic.
        statistic: Statistic,
        /// The value.
        value: f64,
    },
    /// A session's posterior precision cannot be factored.
    #[error("session {session}: its posterior precision is not positive definite (pivot {pivot}); are its zero-order statistics valid?")]
    NotPositiveDefinite {
        /// The session (row of the statistics).
        session: usize,
        /// The pivot that failed.
        pivot: usize,
    },
    /// The parts of a model do not fit together.
    #[error("total-variability model: T {t:?}, means {means:?} and variances {variances:?} need T of C·D × R (R > 0) and means and variances of C × D")]
    ModelShape {
        /// `T`'s shape.
        t: (usize, usize),
        /// The means' shape.
        means: (usize, usize),
        /// The variances' shape.
        variances: (usize, usize),
    },
    /// A model holds a non-finite value or a variance that is not positive.
    #[error("invalid total-variability model: {part} ({row}, {column}) is {value}{}", if *.part == ModelPart::Variances { "; variances must be positive and finite" } else { "" })]
    BadModel {
        /// Which part.
        part: ModelPart,
        /// The row.
        row: usize,
        /// The column.
        column: usize,
        /// The value.
        value: f64,
    },
    /// Nothing to train on.
    #[error("no sessions to train on")]
    NoSessions,
    /// A checkpoint of [`train_tv_resumable`](super::train_tv_resumable)
    /// that this run cannot continue from.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The i-vectors' second moment cannot be factored in the minimum
    /// divergence step.
    #[error(
        "the i-vectors' second moment is singular: is the rank larger than the data supports?"
    )]
    SingularSecondMoment,
    /// A group of sessions added a value to an M-step accumulator that
    /// the exact sums cannot hold (not finite, or of magnitude 2^84 or
    /// more): statistics of absurd size.
    #[error("sessions {}..{}: their part of the M-step accumulator {what} holds {value:e}, which the reproducible sums cannot take (finite values below 2^84 only); are their statistics on a sensible scale?", sessions.start, sessions.end)]
    Accumulator {
        /// `"A"` (`Σ N E[wwᵀ]`) or `"C"` (`Σ F̃ E[w]ᵀ`).
        what: &'static str,
        /// The sessions of the group.
        sessions: std::ops::Range<usize>,
        /// The value.
        value: f64,
    },
    /// An output array of the wrong shape.
    #[error(
        "the {what} output is {found:?}, but {sessions} sessions of rank {rank} need {expected:?}"
    )]
    OutputShape {
        /// Which output: `"i-vector"` or `"covariance"` (packed lower
        /// triangles).
        what: &'static str,
        /// Its shape.
        found: (usize, usize),
        /// The shape needed.
        expected: (usize, usize),
        /// Sessions.
        sessions: usize,
        /// The rank.
        rank: usize,
    },
}
