//! [`UbmError`] and [`UbmParamsError`]: what can stop UBM training, with
//! a message that says what to change.

use crate::frames::FramesError;
use crate::gmm::{GmmError, PruneError};

/// An [`EmConfig`](super::EmConfig) setting that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UbmParamsError {
    /// The variance floor is not a positive number.
    #[error("`variance_floor` must be a number > 0 (a multiple of the data's global variance; SIDEKIT uses 0.01), found {0}")]
    VarianceFloor(f64),
    /// The variance ceiling is below the floor (or NaN).
    #[error("`variance_ceiling` ({ceiling}) must be at least `variance_floor` ({floor}); SIDEKIT uses 10")]
    VarianceCeiling {
        /// The floor.
        floor: f64,
        /// The ceiling.
        ceiling: f64,
    },
    /// The minimum occupancy is negative or not finite.
    #[error("`min_occupancy` must be a number >= 0 (frames a component needs to be re-estimated), found {0}")]
    MinOccupancy(f64),
    /// The requested size cannot be reached by splitting.
    #[error("a UBM grows by splitting every component in two (1, 2, 4, 8, ...), so {components} components cannot be trained this way; ask for a power of two (e.g. {below} or {above}), or run `em` from an initial model of your own")]
    NotPowerOfTwo {
        /// The requested number of components.
        components: usize,
        /// The power of two below.
        below: usize,
        /// The power of two above.
        above: usize,
    },
    /// The schedule is too short for the requested size.
    #[error("{components} components take {needed} split stages, but the iteration schedule has {stages} entries; give one iteration count per stage")]
    Schedule {
        /// The requested number of components.
        components: usize,
        /// The stages needed.
        needed: usize,
        /// The schedule's length.
        stages: usize,
    },
    /// The pruning settings are unusable ([`EmConfig::pruning`](super::EmConfig::pruning)).
    #[error("invalid pruning settings: {0}")]
    Pruning(#[from] PruneError),
}

/// What can go wrong while training a UBM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UbmError {
    /// A setting is unusable.
    #[error("invalid EM setting: {0}")]
    Params(#[from] UbmParamsError),
    /// A segment is unreadable or fails its checks (another dimension, no
    /// frames, a non-finite value: the message names the file or the row),
    /// a file changed between passes, or (under MPI) this happened on
    /// another rank.
    #[error(transparent)]
    Frames(#[from] FramesError),
    /// A model part is invalid.
    #[error(transparent)]
    Model(#[from] GmmError),
    /// No frames to train on.
    #[error("there are no training frames (an empty matrix or an empty list)")]
    NoFrames,
    /// A checkpoint file could not be read or written.
    #[error(transparent)]
    Npz(#[from] crate::npz::NpzError),
    /// A checkpoint of
    /// [`train_ubm_resumable`](super::train_ubm_resumable) that this run
    /// cannot continue from.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Features of no columns.
    #[error("the features have no columns")]
    NoColumns,
    /// A column of the training frames does not vary (or varies below
    /// `f32`'s resolution): no Gaussian can be fitted to it.
    #[error("column {column} of the training frames is constant (mean {mean:.4}, variance {variance:.1e}): no Gaussian can be fitted to it; is the audio digitally silent, or is it a padding column? Drop the silent files or the column")]
    ConstantColumn {
        /// The column (from 0).
        column: usize,
        /// Its mean.
        mean: f64,
        /// Its variance.
        variance: f64,
    },
    /// Fewer frames than components: some components would see no data.
    #[error("{frames} training frames cannot train {components} components; use fewer components or more data")]
    TooFewFrames {
        /// The training frames.
        frames: u64,
        /// The components asked for.
        components: usize,
    },
    /// The data and the model disagree on the dimension.
    #[error("the training frames have {data} columns, but the model has {model} dimensions")]
    Dimension {
        /// Columns of the data.
        data: usize,
        /// Dimensions of the model.
        model: usize,
    },
}

impl From<PruneError> for UbmError {
    fn from(e: PruneError) -> Self {
        UbmError::Params(e.into())
    }
}
