//! Principal component analysis: daal4py's `pca`, by the covariance or
//! correlation matrix (an eigen-decomposition) or by the SVD of the
//! centred data (from its TSQR R factor).
//!
//! # Signs
//!
//! A component is defined up to its sign. shardkit fixes it as
//! scikit-learn's `svd_flip(u, v, u_based_decision=False)` does: in each
//! component, the entry of largest magnitude is positive (of several
//! entries of the same magnitude, the first). So every method, every
//! layout, and NumPy's `eigh` or `svd` flipped the same way give the same
//! components, up to rounding.

use std::path::Path;

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::{evd, svd};
use faer::{Mat, Par};
use ndarray::{s, Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::covariance::{covariance, Covariance};
use super::errors::StatsError;
use super::pass;
use super::table::Table;
use super::tsqr::{tsqr, Tsqr};
use crate::linalg::{gemm, mat_ref, to_array};
use crate::npz::{NpzReader, NpzWriter};

/// How [`Pca`] finds the components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PcaMethod {
    /// Eigenvectors of the covariance matrix (daal4py's `covarianceDense`,
    /// scikit-learn's `svd_solver="covariance_eigh"`): one pass of exact
    /// sums. The default.
    #[default]
    Covariance,
    /// Eigenvectors of the correlation matrix: PCA of the standardised
    /// columns (daal4py's `correlationDense`); the model keeps each
    /// column's standard deviation to standardise new rows. A constant
    /// column is an error.
    Correlation,
    /// Right singular vectors of the centred data, from the R factor of a
    /// tall-skinny QR (daal4py's `svdDense`, scikit-learn's
    /// `svd_solver="full"`): never forms the covariance, so small
    /// components keep more of their precision.
    Svd,
}

impl PcaMethod {
    /// The method's number in a saved model (`method` array).
    fn code(self) -> f64 {
        match self {
            PcaMethod::Covariance => 0.0,
            PcaMethod::Correlation => 1.0,
            PcaMethod::Svd => 2.0,
        }
    }

    fn from_code(code: f64) -> Option<Self> {
        [
            PcaMethod::Covariance,
            PcaMethod::Correlation,
            PcaMethod::Svd,
        ]
        .into_iter()
        .find(|m| m.code() == code)
    }
}

/// The settings of a principal component analysis: [`Pca::params`], then
/// [`method`](Pca::method), [`components`](Pca::components) and
/// [`whiten`](Pca::whiten), then [`fit`](Pca::fit).
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::stats::{Pca, PcaMethod, Table};
///
/// // Points along the diagonal, with a little spread across it.
/// let x = array![[0.0, 0.1], [1.0, 0.9], [2.0, 2.1], [3.0, 2.9]];
/// let model = Pca::params()
///     .method(PcaMethod::Svd)
///     .components(1)
///     .fit(&Table::rows(x.view())?)?;
/// let c = model.components.row(0);
/// assert!((c[0] - c[1]).abs() < 0.05 && c[0] > 0.0);
/// assert!(model.explained_variance_ratio[0] > 0.99);
/// assert_eq!(model.transform(x.view())?.dim(), (4, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pca {
    method: PcaMethod,
    components: Option<usize>,
    whiten: bool,
}

impl Pca {
    /// The defaults: [`PcaMethod::Covariance`], every component, no
    /// whitening.
    pub fn params() -> Self {
        Self::default()
    }

    /// How to find the components.
    pub fn method(mut self, method: PcaMethod) -> Self {
        self.method = method;
        self
    }

    /// Keeps the `k` components of largest variance (1 to the number of
    /// columns; all of them by default).
    pub fn components(mut self, k: usize) -> Self {
        self.components = Some(k);
        self
    }

    /// Whether [`PcaModel::transform`] scales each component to unit
    /// variance.
    pub fn whiten(mut self, whiten: bool) -> Self {
        self.whiten = whiten;
        self
    }

