//! Two-covariance PLDA: EM training and closed-form verification scores.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use shardkit::parallelize;

use super::classes::{gram, row_dots, ClassStats, Scatter, SINGULAR_WITHIN};
use super::dense::{check_dim, spd_inverse, symmetrize};
use super::errors::BackendError;
use crate::npz::{NpzReader, NpzWriter};

mod resume;

/// The two-covariance PLDA model (Brümmer and de Villiers, 2010; Sizov,
/// Lee and Kinnunen, 2014).
///
/// ## The model
///
/// Each speaker `s` has a latent identity vector `y_s ~ N(μ, Σ_b)`; each of
/// their vectors is `x = y_s + ε` with `ε ~ N(0, Σ_w)`, independent. `Σ_b`
/// is the between-class covariance, `Σ_w` the within-class covariance,
/// both full `d × d`; `B = Σ_b⁻¹` and `W = Σ_w⁻¹` are their precisions.
///
/// Given `n` vectors of one speaker with sum `f`, the posterior of `y` is
/// Gaussian with precision `L_n = B + nW` and mean `ŷ = L_n⁻¹(Bμ + Wf)`,
/// and the marginal likelihood of the vectors is, with `a = Bμ + Wf`,
///
/// `log p(x_1..x_n) = −½ Σ_i x_iᵀWx_i − ½ μᵀBμ + ½ aᵀL_n⁻¹a − ½ log|L_n|
///  + ½ log|B| + (n/2) log|W| − (nd/2) log 2π`.
///
/// ## Training ([`Plda::fit`])
///
/// Initialisation in closed form: `μ` the mean of all vectors, `Σ_w` the
/// within-class covariance `Σ_s Σ_i (x_i − m_s)(x_i − m_s)ᵀ / N`, `Σ_b` the
/// covariance of the speaker means plus `0.01 tr(Σ_w)/d · I` (so that it is
/// positive definite even with fewer speakers than dimensions). Then EM:
/// the E-step computes each speaker's posterior (`L_{n_s}⁻¹`, `ŷ_s`); the
/// M-step sets
///
/// - `μ = (1/S) Σ_s ŷ_s`,
/// - `Σ_b = (1/S) Σ_s (L_{n_s}⁻¹ + ŷ_s ŷ_sᵀ) − μμᵀ`,
/// - `Σ_w = (1/N) Σ_s Σ_{i ∈ s} [(x_i − ŷ_s)(x_i − ŷ_s)ᵀ + L_{n_s}⁻¹]`.
///
/// This is exact EM for the model, so the log-likelihood of the training
/// data never decreases ([`PldaFit::log_likelihood`] records it). Speakers
/// with the same number of vectors share one `d × d` factorisation.
///
/// ## Scoring ([`Plda::score`], [`Plda::score_stats`])
///
/// The verification log-likelihood ratio of an enrolment set `E` (`n_e`
/// vectors, sum `f_e`) and a test set `T` (`n_t`, `f_t`) is
/// `log p(E, T same speaker) − log p(E) − log p(T)`, in closed form from the
/// sufficient statistics alone. With vectors centred on `μ`
/// (`u = W(f − nμ)`), `M = L_{n_e+n_t}⁻¹`, `D_e = M − L_{n_e}⁻¹`,
/// `D_t = M − L_{n_t}⁻¹`:
///
/// `LLR = u_eᵀ M u_t + ½ u_eᵀ D_e u_e + ½ u_tᵀ D_t u_t
///  − ½ (log|L_{n_e+n_t}| − log|L_{n_e}| − log|L_{n_t}| + log|B|)`.
///
/// Multi-session enrolment is this formula with `n_e > 1` (not the score
/// of the averaged vector).
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::backend::Plda;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// // 20 speakers × 5 vectors in 2 dimensions: speaker offsets plus noise.
/// let x = Array2::from_shape_fn((100, 2), |(i, j)| {
///     let speaker = (i / 5) as f64;
///     3.0 * ((speaker * 1.7 + j as f64).sin()) + ((i * 7 + j * 3) % 5) as f64 / 5.0
/// });
/// let labels: Vec<usize> = (0..100).map(|i| i / 5).collect();
/// let fit = Plda::fit(x.view(), &labels, 10)?;
/// assert!(fit.log_likelihood.windows(2).all(|w| w[1] >= w[0] - 1e-9));
/// let scores = fit.model.score(x.view(), x.view())?;
/// // Same-speaker trials score above different-speaker ones here.
/// assert!(scores[[0, 1]] > scores[[0, 99]]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Plda {
    mean: Array1<f64>,
    between: Array2<f64>,
    within: Array2<f64>,
}

