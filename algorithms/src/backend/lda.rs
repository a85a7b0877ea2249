//! Linear discriminant analysis and within-class covariance normalisation.

use std::path::Path;

use ndarray::{s, Array1, Array2, ArrayView2};

use super::classes::{Scatter, SINGULAR_WITHIN};
use super::dense::{check_dim, check_vectors, cholesky, eigh, lower_inverse, spd_inverse};
use super::errors::BackendError;
use crate::npz::{NpzReader, NpzWriter};

/// Linear discriminant analysis: the `k` directions that best separate
/// speakers relative to the spread within speakers.
///
/// With `N` training vectors of `S` speakers, mean `m` and speaker means
/// `m_s`, the between- and within-class covariances are
/// `S_b = Σ_s n_s (m_s − m)(m_s − m)ᵀ / N` and
/// `S_w = Σ_s Σ_{i ∈ s} (x_i − m_s)(x_i − m_s)ᵀ / N`. LDA solves the
/// generalised symmetric eigenproblem `S_b v = λ S_w v` (by the Cholesky
/// factor `S_w = L Lᵀ` and the eigenvectors of `L⁻¹ S_b L⁻ᵀ`, faer) and
/// keeps the eigenvectors of the `k` largest eigenvalues, scaled so that
/// `Vᵀ S_w V = I`: projected vectors have identity within-class covariance.
/// A vector is projected as `Vᵀ(x − m)`.
///
/// **Singular `S_w`.** `S_w` has rank at most `N − S` (a speaker with a
/// single vector adds nothing to it), so LDA needs `N ≥ d + S`; otherwise
/// [`BackendError::RankDeficient`] says so. A singular `S_w` with enough
/// vectors (dependent dimensions, repeated vectors) is
/// [`BackendError::Singular`]. No regularisation is applied silently.
/// `S_b` has rank at most `S − 1`, so at most `min(S − 1, d)` directions
/// can be kept ([`BackendError::LdaDirections`]).
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::backend::Lda;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// // Three speakers apart along the first axis, noise on all three.
/// let x = Array2::from_shape_fn((30, 3), |(i, j)| {
///     let noise = ((i * 7 + j * 5) % 13) as f64 / 13.0 - 0.5;
///     if j == 0 { 10.0 * (i % 3) as f64 + noise } else { noise }
/// });
/// let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
/// let lda = Lda::fit(x.view(), &labels, 2)?;
/// let y = lda.transform(x.view())?;
/// assert_eq!(y.dim(), (30, 2));
/// assert!(lda.eigenvalues()[0] > 100.0 * lda.eigenvalues()[1]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Lda {
    mean: Array1<f64>,
    projection: Array2<f64>,
    eigenvalues: Array1<f64>,
}

impl Lda {
    /// Trains LDA on `x` (one vector per row, `labels[i]` the speaker of
    /// row `i`), keeping `k` directions.
    ///
    /// ## Parallelisation
    ///
    /// The within-class scatter is one `#[parallelize(split = "rows,
    /// classes", reduce = "sum")]` pass over the vectors; the rest is
    /// `d × d` work.
    ///
    /// # Errors
    ///
    /// [`BackendError::Param`] for `k = 0`; [`BackendError::TooFewSpeakers`]
    /// for fewer than 2 speakers; [`BackendError::LdaDirections`],
    /// [`BackendError::RankDeficient`], [`BackendError::Singular`] (see the
    /// type's documentation); and input errors.
    pub fn fit(x: ArrayView2<'_, f64>, labels: &[usize], k: usize) -> Result<Self, BackendError> {
        if k == 0 {
            return Err(BackendError::Param {
                name: "k",
                rule: "LDA must keep at least 1 direction",
            });
        }
        let scatter = Scatter::new(x, labels, |_| 1.0)?;
        scatter.check_speakers("LDA", 2)?;
        let (s, d) = (scatter.stats.len(), x.ncols());
        let max = (s - 1).min(d);
        if k > max {
            return Err(BackendError::LdaDirections {
                asked: k,
                max,
                speakers: s,
                dim: d,
            });
        }
        scatter.check_rank("LDA")?;
        let n = x.nrows() as f64;
        let sw = &scatter.within / n;
        let sb = scatter.between() / n;
        let l = cholesky(sw.view()).ok_or(BackendError::Singular {
            what: "the within-class scatter",
            hint: SINGULAR_WITHIN,
        })?;
        let li = lower_inverse(l.view());
        let mut c = li.dot(&sb).dot(&li.t());
        super::dense::symmetrize(&mut c);
        let (values, vectors) = eigh(c.view(), "whitened between-class scatter")?;
        // Largest first.
        let top: Vec<usize> = (0..d).rev().take(k).collect();
        let u = Array2::from_shape_fn((d, k), |(i, j)| vectors[[i, top[j]]]);
        let projection = li.t().dot(&u);
        let eigenvalues = top.iter().map(|&i| values[i].max(0.0)).collect();
        Ok(Lda {
            mean: scatter.mean,
            projection,
            eigenvalues,
        })
    }

