//! GMM-UBM scoring: average frame log-likelihood ratios over the UBM's best
//! components.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use shardkit::parallelize;

use super::errors::MapError;
use crate::frames::Frames;
use crate::gmm::{self, DiagGmm, Prepared};

/// One trial: does the speaker of model `model` speak in test segment
/// `segment`? Both are indices: into the models, and into the test
/// [`Frames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trial {
    /// Index of the claimed speaker's model.
    pub model: usize,
    /// Index of the test segment.
    pub segment: usize,
}

/// How a trial's frame log-likelihood ratios, summed over the `T` frames
/// of its test segment, become its score.
///
/// The average frame ratio (the default; Reynolds et al., 2000, and
/// SIDEKIT's `gmm_scoring`) has the same expected value for a short and a
/// long segment of one speaker, but its spread shrinks like `1/√T`, so
/// with a threshold fixed for all trials the short test segments make most
/// of the highest non-target scores. Dividing the sum by `√T` instead (the
/// average × `√T`) makes that spread the same for every length: a fixed
/// threshold on it is a threshold on the average that falls as `1/√T`
/// (the ratio of the frames' mean to its standard error, were the frames
/// independent; the plain sum would treat them as independent, which
/// neighbouring frames are not).
///
/// It serialises as `"frame-mean"` and `"sqrt-frames"`.
///
/// ```
/// use shardkit_algorithms::gmm::map::LlrScale;
///
/// assert_eq!(LlrScale::FrameMean.score(6.0, 4), 1.5);
/// assert_eq!(LlrScale::SqrtFrames.score(6.0, 4), 3.0);
/// assert_eq!(LlrScale::SqrtFrames.score(0.0, 0), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LlrScale {
    /// The sum divided by `T`: the average frame log-likelihood ratio.
    #[default]
    FrameMean,
    /// The sum divided by `√T`.
    SqrtFrames,
}

impl LlrScale {
    /// The score of a segment of `frames` frames whose frame
    /// log-likelihood ratios sum to `sum`; a segment without frames
    /// scores 0.
    pub fn score(self, sum: f64, frames: usize) -> f64 {
        if frames == 0 {
            return 0.0;
        }
        match self {
            LlrScale::FrameMean => sum / frames as f64,
            LlrScale::SqrtFrames => sum / (frames as f64).sqrt(),
        }
    }
}

/// Per component `m`, the part of `log w_m N(x; μ_m, σ²_m)` that does not
/// depend on `x`: `log w_m − ½ Σ_j (log 2π + log σ²_mj)`, computed once per
/// model and scored segment rather than once per frame.
fn log_constants(gmm: &DiagGmm) -> Vec<f64> {
    let log_two_pi = (2.0 * std::f64::consts::PI).ln();
    gmm.variances()
        .rows()
        .into_iter()
        .zip(gmm.weights())
        .map(|(var, &w)| w.ln() - 0.5 * var.iter().map(|v| log_two_pi + v.ln()).sum::<f64>())
        .collect()
}

