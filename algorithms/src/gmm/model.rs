//! The diagonal-covariance mixture model and what can be wrong with one.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// How far the weights' sum may be from 1: models saved in `f32` (as
/// SIDEKIT and Kaldi do) carry rounding errors of this order.
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-5;

/// What is wrong with the parts of a [`DiagGmm`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GmmError {
    /// No components: the weights are empty.
    #[error("a GMM needs at least one component, but the weights are empty")]
    NoComponents,
    /// The means have no columns.
    #[error("a GMM needs at least one dimension, but the means have 0 columns")]
    NoDimensions,
    /// The means do not have one row per weight.
    #[error("the means have {found} rows, but there are {expected} weights: one row of means per component")]
    MeansRows {
        /// Number of weights.
        expected: usize,
        /// Rows of the means.
        found: usize,
    },
    /// The variances do not have the means' shape.
    #[error("the variances have shape {found:?}, but the means have shape {expected:?}: one variance per mean")]
    VariancesShape {
        /// Shape of the means.
        expected: (usize, usize),
        /// Shape of the variances.
        found: (usize, usize),
    },
    /// A weight is negative, NaN or infinite.
    #[error("weight {component} is {value}: weights must be finite and non-negative")]
    BadWeight {
        /// The component.
        component: usize,
        /// Its weight.
        value: f64,
    },
    /// The weights do not sum to 1.
    #[error("the weights sum to {sum}, not 1 (tolerance {WEIGHT_SUM_TOLERANCE:e}); divide them by their sum")]
    WeightsSum {
        /// Their sum.
        sum: f64,
    },
    /// A mean is NaN or infinite.
    #[error("mean ({component}, {dim}) is {value}: means must be finite")]
    BadMean {
        /// The component.
        component: usize,
        /// The dimension.
        dim: usize,
        /// The value.
        value: f64,
    },
    /// A variance is not a positive finite number.
    #[error("variance ({component}, {dim}) is {value}: variances must be positive and finite (floor them)")]
    BadVariance {
        /// The component.
        component: usize,
        /// The dimension.
        dim: usize,
        /// The value.
        value: f64,
    },
}

/// A Gaussian mixture with diagonal covariances (a UBM): `M` components in
/// `D` dimensions, stored in `f64`.
///
/// The density of a frame `x` is `Σ_m w_m · N(x; μ_m, diag(σ²_m))`. Build one
/// with [`DiagGmm::new`], which checks the parts; for the E-step, prepare it
/// once per iteration with [`DiagGmm::prepare`] (or
/// [`prepare_f64`](DiagGmm::prepare_f64)).
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::gmm::DiagGmm;
///
/// let gmm = DiagGmm::new(
///     array![0.25, 0.75],
///     array![[0.0, 1.0], [2.0, 3.0]],
///     Array2::ones((2, 2)),
/// )?;
/// assert_eq!((gmm.n_components(), gmm.dim()), (2, 2));
/// # Ok::<(), shardkit_algorithms::gmm::GmmError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiagGmm {
    weights: Array1<f64>,
    means: Array2<f64>,
    variances: Array2<f64>,
}

impl DiagGmm {
    /// A mixture from its weights (`M`), means (`M×D`) and variances
    /// (`M×D`).
    ///
    /// # Errors
    ///
    /// A [`GmmError`] naming the first problem: no components or
    /// dimensions, shapes that disagree, a weight that is negative or not
    /// finite, weights whose sum is off 1 by more than
    /// [`WEIGHT_SUM_TOLERANCE`], a mean that is not finite, or a variance
    /// that is not positive and finite.
    pub fn new(
        weights: Array1<f64>,
        means: Array2<f64>,
        variances: Array2<f64>,
    ) -> Result<DiagGmm, GmmError> {
        if weights.is_empty() {
            return Err(GmmError::NoComponents);
        }
        if means.nrows() != weights.len() {
            return Err(GmmError::MeansRows {
                expected: weights.len(),
                found: means.nrows(),
            });
        }
        if means.ncols() == 0 {
            return Err(GmmError::NoDimensions);
        }
        if variances.dim() != means.dim() {
            return Err(GmmError::VariancesShape {
                expected: means.dim(),
                found: variances.dim(),
            });
        }
        if let Some((component, &value)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(GmmError::BadWeight { component, value });
        }
        let sum = weights.sum();
        if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
            return Err(GmmError::WeightsSum { sum });
        }
        if let Some(((component, dim), &value)) = means.indexed_iter().find(|(_, v)| !v.is_finite())
        {
            return Err(GmmError::BadMean {
                component,
                dim,
                value,
            });
        }
        if let Some(((component, dim), &value)) = variances
            .indexed_iter()
            .find(|(_, v)| !(v.is_finite() && **v > 0.0))
        {
            return Err(GmmError::BadVariance {
                component,
                dim,
                value,
            });
        }
        Ok(DiagGmm {
            weights,
            means,
            variances,
        })
    }

    /// The mixture weights, `M`.
    pub fn weights(&self) -> ArrayView1<'_, f64> {
        self.weights.view()
    }

    /// The means, `M×D` (one row per component).
    pub fn means(&self) -> ArrayView2<'_, f64> {
        self.means.view()
    }

    /// The variances, `M×D` (one row per component).
    pub fn variances(&self) -> ArrayView2<'_, f64> {
        self.variances.view()
    }

    /// The number of components `M`.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// The dimension `D` of a frame.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// The weights, means and variances, giving the model up.
    pub fn into_parts(self) -> (Array1<f64>, Array2<f64>, Array2<f64>) {
        (self.weights, self.means, self.variances)
    }
}
