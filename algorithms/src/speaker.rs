//! Speaker models: MAP adaptation from the UBM, and GMM-UBM scoring.
//!
//! [`adapt_speakers`] is SIDEKIT's "different nodes do different speakers":
//! one `#[parallelize(split = "speakers", reduce = "concat")]` pass, each
//! shard reading its speakers' files and adapting their models, the models
//! stacked back in speaker order (on every MPI rank). [`score_trials`]
//! scores a trial list the same way, one trial per item.

use std::path::PathBuf;

use ndarray::{Array1, Array2, ArrayView1};
use shardkit::{parallelize, Reduce};

use crate::features::{read_features_with, ReadOptions};
use crate::gmm::{self, DiagGmm, GmmStats, Prepared};
use crate::ubm::UbmError;

/// How MAP adaptation runs (Reynolds et al., 2000).
#[derive(Debug, Clone, PartialEq)]
pub struct MapConfig {
    /// The relevance factor `r` (default 16): a component seen in `n`
    /// frames moves `n / (n + r)` of the way to the speaker's data.
    pub relevance: f64,
    /// Adapt the means (default true).
    pub means: bool,
    /// Adapt the weights (default false).
    pub weights: bool,
    /// Adapt the variances (default false).
    pub variances: bool,
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

/// The MAP adaptation of `ubm` to the statistics `stats` of a speaker's
/// frames (from [`gmm::accumulate`] under the same UBM). With `α_m = n_m /
/// (n_m + r)`: means `α_m F_m/n_m + (1 − α_m) μ_m` (written
/// `(F_m + r μ_m) / (n_m + r)`, so an unseen component keeps the UBM's mean
/// exactly); weights `α_m n_m/N + (1 − α_m) w_m`, renormalised; variances
/// `α_m S_m/n_m + (1 − α_m)(σ²_m + μ_m²) − μ̂_m²`, floored at 1% of the
/// UBM's.
///
/// # Panics
///
/// If the statistics' shape is not the UBM's.
pub fn map_adapt(ubm: &DiagGmm, stats: &GmmStats, config: &MapConfig) -> DiagGmm {
    assert_eq!(
        stats.first.dim(),
        ubm.means().dim(),
        "the statistics are not the UBM's shape"
    );
    let r = config.relevance;
    let (m, d) = (ubm.n_components(), ubm.dim());
    let mut means = ubm.means().to_owned();
    let mut variances = ubm.variances().to_owned();
    let mut weights = ubm.weights().to_owned();
    let total = stats.frames as f64;
    for c in 0..m {
        let n = stats.zero[c];
        let alpha = n / (n + r);
        let adapted: Array1<f64> = (0..d)
            .map(|j| (stats.first[[c, j]] + r * ubm.means()[[c, j]]) / (n + r))
            .collect();
        if config.variances && n > 0.0 {
            for j in 0..d {
                let (mu, var) = (ubm.means()[[c, j]], ubm.variances()[[c, j]]);
                let new_mean = if config.means { adapted[j] } else { mu };
                let second = alpha * stats.second[[c, j]] / n + (1.0 - alpha) * (var + mu * mu);
                variances[[c, j]] = (second - new_mean * new_mean).max(0.01 * var);
            }
        }
        if config.means {
            means.row_mut(c).assign(&adapted);
        }
        if config.weights && total > 0.0 {
            weights[c] = alpha * n / total + (1.0 - alpha) * ubm.weights()[c];
        }
    }
    let sum = weights.sum();
    weights.mapv_inplace(|w| w / sum);
    DiagGmm::new(weights, means, variances).expect("MAP keeps a valid model valid")
}

/// A speaker to enroll: a name and the feature files of their enrollment
/// utterances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    /// The speaker's name (a label for the caller; models come back in the
    /// order of the speakers).
    pub name: String,
    /// Feature files (`.npy` or HTK).
    pub files: Vec<PathBuf>,
}

/// A speaker model as it travels between workers: the parts of a
/// [`DiagGmm`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpeakerModel {
    /// Weights, `M`.
    pub weights: Array1<f64>,
    /// Means, `M×D`.
    pub means: Array2<f64>,
    /// Variances, `M×D`.
    pub variances: Array2<f64>,
}

impl SpeakerModel {
    /// The model as a [`DiagGmm`].
    pub fn to_gmm(&self) -> DiagGmm {
        DiagGmm::new(
            self.weights.clone(),
            self.means.clone(),
            self.variances.clone(),
        )
        .expect("speaker models are valid")
    }
}