    /// The components of `table` (of every rank's rows, when it is
    /// [local](Table::local)), in one pass.
    ///
    /// # Errors
    ///
    /// [`StatsError::Setting`] for a number of components of 0 or above
    /// the columns, or for whitening a component without variance;
    /// [`StatsError::TooFewRows`] for fewer than 2 rows;
    /// [`StatsError::ConstantColumn`] for the correlation method on a
    /// table with a constant column; those of the pass.
    pub fn fit(&self, table: &Table<'_>) -> Result<PcaModel, StatsError> {
        self.check_k(None)?;
        match self.method {
            PcaMethod::Covariance | PcaMethod::Correlation => {
                self.fit_covariance(&covariance(table)?)
            }
            PcaMethod::Svd => self.fit_svd(table),
        }
    }

    /// The components of the data whose covariance is `cov` (for instance
    /// a [`CovariancePartial`](super::CovariancePartial) fed over time and
    /// finished), by the covariance or the correlation method.
    ///
    /// # Errors
    ///
    /// [`StatsError::Setting`] for the SVD method (it needs the rows), and
    /// those of [`fit`](Pca::fit).
    pub fn fit_covariance(&self, cov: &Covariance) -> Result<PcaModel, StatsError> {
        let d = cov.cols();
        let k = self.check_k(Some(d))?;
        if cov.rows < 2 {
            return Err(too_few(cov.rows));
        }
        let (matrix, scale) = match self.method {
            PcaMethod::Covariance => (cov.covariance.clone(), None),
            PcaMethod::Correlation => (cov.correlation()?, Some(cov.standard_deviation())),
            PcaMethod::Svd => {
                return Err(StatsError::Setting {
                    name: "method",
                    value: "Svd".into(),
                    expected: "fit_covariance takes PcaMethod::Covariance or Correlation; \
                               the SVD method needs the rows: use fit"
                        .into(),
                })
            }
        };
        let (values, vectors) = eigh_descending(matrix.view())?;
        let n1 = cov.rows as f64 - 1.0;
        let values = values.mapv(|v| v.max(0.0));
        let total = matrix.diag().sum();
        let explained = values.slice(s![..k]).to_owned();
        let components = vectors.slice(s![.., ..k]).t().to_owned();
        self.model(Fitted {
            rows: cov.rows,
            singular_values: explained.mapv(|v| (n1 * v).sqrt()),
            ratio: ratio(&explained, total),
            components,
            explained_variance: explained,
            mean: cov.mean.clone(),
            scale,
        })
    }

    fn fit_svd(&self, table: &Table<'_>) -> Result<PcaModel, StatsError> {
        let survey = pass::survey(table)?;
        let k = self.check_k(Some(survey.cols))?;
        if survey.rows < 2 {
            return Err(too_few(survey.rows));
        }
        let spec = Tsqr {
            shift: Some(&survey.shift),
            ones: true,
        };
        // R of [1 | X − s]: its first row is √n and the shifted column sums
        // over √n; below it, the R factor of the centred data.
        let r = tsqr(table, &spec)?;
        let mean = &survey.shift + &(&r.slice(s![0, 1..]) / r[[0, 0]]);
        let (sigma, v) = svd_descending(r.slice(s![1.., 1..]))?;
        let n1 = survey.rows as f64 - 1.0;
        let all = sigma.mapv(|s| s * s / n1);
        let explained = all.slice(s![..k]).to_owned();
        self.model(Fitted {
            rows: survey.rows,
            singular_values: sigma.slice(s![..k]).to_owned(),
            ratio: ratio(&explained, all.sum()),
            components: v.slice(s![.., ..k]).t().to_owned(),
            explained_variance: explained,
            mean,
            scale: None,
        })
    }

    /// The number of components for `cols` columns (checked against them
    /// when known).
    fn check_k(&self, cols: Option<usize>) -> Result<usize, StatsError> {
        let k = match (self.components, cols) {
            (Some(k), _) => k,
            (None, Some(d)) => d,
            (None, None) => return Ok(0),
        };
        let bad = match cols {
            _ if k == 0 => true,
            Some(d) => k > d,
            None => false,
        };
        if bad {
            return Err(StatsError::Setting {
                name: "components",
                value: k.to_string(),
                expected: match cols {
                    Some(d) => format!("between 1 and the number of columns, {d}"),
                    None => "between 1 and the number of columns".into(),
                },
            });
        }
        Ok(k)
    }

