//! [`EmConfig`]: how UBM EM runs, checked before the first pass.

use super::errors::UbmParamsError;
use crate::gmm::Pruning;

/// SIDEKIT's default number of EM iterations after each split: stage `k`
/// trains `2^(k+1)` components.
pub const DEFAULT_ITERATIONS: [usize; 13] = [1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8];

/// How UBM EM runs: a builder whose setters take and return it by value;
/// [`train_ubm`](super::train_ubm) and [`em`](super::em) check it first
/// ([`EmConfig::check`]).
///
/// Defaults (SIDEKIT's): [`DEFAULT_ITERATIONS`], variance floor 0.01 and
/// ceiling 10 (relative to the data's global variance), minimum occupancy
/// 1 frame, the exact E-step.
///
/// ```
/// use shardkit_algorithms::gmm::ubm::{EmConfig, UbmParamsError};
///
/// let config = EmConfig::new().iterations(vec![2, 4, 4]).variance_floor(0.001);
/// assert!(config.check().is_ok());
/// let bad = EmConfig::new().variance_floor(0.5).variance_ceiling(0.1);
/// assert_eq!(bad.check(), Err(UbmParamsError::VarianceCeiling { floor: 0.5, ceiling: 0.1 }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EmConfig {
    pub(crate) iterations: Vec<usize>,
    pub(crate) variance_floor: f64,
    pub(crate) variance_ceiling: f64,
    pub(crate) min_occupancy: f64,
    pub(crate) pruning: Option<Pruning>,
}

impl Default for EmConfig {
    fn default() -> Self {
        EmConfig {
            iterations: DEFAULT_ITERATIONS.to_vec(),
            variance_floor: 0.01,
            variance_ceiling: 10.0,
            min_occupancy: 1.0,
            pruning: None,
        }
    }
}

impl EmConfig {
    /// SIDEKIT's settings (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// EM iterations after each split: entry `k` for the stage that trains
    /// `2^(k+1)` components ([`train_ubm`](super::train_ubm) needs one
    /// entry per stage; [`em`](super::em) takes its count as an argument).
    pub fn iterations(mut self, iterations: Vec<usize>) -> Self {
        self.iterations = iterations;
        self
    }

    /// Variances are floored at this multiple of the global variance
    /// (default 0.01); positive and finite.
    pub fn variance_floor(mut self, floor: f64) -> Self {
        self.variance_floor = floor;
        self
    }

    /// Variances are capped at this multiple of the global variance
    /// (default 10); at least the floor.
    pub fn variance_ceiling(mut self, ceiling: f64) -> Self {
        self.variance_ceiling = ceiling;
        self
    }

    /// A component with fewer frames than this (its zero-order statistic)
    /// keeps its previous mean and variance (default 1.0); finite and at
    /// least 0.
    pub fn min_occupancy(mut self, frames: f64) -> Self {
        self.min_occupancy = frames;
        self
    }

    /// The pruned E-step (Kaldi-style Gaussian selection, see [`Pruning`]
    /// and the module's "Pruned EM"), or `None` for the exact E-step
    /// (default).
    pub fn pruning(mut self, pruning: Option<Pruning>) -> Self {
        self.pruning = pruning;
        self
    }

    /// The iterations per split stage.
    pub fn schedule(&self) -> &[usize] {
        &self.iterations
    }

    /// The pruning settings, if the E-step is pruned.
    pub fn pruned(&self) -> Option<&Pruning> {
        self.pruning.as_ref()
    }

    /// The EM iterations [`train_ubm`](super::train_ubm) runs for
    /// `components` components (for a progress bar).
    pub fn total_iterations(&self, components: usize) -> usize {
        let stages = components.max(1).ilog2() as usize;
        self.iterations.iter().take(stages).sum()
    }

    /// Checks every setting that does not depend on the model's size.
    ///
    /// # Errors
    ///
    /// [`UbmParamsError::VarianceFloor`], [`UbmParamsError::VarianceCeiling`],
    /// [`UbmParamsError::MinOccupancy`], or [`UbmParamsError::Pruning`].
    pub fn check(&self) -> Result<(), UbmParamsError> {
        if !(self.variance_floor > 0.0 && self.variance_floor.is_finite()) {
            return Err(UbmParamsError::VarianceFloor(self.variance_floor));
        }
        // NaN ceilings are refused too.
        if self.variance_ceiling.is_nan() || self.variance_ceiling < self.variance_floor {
            return Err(UbmParamsError::VarianceCeiling {
                floor: self.variance_floor,
                ceiling: self.variance_ceiling,
            });
        }
        if !(self.min_occupancy >= 0.0 && self.min_occupancy.is_finite()) {
            return Err(UbmParamsError::MinOccupancy(self.min_occupancy));
        }
        if let Some(p) = &self.pruning {
            p.check_options()?;
        }
        Ok(())
    }

    /// Checks the settings for training `components` components by
    /// splitting: [`check`](EmConfig::check), a power of two, one
    /// iteration count per stage, `top_n` at most `components`.
    ///
    /// # Errors
    ///
    /// Those of [`check`](EmConfig::check),
    /// [`UbmParamsError::NotPowerOfTwo`], [`UbmParamsError::Schedule`].
    pub fn check_for(&self, components: usize) -> Result<(), UbmParamsError> {
        self.check()?;
        if !components.is_power_of_two() {
            let below = if components == 0 {
                1
            } else {
                1usize << components.ilog2()
            };
            return Err(UbmParamsError::NotPowerOfTwo {
                components,
                below,
                above: components.next_power_of_two(),
            });
        }
        if let Some(p) = &self.pruning {
            p.check(components)?;
        }
        let stages = components.ilog2() as usize;
        if self.iterations.len() < stages {
            return Err(UbmParamsError::Schedule {
                components,
                needed: stages,
                stages: self.iterations.len(),
            });
        }
        Ok(())
    }
}
