//! [`MetricsError`]: why scores could not be evaluated or plotted.

use std::path::PathBuf;

/// Which of the two score lists a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreSet {
    /// Scores of target trials (same speaker).
    Targets,
    /// Scores of non-target trials (different speakers).
    NonTargets,
}

impl std::fmt::Display for ScoreSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScoreSet::Targets => "target",
            ScoreSet::NonTargets => "non-target",
        })
    }
}

/// Why an error rate, a cost or a DET plot could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// One of the score lists is empty: miss or false-alarm rates would be
    /// 0/0.
    #[error("no {0} scores: error rates need at least one target and one non-target trial")]
    NoScores(ScoreSet),

    /// A score is NaN or infinite.
    #[error("{set} score {index} (counting from 0) is {value}: scores must be finite numbers")]
    NotFinite {
        /// The list it is in.
        set: ScoreSet,
        /// Its position in that list.
        index: usize,
        /// The value.
        value: f64,
    },

    /// A detection-cost parameter out of range.
    #[error("invalid detection cost parameter `{name}` = {value}: {rule}")]
    CostParam {
        /// `p_target`, `c_miss` or `c_fa`.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        rule: &'static str,
    },

    /// A score matrix and its labels do not agree.
    #[error("the score matrix is {rows} × {cols} but there are {enrol} enrolment and {test} test labels")]
    LabelShape {
        /// Rows of the score matrix.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Enrolment labels given.
        enrol: usize,
        /// Test labels given.
        test: usize,
    },

    /// A trial list whose scores and target flags differ in length.
    #[error("{scores} scores but {keys} target flags: give one flag per trial")]
    KeyLength {
        /// Scores given.
        scores: usize,
        /// Flags given.
        keys: usize,
    },

    /// A DET plot with nothing to draw, or with unusable settings.
    #[error("cannot draw the DET plot: {0}")]
    Plot(String),

    /// The plot file could not be written.
    #[error("{}: cannot write: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
}