    /// The model, with signs fixed and the whitening checked.
    fn model(&self, f: Fitted) -> Result<PcaModel, StatsError> {
        let Fitted {
            rows,
            mut components,
            explained_variance,
            ratio,
            singular_values,
            mean,
            scale,
        } = f;
        flip_signs(&mut components);
        if self.whiten {
            let top = explained_variance.first().copied().unwrap_or(0.0);
            let floor = top * 16.0 * mean.len() as f64 * f64::EPSILON;
            if let Some(i) = explained_variance.iter().position(|&v| v <= floor) {
                return Err(StatsError::Setting {
                    name: "whiten",
                    value: "true".into(),
                    expected: format!(
                        "component {} of {} has no variance (the data has rank {i}): keep at \
                         most {i} components to whiten",
                        i + 1,
                        explained_variance.len()
                    ),
                });
            }
        }
        Ok(PcaModel {
            method: self.method,
            rows,
            components,
            explained_variance,
            explained_variance_ratio: ratio,
            singular_values,
            mean,
            scale,
            whiten: self.whiten,
        })
    }
}

/// What a method computes, before signs and checks.
struct Fitted {
    rows: u64,
    components: Array2<f64>,
    explained_variance: Array1<f64>,
    ratio: Array1<f64>,
    singular_values: Array1<f64>,
    mean: Array1<f64>,
    scale: Option<Array1<f64>>,
}

fn too_few(found: u64) -> StatsError {
    StatsError::TooFewRows {
        what: "PCA".into(),
        needed: 2,
        found,
    }
}

/// `part / total`, or zeros when there is no variance at all.
fn ratio(part: &Array1<f64>, total: f64) -> Array1<f64> {
    if total > 0.0 {
        part / total
    } else {
        Array1::zeros(part.len())
    }
}

/// Makes the entry of largest magnitude of each row positive (the first of
/// equal magnitudes): scikit-learn's `svd_flip(u_based_decision=False)`.
fn flip_signs(components: &mut Array2<f64>) {
    for mut row in components.rows_mut() {
        let mut best = 0;
        for (j, v) in row.iter().enumerate() {
            if v.abs() > row[best].abs() {
                best = j;
            }
        }
        if row.get(best).is_some_and(|&v| v < 0.0) {
            row.mapv_inplace(|v| -v);
        }
    }
}

/// The order of `values`, largest first (equal values in index order).
fn descending(values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order
}

