//! Training a UBM: EM for diagonal GMMs, with SIDEKIT's split schedule.
//!
//! [`train_ubm`] starts from one Gaussian (the global mean and variance of
//! the data), then repeatedly splits every component in two and runs a few
//! EM iterations, up to the requested number of components (a power of
//! two). [`em`] runs plain EM from a model you give. Each iteration is one
//! data pass — [`gmm::accumulate`] over in-memory rows, or one
//! `#[parallelize(split = "files", ...)]` pass over feature files — on the
//! ambient executor (threads, or MPI ranks under `mpirun`), followed by the
//! M-step on every process. The statistics are summed exactly, so a model
//! trained on 1, 2 or 16 threads (or any number of ranks) has the same bits.
//!
//! # The M-step, and its guards
//!
//! With `n_m`, `F_m`, `S_m` the zero-, first- and second-order statistics of
//! component `m` over `N` frames: `w_m = n_m / N`, `μ_m = F_m / n_m`,
//! `σ²_m = S_m / n_m − μ_m²`, then
//!
//! - **variance control**: each `σ²_md` is clamped to
//!   `[floor · v_d, ceiling · v_d]`, where `v` is the global variance of the
//!   data (defaults 0.01 and 10, as SIDEKIT);
//! - **collapsed components**: a component with `n_m` below
//!   [`EmConfig::min_occupancy`] frames (default 1) keeps its previous mean
//!   and variance instead of dividing by (nearly) zero, and its weight is
//!   `max(n_m, 10⁻¹⁰·N) / N`, renormalised — so no weight is exactly zero
//!   and nothing becomes NaN. The component can win frames back in later
//!   iterations.
//!
//! # Precision of the statistics
//!
//! The exact E-step ([`gmm::accumulate`]) forms its statistics with `f32`
//! GEMMs on frames centred on one offset for all components (see
//! [`Prepared`]), summed in `f64`. The means and weights then carry
//! relative errors near `1e-7`, but the variance `S/n − (F/n)²` cancels:
//! its relative error grows with `((μ_m − c)/σ_m)²`, and reaches about
//! `5e-6` on the MFCC-like test case of `tests/gmm_kernel.rs` (the `f64`
//! path: `4e-13`). That is far below what moves EM (variances are floored
//! at 1% of the global variance), but when the statistics themselves are
//! the result, compute them with [`DiagGmm::prepare_f64`] and `f64` frames
//! ([`gmm::accumulate`] is generic), then call [`maximize`]. The pruned
//! E-step ([`EmConfig::pruning`]) accumulates `Σγx` and `Σγx²` directly in
//! `f64`, so its variances do not lose those digits.
//!
//! # Pruned EM
//!
//! With [`EmConfig::pruning`] set, each stage with more components than
//! [`Pruning::top_n`] runs Kaldi's Gaussian selection (see [`Pruning`] for
//! exactly what is left out): the stage's first iteration selects each
//! frame's `top_n` components (one full log-density pass, with the
//! statistics of the pruned pass computed in the same pass) and stores the
//! selection (`4·top_n` bytes per frame, in memory, for rows and for
//! files); the next iterations evaluate only the selected components
//! (by default the stage never re-selects, as Kaldi; see
//! [`Pruning::reselect_every`]). Stages with
//! at most `top_n` components run the exact E-step. [`Iteration::selection_pass`]
//! says which iterations selected.

use std::path::PathBuf;
use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use shardkit::{parallelize, Reduce, RemoteError};

use crate::features::{read_features_with, FeatureError, ReadOptions};
use crate::gmm::{self, DiagGmm, GmmError, GmmStats, Prepared, PruneError, Pruning};

/// SIDEKIT's default number of EM iterations after each split: stage `k`
/// trains `2^(k+1)` components.
pub const DEFAULT_ITERATIONS: [usize; 13] = [1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8];

