//! The UBM trainer: the data passes (E-step, pruned E-step, moments) as
//! visitors of [`crate::frames`], the M-step and the split schedule.

use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use shardkit::Reduce;

use super::errors::UbmError;
use super::hyperparams::EmConfig;
use super::iteration::{EmIteration, UbmTrained};
use super::resume;
use crate::checkpoint::Checkpoint;
use crate::frames::{Frames, Source, State, Visit};
use crate::gmm::{self, DiagGmm, GmmStats, Prepared, Pruning, BLOCK_FRAMES};

/// The E-step: each block (a block of rows, or a segment) adds its
/// statistics under the model — exact, or pruned (`pruned`) with each
/// frame's components in the state (one row per frame), chosen first when
/// `select`.
struct EStep<'m> {
    model: &'m Prepared<f32>,
    pruned: Option<Pruned>,
}

/// The pruned E-step's settings for one pass.
#[derive(Clone, Copy)]
struct Pruned {
    min_posterior: f64,
    select: bool,
}

impl Visit for EStep<'_> {
    type Out = GmmStats;
    type Block = ();
    type Work = ();
    type Cell = u32;

    fn start(&self) -> GmmStats {
        GmmStats::zeros(self.model.n_components(), self.model.dim())
    }

    fn chunk(
        &self,
        out: &mut GmmStats,
        x: ArrayView2<'_, f32>,
        _first: usize,
        state: ArrayViewMut2<'_, u32>,
        _work: &mut (),
    ) {
        let (model, stats) = (self.model, &mut *out);
        // The derived `Reduce::merge`: field-by-field addition.
        stats.merge(match self.pruned {
            None => gmm::accumulate_block(x, model),
            Some(Pruned {
                min_posterior,
                select: true,
            }) => gmm::select_and_accumulate_block(x, model, state, min_posterior),
            Some(Pruned {
                min_posterior,
                select: false,
            }) => gmm::accumulate_pruned_block(x, model, state.view(), min_posterior),
        });
    }

    fn finish(&self, _: GmmStats) {}

    fn chunk_rows(&self) -> usize {
        usize::MAX
    }
}

/// The E-step statistics of every frame under `model`: exact, or pruned
/// with the selection in `selection` (chosen first when `reselect`).
fn accumulate(
    data: &Source<'_>,
    model: &Prepared<f32>,
    pruning: Option<&Pruning>,
    selection: &mut State<u32>,
    reselect: bool,
) -> Result<GmmStats, UbmError> {
    let pruned = pruning.map(|p| Pruned {
        min_posterior: p.min_posterior,
        select: reselect,
    });
    Ok(data.sum(&EStep { model, pruned }, selection)?)
}

/// The global mean and variance of the data, and its frame count (one data
/// pass).
///
/// # Errors
///
/// [`UbmError::NoFrames`] for no frames; file errors, naming the file.
pub fn global_moments(frames: &Frames<'_>) -> Result<(Array1<f64>, Array1<f64>, u64), UbmError> {
    let data = prepare(frames, None)?;
    moments(&data)
}

/// Checks `frames` (with the model's dimension, if given) and prepares
/// them for the passes.
fn prepare<'a>(frames: &Frames<'a>, dim: Option<usize>) -> Result<Source<'a>, UbmError> {
    if frames.is_empty() {
        return Err(UbmError::NoFrames);
    }
    let found = frames.dim()?.ok_or(UbmError::NoFrames)?;
    let dim = match dim {
        Some(model) if model != found => return Err(UbmError::Dimension { data: found, model }),
        _ => found,
    };
    if dim == 0 {
        return Err(UbmError::NoColumns);
    }
    Ok(Source::lazy(frames.expect_dim(dim), BLOCK_FRAMES)?)
}

/// The global mean and variance of prepared frames, and their count.
fn moments(data: &Source<'_>) -> Result<(Array1<f64>, Array1<f64>, u64), UbmError> {
    let dim = data.dim();
    let moments = data.sum(&Moments { dim }, &mut data.state(0, false))?;
    if moments.frames == 0 {
        return Err(UbmError::NoFrames);
    }
    let n = moments.frames as f64;
    let mean = moments.sum.mapv(|s| s / n);
    let variance = (moments.sum_sq.mapv(|s| s / n) - &mean * &mean).mapv(|v| v.max(0.0));
    // A spread below f32's resolution (relative variance 1e-14, i.e. a
    // relative spread of 1e-7) is no spread: its precisions would overflow
    // the E-step's f32 products.
    let constant = (0..dim).find(|&j| variance[j] <= 1e-14 * mean[j] * mean[j] + f64::MIN_POSITIVE);
    if let Some(column) = constant {
        return Err(UbmError::ConstantColumn {
            column,
            mean: mean[column],
            variance: variance[column],
        });
    }
    Ok((mean, variance, moments.frames))
}