/// A trained [`Plda`] model and the training log-likelihood.
#[derive(Debug, Clone, PartialEq)]
pub struct PldaFit {
    /// The model after the last iteration.
    pub model: Plda,
    /// The log-likelihood of the training data per vector
    /// (`log p(X) / N`), for the initial model and after each iteration
    /// (`iterations + 1` values, never decreasing up to rounding).
    pub log_likelihood: Vec<f64>,
}

/// The precisions of a model and the factorisations scoring and EM use.
struct Precisions {
    b: Array2<f64>,
    w: Array2<f64>,
    log_det_b: f64,
    log_det_w: f64,
    /// `n ↦ (L_n⁻¹, log|L_n|)`.
    posterior: BTreeMap<usize, (Array2<f64>, f64)>,
}

impl Precisions {
    fn new(model: &Plda) -> Result<Self, BackendError> {
        // `spd_inverse` gives log|Σ|; the precisions' are the opposite.
        let (b, log_det_between) =
            spd_inverse(model.between.view()).ok_or(BackendError::Singular {
                what: "the PLDA between-class covariance",
                hint: "the model is degenerate; train it on more speakers",
            })?;
        let (w, log_det_within) =
            spd_inverse(model.within.view()).ok_or(BackendError::Singular {
                what: "the PLDA within-class covariance",
                hint: "the model is degenerate; train it on more vectors per speaker",
            })?;
        Ok(Precisions {
            b,
            w,
            log_det_b: -log_det_between,
            log_det_w: -log_det_within,
            posterior: BTreeMap::new(),
        })
    }

    /// Factorises `L_n = B + nW` for each `n` not yet there.
    fn add_counts(&mut self, counts: impl IntoIterator<Item = usize>) -> Result<(), BackendError> {
        for n in counts {
            if self.posterior.contains_key(&n) {
                continue;
            }
            let l = &self.b + &(&self.w * n as f64);
            let inv = spd_inverse(l.view()).ok_or(BackendError::Singular {
                what: "a PLDA posterior precision B + nW",
                hint: "the model's covariances are too ill-conditioned",
            })?;
            self.posterior.insert(n, inv);
        }
        Ok(())
    }
}

/// Row indices of `counts` grouped by value.
fn groups(counts: &[usize]) -> BTreeMap<usize, Vec<usize>> {
    let mut g: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &n) in counts.iter().enumerate() {
        g.entry(n).or_default().push(i);
    }
    g
}

impl Plda {
    /// A model from its parameters: mean `μ` (`d`), between-class
    /// covariance `Σ_b` and within-class covariance `Σ_w` (`d × d`,
    /// symmetric positive definite).
    ///
    /// # Errors
    ///
    /// [`BackendError::Dimension`] for shapes that do not agree,
    /// [`BackendError::NonFinite`], [`BackendError::Singular`] for a
    /// covariance that is not positive definite.
    pub fn new(
        mean: Array1<f64>,
        between: Array2<f64>,
        within: Array2<f64>,
    ) -> Result<Self, BackendError> {
        let d = mean.len();
        if d == 0 {
            return Err(BackendError::Empty { what: "the mean" });
        }
        for (what, m) in [
            ("the between-class covariance", &between),
            ("the within-class covariance", &within),
        ] {
            if m.dim() != (d, d) {
                return Err(BackendError::Dimension {
                    what,
                    expected: d,
                    found: if m.nrows() == d { m.ncols() } else { m.nrows() },
                });
            }
            super::dense::check_vectors(m.view(), what)?;
        }
        super::dense::check_vectors(mean.view().insert_axis(Axis(0)), "the mean")?;
        let mut model = Plda {
            mean,
            between,
            within,
        };
        symmetrize(&mut model.between);
        symmetrize(&mut model.within);
        Precisions::new(&model)?;
        Ok(model)
    }