/// What can go wrong while training.
#[derive(Debug, thiserror::Error)]
pub enum UbmError {
    /// A feature file is missing, malformed, or has the wrong dimension.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Under MPI: a feature file failed on another rank.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A model part is invalid.
    #[error(transparent)]
    Model(#[from] GmmError),
    /// The requested size cannot be reached by splitting.
    #[error("a UBM grows by splitting every component in two (1, 2, 4, 8, ...), so {components} components cannot be trained this way; ask for a power of two (e.g. {below} or {above}), or run `em` from an initial model of your own")]
    NotPowerOfTwo {
        /// The requested number of components.
        components: usize,
        /// The power of two below.
        below: usize,
        /// The power of two above.
        above: usize,
    },
    /// The schedule is too short for the requested size.
    #[error("{components} components take {needed} split stages, but the iteration schedule has {stages} entries; give one iteration count per stage")]
    Schedule {
        /// The requested number of components.
        components: usize,
        /// The stages needed.
        needed: usize,
        /// The schedule's length.
        stages: usize,
    },
    /// No frames to train on.
    #[error("there are no training frames (an empty matrix or an empty file list)")]
    NoFrames,
    /// A training row holds NaN or an infinity.
    #[error("training frame {row}, column {column} is {value}; features must be finite")]
    NonFinite {
        /// The frame.
        row: usize,
        /// The column.
        column: usize,
        /// The value.
        value: f32,
    },
    /// The data and the model disagree on the dimension.
    #[error("the training frames have {data} columns, but the model has {model} dimensions")]
    Dimension {
        /// Columns of the data.
        data: usize,
        /// Dimensions of the model.
        model: usize,
    },
    /// The configuration is unusable.
    #[error("invalid EM configuration: {0}")]
    Config(String),
    /// The pruning settings are unusable ([`EmConfig::pruning`]).
    #[error("invalid pruning settings: {0}")]
    Pruning(#[from] PruneError),
}

/// The frames a UBM is trained on.
#[derive(Debug, Clone, Copy)]
pub enum TrainingData<'a> {
    /// Frames in memory, one per row.
    Rows(ArrayView2<'a, f32>),
    /// Feature files (`.npy` or HTK), read once per EM iteration, shared
    /// out between the workers by size. `options` sets the expected
    /// dimension and the checks (see [`ReadOptions`]).
    Files {
        /// The files.
        files: &'a [PathBuf],
        /// How each file is read and checked.
        options: &'a ReadOptions,
    },
}

impl TrainingData<'_> {
    /// The E-step statistics of every frame under `model`.
    fn accumulate(&self, model: &Prepared<f32>) -> Result<GmmStats, UbmError> {
        match self {
            TrainingData::Rows(rows) => {
                if rows.ncols() != model.dim() {
                    return Err(UbmError::Dimension {
                        data: rows.ncols(),
                        model: model.dim(),
                    });
                }
                Ok(gmm::accumulate(*rows, model))
            }
            TrainingData::Files { files, options } => {
                if files.is_empty() {
                    return Err(UbmError::NoFrames);
                }
                let options = ReadOptions {
                    expected_dim: Some(model.dim()),
                    ..(*options).clone()
                };
                accumulate_files(files, model, &options)
            }
        }
    }

    /// The pruned E-step: selects each frame's components into `selection`
    /// first when `reselect` (or when there is no selection yet), then the
    /// statistics of the selected components.
    fn accumulate_pruned(
        &self,
        model: &Prepared<f32>,
        pruning: &Pruning,
        selection: &mut Option<Selection>,
        reselect: bool,
    ) -> Result<GmmStats, UbmError> {
        match self {
            TrainingData::Rows(rows) => {
                if rows.ncols() != model.dim() {
                    return Err(UbmError::Dimension {
                        data: rows.ncols(),
                        model: model.dim(),
                    });
                }
                match selection {
                    Some(Selection::Rows(sel)) if !reselect => Ok(gmm::accumulate_pruned(
                        *rows,
                        model,
                        sel.view(),
                        pruning.min_posterior,
                    )?),
                    _ => {
                        let (stats, sel) = gmm::select_and_accumulate(*rows, model, pruning)?;
                        *selection = Some(Selection::Rows(sel));
                        Ok(stats)
                    }
                }
            }
            TrainingData::Files { files, options } => {
                if files.is_empty() {
                    return Err(UbmError::NoFrames);
                }
                pruning.check(model.n_components())?;
                let options = ReadOptions {
                    expected_dim: Some(model.dim()),
                    ..(*options).clone()
                };
                match selection {
                    Some(Selection::Files(sels)) if !reselect => {
                        pruned_files(files, sels, model, pruning.min_posterior, &options)
                    }
                    _ => {
                        let mut sels = vec![Array2::zeros((0, pruning.top_n)); files.len()];
                        let stats = select_pruned_files(
                            files,
                            &mut sels,
                            model,
                            pruning.min_posterior,
                            &options,
                        )?;
                        *selection = Some(Selection::Files(sels));
                        Ok(stats)
                    }
                }
            }
        }
    }

    /// The number of columns, when it is known without reading.
    fn dim(&self) -> Option<usize> {
        match self {
            TrainingData::Rows(rows) => Some(rows.ncols()),
            TrainingData::Files { options, .. } => options.expected_dim,
        }
    }
}

/// One data pass over feature files: each shard reads its files one after
/// the other and adds their statistics; the shards' statistics are summed
/// exactly, in file order.
#[parallelize(split = "files", reduce = "sum", weights = shardkit::weights::file_size)]
fn accumulate_files(
    files: &[PathBuf],
    model: &Prepared<f32>,
    options: &ReadOptions,
) -> Result<GmmStats, UbmError> {
    let mut total = GmmStats::zeros(model.n_components(), model.dim());
    for path in files {
        let frames = read_features_with(path, options)?;
        // The derived `Reduce::merge`: field-by-field addition.
        total.merge(gmm::accumulate_block(frames.view(), model));
    }
    Ok(total)
}

/// The pruned E-step's stored selection: one `N × top_n` matrix for rows,
/// one per file for files.
enum Selection {
    Rows(Array2<u32>),
    Files(Vec<Array2<u32>>),
}

/// The selection pass over feature files: each file's selection is written
/// into its slot of `selections`, and the pruned statistics of the same
/// pass are summed exactly, in file order.
#[parallelize(split = "files, selections", reduce = "sum", weights = shardkit::weights::file_size)]
fn select_pruned_files(
    files: &[PathBuf],
    selections: &mut [Array2<u32>],
    model: &Prepared<f32>,
    min_posterior: f64,
    options: &ReadOptions,
) -> Result<GmmStats, UbmError> {
    let mut total = GmmStats::zeros(model.n_components(), model.dim());
    let top_n = selections.first().map_or(0, |s| s.ncols());
    for (path, slot) in files.iter().zip(selections.iter_mut()) {
        let frames = read_features_with(path, options)?;
        let mut sel = Array2::zeros((frames.nrows(), top_n));
        total.merge(gmm::select_and_accumulate_block(
            frames.view(),
            model,
            sel.view_mut(),
            min_posterior,
        ));
        *slot = sel;
    }
    Ok(total)
}

/// The pruned pass over feature files with their stored selections.
#[parallelize(split = "files, selections", reduce = "sum", weights = shardkit::weights::file_size)]
fn pruned_files(
    files: &[PathBuf],
    selections: &[Array2<u32>],
    model: &Prepared<f32>,
    min_posterior: f64,
    options: &ReadOptions,
) -> Result<GmmStats, UbmError> {
    let mut total = GmmStats::zeros(model.n_components(), model.dim());
    for (path, sel) in files.iter().zip(selections) {
        let frames = read_features_with(path, options)?;
        // A file that changed since the selection pass is an error, not a
        // panic.
        if sel.nrows() != frames.nrows() {
            return Err(PruneError::SelectionRows {
                expected: frames.nrows(),
                found: sel.nrows(),
            }
            .into());
        }
        total.merge(gmm::accumulate_pruned_block(
            frames.view(),
            model,
            sel.view(),
            min_posterior,
        ));
    }
    Ok(total)
}

/// How EM runs; [`EmConfig::default`] is SIDEKIT's setting.
#[derive(Debug, Clone, PartialEq)]
pub struct EmConfig {
    /// EM iterations after each split (stage `k` trains `2^(k+1)`
    /// components); default [`DEFAULT_ITERATIONS`].
    pub iterations: Vec<usize>,
    /// Variances are floored at this multiple of the global variance
    /// (default 0.01).
    pub variance_floor: f64,
    /// Variances are capped at this multiple of the global variance
    /// (default 10).
    pub variance_ceiling: f64,
    /// A component with fewer frames than this (its zero-order statistic)
    /// keeps its previous mean and variance (default 1.0).
    pub min_occupancy: f64,
    /// The pruned E-step (Kaldi-style Gaussian selection, see [`Pruning`]
    /// and the module's "Pruned EM"), or `None` for the exact E-step
    /// (default).
    pub pruning: Option<Pruning>,
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
    fn check(&self) -> Result<(), UbmError> {
        if let Some(p) = &self.pruning {
            p.check_options()?;
        }
        let ok = self.variance_floor > 0.0
            && self.variance_floor.is_finite()
            && self.variance_ceiling >= self.variance_floor
            && self.min_occupancy >= 0.0
            && self.min_occupancy.is_finite();
        if ok {
            Ok(())
        } else {
            Err(UbmError::Config(format!(
                "need 0 < variance_floor <= variance_ceiling and min_occupancy >= 0, got floor {}, ceiling {}, min_occupancy {}",
                self.variance_floor, self.variance_ceiling, self.min_occupancy
            )))
        }
    }
}

/// One EM iteration, as [`train_ubm`] and [`em`] report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Iteration {
    /// The number of components being trained.
    pub components: usize,
    /// The average log-likelihood per frame of the data under the model
    /// this iteration started from (the E-step's), natural log.
    pub average_log_likelihood: f64,
    /// Frames seen.
    pub frames: u64,
    /// Wall-clock seconds of the iteration (E-step and M-step).
    pub seconds: f64,
    /// Whether the E-step was pruned ([`EmConfig::pruning`]): then the
    /// log-likelihood is over each frame's selected components.
    pub pruned: bool,
    /// Whether this iteration ran the pruned E-step's selection pass
    /// (included in `seconds`).
    pub selection_pass: bool,
}