/// Refuses to train `components` components on fewer frames.
fn enough_frames(frames: u64, components: usize) -> Result<(), UbmError> {
    if frames < components as u64 {
        return Err(UbmError::TooFewFrames { frames, components });
    }
    Ok(())
}

/// Frame count, sums and sums of squares, in `f64`.
#[derive(Reduce)]
struct MomentSums {
    frames: u64,
    sum: Array1<f64>,
    sum_sq: Array1<f64>,
}

/// The pass that sums [`MomentSums`] over every frame.
struct Moments {
    dim: usize,
}

impl Visit for Moments {
    type Out = MomentSums;
    type Block = ();
    type Work = ();
    type Cell = u32;

    fn start(&self) -> MomentSums {
        MomentSums {
            frames: 0,
            sum: Array1::zeros(self.dim),
            sum_sq: Array1::zeros(self.dim),
        }
    }

    fn chunk(
        &self,
        out: &mut MomentSums,
        rows: ArrayView2<'_, f32>,
        _first: usize,
        _state: ArrayViewMut2<'_, u32>,
        _work: &mut (),
    ) {
        for frame in rows.rows() {
            for ((s, q), &x) in out.sum.iter_mut().zip(out.sum_sq.iter_mut()).zip(frame) {
                let x = f64::from(x);
                *s += x;
                *q += x * x;
            }
        }
        out.frames += rows.nrows() as u64;
    }

    fn finish(&self, _: MomentSums) {}

    fn chunk_rows(&self) -> usize {
        usize::MAX
    }
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

/// `model` with each variance clamped to `[floor, ceiling]` of its column
/// (the same model where they already are).
fn clamp_variances(
    model: DiagGmm,
    floor: &Array1<f64>,
    ceiling: &Array1<f64>,
) -> Result<DiagGmm, UbmError> {
    let inside = |row: ndarray::ArrayView1<'_, f64>| {
        row.iter()
            .zip(floor)
            .zip(ceiling)
            .all(|((&v, &f), &c)| (f..=c).contains(&v))
    };
    if model.variances().rows().into_iter().all(inside) {
        return Ok(model);
    }
    let mut variances = model.variances().to_owned();
    for mut row in variances.rows_mut() {
        for ((v, &f), &c) in row.iter_mut().zip(floor).zip(ceiling) {
            *v = v.clamp(f, c);
        }
    }
    Ok(DiagGmm::new(
        model.weights().to_owned(),
        model.means().to_owned(),
        variances,
    )?)
}

/// Runs `iterations` EM iterations from `model`, calling `report` after
/// each. Variance bounds are relative to `global_variance` (see
/// [`global_moments`]).
fn run_em(
    data: &Source<'_>,
    model: DiagGmm,
    iterations: usize,
    global_variance: &Array1<f64>,
    config: &EmConfig,
    report: &mut dyn FnMut(&EmIteration),
    history: &mut Vec<EmIteration>,
) -> Result<DiagGmm, UbmError> {
    let resume = Resume {
        done: 0,
        selected_with: None,
    };
    run_em_from(
        data,
        model,
        iterations,
        resume,
        global_variance,
        config,
        report,
        history,
        &mut |_, _, _, _| Ok(()),
    )
}

/// Where a stage's EM continues: after `done` of its iterations, with the
/// model the last selection pass used (pruned EM only).
struct Resume {
    done: usize,
    selected_with: Option<DiagGmm>,
}

/// What [`run_em_from`] calls after each iteration: the iterations done in
/// the stage, the model, the model of the last selection pass (pruned EM)
/// and the history.
type AfterIteration<'a> =
    dyn FnMut(usize, &DiagGmm, Option<&DiagGmm>, &[EmIteration]) -> Result<(), UbmError> + 'a;