    /// Trains the model on `x` (one vector per row, `labels[i]` the speaker
    /// of row `i`) by `iterations` EM iterations from the closed-form
    /// initialisation (see the type's documentation).
    ///
    /// ## Parallelisation
    ///
    /// The within-class scatter of the initialisation is one
    /// `#[parallelize(reduce = "sum")]` pass over the vectors; each EM
    /// iteration then works on per-speaker sums and `d × d` matrices.
    ///
    /// # Errors
    ///
    /// [`BackendError::TooFewSpeakers`] for fewer than 2 speakers,
    /// [`BackendError::RankDeficient`] for fewer than `d + S` vectors (the
    /// maximum-likelihood `Σ_w` would then be singular),
    /// [`BackendError::Singular`] for dependent dimensions, and input
    /// errors.
    pub fn fit(
        x: ArrayView2<'_, f64>,
        labels: &[usize],
        iterations: usize,
    ) -> Result<PldaFit, BackendError> {
        Self::fit_from(x, labels, iterations, None, &mut |_| Ok(()))
    }

    /// [`fit`](Plda::fit), starting from `resume` (the model and
    /// log-likelihoods after some iterations) where given, and calling
    /// `after` after each iteration with the model and log-likelihoods so
    /// far.
    pub(crate) fn fit_from(
        x: ArrayView2<'_, f64>,
        labels: &[usize],
        iterations: usize,
        resume: Option<PldaFit>,
        after: &mut dyn FnMut(&PldaFit) -> Result<(), BackendError>,
    ) -> Result<PldaFit, BackendError> {
        let scatter = Scatter::new(x, labels, |_| 1.0)?;
        scatter.check_speakers("PLDA", 2)?;
        scatter.check_rank("PLDA")?;
        let (n, d) = x.dim();
        let stats = &scatter.stats;
        let s = stats.len() as f64;
        let within = &scatter.within / n as f64;
        let means = stats.means();
        let centre = means.mean_axis(Axis(0)).expect("speakers");
        let mut between = gram((&means - &centre).view()) / s;
        let ridge = 0.01 * within.diag().sum() / d as f64;
        between.diag_mut().mapv_inplace(|v| v + ridge);
        if super::dense::cholesky(within.view()).is_none() {
            return Err(BackendError::Singular {
                what: "the within-class scatter",
                hint: SINGULAR_WITHIN,
            });
        }
        let mut fit = resume.unwrap_or_else(|| PldaFit {
            model: Plda {
                mean: scatter.mean.clone(),
                between,
                within,
            },
            log_likelihood: Vec::with_capacity(iterations + 1),
        });
        let sxx = gram(x);
        while fit.log_likelihood.len() < iterations {
            let (ll, next) = em_step(&fit.model, stats, &sxx)?;
            fit.log_likelihood.push(ll / n as f64);
            fit.model = next;
            after(&fit)?;
        }
        let (ll, _) = em_step(&fit.model, stats, &sxx)?;
        fit.log_likelihood.push(ll / n as f64);
        Ok(fit)
    }

    /// The log-likelihood of `x` under the model, per vector (`log p(X) /
    /// N`, the vectors of one label forming one speaker).
    ///
    /// # Errors
    ///
    /// [`BackendError::Dimension`], [`BackendError::LabelCount`] and input
    /// errors.
    pub fn log_likelihood(
        &self,
        x: ArrayView2<'_, f64>,
        labels: &[usize],
    ) -> Result<f64, BackendError> {
        let stats = ClassStats::from_labels(x, labels)?;
        check_dim(x, self.dim(), "the vectors")?;
        let (ll, _) = em_step(self, &stats, &gram(x))?;
        Ok(ll / x.nrows() as f64)
    }

    /// The mean `μ`.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// The between-class covariance `Σ_b`.
    pub fn between(&self) -> &Array2<f64> {
        &self.between
    }

