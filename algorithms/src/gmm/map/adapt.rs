//! MAP adaptation of speaker models from the UBM.

use ndarray::{Array1, Array2};
use shardkit::{parallelize, Reduce};

use super::errors::MapError;
use super::hyperparams::MapConfig;
use crate::frames::Frames;
use crate::gmm::{self, DiagGmm, GmmStats, Prepared};

/// The MAP adaptation of `ubm` to the statistics `stats` of a speaker's
/// frames (from [`gmm::accumulate`] under the same UBM). With `α_m = n_m /
/// (n_m + r)`: means `α_m F_m/n_m + (1 − α_m) μ_m` (written
/// `(F_m + r μ_m) / (n_m + r)`, so an unseen component keeps the UBM's mean
/// exactly); weights `α_m n_m/N + (1 − α_m) w_m`, renormalised; variances
/// `α_m S_m/n_m + (1 − α_m)(σ²_m + μ_m²) − μ̂_m²`, floored at 1% of the
/// UBM's.
///
/// # Errors
///
/// [`MapError::Params`] for an unusable `config`, [`MapError::StatsShape`]
/// if the statistics are not of the UBM's shape.
pub fn map_adapt(ubm: &DiagGmm, stats: &GmmStats, config: &MapConfig) -> Result<DiagGmm, MapError> {
    config.check()?;
    let expected = ubm.means().dim();
    if stats.first.dim() != expected || stats.zero.len() != expected.0 {
        return Err(MapError::StatsShape {
            expected,
            found: stats.first.dim(),
        });
    }
    Ok(adapt(ubm, stats, config))
}

/// [`map_adapt`] once the shapes and settings are known to fit.
fn adapt(ubm: &DiagGmm, stats: &GmmStats, config: &MapConfig) -> DiagGmm {
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

/// A speaker to enrol: a name and the frames of their enrolment
/// utterances.
#[derive(Debug, Clone)]
pub struct Speaker<'a> {
    /// The speaker's name (a label for the caller and for messages;
    /// models come back in the order of the speakers).
    pub name: String,
    /// The enrolment frames: files, or matrices in memory.
    pub frames: Frames<'a>,
}

/// A speaker model as it travels between workers: the parts of a
/// [`DiagGmm`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SpeakerModel {
    weights: Array1<f64>,
    means: Array2<f64>,
    variances: Array2<f64>,
}

/// Adapts one model per speaker from `ubm` (see [`map_adapt`]), in speaker
/// order: SIDEKIT's "different nodes do different speakers". Every speaker
/// is one item of a `#[parallelize(split = "speakers", reduce = "concat")]`
/// pass, so workers (threads or MPI ranks) take different speakers; each
/// reads its speaker's segments one after the other, and the models are
/// stacked back in speaker order on every rank.
///
/// # Errors
///
/// [`MapError::Params`]; a [`MapError::Frames`] naming the file or matrix
/// that cannot be read or fails its checks (the expected dimension is the
/// UBM's); [`MapError::NoFrames`] for a speaker without frames.
pub fn adapt_speakers(
    speakers: &[Speaker<'_>],
    ubm: &DiagGmm,
    config: &MapConfig,
) -> Result<Vec<DiagGmm>, MapError> {
    config.check()?;
    let prepared = ubm.prepare();
    let models = adapt_each(speakers, ubm, &prepared, config)?;
    Ok(models
        .into_iter()
        .map(|m| DiagGmm::new(m.weights, m.means, m.variances).expect("MAP models are valid"))
        .collect())
}

#[parallelize(split = "speakers", reduce = "concat", block_size = 1)]
fn adapt_each(
    speakers: &[Speaker<'_>],
    ubm: &DiagGmm,
    prepared: &Prepared<f32>,
    config: &MapConfig,
) -> Result<Vec<SpeakerModel>, MapError> {
    let mut models = Vec::with_capacity(speakers.len());
    for speaker in speakers {
        let frames = speaker.frames.expect_dim(ubm.dim());
        let start = GmmStats::zeros(ubm.n_components(), ubm.dim());
        let stats = frames.fold(start, |stats, x| {
            // The derived `Reduce::merge`: field-by-field addition.
            stats.merge(gmm::accumulate_block(x, prepared));
        })?;
        if stats.frames == 0 {
            return Err(MapError::NoFrames {
                speaker: speaker.name.clone(),
            });
        }
        let (weights, means, variances) = adapt(ubm, &stats, config).into_parts();
        models.push(SpeakerModel {
            weights,
            means,
            variances,
        });
    }
    Ok(models)
}
