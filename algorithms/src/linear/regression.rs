//! Linear and ridge regression by normal equations or by QR: daal4py's
//! `linear_regression_training` (`normEqDense`, `qrDense`) and
//! `ridge_regression_training`, with prediction and R².

use std::path::Path;

use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::Par;
use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use shardkit::Reduce;

use super::errors::LinearError;
use crate::linalg::bridge::mat_mut;
use crate::linalg::{cholesky_lower, gemm, mat_ref};
use crate::npz::{NpzReader, NpzWriter};
use crate::stats::pass::{self, ChunkPass, Survey};
use crate::stats::tsqr::{r_factor, tsqr_surveyed, Tsqr};
use crate::stats::{StatsError, Table};

/// The normal equations are taken as singular when a Cholesky pivot's
/// square falls below this fraction of its diagonal entry: the feature's
/// variance left unexplained by the features before it is below 10⁻¹²
/// of its variance (the condition number of XᵀX above about 10¹²).
pub const NORMAL_EQUATIONS_TOLERANCE: f64 = 1e-12;

/// The QR method takes R as singular when a diagonal entry falls below
/// this fraction of its column's norm (the condition number of X above
/// about 10¹⁰): QR tolerates features much closer to collinear than the
/// normal equations do.
pub const QR_TOLERANCE: f64 = 1e-10;

/// How the least-squares problem is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// One pass of exact sums of XᵀX, XᵀY, ΣX, ΣY (relative to the
    /// table's first row), then a Cholesky factorisation of the (centred)
    /// normal equations: daal4py's `normEqDense`, the default. Cheapest;
    /// loses accuracy as the square of X's condition number.
    #[default]
    NormalEquations,
    /// One pass of TSQR of [1 | X − s | Y − s] (with an intercept; s the
    /// table's first row) or [X | Y], then a triangular solve with R's
    /// feature block: daal4py's `qrDense`. Accurate for nearly collinear
    /// features. With ridge α, √α·I is stacked under R's feature rows and
    /// factored once more before the solve (the QR of the augmented
    /// problem [X; √α·I]·β ≈ [Y; 0]).
    Qr,
}

/// Settings of a linear (or ridge) regression, linfa-style:
/// `LinearRegression::params().intercept(true).method(Method::Qr)
/// .ridge(0.5).fit(&table, 2)`.
///
/// **Layout.** [`fit`](LinearRegression::fit) reads one [`Table`] whose
/// *last* `targets` columns are the responses and whose other columns are
/// the features — as daal4py's examples read one CSV file with the
/// features, then the responses — so that each row's features and
/// responses travel together, through files, parts and ranks.
///
/// **Ridge.** `ridge(α)` with α > 0 minimises ‖Y − b − Xβ‖² + α‖β‖²: the
/// intercept is not penalised (scikit-learn's `Ridge`), so β solves
/// (XcᵀXc + αI)β = XcᵀYc on centred data, and b = ȳ − β·x̄. Without an
/// intercept, every coefficient is penalised. α = 0 (the default) is
/// ordinary least squares.
///
/// ```
/// use ndarray::{array, s};
/// use shardkit_algorithms::linear::{LinearRegression, Method};
/// use shardkit_algorithms::stats::Table;
///
/// // Two features, then one response: y = 1 + 2·x₁ − x₂.
/// let data = array![
///     [0.0, 0.0, 1.0],
///     [1.0, 0.0, 3.0],
///     [0.0, 1.0, 0.0],
///     [2.0, 3.0, 2.0],
///     [1.0, 5.0, -2.0],
/// ];
/// let table = Table::rows(data.view())?;
/// let model = LinearRegression::params().method(Method::Qr).fit(&table, 1)?;
/// assert!((model.intercept[0] - 1.0).abs() < 1e-12);
/// assert!((model.coefficients[[0, 0]] - 2.0).abs() < 1e-12);
/// assert!((model.coefficients[[0, 1]] + 1.0).abs() < 1e-12);
///
/// let predicted = model.predict(data.slice(s![.., ..2]))?;
/// assert!((predicted[[3, 0]] - 2.0).abs() < 1e-12);
/// assert!((model.score(&table)?[0] - 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    intercept: bool,
    method: Method,
    ridge: f64,
}

impl Default for LinearRegression {
    fn default() -> Self {
        LinearRegression {
            intercept: true,
            method: Method::NormalEquations,
            ridge: 0.0,
        }
    }
}