/// The global mean and variance of the data, and its frame count (one data
/// pass).
///
/// # Errors
///
/// [`UbmError::NoFrames`] for no frames; file errors, naming the file.
pub fn global_moments(
    data: &TrainingData<'_>,
) -> Result<(Array1<f64>, Array1<f64>, u64), UbmError> {
    let dim = match data.dim() {
        Some(d) => d,
        None => match data {
            TrainingData::Files { files, options } => {
                let first = files.first().ok_or(UbmError::NoFrames)?;
                read_features_with(first, options)?.ncols()
            }
            TrainingData::Rows(rows) => rows.ncols(),
        },
    };
    if dim == 0 {
        return Err(UbmError::Config("the features have no columns".into()));
    }
    let moments = match data {
        TrainingData::Rows(rows) => {
            check_rows(rows)?;
            moments_of_rows(*rows, dim)
        }
        TrainingData::Files { files, options } => {
            let options = ReadOptions {
                expected_dim: Some(dim),
                ..(*options).clone()
            };
            moments_of_files(files, dim, &options)?
        }
    };
    if moments.frames == 0 {
        return Err(UbmError::NoFrames);
    }
    let n = moments.frames as f64;
    let mean = moments.sum.mapv(|s| s / n);
    let variance = (moments.sum_sq.mapv(|s| s / n) - &mean * &mean).mapv(|v| v.max(0.0));
    Ok((mean, variance, moments.frames))
}