    /// The training mean `m`.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// The projection `V`, `d × k`: column `j` is the direction of the
    /// `j`-th largest eigenvalue.
    pub fn projection(&self) -> &Array2<f64> {
        &self.projection
    }

    /// The kept eigenvalues `λ`, decreasing: the between-class variance
    /// along each direction, in units of the within-class variance.
    pub fn eigenvalues(&self) -> &Array1<f64> {
        &self.eigenvalues
    }

    /// Projects each row: `Vᵀ(x − m)`, `k` columns.
    ///
    /// # Errors
    ///
    /// [`BackendError::Dimension`] and input errors.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
        check_vectors(x, "the vectors")?;
        check_dim(x, self.mean.len(), "the vectors")?;
        Ok((&x - &self.mean).dot(&self.projection))
    }

    /// Saves the model as an `.npz` archive (`mean`, `projection`,
    /// `eigenvalues`), written atomically.
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BackendError> {
        let mut npz = NpzWriter::stamped(path);
        self.write(&mut npz, "")?;
        Ok(npz.finish()?)
    }

    /// Adds the arrays of [`save`](Lda::save), their names prefixed.
    pub(crate) fn write(&self, npz: &mut NpzWriter, prefix: &str) -> Result<(), BackendError> {
        npz.add(&format!("{prefix}mean"), &self.mean)?;
        npz.add(&format!("{prefix}projection"), &self.projection)?;
        npz.add(&format!("{prefix}eigenvalues"), &self.eigenvalues)?;
        Ok(())
    }

    /// Loads a model saved by [`save`](Lda::save).
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] for a missing, unreadable or misshapen array.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        Self::read(&mut NpzReader::open(path)?, "")
    }

    /// Reads the arrays of [`write`](Lda::write).
    pub(crate) fn read(npz: &mut NpzReader, prefix: &str) -> Result<Self, BackendError> {
        let mean: Array1<f64> = npz.read(&format!("{prefix}mean"))?;
        let projection: Array2<f64> =
            npz.read_shaped(&format!("{prefix}projection"), &[Some(mean.len()), None])?;
        let k = projection.ncols();
        let eigenvalues = npz.read_shaped(&format!("{prefix}eigenvalues"), &[Some(k)])?;
        Ok(Lda {
            mean,
            projection,
            eigenvalues,
        })
    }
}