impl LinearRegression {
    /// The defaults: with an intercept, by normal equations, no ridge.
    pub fn params() -> Self {
        Self::default()
    }

    /// Whether to fit an intercept (default `true`).
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// How to solve ([`Method::NormalEquations`] by default).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// The ridge penalty α ≥ 0 (default 0: ordinary least squares).
    pub fn ridge(mut self, alpha: f64) -> Self {
        self.ridge = alpha;
        self
    }

    /// Whether an intercept is fitted.
    pub fn fits_intercept(&self) -> bool {
        self.intercept
    }

    /// The method.
    pub fn solver(&self) -> Method {
        self.method
    }

    /// The ridge penalty.
    pub fn alpha(&self) -> f64 {
        self.ridge
    }

    fn check(&self) -> Result<(), LinearError> {
        if !(self.ridge.is_finite() && self.ridge >= 0.0) {
            return Err(LinearError::Setting {
                name: "ridge",
                value: self.ridge.to_string(),
                expected: "the ridge penalty must be a finite number ≥ 0 (0: no ridge)".into(),
            });
        }
        Ok(())
    }

    /// Fits the model to `table`, whose last `targets` columns are the
    /// responses and the others the features (of every rank's rows, when
    /// the table is [local](Table::local)), in one pass.
    ///
    /// # Errors
    ///
    /// [`LinearError::Setting`] for a ridge that is negative or not finite,
    /// or `targets` of 0 or not below the table's columns;
    /// [`LinearError::Singular`] when the features are collinear (or one is
    /// constant, with an intercept) and the ridge is 0;
    /// [`LinearError::Stats`] for a table without rows or with fewer rows
    /// than the fit's unknowns (without ridge), and under MPI with local
    /// data for ranks of different widths.
    pub fn fit(&self, table: &Table<'_>, targets: usize) -> Result<LinearModel, LinearError> {
        self.check()?;
        let survey = pass::survey(table)?;
        let features = features_of(survey.cols, targets)?;
        check_rows(survey.rows, features, self)?;
        let names = table.column_names();
        match self.method {
            Method::NormalEquations => {
                NormalEquationsPartial::surveyed(table, features, survey)?.solve(self, names)
            }
            Method::Qr => fit_qr(table, &survey, features, self, names),
        }
    }
}

/// The features of a table of `cols` columns whose last `targets` are
/// responses.
fn features_of(cols: usize, targets: usize) -> Result<usize, LinearError> {
    if targets == 0 || targets >= cols {
        return Err(LinearError::Setting {
            name: "targets",
            value: targets.to_string(),
            expected: format!(
                "the last `targets` columns of the table are the responses and the others the \
                 features, so with {cols} columns targets must be from 1 to {}",
                cols.saturating_sub(1)
            ),
        });
    }
    Ok(cols - targets)
}

/// Refuses fewer rows than unknowns (without ridge).
fn check_rows(rows: u64, features: usize, params: &LinearRegression) -> Result<(), LinearError> {
    let needed = (features + usize::from(params.intercept)) as u64;
    if params.ridge == 0.0 && rows < needed {
        let with = if params.intercept {
            "with an intercept"
        } else {
            "without an intercept"
        };
        return Err(StatsError::TooFewRows {
            what: format!("a least-squares fit of {features} features {with} (without ridge)"),
            needed,
            found: rows,
        }
        .into());
    }
    Ok(())
}

/// "column 3" or "column 3 (`x3`)".
fn label(column: usize, names: Option<&[String]>) -> String {
    match names.and_then(|n| n.get(column - 1)) {
        Some(name) => format!("column {column} ({name:?})"),
        None => format!("column {column}"),
    }
}

/// The intercepts ȳ − β·x̄, with the means as shift + mean of the shifted
/// values (`beta`: features × targets).
fn intercepts(beta: &Array2<f64>, shift: &Array1<f64>, mean: &Array1<f64>) -> Array1<f64> {
    let p = beta.nrows();
    let (sx, sy) = (shift.slice(s![..p]), shift.slice(s![p..]));
    let (mx, my) = (mean.slice(s![..p]), mean.slice(s![p..]));
    // (s_y − β·s_x) + (m_y − β·m_x): each part near its own scale.
    let from_shift = &sy - &beta.t().dot(&sx);
    let from_mean = &my - &beta.t().dot(&mx);
    from_shift + from_mean
}