/// Frame count, sums and sums of squares, in `f64`.
#[derive(shardkit::Reduce)]
struct Moments {
    frames: u64,
    sum: Array1<f64>,
    sum_sq: Array1<f64>,
}

impl Moments {
    fn new(dim: usize) -> Moments {
        Moments {
            frames: 0,
            sum: Array1::zeros(dim),
            sum_sq: Array1::zeros(dim),
        }
    }

    fn add(&mut self, rows: ArrayView2<'_, f32>) {
        for frame in rows.rows() {
            for ((s, q), &x) in self.sum.iter_mut().zip(self.sum_sq.iter_mut()).zip(frame) {
                let x = f64::from(x);
                *s += x;
                *q += x * x;
            }
        }
        self.frames += rows.nrows() as u64;
    }
}

#[parallelize(split = "rows", reduce = "sum", block_size = 8192)]
fn moments_of_rows(rows: ArrayView2<f32>, dim: usize) -> Moments {
    let mut m = Moments::new(dim);
    m.add(rows);
    m
}

#[parallelize(split = "files", reduce = "sum", weights = shardkit::weights::file_size)]
fn moments_of_files(
    files: &[PathBuf],
    dim: usize,
    options: &ReadOptions,
) -> Result<Moments, UbmError> {
    let mut m = Moments::new(dim);
    for path in files {
        m.add(read_features_with(path, options)?.view());
    }
    Ok(m)
}