    /// The within-class covariance `Σ_w`.
    pub fn within(&self) -> &Array2<f64> {
        &self.within
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The LLR of every enrolment vector (row) against every test vector,
    /// one vector per side: a matrix of enrolment rows × test rows.
    ///
    /// # Errors
    ///
    /// As [`score_stats`](Plda::score_stats).
    pub fn score(
        &self,
        enrol: ArrayView2<'_, f64>,
        test: ArrayView2<'_, f64>,
    ) -> Result<Array2<f64>, BackendError> {
        self.score_stats(&ClassStats::singles(enrol)?, &ClassStats::singles(test)?)
    }

    /// The LLR of every enrolment speaker against every test speaker (or
    /// segment), each side given by its sufficient statistics: vectors per
    /// speaker and their sum ([`ClassStats`]). Rows follow
    /// `enrol.labels()`, columns `test.labels()`.
    ///
    /// ## Parallelisation
    ///
    /// One `#[parallelize(split = "counts, sums, out", reduce = "none")]`
    /// call over the enrolment models fills the score matrix in place, 64
    /// rows a block; each block's work is GEMMs. The factorisations it
    /// needs (one per distinct count) are made once, before.
    ///
    /// # Errors
    ///
    /// [`BackendError::Dimension`] for statistics of another dimension
    /// than the model's.
    pub fn score_stats(
        &self,
        enrol: &ClassStats,
        test: &ClassStats,
    ) -> Result<Array2<f64>, BackendError> {
        let d = self.dim();
        check_dim(enrol.sums(), d, "the enrolment vectors")?;
        check_dim(test.sums(), d, "the test vectors")?;
        let scorer = Scorer::new(self, enrol, test)?;
        let mut out = Array2::zeros((enrol.len(), test.len()));
        score_rows(enrol.counts(), enrol.sums(), out.view_mut(), &scorer);
        Ok(out)
    }

    /// Saves the model as an `.npz` archive (`mean`, `between`, `within`),
    /// written atomically.
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BackendError> {
        let mut npz = NpzWriter::stamped(path);
        self.write(&mut npz, "")?;
        Ok(npz.finish()?)
    }

    /// Adds the arrays of [`save`](Plda::save), their names prefixed.
    pub(crate) fn write(&self, npz: &mut NpzWriter, prefix: &str) -> Result<(), BackendError> {
        npz.add(&format!("{prefix}mean"), &self.mean)?;
        npz.add(&format!("{prefix}between"), &self.between)?;
        npz.add(&format!("{prefix}within"), &self.within)?;
        Ok(())
    }

    /// Loads a model saved by [`save`](Plda::save).
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] for a missing, unreadable or misshapen array;
    /// [`BackendError::BadModel`] for covariances that are not positive
    /// definite.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        Self::read(&mut NpzReader::open(path)?, "")
    }

    /// Reads the arrays of [`write`](Plda::write).
    pub(crate) fn read(npz: &mut NpzReader, prefix: &str) -> Result<Self, BackendError> {
        let mean: Array1<f64> = npz.read(&format!("{prefix}mean"))?;
        let d = mean.len();
        let between = npz.read_shaped(&format!("{prefix}between"), &[Some(d), Some(d)])?;
        let within = npz.read_shaped(&format!("{prefix}within"), &[Some(d), Some(d)])?;
        Plda::new(mean, between, within).map_err(|e| BackendError::BadModel {
            path: npz.path().to_path_buf(),
            model: "PLDA",
            reason: e.to_string(),
        })
    }
}

/// One E-step (and the M-step after it): the log-likelihood of the data
/// under `model`, and the re-estimated model.
fn em_step(
    model: &Plda,
    stats: &ClassStats,
    sxx: &Array2<f64>,
) -> Result<(f64, Plda), BackendError> {
    let d = model.dim();
    let mut prec = Precisions::new(model)?;
    prec.add_counts(stats.counts().iter().copied())?;
    let c = prec.b.dot(&model.mean);
    let sums = stats.sums();
    let a = sums.dot(&prec.w) + &c;
    let mut y = Array2::zeros(a.dim());
    let s = stats.len() as f64;
    let n_total = stats.total() as f64;
    let mut ll = 0.0;
    let mut post_cov_sum = Array2::<f64>::zeros((d, d));
    let mut post_cov_weighted = Array2::<f64>::zeros((d, d));
    for (&n, rows) in &groups(stats.counts()) {
        let (inv, log_det) = &prec.posterior[&n];
        let a_g = a.select(Axis(0), rows);
        let y_g = a_g.dot(inv);
        ll += 0.5 * row_dots(a_g.view(), y_g.view()).sum() - 0.5 * log_det * rows.len() as f64;
        for (k, &r) in rows.iter().enumerate() {
            y.row_mut(r).assign(&y_g.row(k));
        }
        post_cov_sum.scaled_add(rows.len() as f64, inv);
        post_cov_weighted.scaled_add((n * rows.len()) as f64, inv);
    }
    ll += s * (-0.5 * model.mean.dot(&c) + 0.5 * prec.log_det_b);
    ll += 0.5 * n_total * prec.log_det_w
        - 0.5 * n_total * d as f64 * (2.0 * std::f64::consts::PI).ln();
    ll -= 0.5 * (&prec.w * sxx).sum();

    // M-step.
    let mean = y.mean_axis(Axis(0)).expect("speakers");
    let mut between = (post_cov_sum + gram(y.view())) / s;
    let outer = mean
        .view()
        .insert_axis(Axis(1))
        .dot(&mean.view().insert_axis(Axis(0)));
    between -= &outer;
    symmetrize(&mut between);
    let fy = sums.t().dot(&y);
    let mut weighted_y = y.clone();
    for (mut row, &n) in weighted_y.rows_mut().into_iter().zip(stats.counts()) {
        row *= n as f64;
    }
    let mut within = sxx - &fy - fy.t() + &post_cov_weighted + &y.t().dot(&weighted_y);
    within /= n_total;
    symmetrize(&mut within);
    Ok((
        ll,
        Plda {
            mean,
            between,
            within,
        },
    ))
}