/// A linear model Y ≈ X·coefficientsᵀ + intercept: one row of
/// coefficients and one intercept per target (scikit-learn's `coef_` and
/// `intercept_`).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// targets × features.
    pub coefficients: Array2<f64>,
    /// One per target (zeros for a model fitted without an intercept).
    pub intercept: Array1<f64>,
}

impl LinearModel {
    /// Features the model takes.
    pub fn features(&self) -> usize {
        self.coefficients.ncols()
    }

    /// Targets it predicts.
    pub fn targets(&self) -> usize {
        self.coefficients.nrows()
    }

    /// The predicted responses of `x` (rows × features): rows × targets.
    ///
    /// # Errors
    ///
    /// [`LinearError::Width`] when `x` has another number of columns than
    /// the model's features.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, LinearError> {
        if x.ncols() != self.features() {
            return Err(LinearError::Width {
                what: "the rows to predict".into(),
                expected: self.features(),
                found: x.ncols(),
            });
        }
        Ok(self.predict_rows(x))
    }

    fn predict_rows(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.targets()));
        if x.nrows() > 0 && self.features() > 0 {
            gemm(out.view_mut(), x, self.coefficients.t(), false);
        }
        out += &self.intercept;
        out
    }

    /// The coefficient of determination R² = 1 − SSE/SST of each target on
    /// `table`, laid out as for [`LinearRegression::fit`] (features, then
    /// the targets), in one pass of exact sums: SSE = Σ (y − ŷ)², SST =
    /// Σ (y − ȳ)². A target that is constant on the table (SST = 0) scores
    /// 1 when it is predicted exactly and 0 otherwise (scikit-learn's
    /// `r2_score`).
    ///
    /// # Errors
    ///
    /// [`LinearError::Width`] for a table of another width than features +
    /// targets; [`LinearError::Stats`] for a table without rows.
    pub fn score(&self, table: &Table<'_>) -> Result<Array1<f64>, LinearError> {
        let survey = pass::survey(table)?;
        let width = self.features() + self.targets();
        if survey.cols != width {
            return Err(LinearError::Width {
                what: "the table to score".into(),
                expected: width,
                found: survey.cols,
            });
        }
        let shift = survey.shift.slice(s![self.features()..]).to_owned();
        let sums = pass::sum(
            table,
            &ScorePass {
                model: self,
                shift: &shift,
            },
        )?;
        let n = sums.rows as f64;
        Ok(Array1::from_shape_fn(self.targets(), |t| {
            let sst = (sums.sum_sq[t] - sums.sum[t] * sums.sum[t] / n).max(0.0);
            let sse = sums.sse[t];
            if sst > 0.0 {
                1.0 - sse / sst
            } else if sse == 0.0 {
                1.0
            } else {
                0.0
            }
        }))
    }

    /// Writes `coefficients` and `intercept` as an `.npz` archive,
    /// atomically, by rank 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`LinearError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), LinearError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("coefficients", &self.coefficients)?;
        npz.add("intercept", &self.intercept)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a model written by [`save`](LinearModel::save).
    ///
    /// # Errors
    ///
    /// [`LinearError::Npz`] for a missing or damaged file or array, or an
    /// intercept whose length is not the coefficients' rows;
    /// [`LinearError::Mismatch`] for values that are not finite.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LinearError> {
        let mut npz = NpzReader::open(path)?;
        let coefficients: Array2<f64> = npz.read("coefficients")?;
        let intercept: Array1<f64> = npz.read_shaped("intercept", &[Some(coefficients.nrows())])?;
        if !coefficients.iter().chain(&intercept).all(|v| v.is_finite()) {
            return Err(LinearError::Mismatch(format!(
                "{}: the model holds values that are not finite",
                npz.path().display()
            )));
        }
        Ok(LinearModel {
            coefficients,
            intercept,
        })
    }
}

/// What [`LinearModel::score`] sums, per target.
#[derive(Debug, Clone, PartialEq, Reduce, Serialize, Deserialize)]
struct ScoreSums {
    rows: u64,
    /// Σ (y − shift).
    sum: Array1<f64>,
    /// Σ (y − shift)².
    sum_sq: Array1<f64>,
    /// Σ (y − ŷ)².
    sse: Array1<f64>,
}

struct ScorePass<'a> {
    model: &'a LinearModel,
    shift: &'a Array1<f64>,
}

