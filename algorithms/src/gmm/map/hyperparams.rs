//! [`MapConfig`]: how MAP adaptation runs, checked before it starts.

use serde::{Deserialize, Serialize};

use super::errors::MapParamsError;

/// How MAP adaptation runs (Reynolds et al., 2000): a builder whose
/// setters take and return it by value; [`map_adapt`](super::map_adapt)
/// and [`adapt_speakers`](super::adapt_speakers) check it first
/// ([`MapConfig::check`]).
///
/// Defaults (SIDEKIT's and Reynolds'): relevance factor 16, means adapted,
/// weights and variances kept.
///
/// ```
/// use shardkit_algorithms::gmm::map::{MapConfig, MapParamsError};
///
/// let config = MapConfig::new().relevance(8.0).weights(true);
/// assert!(config.check().is_ok());
/// assert_eq!(MapConfig::new().relevance(0.0).check(), Err(MapParamsError::Relevance(0.0)));
/// ```
///
/// It serialises with serde under the setters' names (`relevance = 16.0`,
/// `means = true`, …; missing fields take their defaults, unknown ones are
/// errors); [`check`](MapConfig::check) applies to deserialised values too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapConfig {
    pub(crate) relevance: f64,
    pub(crate) means: bool,
    pub(crate) weights: bool,
    pub(crate) variances: bool,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig {
            relevance: 16.0,
            means: true,
            weights: false,
            variances: false,
        }
    }
}

impl MapConfig {
    /// The defaults (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// The relevance factor `r` (default 16): a component seen in `n`
    /// frames moves `n / (n + r)` of the way to the speaker's data;
    /// positive and finite.
    pub fn relevance(mut self, relevance: f64) -> Self {
        self.relevance = relevance;
        self
    }

    /// Adapt the means (default `true`).
    pub fn means(mut self, adapt: bool) -> Self {
        self.means = adapt;
        self
    }

    /// Adapt the weights (default `false`).
    pub fn weights(mut self, adapt: bool) -> Self {
        self.weights = adapt;
        self
    }

    /// Adapt the variances (default `false`).
    pub fn variances(mut self, adapt: bool) -> Self {
        self.variances = adapt;
        self
    }

    /// The relevance factor.
    pub fn relevance_factor(&self) -> f64 {
        self.relevance
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// [`MapParamsError::Relevance`] for a relevance factor that is not a
    /// positive number, [`MapParamsError::NothingAdapted`] when means,
    /// weights and variances are all kept.
    pub fn check(&self) -> Result<(), MapParamsError> {
        if !(self.relevance > 0.0 && self.relevance.is_finite()) {
            return Err(MapParamsError::Relevance(self.relevance));
        }
        if !(self.means || self.weights || self.variances) {
            return Err(MapParamsError::NothingAdapted);
        }
        Ok(())
    }
}