fn check_rows(rows: &ArrayView2<'_, f32>) -> Result<(), UbmError> {
    if rows.nrows() == 0 {
        return Err(UbmError::NoFrames);
    }
    for (row, frame) in rows.axis_iter(Axis(0)).enumerate() {
        if let Some((column, &value)) = frame.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(UbmError::NonFinite { row, column, value });
        }
    }
    Ok(())
}

/// Splits every component in two along its axis of largest variance: the
/// means move by `± sqrt` of that variance, the weights are halved, the
/// variances are kept. Component `m` becomes components `2m` (minus) and
/// `2m + 1` (plus).
pub fn split(gmm: &DiagGmm) -> DiagGmm {
    let (m, d) = (gmm.n_components(), gmm.dim());
    let mut weights = Array1::zeros(2 * m);
    let mut means = Array2::zeros((2 * m, d));
    let mut variances = Array2::zeros((2 * m, d));
    for c in 0..m {
        let var = gmm.variances().row(c).to_owned();
        // The first axis of largest variance (ties go to the lower index).
        let axis = (0..d).fold(0, |best, j| if var[j] > var[best] { j } else { best });
        let step = var[axis].sqrt();
        for (k, sign) in [(2 * c, -1.0), (2 * c + 1, 1.0)] {
            weights[k] = gmm.weights()[c] / 2.0;
            means.row_mut(k).assign(&gmm.means().row(c));
            means[[k, axis]] += sign * step;
            variances.row_mut(k).assign(&var);
        }
    }
    DiagGmm::new(weights, means, variances).expect("splitting keeps a valid model valid")
}