/// Eigenvalues (largest first) and eigenvectors (columns, in that order)
/// of a symmetric matrix, on this thread (faer, `Par::Seq`: the same bits
/// whatever the executor).
fn eigh_descending(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>), StatsError> {
    let n = a.nrows();
    let mut s = Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let par = Par::Seq;
    let scratch = evd::self_adjoint_evd_scratch::<f64>(
        n,
        evd::ComputeEigenvectors::Yes,
        par,
        Default::default(),
    );
    evd::self_adjoint_evd(
        mat_ref(&a),
        s.as_mut(),
        Some(u.as_mut()),
        par,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .map_err(|_| no_convergence("the eigen-decomposition"))?;
    let values: Vec<f64> = s.column_vector().iter().copied().collect();
    Ok(reorder(&values, to_array(u.as_ref())))
}

/// Singular values (largest first) and right singular vectors (columns, in
/// that order) of a square matrix, on this thread (`Par::Seq`).
fn svd_descending(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>), StatsError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    let mut s = Diag::<f64>::zeros(k);
    let mut v = Mat::<f64>::zeros(n, k);
    let par = Par::Seq;
    let scratch = svd::svd_scratch::<f64>(
        m,
        n,
        svd::ComputeSvdVectors::No,
        svd::ComputeSvdVectors::Thin,
        par,
        Default::default(),
    );
    svd::svd(
        mat_ref(&a),
        s.as_mut(),
        None,
        Some(v.as_mut()),
        par,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .map_err(|_| no_convergence("the singular value decomposition"))?;
    let values: Vec<f64> = s.column_vector().iter().map(|x| x.abs()).collect();
    Ok(reorder(&values, to_array(v.as_ref())))
}

fn reorder(values: &[f64], vectors: Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let order = descending(values);
    let sorted = order.iter().map(|&i| values[i]).collect();
    let columns = Array2::from_shape_fn(vectors.dim(), |(r, c)| vectors[[r, order[c]]]);
    (sorted, columns)
}

fn no_convergence(what: &str) -> StatsError {
    StatsError::Setting {
        name: "data",
        value: "this table".into(),
        expected: format!("{what} of PCA did not converge"),
    }
}

/// A fitted principal component analysis.
///
/// Components are rows, in decreasing order of variance, each of unit
/// length.
///
/// # Signs
///
/// A component is defined up to its sign; each is turned as
/// scikit-learn's `svd_flip(u, v, u_based_decision=False)` turns it: its
/// entry of largest magnitude is positive (of several entries of the same
/// magnitude, the first). So every method and layout, and NumPy's `eigh`
/// or `svd` flipped the same way, give the same components up to rounding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaModel {
    /// The method that found the components.
    pub method: PcaMethod,
    /// Rows fitted on.
    pub rows: u64,
    /// The components: k × columns.
    pub components: Array2<f64>,
    /// The variance of the data along each component (dividing by
    /// rows − 1): the eigenvalues of the covariance (or, for the
    /// correlation method, of the correlation) matrix.
    pub explained_variance: Array1<f64>,
    /// Each component's share of the total variance of all columns (of the
    /// standardised columns, for the correlation method).
    pub explained_variance_ratio: Array1<f64>,
    /// The singular values of the centred (standardised) data:
    /// √((rows − 1) · explained variance).
    pub singular_values: Array1<f64>,
    /// Each column's mean, subtracted before projecting.
    pub mean: Array1<f64>,
    /// Each column's standard deviation, divided by after centring
    /// (the correlation method only).
    pub scale: Option<Array1<f64>>,
    /// Whether [`transform`](PcaModel::transform) divides each component
    /// by the square root of its explained variance.
    pub whiten: bool,
}

impl PcaModel {
    /// Columns of the data.
    pub fn cols(&self) -> usize {
        self.mean.len()
    }

    /// Components kept.
    pub fn k(&self) -> usize {
        self.components.nrows()
    }

    /// Checks that the arrays fit together (they are public fields, and
    /// files can be edited).
    fn check(&self) -> Result<(), StatsError> {
        let (k, d) = (self.k(), self.cols());
        let fits = self.components.ncols() == d
            && self.explained_variance.len() == k
            && self.explained_variance_ratio.len() == k
            && self.singular_values.len() == k
            && self.scale.as_ref().is_none_or(|s| s.len() == d);
        if fits {
            Ok(())
        } else {
            Err(StatsError::Mismatch(format!(
                "a PCA model of {k} components × {} columns, {} means, {} explained variances, \
                 {} singular values{}: the arrays do not fit together",
                self.components.ncols(),
                d,
                self.explained_variance.len(),
                self.singular_values.len(),
                self.scale
                    .as_ref()
                    .map_or(String::new(), |s| format!(", {} scales", s.len()))
            )))
        }
    }

