//! The total-variability model: what i-vectors are extracted with.

use std::path::Path;

use ndarray::{Array2, ArrayView2};

use super::errors::{IvectorError, ModelPart, TvParamsError};
use crate::gmm::DiagGmm;
use crate::kmeans::rng::Rng;
use crate::npz::{NpzReader, NpzWriter};

/// A total-variability model: the supervector of a session is
/// `m + T·w` with `w ~ N(0, I)` its i-vector, and each component's
/// first-order statistics are modelled with the UBM's diagonal covariance.
///
/// - `t`: `C·D × R`, rows component-major (row `c·D + d`), the total
///   variability matrix;
/// - `means`: `C × D`, the UBM means `m` (the statistics are centred on
///   them);
/// - `variances`: `C × D`, the UBM variances `Σ`.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::gmm::DiagGmm;
/// use shardkit_algorithms::ivector::{IvectorError, TvModel};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Two components in two dimensions, rank 3, seeded random start.
/// let ubm = DiagGmm::new(
///     array![0.5, 0.5],
///     array![[0.0, 0.0], [1.0, 1.0]],
///     array![[1.0, 4.0], [1.0, 1.0]],
/// )?;
/// let model = TvModel::random(&ubm, 3, 0.1, 7)?;
/// assert_eq!((model.t().dim(), model.rank()), ((4, 3), 3));
/// assert_eq!(model, TvModel::random(&ubm, 3, 0.1, 7)?, "the same seed, the same T");
///
/// // Round trip through an .npz archive NumPy reads.
/// let path = std::env::temp_dir().join(format!("tv-doc-{}.npz", std::process::id()));
/// model.save(&path)?;
/// assert_eq!(TvModel::load(&path)?, model);
/// std::fs::remove_file(&path)?;
///
/// // Shapes are checked: T needs C·D = 4 rows.
/// let bad = TvModel::new(Array2::zeros((3, 3)), ubm.means().to_owned(), ubm.variances().to_owned());
/// assert!(matches!(bad, Err(IvectorError::ModelShape { .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TvModel {
    t: Array2<f64>,
    means: Array2<f64>,
    variances: Array2<f64>,
}

impl TvModel {
    /// A model from its parts.
    ///
    /// # Errors
    ///
    /// [`IvectorError::ModelShape`] when the shapes disagree or the rank is
    /// 0; [`IvectorError::BadModel`] for a non-finite entry or a variance
    /// that is not positive.
    pub fn new(
        t: Array2<f64>,
        means: Array2<f64>,
        variances: Array2<f64>,
    ) -> Result<TvModel, IvectorError> {
        let (c, d) = means.dim();
        if variances.dim() != (c, d) || t.nrows() != c * d || t.ncols() == 0 || c * d == 0 {
            return Err(IvectorError::ModelShape {
                t: t.dim(),
                means: means.dim(),
                variances: variances.dim(),
            });
        }
        let parts = [
            (ModelPart::T, &t, f64::is_finite as fn(f64) -> bool),
            (ModelPart::Means, &means, f64::is_finite),
            (ModelPart::Variances, &variances, |v| {
                v.is_finite() && v > 0.0
            }),
        ];
        for (part, a, ok) in parts {
            if let Some(((row, column), &value)) = a.indexed_iter().find(|(_, v)| !ok(**v)) {
                return Err(IvectorError::BadModel {
                    part,
                    row,
                    column,
                    value,
                });
            }
        }
        Ok(TvModel {
            t,
            means,
            variances,
        })
    }

    /// A random starting point for training: `T[c·D + d, r] = σ_cd · g ·
    /// scale` with `g` standard normal draws fixed by `seed`, and the
    /// UBM's means and variances.
    ///
    /// # Errors
    ///
    /// [`IvectorError::Params`] for `rank == 0`, a rank above the
    /// supervector dimension `C·D`, or a scale that is not a positive
    /// number.
    pub fn random(
        ubm: &DiagGmm,
        rank: usize,
        scale: f64,
        seed: u64,
    ) -> Result<TvModel, IvectorError> {
        if rank == 0 {
            return Err(TvParamsError::Rank.into());
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(TvParamsError::InitScale(scale).into());
        }
        let (c, d) = (ubm.n_components(), ubm.dim());
        if rank > c * d {
            return Err(TvParamsError::RankAboveSupervector {
                rank,
                supervector: c * d,
                components: c,
                dim: d,
            }
            .into());
        }
        let mut rng = Rng::new(seed, 0x7476);
        let sd = ubm.variances().mapv(f64::sqrt);
        let t = Array2::from_shape_fn((c * d, rank), |(row, _)| {
            sd[[row / d, row % d]] * rng.normal() * scale
        });
        TvModel::new(t, ubm.means().to_owned(), ubm.variances().to_owned())
    }

    /// `T`, `C·D × R`.
    pub fn t(&self) -> ArrayView2<'_, f64> {
        self.t.view()
    }

    /// The UBM means, `C × D`.
    pub fn means(&self) -> ArrayView2<'_, f64> {
        self.means.view()
    }

    /// The UBM variances, `C × D`.
    pub fn variances(&self) -> ArrayView2<'_, f64> {
        self.variances.view()
    }

    /// The i-vector dimension `R`.
    pub fn rank(&self) -> usize {
        self.t.ncols()
    }

    /// The number of components `C`.
    pub fn n_components(&self) -> usize {
        self.means.nrows()
    }

    /// The feature dimension `D`.
    pub fn dim(&self) -> usize {
        self.means.ncols()
    }

    /// The model's `T`, taken apart from it.
    pub(crate) fn into_t(self) -> Array2<f64> {
        self.t
    }

    pub(crate) fn with_t(&self, t: Array2<f64>) -> TvModel {
        debug_assert_eq!(t.dim(), self.t.dim());
        TvModel {
            t,
            means: self.means.clone(),
            variances: self.variances.clone(),
        }
    }

    /// Saves the model as float64 arrays `t`, `means` and `variances` of
    /// an `.npz` archive, atomically.
    ///
    /// # Errors
    ///
    /// [`IvectorError::Npz`] naming the file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), IvectorError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("t", &self.t)?;
        npz.add("means", &self.means)?;
        npz.add("variances", &self.variances)?;
        npz.finish()?;
        Ok(())
    }

    /// Loads a model saved by [`save`](TvModel::save) (float32 or float64
    /// arrays).
    ///
    /// # Errors
    ///
    /// [`IvectorError::Npz`] naming the file and the array, or the checks
    /// of [`TvModel::new`].
    pub fn load(path: impl AsRef<Path>) -> Result<TvModel, IvectorError> {
        let mut npz = NpzReader::open(path)?;
        let means: Array2<f64> = npz.read("means")?;
        let (c, d) = means.dim();
        let variances: Array2<f64> = npz.read_shaped("variances", &[Some(c), Some(d)])?;
        let t: Array2<f64> = npz.read_shaped("t", &[Some(c * d), None])?;
        TvModel::new(t, means, variances)
    }
}