/// [`run_em`] continued after `resume.done` iterations of the stage, with
/// `after_each` called after every new one. A pruned stage resumed between
/// selection passes first redoes the last selection with the model it used,
/// so the statistics are those of a run that never stopped.
#[allow(clippy::too_many_arguments)]
fn run_em_from(
    data: &Source<'_>,
    mut model: DiagGmm,
    iterations: usize,
    resume: Resume,
    global_variance: &Array1<f64>,
    config: &EmConfig,
    report: &mut dyn FnMut(&EmIteration),
    history: &mut Vec<EmIteration>,
    after_each: &mut AfterIteration<'_>,
) -> Result<DiagGmm, UbmError> {
    let (floor, ceiling) = bounds(global_variance, config);
    // Pruned when asked for and there are more components than `top_n`.
    let pruning = config.pruning.filter(|p| model.n_components() > p.top_n);
    // The stage's selection: `top_n` components per frame (one row each).
    let mut selection = data.state(pruning.map_or(0, |p| p.top_n), false);
    let reselects = |i: usize| match &pruning {
        Some(p) => i == 0 || (p.reselect_every > 0 && i.is_multiple_of(p.reselect_every)),
        None => false,
    };
    let mut selected_with = resume.selected_with;
    if let (Some(_), Some(earlier)) = (&pruning, &selected_with) {
        if !reselects(resume.done) {
            // Its statistics are not needed, only the selection it leaves.
            accumulate(
                data,
                &earlier.prepare(),
                pruning.as_ref(),
                &mut selection,
                true,
            )?;
        }
    }
    for i in resume.done..iterations {
        let start = Instant::now();
        let reselect = reselects(i);
        if reselect {
            selected_with = Some(model.clone());
        }
        let stats = accumulate(
            data,
            &model.prepare(),
            pruning.as_ref(),
            &mut selection,
            reselect,
        )?;
        if stats.frames == 0 {
            return Err(UbmError::NoFrames);
        }
        model = maximize(&stats, &model, &floor, &ceiling, config.min_occupancy);
        let it = EmIteration {
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
        after_each(
            i + 1,
            &model,
            selected_with.as_ref().filter(|_| pruning.is_some()),
            history,
        )?;
    }
    Ok(model)
}

/// Trains a UBM of `components` components (a power of two) on `frames`:
/// one Gaussian with the global mean and variance, then, for each stage
/// `k`, a split of every component and `config`'s `k`-th iteration count
/// of EM iterations. `report` is called after every iteration (for
/// progress).
///
/// # Errors
///
/// [`UbmError::Params`] (a setting, a size that is not a power of two, too
/// few stages in the schedule, pruning's `top_n` above `components`);
/// [`UbmError::NoFrames`]; [`UbmError::TooFewFrames`] for fewer frames
/// than components; [`UbmError::ConstantColumn`] for a column that does not
/// vary; [`UbmError::Frames`] for a segment that cannot be read or fails
/// its checks, naming the file or the row. All of these before the first
/// EM iteration.
pub fn train_ubm(
    frames: &Frames<'_>,
    components: usize,
    config: &EmConfig,
    report: &mut dyn FnMut(&EmIteration),
) -> Result<UbmTrained, UbmError> {
    train_ubm_with(frames, components, config, None, report)
}

/// [`train_ubm`] that survives being stopped: after every
/// [`interval`](Checkpoint::interval)-th iteration of a stage and after
/// each stage's last, the model, where the schedule stands, the model of
/// the stage's last selection pass (pruned EM) and the iterations so far
/// are written to `checkpoint` (atomically; by rank 0 under MPI); when the
/// file is there, training continues from it.
///
/// The trained model and the history's likelihoods have the same bits as
/// an uninterrupted [`train_ubm`], however often the run
/// was stopped and on whatever number of threads or ranks each part ran. A
/// pruned stage resumed between selection passes first redoes the last
/// selection pass with the model it used (one extra pass over the data).
/// Iterations read back from the checkpoint have `seconds` 0; `report` is
/// called for the new ones only. Under MPI every rank reads the checkpoint,
/// so it must be on a file system they all see.
///
/// ```
/// use shardkit_algorithms::checkpoint::Checkpoint;
/// use shardkit_algorithms::frames::Frames;
/// use shardkit_algorithms::gmm::ubm::{train_ubm, train_ubm_resumable, EmConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let x = ndarray::Array2::from_shape_fn((400, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 + (i % 4) as f32 * 5.0);
/// let frames = Frames::rows(x.view());
/// let dir = tempfile::tempdir()?;
/// let checkpoint = Checkpoint::new(dir.path().join("ubm.ckpt.npz"));
/// let config = EmConfig::new().iterations(vec![2, 3]);
/// let first = train_ubm_resumable(&frames, 4, &config, &checkpoint, &mut |_| {})?;
/// assert_eq!(first.model, train_ubm(&frames, 4, &config, &mut |_| {})?.model);
/// // Started again, it finds the finished run's checkpoint and trains nothing.
/// let mut new = 0;
/// let again = train_ubm_resumable(&frames, 4, &config, &checkpoint, &mut |_| new += 1)?;
/// assert_eq!((new, &again.model), (0, &first.model));
/// // Another number of components is another training: refused.
/// assert!(train_ubm_resumable(&frames, 2, &config, &checkpoint, &mut |_| {}).is_err());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// Those of [`train_ubm`]; [`UbmError::Npz`] when the
/// checkpoint cannot be read or written; [`UbmError::Checkpoint`] when it
/// was written for other data or settings (saying which).
pub fn train_ubm_resumable(
    frames: &Frames<'_>,
    components: usize,
    config: &EmConfig,
    checkpoint: &Checkpoint,
    report: &mut dyn FnMut(&EmIteration),
) -> Result<UbmTrained, UbmError> {
    train_ubm_with(frames, components, config, Some(checkpoint), report)
}

/// [`train_ubm`], with a checkpoint kept and resumed from when given (see
/// [`train_ubm_resumable`]).
fn train_ubm_with(
    frames: &Frames<'_>,
    components: usize,
    config: &EmConfig,
    checkpoint: Option<&Checkpoint>,
    report: &mut dyn FnMut(&EmIteration),
) -> Result<UbmTrained, UbmError> {
    config.check_for(components)?;
    let stages = components.ilog2() as usize;
    let data = prepare(frames, None)?;
    let (mean, variance, count) = moments(&data)?;
    enough_frames(count, components)?;
    let (floor, _) = bounds(&variance, config);
    let start_variance = variance.iter().zip(&floor).map(|(&v, &f)| v.max(f));
    let dim = mean.len();
    let fingerprint = resume::Fingerprint::of(&mean, &variance, count, components, config);
    let mut model = DiagGmm::new(
        Array1::ones(1),
        mean.insert_axis(Axis(0)),
        Array2::from_shape_vec((1, dim), start_variance.collect()).expect("one row"),
    )?;
    let mut history = Vec::new();
    let mut first_stage = 0;
    let mut resume_at = None;
    if let Some(saved) = checkpoint
        .filter(|c| c.path().exists())
        .map(|c| resume::read(c.path(), &fingerprint, config))
        .transpose()?
    {
        model = saved.model;
        history = saved.history;
        if saved.done >= config.iterations[saved.stage] {
            first_stage = saved.stage + 1;
        } else {
            first_stage = saved.stage;
            resume_at = Some(Resume {
                done: saved.done,
                selected_with: saved.selected_with,
            });
        }
    }
    for stage in first_stage..stages {
        let resume = match resume_at.take() {
            Some(resume) => resume,
            None => {
                model = split(&model);
                Resume {
                    done: 0,
                    selected_with: None,
                }
            }
        };
        let planned = config.iterations[stage];
        model = run_em_from(
            &data,
            model,
            planned,
            resume,
            &variance,
            config,
            report,
            &mut history,
            &mut |done, model, selected_with, history| match checkpoint {
                Some(c) if done % c.interval() == 0 || done == planned => resume::write(
                    c.path(),
                    &fingerprint,
                    stage,
                    done,
                    model,
                    selected_with,
                    history,
                ),
                _ => Ok(()),
            },
        )?;
    }
    Ok(UbmTrained { model, history })
}

/// Plain EM: `iterations` iterations from `model` on `frames`, with the
/// variance control of `config` relative to the data's global variance
/// (`config`'s schedule is not used).
///
/// # Errors
///
/// As [`train_ubm`] (with pruning's `top_n` checked against the model's
/// components), and [`UbmError::Dimension`] when the model's dimension is
/// not the data's. The model's variances are first clamped to the floor
/// and ceiling that the iterations keep, so a variance of 1e-300 is
/// floored, never divided by.
pub fn em(
    frames: &Frames<'_>,
    model: DiagGmm,
    iterations: usize,
    config: &EmConfig,
    report: &mut dyn FnMut(&EmIteration),
) -> Result<UbmTrained, UbmError> {
    config.check()?;
    if let Some(p) = &config.pruning {
        p.check(model.n_components())?;
    }
    let data = prepare(frames, Some(model.dim()))?;
    let (_, variance, count) = moments(&data)?;
    enough_frames(count, model.n_components())?;
    // The initial variances within the bounds the iterations keep (a
    // variance of 1e-300 would otherwise be divided by).
    let (floor, ceiling) = bounds(&variance, config);
    let model = clamp_variances(model, &floor, &ceiling)?;
    let mut history = Vec::new();
    let model = run_em(
        &data,
        model,
        iterations,
        &variance,
        config,
        report,
        &mut history,
    )?;
    Ok(UbmTrained { model, history })
}