    /// The rows `x` in the components' coordinates: `(x − mean) · Vᵀ`
    /// (after dividing by the scale, for the correlation method; each
    /// column divided by √explained variance when whitening).
    ///
    /// # Errors
    ///
    /// [`StatsError::Width`] when `x` has another number of columns than
    /// the data fitted; [`StatsError::Mismatch`] for a model whose arrays
    /// do not fit together.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, StatsError> {
        self.check()?;
        if x.ncols() != self.cols() {
            return Err(StatsError::Width {
                what: "the PCA transform".into(),
                expected: self.cols(),
                found: x.ncols(),
            });
        }
        let mut centred = &x - &self.mean;
        if let Some(scale) = &self.scale {
            centred /= scale;
        }
        let mut y = Array2::zeros((x.nrows(), self.k()));
        gemm(y.view_mut(), centred.view(), self.components.t(), false);
        if self.whiten {
            y /= &self.explained_variance.mapv(f64::sqrt);
        }
        Ok(y)
    }

    /// Rows in the data's coordinates from their coordinates `y` along the
    /// components: `y · V + mean` (undoing the whitening and the scale);
    /// the inverse of [`transform`](PcaModel::transform) for data in the
    /// components' span.
    ///
    /// # Errors
    ///
    /// [`StatsError::Width`] when `y` has another number of columns than
    /// the components; [`StatsError::Mismatch`] as `transform`.
    pub fn inverse_transform(&self, y: ArrayView2<'_, f64>) -> Result<Array2<f64>, StatsError> {
        self.check()?;
        if y.ncols() != self.k() {
            return Err(StatsError::Width {
                what: "the PCA inverse transform".into(),
                expected: self.k(),
                found: y.ncols(),
            });
        }
        let y = if self.whiten {
            &y * &self.explained_variance.mapv(f64::sqrt)
        } else {
            y.to_owned()
        };
        let mut x = Array2::zeros((y.nrows(), self.cols()));
        gemm(x.view_mut(), y.view(), self.components.view(), false);
        if let Some(scale) = &self.scale {
            x *= scale;
        }
        Ok(x + &self.mean)
    }

    /// Writes the model as an `.npz` archive, atomically, by rank 0 under
    /// MPI: `components`, `explained_variance`, `explained_variance_ratio`,
    /// `singular_values`, `mean`, `scale` (correlation method only), and
    /// one-element arrays `rows`, `whiten` (0 or 1) and `method` (0
    /// covariance, 1 correlation, 2 SVD).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StatsError> {
        let one = |v: f64| Array1::from(vec![v]);
        let mut npz = NpzWriter::stamped(path);
        npz.add("components", &self.components)?;
        npz.add("explained_variance", &self.explained_variance)?;
        npz.add("explained_variance_ratio", &self.explained_variance_ratio)?;
        npz.add("singular_values", &self.singular_values)?;
        npz.add("mean", &self.mean)?;
        if let Some(scale) = &self.scale {
            npz.add("scale", scale)?;
        }
        npz.add("rows", &one(self.rows as f64))?;
        npz.add("whiten", &one(f64::from(u8::from(self.whiten))))?;
        npz.add("method", &one(self.method.code()))?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a model written by [`save`](PcaModel::save).
    ///
    /// # Errors
    ///
    /// [`StatsError::Npz`] for a missing or damaged file, a missing array
    /// or arrays whose sizes do not fit together; [`StatsError::Mismatch`]
    /// for a `rows`, `whiten` or `method` that is not one.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, StatsError> {
        let mut npz = NpzReader::open(path)?;
        let components: Array2<f64> = npz.read("components")?;
        let (k, d) = (Some(components.nrows()), Some(components.ncols()));
        let mut scalar = |name: &str| -> Result<f64, StatsError> {
            let a: Array1<f64> = npz.read_shaped(name, &[Some(1)])?;
            Ok(a[0])
        };
        let (rows, whiten, method) = (scalar("rows")?, scalar("whiten")?, scalar("method")?);
        let bad = |what: &str, value: f64| {
            StatsError::Mismatch(format!(
                "{}: `{what}` is {value}, which is not one",
                npz.path().display()
            ))
        };
        if !(rows >= 0.0 && rows.fract() == 0.0 && rows < 2f64.powi(53)) {
            return Err(bad("rows", rows));
        }
        let method = PcaMethod::from_code(method).ok_or_else(|| bad("method", method))?;
        let whiten = match whiten {
            0.0 => false,
            1.0 => true,
            w => return Err(bad("whiten", w)),
        };
        Ok(PcaModel {
            method,
            rows: rows as u64,
            components,
            explained_variance: npz.read_shaped("explained_variance", &[k])?,
            explained_variance_ratio: npz.read_shaped("explained_variance_ratio", &[k])?,
            singular_values: npz.read_shaped("singular_values", &[k])?,
            mean: npz.read_shaped("mean", &[d])?,
            scale: if npz.contains("scale") {
                Some(npz.read_shaped("scale", &[d])?)
            } else {
                None
            },
            whiten,
        })
    }
}