impl ChunkPass for ScorePass<'_> {
    type Out = ScoreSums;

    fn chunk(&self, rows: ArrayView2<'_, f64>, _: &str, _: usize) -> Result<ScoreSums, StatsError> {
        let p = self.model.features();
        let predicted = self.model.predict_rows(rows.slice(s![.., ..p]));
        let y = rows.slice(s![.., p..]);
        let k = self.model.targets();
        let mut out = ScoreSums {
            rows: rows.nrows() as u64,
            sum: Array1::zeros(k),
            sum_sq: Array1::zeros(k),
            sse: Array1::zeros(k),
        };
        for (y, yhat) in y.rows().into_iter().zip(predicted.rows()) {
            for t in 0..k {
                let d = y[t] - self.shift[t];
                let e = y[t] - yhat[t];
                out.sum[t] += d;
                out.sum_sq[t] += d * d;
                out.sse[t] += e * e;
            }
        }
        Ok(out)
    }
}

/// The streaming partial result of the normal-equations method: the exact
/// sums, over the rows seen, of Zᵀ·Z and of Z for Z = [X | Y] − shift (the
/// first table's first row), and the rows. Partial results
/// [`merge`](NormalEquationsPartial::merge), [`save`](NormalEquationsPartial::save)
/// and [`load`](NormalEquationsPartial::load); the model comes at the end
/// ([`finish`](NormalEquationsPartial::finish)) — daal4py's streaming
/// linear and ridge regression.
///
/// ```
/// use ndarray::array;
/// use shardkit_algorithms::linear::{LinearRegression, NormalEquationsPartial};
/// use shardkit_algorithms::stats::Table;
///
/// // y = 3 − x, in two batches.
/// let a = array![[0.0, 3.0], [1.0, 2.0]];
/// let b = array![[4.0, -1.0]];
/// let mut partial = NormalEquationsPartial::of(&Table::rows(a.view())?, 1)?;
/// partial.merge(NormalEquationsPartial::of(&Table::rows(b.view())?, 1)?)?;
/// let model = partial.finish(&LinearRegression::params())?;
/// assert!((model.intercept[0] - 3.0).abs() < 1e-12);
/// assert!((model.coefficients[[0, 0]] + 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalEquationsPartial {
    features: usize,
    shift: Array1<f64>,
    sums: CrossSums,
}

/// The summed part of [`NormalEquationsPartial`].
#[derive(Debug, Clone, PartialEq, Reduce, Serialize, Deserialize)]
struct CrossSums {
    rows: u64,
    /// Σ z.
    sum: Array1<f64>,
    /// Σ z·zᵀ.
    cross: Array2<f64>,
}

/// One chunk's [`CrossSums`].
struct CrossPass<'a> {
    shift: &'a Array1<f64>,
}

impl ChunkPass for CrossPass<'_> {
    type Out = CrossSums;

    fn chunk(&self, rows: ArrayView2<'_, f64>, _: &str, _: usize) -> Result<CrossSums, StatsError> {
        let (sum, cross) = crate::linalg::gemm::shifted_cross(rows, self.shift.view());
        Ok(CrossSums {
            rows: rows.nrows() as u64,
            sum,
            cross,
        })
    }
}

impl NormalEquationsPartial {
    /// One pass over `table` (of every rank's table, when it is
    /// [local](Table::local)), whose last `targets` columns are the
    /// responses.
    ///
    /// # Errors
    ///
    /// [`LinearError::Setting`] for `targets` of 0 or not below the
    /// columns; [`LinearError::Stats`] for a table without rows.
    pub fn of(table: &Table<'_>, targets: usize) -> Result<Self, LinearError> {
        let survey = pass::survey(table)?;
        let features = features_of(survey.cols, targets)?;
        Self::surveyed(table, features, survey)
    }

    fn surveyed(table: &Table<'_>, features: usize, survey: Survey) -> Result<Self, LinearError> {
        let shift = survey.shift;
        let sums = pass::sum(table, &CrossPass { shift: &shift })?;
        Ok(NormalEquationsPartial {
            features,
            shift,
            sums,
        })
    }

    /// Features.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Targets.
    pub fn targets(&self) -> usize {
        self.shift.len() - self.features
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.sums.rows
    }