/// The M-step: the model that the statistics `stats` call for, with the
/// variance control and collapse rule of the module docs. `floor` and
/// `ceiling` are per-dimension variance bounds (absolute).
///
/// The variances `S/n − (F/n)²` are only as precise as the statistics:
/// from the `f32` exact E-step expect relative errors up to about `1e-5`
/// (cancellation, see the module's "Precision of the statistics"); from
/// `f64` statistics ([`DiagGmm::prepare_f64`]) or the pruned E-step, near
/// `1e-12`.
pub fn maximize(
    stats: &GmmStats,
    previous: &DiagGmm,
    floor: &Array1<f64>,
    ceiling: &Array1<f64>,
    min_occupancy: f64,
) -> DiagGmm {
    let (m, d) = (previous.n_components(), previous.dim());
    let total = stats.frames.max(1) as f64;
    let mut weights = Array1::zeros(m);
    let mut means = previous.means().to_owned();
    let mut variances = previous.variances().to_owned();
    for c in 0..m {
        let n = stats.zero[c];
        weights[c] = n.max(1e-10 * total) / total;
        if !(n >= min_occupancy && n > 0.0) {
            continue;
        }
        for j in 0..d {
            let mean = stats.first[[c, j]] / n;
            let var = stats.second[[c, j]] / n - mean * mean;
            means[[c, j]] = mean;
            variances[[c, j]] = var.clamp(floor[j], ceiling[j]);
        }
    }
    let sum = weights.sum();
    weights.mapv_inplace(|w| w / sum);
    DiagGmm::new(weights, means, variances).expect("the guarded M-step gives a valid model")
}

/// Variance bounds from the global variance (a dimension with zero
/// variance gets a tiny positive floor, so no variance is zero).
fn bounds(global_variance: &Array1<f64>, config: &EmConfig) -> (Array1<f64>, Array1<f64>) {
    let floor = global_variance.mapv(|v| (v * config.variance_floor).max(f64::MIN_POSITIVE.sqrt()));
    let ceiling = global_variance
        .mapv(|v| v * config.variance_ceiling)
        .iter()
        .zip(&floor)
        .map(|(&c, &f)| c.max(f))
        .collect();
    (floor, ceiling)
}

/// Runs `iterations` EM iterations from `model`, calling `report` after
/// each. Variance bounds are relative to `global_variance` (see
/// [`global_moments`]).
fn run_em(
    data: &TrainingData<'_>,
    mut model: DiagGmm,
    iterations: usize,
    global_variance: &Array1<f64>,
    config: &EmConfig,
    report: &mut dyn FnMut(&Iteration),
    history: &mut Vec<Iteration>,
) -> Result<DiagGmm, UbmError> {
    let (floor, ceiling) = bounds(global_variance, config);
    // Pruned when asked for and there are more components than `top_n`.
    let pruning = config.pruning.filter(|p| model.n_components() > p.top_n);
    let mut selection = None;
    for i in 0..iterations {
        let start = Instant::now();
        let reselect = match &pruning {
            Some(p) => i == 0 || (p.reselect_every > 0 && i % p.reselect_every == 0),
            None => false,
        };
        let stats = match &pruning {
            Some(p) => data.accumulate_pruned(&model.prepare(), p, &mut selection, reselect)?,
            None => data.accumulate(&model.prepare())?,
        };
        if stats.frames == 0 {
            return Err(UbmError::NoFrames);
        }
        model = maximize(&stats, &model, &floor, &ceiling, config.min_occupancy);
        let it = Iteration {
            components: model.n_components(),
            average_log_likelihood: stats.average_log_likelihood(),
            frames: stats.frames,
            seconds: start.elapsed().as_secs_f64(),
            pruned: pruning.is_some(),
            selection_pass: reselect,
        };
        tracing::info!(
            components = it.components,
            average_log_likelihood = it.average_log_likelihood,
            seconds = it.seconds,
            pruned = it.pruned,
            selection_pass = it.selection_pass,
            "EM iteration"
        );
        report(&it);
        history.push(it);
    }
    Ok(model)
}

/// A trained model and the iterations that made it.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model.
    pub model: DiagGmm,
    /// Every EM iteration, in order.
    pub history: Vec<Iteration>,
}