/// What scoring one (enrolment count, test group) pair needs.
struct Pair {
    /// `M = L_{n_e+n_t}⁻¹`.
    m: Array2<f64>,
    /// `D_e = M − L_{n_e}⁻¹`.
    d_e: Array2<f64>,
    /// The test side's terms `½ u_tᵀ D_t u_t`, one per test in the group.
    tau: Array1<f64>,
    /// The constant.
    kappa: f64,
}

struct TestGroup {
    /// Columns of the score matrix.
    cols: Vec<usize>,
    /// `u_t = W (f_t − n_t μ)`, one row per test.
    u: Array2<f64>,
    /// Per enrolment count.
    pairs: BTreeMap<usize, Pair>,
}

struct Scorer {
    mean: Array1<f64>,
    w: Array2<f64>,
    tests: Vec<TestGroup>,
}

/// `(s − n·μ)·W` for the rows `rows` of `sums`, each a sum of `n` vectors.
fn centred_u(
    sums: ArrayView2<'_, f64>,
    rows: &[usize],
    n: usize,
    mean: &Array1<f64>,
    w: &Array2<f64>,
) -> Array2<f64> {
    let mut c = sums.select(Axis(0), rows);
    for mut row in c.rows_mut() {
        row.scaled_add(-(n as f64), mean);
    }
    c.dot(w)
}

impl Scorer {
    fn new(model: &Plda, enrol: &ClassStats, test: &ClassStats) -> Result<Self, BackendError> {
        let mut prec = Precisions::new(model)?;
        let enrol_counts: Vec<usize> = groups(enrol.counts()).into_keys().collect();
        let test_groups = groups(test.counts());
        let mut needed: Vec<usize> = enrol_counts.clone();
        for &nt in test_groups.keys() {
            needed.push(nt);
            needed.extend(enrol_counts.iter().map(|ne| ne + nt));
        }
        prec.add_counts(needed)?;
        let mut tests = Vec::new();
        for (&nt, cols) in &test_groups {
            let u = centred_u(test.sums(), cols, nt, &model.mean, &prec.w);
            let (t_inv, t_ld) = &prec.posterior[&nt];
            let mut pairs = BTreeMap::new();
            for &ne in &enrol_counts {
                let (m, m_ld) = &prec.posterior[&(ne + nt)];
                let (e_inv, e_ld) = &prec.posterior[&ne];
                let d_t = m - t_inv;
                let tau = 0.5 * row_dots(u.dot(&d_t).view(), u.view());
                let kappa = -0.5 * (m_ld - e_ld - t_ld + prec.log_det_b);
                pairs.insert(
                    ne,
                    Pair {
                        m: m.clone(),
                        d_e: m - e_inv,
                        tau,
                        kappa,
                    },
                );
            }
            tests.push(TestGroup {
                cols: cols.clone(),
                u,
                pairs,
            });
        }
        Ok(Scorer {
            mean: model.mean.clone(),
            w: prec.w,
            tests,
        })
    }
}

/// Fills the score rows of one shard of enrolment models.
#[parallelize(split = "counts, sums, out", reduce = "none", block_size = 64)]
fn score_rows(
    counts: &[usize],
    sums: ArrayView2<f64>,
    mut out: ArrayViewMut2<f64>,
    scorer: &Scorer,
) {
    for (&ne, rows) in &groups(counts) {
        let u_e = centred_u(sums, rows, ne, &scorer.mean, &scorer.w);
        for tg in &scorer.tests {
            let pair = &tg.pairs[&ne];
            let cross = u_e.dot(&pair.m).dot(&tg.u.t());
            let eps = 0.5 * row_dots(u_e.dot(&pair.d_e).view(), u_e.view());
            for (a, &i) in rows.iter().enumerate() {
                for (b, &j) in tg.cols.iter().enumerate() {
                    out[[i, j]] = cross[[a, b]] + eps[a] + pair.tau[b] + pair.kappa;
                }
            }
        }
    }
}