    /// Adds `other`'s rows to these (in `f64`, rounding once per value:
    /// merging is exact only within one pass).
    ///
    /// # Errors
    ///
    /// [`LinearError::Mismatch`] when the partial results have other
    /// features or targets.
    pub fn merge(&mut self, other: NormalEquationsPartial) -> Result<(), LinearError> {
        if (other.features, other.targets()) != (self.features, self.targets()) {
            return Err(LinearError::Mismatch(format!(
                "cannot merge partial results of {} features and {} targets with ones of {} \
                 features and {} targets",
                self.features,
                self.targets(),
                other.features,
                other.targets()
            )));
        }
        let mut o = other.sums;
        if other.shift != self.shift {
            // z − s = (z − s') + δ with δ = s' − s.
            let delta = &other.shift - &self.shift;
            let n = o.rows as f64;
            let d = delta.view().insert_axis(Axis(1));
            let sum = o.sum.view().insert_axis(Axis(1));
            o.cross = &o.cross + &d.dot(&sum.t()) + &sum.dot(&d.t()) + &(n * &d.dot(&d.t()));
            o.sum = &o.sum + &(n * &delta);
        }
        self.sums.merge(o);
        Ok(())
    }

    /// The model of every row seen, with `params`' intercept and ridge (by
    /// normal equations, whatever `params`' method).
    ///
    /// # Errors
    ///
    /// [`LinearError::Setting`] for a bad ridge; [`LinearError::Singular`]
    /// for collinear features; [`LinearError::Stats`] for fewer rows than
    /// unknowns without ridge.
    pub fn finish(&self, params: &LinearRegression) -> Result<LinearModel, LinearError> {
        params.check()?;
        check_rows(self.sums.rows, self.features, params)?;
        self.solve(params, None)
    }

    fn solve(
        &self,
        params: &LinearRegression,
        names: Option<&[String]>,
    ) -> Result<LinearModel, LinearError> {
        let p = self.features;
        let k = self.targets();
        let n = self.sums.rows as f64;
        let (sum, cross, shift) = (&self.sums.sum, &self.sums.cross, &self.shift);
        let outer = |a: &Array1<f64>, b: &Array1<f64>| {
            a.view()
                .insert_axis(Axis(1))
                .dot(&b.view().insert_axis(Axis(0)))
        };
        let gram = if params.intercept {
            cross - &(outer(sum, sum) / n)
        } else {
            cross + &outer(shift, sum) + &outer(sum, shift) + &(n * &outer(shift, shift))
        };
        let mut a = gram.slice(s![..p, ..p]).to_owned();
        let b = gram.slice(s![..p, p..]).to_owned();
        let diag: Vec<f64> = (0..p).map(|i| a[[i, i]]).collect();
        for i in 0..p {
            a[[i, i]] += params.ridge;
        }
        let singular = |i: usize| {
            let what = if diag[i] <= 0.0 {
                if params.intercept {
                    "is constant"
                } else {
                    "is all zeros"
                }
            } else {
                "is a linear combination of the columns before it"
            };
            LinearError::Singular {
                column: i + 1,
                cause: format!("{} {what}", label(i + 1, names)),
            }
        };
        let l = cholesky_lower(a.view()).map_err(singular)?;
        if let Some(i) =
            (0..p).find(|&i| l[[i, i]] * l[[i, i]] <= NORMAL_EQUATIONS_TOLERANCE * a[[i, i]])
        {
            return Err(singular(i));
        }
        // L·Lᵀ·β = B.
        let mut beta = b.as_standard_layout().into_owned();
        {
            let mut view = beta.view_mut();
            solve_lower_triangular_in_place(mat_ref(&l.view()), mat_mut(&mut view), Par::Seq);
            let mut view = beta.view_mut();
            solve_upper_triangular_in_place(mat_ref(&l.t()), mat_mut(&mut view), Par::Seq);
        }
        let intercept = if params.intercept {
            intercepts(&beta, shift, &(sum / n))
        } else {
            Array1::zeros(k)
        };
        Ok(LinearModel {
            coefficients: beta.t().to_owned(),
            intercept,
        })
    }