/// Trains a UBM of `components` components (a power of two) on `data`:
/// one Gaussian with the global mean and variance, then, for each stage
/// `k`, a split of every component and `config.iterations[k]` EM
/// iterations. `report` is called after every iteration (for progress).
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::ubm::{train_ubm, EmConfig, TrainingData};
///
/// // Two clusters in 2-D, around (-3, 0) and (3, 0).
/// let frames = Array2::from_shape_fn((400, 2), |(i, j)| {
///     let centre = if j == 1 { 0.0 } else if i % 2 == 0 { -3.0 } else { 3.0 };
///     centre + ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
/// });
/// let config = EmConfig { iterations: vec![5], ..EmConfig::default() };
/// let trained = train_ubm(&TrainingData::Rows(frames.view()), 2, &config, &mut |_| {})?;
/// let means = trained.model.means();
/// assert!((means[[0, 0]] + 3.0).abs() < 0.1 && (means[[1, 0]] - 3.0).abs() < 0.1);
/// # Ok::<(), shardkit_algorithms::ubm::UbmError>(())
/// ```
///
/// # Errors
///
/// [`UbmError::NotPowerOfTwo`], [`UbmError::Schedule`] (too few stages in
/// `config.iterations`), [`UbmError::NoFrames`], [`UbmError::NonFinite`]
/// (rows), a file error naming the file, [`UbmError::Config`], or
/// [`UbmError::Pruning`] for pruning settings that are invalid or whose
/// `top_n` exceeds `components`.
pub fn train_ubm(
    data: &TrainingData<'_>,
    components: usize,
    config: &EmConfig,
    report: &mut dyn FnMut(&Iteration),
) -> Result<Trained, UbmError> {
    config.check()?;
    if !components.is_power_of_two() {
        let below = if components == 0 {
            1
        } else {
            1usize << components.ilog2()
        };
        return Err(UbmError::NotPowerOfTwo {
            components,
            below,
            above: components.next_power_of_two(),
        });
    }
    if let Some(p) = &config.pruning {
        p.check(components)?;
    }
    let stages = components.ilog2() as usize;
    if config.iterations.len() < stages {
        return Err(UbmError::Schedule {
            components,
            needed: stages,
            stages: config.iterations.len(),
        });
    }
    let (mean, variance, _) = global_moments(data)?;
    let (floor, _) = bounds(&variance, config);
    let start_variance = variance.iter().zip(&floor).map(|(&v, &f)| v.max(f));
    let dim = mean.len();
    let mut model = DiagGmm::new(
        Array1::ones(1),
        mean.insert_axis(Axis(0)),
        Array2::from_shape_vec((1, dim), start_variance.collect()).expect("one row"),
    )?;
    let mut history = Vec::new();
    for stage in 0..stages {
        model = split(&model);
        model = run_em(
            data,
            model,
            config.iterations[stage],
            &variance,
            config,
            report,
            &mut history,
        )?;
    }
    Ok(Trained { model, history })
}

/// Plain EM: `iterations` iterations from `model` on `data`, with the
/// variance control of `config` relative to the data's global variance.
///
/// # Errors
///
/// As [`train_ubm`] (with `top_n` checked against the model's
/// components), and [`UbmError::Dimension`] when the model's
/// dimension is not the data's.
pub fn em(
    data: &TrainingData<'_>,
    model: DiagGmm,
    iterations: usize,
    config: &EmConfig,
    report: &mut dyn FnMut(&Iteration),
) -> Result<Trained, UbmError> {
    config.check()?;
    if let Some(p) = &config.pruning {
        p.check(model.n_components())?;
    }
    if let Some(dim) = data.dim() {
        if dim != model.dim() {
            return Err(UbmError::Dimension {
                data: dim,
                model: model.dim(),
            });
        }
    }
    let (_, variance, _) = global_moments(data)?;
    if variance.len() != model.dim() {
        return Err(UbmError::Dimension {
            data: variance.len(),
            model: model.dim(),
        });
    }
    let mut history = Vec::new();
    let model = run_em(
        data,
        model,
        iterations,
        &variance,
        config,
        report,
        &mut history,
    )?;
    Ok(Trained { model, history })
}
