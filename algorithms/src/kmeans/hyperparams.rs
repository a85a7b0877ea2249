//! [`KMeans`]: the settings of a fit, checked when it starts.

use ndarray::Array2;

use super::errors::KMeansParamsError;

/// How the initial centroids are chosen.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// Greedy k-means++ (Arthur and Vassilvitskii, 2007): the first
    /// centroid is a point drawn uniformly; each next one is the best of
    /// [`KMeans::local_trials`] points drawn with probability proportional
    /// to their squared distance to the nearest centroid so far ("best":
    /// lowest total squared distance once added). One pass over the data
    /// per centroid.
    PlusPlus,
    /// k-means|| (Bahmani et al., "Scalable k-means++", VLDB 2012): a point
    /// drawn uniformly, then `rounds` passes, each keeping every point
    /// independently with probability `min(1, ℓ·d²(x)/φ)` where
    /// `ℓ = oversampling × clusters`, `d²(x)` is its squared distance to the
    /// nearest candidate so far and `φ` their sum; one more pass weighs each
    /// candidate by the points nearest to it, and weighted greedy k-means++
    /// on the candidates picks the centroids. `rounds + 1` passes in all,
    /// whatever the number of clusters: the variant for data that is read
    /// from files or spread over MPI ranks.
    Parallel {
        /// Points sampled per round, as a multiple of `clusters` (the
        /// paper's ℓ/k; it suggests 0.5 to 2).
        oversampling: f64,
        /// Sampling rounds (the paper finds 5 enough).
        rounds: usize,
    },
    /// These centroids (clusters × columns).
    Given(Array2<f64>),
}

impl Init {
    /// k-means|| with the paper's suggested settings: ℓ = 2·clusters, 5 rounds.
    pub fn parallel() -> Self {
        Self::Parallel {
            oversampling: 2.0,
            rounds: 5,
        }
    }
}

/// The settings of a k-means fit: a builder whose setters take and return
/// it by value. [`fit`](KMeans::fit) and [`initial_centroids`](KMeans::initial_centroids)
/// check them first ([`KMeansParamsError`]).
///
/// Defaults: `max_iter` 100, `tol` 1e-4, [`Init::PlusPlus`], `local_trials`
/// 2 + ⌊ln clusters⌋, `seed` 0.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    pub(crate) clusters: usize,
    pub(crate) max_iter: usize,
    pub(crate) tol: f64,
    pub(crate) init: Init,
    pub(crate) local_trials: Option<usize>,
    pub(crate) seed: u64,
}

impl KMeans {
    /// Settings for `clusters` clusters, with the defaults above.
    pub fn new(clusters: usize) -> Self {
        Self {
            clusters,
            max_iter: 100,
            tol: 1e-4,
            init: Init::PlusPlus,
            local_trials: None,
            seed: 0,
        }
    }

    /// The most Lloyd iterations (passes over the data) to run.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Stop once an iteration lowers the inertia by at most `tol` times the
    /// previous iteration's inertia (a relative tolerance, independent of the
    /// data's scale). `0` runs until the centroids stop moving or
    /// `max_iter`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// How to choose the initial centroids.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Candidates tried per centroid by greedy k-means++ (in [`Init::PlusPlus`]
    /// and in the last step of [`Init::Parallel`]); `None` (the default) for
    /// 2 + ⌊ln clusters⌋, as scikit-learn. `Some(1)` is plain k-means++; at
    /// most 52.
    pub fn local_trials(mut self, trials: Option<usize>) -> Self {
        self.local_trials = trials;
        self
    }

    /// The seed of every random draw: the same seed and data give the same
    /// model, bit for bit, on any number of threads or MPI ranks.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of clusters.
    pub fn clusters(&self) -> usize {
        self.clusters
    }

    pub(crate) fn trials(&self) -> usize {
        self.local_trials
            .unwrap_or_else(|| 2 + (self.clusters.max(1) as f64).ln().floor() as usize)
    }

    /// Checks every setting.
    pub(crate) fn check(&self) -> Result<(), KMeansParamsError> {
        if self.clusters == 0 {
            return Err(KMeansParamsError::Clusters);
        }
        if self.max_iter == 0 {
            return Err(KMeansParamsError::MaxIter);
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return Err(KMeansParamsError::Tol(self.tol));
        }
        if self
            .local_trials
            .is_some_and(|t| t == 0 || t > super::init::MAX_TRIALS)
        {
            return Err(KMeansParamsError::LocalTrials);
        }
        if let Init::Parallel {
            oversampling,
            rounds,
        } = self.init
        {
            if !(oversampling > 0.0 && oversampling.is_finite()) {
                return Err(KMeansParamsError::Oversampling(oversampling));
            }
            if rounds == 0 {
                return Err(KMeansParamsError::Rounds);
            }
        }
        Ok(())
    }
}