    /// Writes this partial result as an `.npz` archive (`features`,
    /// `shift`, `rows`, `sum`, `cross`; sums relative to `shift`), by rank
    /// 0 under MPI.
    ///
    /// # Errors
    ///
    /// [`LinearError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), LinearError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add("features", &Array1::from(vec![self.features as f64]))?;
        npz.add("shift", &self.shift)?;
        npz.add("rows", &Array1::from(vec![self.sums.rows as f64]))?;
        npz.add("sum", &self.sums.sum)?;
        npz.add("cross", &self.sums.cross)?;
        Ok(npz.finish_on_root()?)
    }

    /// Reads a partial result written by
    /// [`save`](NormalEquationsPartial::save).
    ///
    /// # Errors
    ///
    /// [`LinearError::Npz`] for a missing or damaged file or array, or
    /// arrays of shapes that do not fit; [`LinearError::Mismatch`] for
    /// counts that are not counts.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LinearError> {
        let mut npz = NpzReader::open(path)?;
        let shift: Array1<f64> = npz.read("shift")?;
        let m = shift.len();
        let count = |npz: &mut NpzReader, name: &str, below: f64| -> Result<u64, LinearError> {
            let v: Array1<f64> = npz.read_shaped(name, &[Some(1)])?;
            let v = v[0];
            if !(v >= 0.0 && v.fract() == 0.0 && v < below) {
                return Err(LinearError::Mismatch(format!(
                    "{}: `{name}` is {v}, not a count below {below}",
                    npz.path().display()
                )));
            }
            Ok(v as u64)
        };
        let features = count(&mut npz, "features", m as f64)? as usize;
        if features == 0 {
            return Err(LinearError::Mismatch(format!(
                "{}: `features` is 0",
                npz.path().display()
            )));
        }
        let rows = count(&mut npz, "rows", 2f64.powi(53))?;
        Ok(NormalEquationsPartial {
            features,
            sums: CrossSums {
                rows,
                sum: npz.read_shaped("sum", &[Some(m)])?,
                cross: npz.read_shaped("cross", &[Some(m), Some(m)])?,
            },
            shift,
        })
    }
}

/// The QR method (see [`Method::Qr`]).
fn fit_qr(
    table: &Table<'_>,
    survey: &Survey,
    p: usize,
    params: &LinearRegression,
    names: Option<&[String]>,
) -> Result<LinearModel, LinearError> {
    let m = survey.cols;
    let k = m - p;
    let (rc, mean) = if params.intercept {
        let spec = Tsqr {
            shift: Some(&survey.shift),
            ones: true,
        };
        let r = tsqr_surveyed(table, &spec, m)?;
        // Row 0 of R: √n, then Σ(z − s)/√n; below it, R of the centred data.
        let mean = r.slice(s![0, 1..]).mapv(|v| v / r[[0, 0]]);
        (r.slice(s![1.., 1..]).to_owned(), mean)
    } else {
        let spec = Tsqr {
            shift: None,
            ones: false,
        };
        (tsqr_surveyed(table, &spec, m)?, Array1::zeros(m))
    };
    let mut top = rc.slice(s![..p, ..]).to_owned();
    if params.ridge > 0.0 {
        let mut penalty = Array2::zeros((p, m));
        for i in 0..p {
            penalty[[i, i]] = params.ridge.sqrt();
        }
        let stacked = concatenate(Axis(0), &[top.view(), penalty.view()])
            .expect("R's rows and the penalty's have m columns");
        top = r_factor(stacked.view()).slice(s![..p, ..]).to_owned();
    }
    let rxx = top.slice(s![.., ..p]).to_owned();
    for i in 0..p {
        let norm = (0..=i)
            .map(|j| rxx[[j, i]] * rxx[[j, i]])
            .sum::<f64>()
            .sqrt();
        if rxx[[i, i]].abs() <= QR_TOLERANCE * norm || norm == 0.0 {
            let what = if norm == 0.0 {
                if params.intercept {
                    "is constant"
                } else {
                    "is all zeros"
                }
            } else {
                "is a linear combination of the columns before it"
            };
            return Err(LinearError::Singular {
                column: i + 1,
                cause: format!("{} {what}", label(i + 1, names)),
            });
        }
    }
    let mut beta = top.slice(s![.., p..]).as_standard_layout().into_owned();
    {
        let mut view = beta.view_mut();
        solve_upper_triangular_in_place(mat_ref(&rxx.view()), mat_mut(&mut view), Par::Seq);
    }
    let intercept = if params.intercept {
        intercepts(&beta, &survey.shift, &mean)
    } else {
        Array1::zeros(k)
    };
    Ok(LinearModel {
        coefficients: beta.t().to_owned(),
        intercept,
    })
}

crate::stats::streaming::reduce_by_merge!(
    NormalEquationsPartial,
    identity: NormalEquationsPartial {
        features: 0,
        shift: Array1::zeros(0),
        sums: <CrossSums as shardkit::Reduce>::identity(),
    },
    empty: |p| p.shift.is_empty(),
);