/// Adapts one model per speaker from `ubm` (see [`map_adapt`]), in speaker
/// order; every speaker is one item of the split, so workers (threads or
/// MPI ranks) take different speakers.
///
/// # Errors
///
/// A file error naming the file; a speaker with no frames.
#[parallelize(split = "speakers", reduce = "concat", block_size = 1)]
pub fn adapt_speakers(
    speakers: &[Speaker],
    ubm: &DiagGmm,
    prepared: &Prepared<f32>,
    options: &ReadOptions,
    config: &MapConfig,
) -> Result<Vec<SpeakerModel>, UbmError> {
    let mut models = Vec::with_capacity(speakers.len());
    for speaker in speakers {
        let mut stats = GmmStats::zeros(ubm.n_components(), ubm.dim());
        for path in &speaker.files {
            let frames = read_features_with(path, options)?;
            stats.merge(gmm::accumulate_block(frames.view(), prepared));
        }
        if stats.frames == 0 {
            return Err(UbmError::Config(format!(
                "speaker `{}` has no enrollment frames",
                speaker.name
            )));
        }
        let gmm = map_adapt(ubm, &stats, config);
        let (weights, means, variances) = gmm.into_parts();
        models.push(SpeakerModel {
            weights,
            means,
            variances,
        });
    }
    Ok(models)
}

/// One trial: does the speaker of `model` (an index into the models) speak
/// in `file`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    /// Index of the claimed speaker's model.
    pub model: usize,
    /// The test utterance's feature file.
    pub file: PathBuf,
}

/// `log Σ_{m ∈ top} w_m N(x; μ_m, σ²_m)` in `f64`.
fn top_log_likelihood(x: ArrayView1<f32>, gmm: &DiagGmm, top: ArrayView1<u32>) -> f64 {
    let log_two_pi = (2.0 * std::f64::consts::PI).ln();
    let terms: Vec<f64> = top
        .iter()
        .map(|&m| {
            let m = m as usize;
            let mut s = gmm.weights()[m].ln();
            for (j, &xj) in x.iter().enumerate() {
                let (mu, var) = (gmm.means()[[m, j]], gmm.variances()[[m, j]]);
                let diff = f64::from(xj) - mu;
                s -= 0.5 * (log_two_pi + var.ln() + diff * diff / var);
            }
            s
        })
        .collect();
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// The GMM-UBM score of `frames` for a speaker model: the average over
/// frames of `log p(x | speaker) − log p(x | UBM)`, both over the `top_n`
/// UBM components that best explain each frame (Reynolds' fast scoring).
///
/// # Panics
///
/// If the frames' width is not the UBM's dimension.
pub fn llr(
    frames: ndarray::ArrayView2<f32>,
    speaker: &DiagGmm,
    ubm: &DiagGmm,
    prepared: &Prepared<f32>,
    top_n: usize,
) -> f64 {
    if frames.nrows() == 0 {
        return 0.0;
    }
    let top = gmm::top_posteriors(frames, prepared, top_n);
    let mut total = 0.0;
    for (t, x) in frames.rows().into_iter().enumerate() {
        let best = top.indices.row(t);
        total += top_log_likelihood(x, speaker, best) - top_log_likelihood(x, ubm, best);
    }
    total / frames.nrows() as f64
}

/// Scores every trial (GMM-UBM log-likelihood ratios, see [`llr`]), in
/// trial order; trials are shared out between the workers.
///
/// # Errors
///
/// A file error naming the file, or a trial naming a model that does not
/// exist.
#[parallelize(split = "trials", reduce = "concat")]
pub fn score_trials(
    trials: &[Trial],
    models: &[DiagGmm],
    ubm: &DiagGmm,
    prepared: &Prepared<f32>,
    options: &ReadOptions,
    top_n: usize,
) -> Result<Vec<f64>, UbmError> {
    let mut scores = Vec::with_capacity(trials.len());
    for trial in trials {
        let model = models.get(trial.model).ok_or_else(|| {
            UbmError::Config(format!(
                "a trial names model {} but there are {} models",
                trial.model,
                models.len()
            ))
        })?;
        let frames = read_features_with(&trial.file, options)?;
        scores.push(llr(frames.view(), model, ubm, prepared, top_n));
    }
    Ok(scores)
}