/// Within-class covariance normalisation (Hatch et al., 2006).
///
/// The within-class covariance is the average over speakers of each
/// speaker's covariance, `W = (1/S) Σ_s (1/n_s) Σ_{i ∈ s} (x_i − m_s)(x_i −
/// m_s)ᵀ` (as SIDEKIT). WCCN keeps the lower Cholesky factor `B` of its
/// inverse, `W⁻¹ = B Bᵀ`, and maps `x ↦ Bᵀ x`; the within-class covariance
/// of the mapped vectors is then the identity. There is no centring: WCCN
/// is linear, so cosine scores keep their meaning.
///
/// **Singular `W`.** As for [`Lda`]: `N ≥ d + S` vectors are needed
/// ([`BackendError::RankDeficient`]), and a singular `W` all the same is
/// [`BackendError::Singular`]. A speaker with one vector adds a zero
/// covariance to the average (it pulls `W` towards 0 without making it
/// singular).
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::backend::Wccn;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 5) % 13) as f64 + (i % 4) as f64);
/// let labels: Vec<usize> = (0..40).map(|i| i % 4).collect();
/// let wccn = Wccn::fit(x.view(), &labels)?;
/// let y = wccn.transform(x.view())?;
/// assert_eq!(y.dim(), (40, 2));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Wccn {
    factor: Array2<f64>,
}

impl Wccn {
    /// Trains WCCN on `x` (one vector per row, `labels[i]` the speaker of
    /// row `i`).
    ///
    /// ## Parallelisation
    ///
    /// As [`Lda::fit`]: one `reduce = "sum"` pass for the scatter.
    ///
    /// # Errors
    ///
    /// [`BackendError::TooFewSpeakers`] for fewer than 2 speakers,
    /// [`BackendError::RankDeficient`], [`BackendError::Singular`], and
    /// input errors.
    pub fn fit(x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<Self, BackendError> {
        let scatter = Scatter::new(x, labels, |n| 1.0 / n as f64)?;
        scatter.check_speakers("WCCN", 2)?;
        scatter.check_rank("WCCN")?;
        let w = &scatter.within / scatter.stats.len() as f64;
        let singular = || BackendError::Singular {
            what: "the within-class covariance",
            hint: SINGULAR_WITHIN,
        };
        let (inv, _) = spd_inverse(w.view()).ok_or_else(singular)?;
        let factor = cholesky(inv.view()).ok_or_else(singular)?;
        Ok(Wccn { factor })
    }

    /// The lower Cholesky factor `B` of the inverse within-class
    /// covariance.
    pub fn factor(&self) -> &Array2<f64> {
        &self.factor
    }

    /// Maps each row `x` to `Bᵀ x`.
    ///
    /// # Errors
    ///
    /// [`BackendError::Dimension`] and input errors.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
        check_vectors(x, "the vectors")?;
        check_dim(x, self.factor.nrows(), "the vectors")?;
        Ok(x.dot(&self.factor))
    }

    /// Saves the model as an `.npz` archive (`factor`), written atomically.
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BackendError> {
        let mut npz = NpzWriter::stamped(path);
        self.write(&mut npz, "")?;
        Ok(npz.finish()?)
    }

    /// Adds the array of [`save`](Wccn::save), its name prefixed.
    pub(crate) fn write(&self, npz: &mut NpzWriter, prefix: &str) -> Result<(), BackendError> {
        Ok(npz.add(&format!("{prefix}factor"), &self.factor)?)
    }

    /// Loads a model saved by [`save`](Wccn::save).
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] for a missing, unreadable or non-square
    /// array, [`BackendError::BadModel`] if it is not lower triangular.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        Self::read(&mut NpzReader::open(path)?, "")
    }

    /// Reads the array of [`write`](Wccn::write).
    pub(crate) fn read(npz: &mut NpzReader, prefix: &str) -> Result<Self, BackendError> {
        let name = format!("{prefix}factor");
        let factor: Array2<f64> = npz.read(&name)?;
        let d = factor.nrows();
        let factor: Array2<f64> = if factor.ncols() == d {
            factor
        } else {
            npz.read_shaped(&name, &[Some(d), Some(d)])?
        };
        for i in 0..d {
            if factor.slice(s![i, i + 1..]).iter().any(|&v| v != 0.0) {
                return Err(BackendError::BadModel {
                    path: npz.path().to_path_buf(),
                    model: "WCCN",
                    reason: format!("'{name}' is not lower triangular (row {i})"),
                });
            }
        }
        Ok(Wccn { factor })
    }
}