/// `log Σ_{m ∈ top} w_m N(x; μ_m, σ²_m)` in `f64`, with `constants` from
/// [`log_constants`] and `terms` a scratch buffer.
fn top_log_likelihood(
    x: ArrayView1<f32>,
    gmm: &DiagGmm,
    constants: &[f64],
    top: ArrayView1<u32>,
    terms: &mut Vec<f64>,
) -> f64 {
    let (means, variances) = (gmm.means(), gmm.variances());
    terms.clear();
    terms.extend(top.iter().map(|&m| {
        let m = m as usize;
        let (means, vars) = (means.row(m), variances.row(m));
        let mut quad = 0.0;
        for ((&xj, &mu), &var) in x.iter().zip(means).zip(vars) {
            let diff = f64::from(xj) - mu;
            quad += diff * diff / var;
        }
        constants[m] - 0.5 * quad
    }));
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// The GMM-UBM score of `frames` for a speaker model: the average over
/// frames of `log p(x | speaker) − log p(x | UBM)`, both over the `top_n`
/// UBM components that best explain each frame (Reynolds' fast scoring).
/// No frames score 0.
///
/// # Errors
///
/// [`MapError::ModelShape`] when the speaker model is not of the UBM's
/// shape, [`MapError::TopN`] for a `top_n` of 0 (one above the UBM's
/// components means all of them), [`MapError::Dimension`] when the frames' width is not the
/// UBM's dimension.
pub fn llr(
    frames: ArrayView2<f32>,
    speaker: &DiagGmm,
    ubm: &DiagGmm,
    top_n: usize,
) -> Result<f64, MapError> {
    check(std::slice::from_ref(speaker), ubm, top_n)?;
    if frames.ncols() != ubm.dim() {
        return Err(MapError::Dimension {
            found: frames.ncols(),
            expected: ubm.dim(),
        });
    }
    Ok(score(
        frames,
        speaker,
        ubm,
        &ubm.prepare(),
        top_n,
        LlrScale::FrameMean,
    ))
}

/// Checks models and `top_n` against the UBM.
fn check(models: &[DiagGmm], ubm: &DiagGmm, top_n: usize) -> Result<(), MapError> {
    let expected = ubm.means().dim();
    if let Some((model, m)) = models
        .iter()
        .enumerate()
        .find(|(_, m)| m.means().dim() != expected)
    {
        return Err(MapError::ModelShape {
            model,
            expected,
            found: m.means().dim(),
        });
    }
    if top_n == 0 {
        return Err(MapError::TopN {
            top_n,
            components: ubm.n_components(),
        });
    }
    Ok(())
}

/// [`llr`] once everything is known to fit.
fn score(
    frames: ArrayView2<f32>,
    speaker: &DiagGmm,
    ubm: &DiagGmm,
    prepared: &Prepared<f32>,
    top_n: usize,
    scale: LlrScale,
) -> f64 {
    if frames.nrows() == 0 {
        return 0.0;
    }
    let top = gmm::top_posteriors(frames, prepared, top_n);
    let (speaker_constants, ubm_constants) = (log_constants(speaker), log_constants(ubm));
    let mut terms = Vec::with_capacity(top_n);
    let mut total = 0.0;
    for (t, x) in frames.rows().into_iter().enumerate() {
        let best = top.indices.row(t);
        total += top_log_likelihood(x, speaker, &speaker_constants, best, &mut terms)
            - top_log_likelihood(x, ubm, &ubm_constants, best, &mut terms);
    }
    scale.score(total, frames.nrows())
}

/// Scores every trial (GMM-UBM log-likelihood ratios, see [`llr`]) of the
/// models against the segments of `test`, in trial order; trials are
/// shared out between the workers (threads or MPI ranks), each reading its
/// trials' segments. [`score_trials_scaled`] with
/// [`LlrScale::FrameMean`].
///
/// # Errors
///
/// [`MapError::UnknownModel`] or [`MapError::UnknownSegment`] for a trial
/// that names what does not exist, [`MapError::ModelShape`],
/// [`MapError::TopN`], or a [`MapError::Frames`] naming the segment that
/// cannot be read or fails its checks (the expected dimension is the
/// UBM's).
pub fn score_trials(
    trials: &[Trial],
    models: &[DiagGmm],
    ubm: &DiagGmm,
    test: &Frames<'_>,
    top_n: usize,
) -> Result<Vec<f64>, MapError> {
    score_trials_scaled(trials, models, ubm, test, top_n, LlrScale::FrameMean)
}

/// [`score_trials`] with the frames' log-likelihood ratios made a score
/// by `scale` (see [`LlrScale`]): with [`LlrScale::SqrtFrames`], each
/// trial's average frame ratio times the square root of its segment's
/// frames.
///
/// # Errors
///
/// Those of [`score_trials`].
pub fn score_trials_scaled(
    trials: &[Trial],
    models: &[DiagGmm],
    ubm: &DiagGmm,
    test: &Frames<'_>,
    top_n: usize,
    scale: LlrScale,
) -> Result<Vec<f64>, MapError> {
    check(models, ubm, top_n)?;
    for (trial, t) in trials.iter().enumerate() {
        if t.model >= models.len() {
            return Err(MapError::UnknownModel {
                trial,
                model: t.model,
                models: models.len(),
            });
        }
        if t.segment >= test.len() {
            return Err(MapError::UnknownSegment {
                trial,
                segment: t.segment,
                segments: test.len(),
            });
        }
    }
    let test = test.expect_dim(ubm.dim());
    score_each(trials, models, ubm, &ubm.prepare(), &test, top_n, scale)
}

#[parallelize(split = "trials", reduce = "concat")]
fn score_each(
    trials: &[Trial],
    models: &[DiagGmm],
    ubm: &DiagGmm,
    prepared: &Prepared<f32>,
    test: &Frames<'_>,
    top_n: usize,
    scale: LlrScale,
) -> Result<Vec<f64>, MapError> {
    let mut scores = Vec::with_capacity(trials.len());
    for trial in trials {
        let frames = test.segment(trial.segment)?;
        scores.push(score(
            frames.view(),
            &models[trial.model],
            ubm,
            prepared,
            top_n,
            scale,
        ));
    }
    Ok(scores)
}
