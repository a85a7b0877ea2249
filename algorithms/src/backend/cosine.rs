//! Length normalisation (with optional centring and whitening) and cosine
//! scoring.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use shardkit::parallelize;

use super::dense::{check_dim, check_vectors, eigh, mean_row};
use super::errors::BackendError;
use crate::npz::{NpzReader, NpzWriter};

/// Each row divided by its Euclidean norm.
///
/// # Errors
///
/// [`BackendError::Empty`], [`BackendError::NonFinite`], or
/// [`BackendError::ZeroNorm`] naming the first row of length 0.
pub fn length_normalize(x: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
    check_vectors(x, "the vectors")?;
    normalize_rows(x.to_owned(), "the vectors")
}

fn normalize_rows(mut x: Array2<f64>, what: &'static str) -> Result<Array2<f64>, BackendError> {
    for (row, mut v) in x.rows_mut().into_iter().enumerate() {
        // Scaled by the largest magnitude first, so that squares cannot
        // overflow.
        let big = v.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        if big == 0.0 {
            return Err(BackendError::ZeroNorm { what, row });
        }
        v /= big;
        let norm = v.dot(&v).sqrt();
        v /= norm;
    }
    Ok(x)
}

/// Length normalisation after centring and, optionally, whitening, with
/// the mean and whitening matrix learned on training vectors (Garcia-Romero
/// and Espy-Wilson, 2011): `x ↦ y / ‖y‖` with `y = Wᵀ(x − μ)`.
///
/// The whitening matrix is the symmetric inverse square root of the
/// training vectors' covariance, `W = U Λ^{-1/2} Uᵀ` (so the whitened
/// training vectors have identity covariance); without whitening `W = I`.
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::backend::LengthNorm;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// let train = Array2::from_shape_fn((50, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + j as f64);
/// let norm = LengthNorm::fit(train.view(), true)?;
/// let y = norm.transform(train.view())?;
/// for row in y.rows() {
///     assert!((row.dot(&row) - 1.0).abs() < 1e-12);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LengthNorm {
    mean: Array1<f64>,
    whitening: Option<Array2<f64>>,
}

impl LengthNorm {
    /// Learns the mean of `x` (one vector per row) and, with `whiten`, the
    /// whitening matrix of its covariance (divided by `N`).
    ///
    /// # Errors
    ///
    /// [`BackendError::Empty`], [`BackendError::NonFinite`]; with
    /// `whiten`, [`BackendError::RankDeficient`] if there are not more
    /// vectors than dimensions, [`BackendError::Singular`] if the
    /// covariance is singular all the same (an eigenvalue below `1e-10`
    /// of the largest).
    pub fn fit(x: ArrayView2<'_, f64>, whiten: bool) -> Result<Self, BackendError> {
        check_vectors(x, "the training vectors")?;
        let mean = mean_row(x);
        if !whiten {
            return Ok(LengthNorm {
                mean,
                whitening: None,
            });
        }
        let (n, d) = x.dim();
        if n <= d {
            return Err(BackendError::RankDeficient {
                what: "whitening",
                kind: "total covariance",
                vectors: n,
                speakers: 1,
                rank: n - 1,
                dim: d,
                needed: d + 1,
            });
        }
        let centred = &x - &mean;
        let mut cov = super::classes::gram(centred.view());
        cov /= n as f64;
        let (values, vectors) = eigh(cov.view(), "total covariance")?;
        let largest = values.last().copied().unwrap_or(0.0);
        if values[0].is_nan() || values[0] <= 1e-10 * largest {
            return Err(BackendError::Singular {
                what: "the total covariance of the training vectors",
                hint: "some dimensions are (nearly) linear combinations of others; reduce the dimension first (PCA, LDA) or train without whitening",
            });
        }
        let mut scaled = vectors.clone();
        for (mut col, &v) in scaled.columns_mut().into_iter().zip(&values) {
            col /= v.sqrt();
        }
        let mut w = scaled.dot(&vectors.t());
        super::dense::symmetrize(&mut w);
        Ok(LengthNorm {
            mean,
            whitening: Some(w),
        })
    }

