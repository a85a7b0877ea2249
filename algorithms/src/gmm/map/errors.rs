//! [`MapError`] and [`MapParamsError`]: what can stop MAP adaptation or
//! GMM-UBM scoring, with a message that says what to change.

use shardkit::RemoteError;

use crate::frames::FramesError;

/// A [`MapConfig`](super::MapConfig) setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MapParamsError {
    /// The relevance factor is not a positive number.
    #[error("the relevance factor must be a number > 0 (SIDEKIT and Reynolds use 16), found {0}")]
    Relevance(f64),
    /// Means, weights and variances are all kept.
    #[error("MAP adapts nothing: set at least one of `means`, `weights` or `variances`")]
    NothingAdapted,
}

/// Why speaker models could not be adapted or trials scored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A setting is unusable.
    #[error("invalid MAP setting: {0}")]
    Params(#[from] MapParamsError),
    /// A segment is unreadable or fails its checks (the message names the
    /// file or the matrix), or this happened on another MPI rank.
    #[error(transparent)]
    Frames(#[from] FramesError),
    /// A speaker has no enrolment frames.
    #[error("speaker `{speaker}` has no enrolment frames: give at least one segment with frames")]
    NoFrames {
        /// The speaker's name.
        speaker: String,
    },
    /// The statistics are not of the UBM's shape.
    #[error("the statistics have {found:?} (components × dimensions) but the UBM has {expected:?}: accumulate them under the same UBM")]
    StatsShape {
        /// The UBM's shape.
        expected: (usize, usize),
        /// The statistics' shape.
        found: (usize, usize),
    },
    /// A trial names a model that does not exist.
    #[error("trial {trial} names model {model}, but there are {models} models")]
    UnknownModel {
        /// The trial (its index in the list).
        trial: usize,
        /// The model it names.
        model: usize,
        /// The number of models.
        models: usize,
    },
    /// A trial names a test segment that does not exist.
    #[error("trial {trial} names test segment {segment}, but there are {segments} segments")]
    UnknownSegment {
        /// The trial (its index in the list).
        trial: usize,
        /// The segment it names.
        segment: usize,
        /// The number of test segments.
        segments: usize,
    },
    /// A model has another size than the UBM.
    #[error("model {model} has {found:?} (components × dimensions) but the UBM has {expected:?}: adapt models from this UBM")]
    ModelShape {
        /// The model (its index).
        model: usize,
        /// The UBM's shape.
        expected: (usize, usize),
        /// The model's shape.
        found: (usize, usize),
    },
    /// A `top_n` of 0.
    #[error("top_n is {top_n}: GMM-UBM scoring keeps each frame's top_n best UBM components (of {components}), so it needs at least 1 (Reynolds uses 5, SIDEKIT 10)")]
    TopN {
        /// The `top_n` given.
        top_n: usize,
        /// The UBM's components.
        components: usize,
    },
    /// Frames of another width than the UBM's dimension.
    #[error("the frames have {found} columns but the UBM has {expected} dimensions")]
    Dimension {
        /// Columns of the frames.
        found: usize,
        /// The UBM's dimension.
        expected: usize,
    },
    /// Under MPI: the error happened on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}
