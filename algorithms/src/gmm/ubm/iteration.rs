//! What UBM training reports and returns.

use crate::gmm::DiagGmm;

/// One EM iteration, as [`train_ubm`](super::train_ubm) and
/// [`em`](super::em) report it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EmIteration {
    /// The number of components being trained.
    pub components: usize,
    /// The average log-likelihood per frame of the data under the model
    /// this iteration started from (the E-step's), natural log.
    pub average_log_likelihood: f64,
    /// Frames seen.
    pub frames: u64,
    /// Wall-clock seconds of the iteration (E-step and M-step).
    pub seconds: f64,
    /// Whether the E-step was pruned ([`EmConfig::pruning`](super::EmConfig::pruning)): then the
    /// log-likelihood is over each frame's selected components.
    pub pruned: bool,
    /// Whether this iteration ran the pruned E-step's selection pass
    /// (included in `seconds`).
    pub selection_pass: bool,
}

/// A trained model and the iterations that made it.
#[derive(Debug, Clone)]
pub struct UbmTrained {
    /// The model.
    pub model: DiagGmm,
    /// Every EM iteration, in order.
    pub history: Vec<EmIteration>,
}