    /// The training mean `μ`.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// The whitening matrix `W`, if the model whitens.
    pub fn whitening(&self) -> Option<&Array2<f64>> {
        self.whitening.as_ref()
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Centres, whitens (if fitted so) and length-normalises each row.
    ///
    /// # Errors
    ///
    /// [`BackendError::Dimension`] for vectors of another dimension,
    /// [`BackendError::ZeroNorm`] for a row equal to the mean, and those
    /// of [`length_normalize`].
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
        check_vectors(x, "the vectors")?;
        check_dim(x, self.dim(), "the vectors")?;
        let centred = &x - &self.mean;
        let y = match &self.whitening {
            Some(w) => centred.dot(w),
            None => centred,
        };
        normalize_rows(y, "the vectors")
    }

    /// Saves the model as an `.npz` archive (`mean`, and `whitening` if
    /// any), written atomically.
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BackendError> {
        let mut npz = NpzWriter::stamped(path);
        self.write(&mut npz, "")?;
        Ok(npz.finish()?)
    }

    /// Adds the arrays of [`save`](LengthNorm::save), their names prefixed.
    pub(crate) fn write(&self, npz: &mut NpzWriter, prefix: &str) -> Result<(), BackendError> {
        npz.add(&format!("{prefix}mean"), &self.mean)?;
        if let Some(w) = &self.whitening {
            npz.add(&format!("{prefix}whitening"), w)?;
        }
        Ok(())
    }

    /// Loads a model saved by [`save`](LengthNorm::save).
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] for a missing, unreadable or misshapen array.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        Self::read(&mut NpzReader::open(path)?, "")
    }

    /// Reads the arrays of [`write`](LengthNorm::write).
    pub(crate) fn read(npz: &mut NpzReader, prefix: &str) -> Result<Self, BackendError> {
        let mean: Array1<f64> = npz.read(&format!("{prefix}mean"))?;
        let d = mean.len();
        let name = format!("{prefix}whitening");
        let whitening = if npz.contains(&name) {
            Some(npz.read_shaped(&name, &[Some(d), Some(d)])?)
        } else {
            None
        };
        Ok(LengthNorm { mean, whitening })
    }
}

/// `out = enrol · testᵀ` for one shard of enrolment rows.
#[parallelize(split = "enrol, out", reduce = "none", block_size = 64)]
fn dot_rows(enrol: ArrayView2<f64>, mut out: ArrayViewMut2<f64>, test: &Array2<f64>) {
    ndarray::linalg::general_mat_mul(1.0, &enrol, &test.t(), 0.0, &mut out);
}

/// The cosine similarity of every enrolment vector (row) with every test
/// vector: `scores[[i, j]] = e_i · t_j / (‖e_i‖ ‖t_j‖)`, a matrix of
/// enrolment rows × test rows.
///
/// Apply [`LengthNorm::transform`] (and LDA or WCCN) first as the recipe
/// requires; enrolment models of several sessions are averages
/// ([`average_by_label`](super::average_by_label)).
///
/// ## Parallelisation
///
/// The product runs as one `#[parallelize(split = "enrol, out", reduce =
/// "none")]` call: each shard fills its enrolment rows of the score
/// matrix in place, 64 rows a block.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::backend::cosine_scores;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// let enrol = array![[1.0, 0.0], [0.0, 2.0]];
/// let test = array![[3.0, 0.0], [1.0, 1.0], [0.0, -1.0]];
/// let s = cosine_scores(enrol.view(), test.view())?;
/// let h = 0.5f64.sqrt();
/// assert!((&s - &array![[1.0, h, 0.0], [0.0, h, -1.0]]).iter().all(|d| d.abs() < 1e-15));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`BackendError::Dimension`] if the two sides differ in dimension, and
/// those of [`length_normalize`] for either side.
pub fn cosine_scores(
    enrol: ArrayView2<'_, f64>,
    test: ArrayView2<'_, f64>,
) -> Result<Array2<f64>, BackendError> {
    check_vectors(enrol, "the enrolment vectors")?;
    check_vectors(test, "the test vectors")?;
    check_dim(test, enrol.ncols(), "the test vectors")?;
    let e = normalize_rows(enrol.to_owned(), "the enrolment vectors")?;
    let t = normalize_rows(test.to_owned(), "the test vectors")?;
    let mut out = Array2::zeros((e.nrows(), t.nrows()));
    dot_rows(e.view(), out.view_mut(), &t);
    Ok(out)
}
