//! Total-variability training by EM.

use std::sync::Mutex;
use std::time::Instant;

use ndarray::{s, Array2};

use super::errors::IvectorError;
use super::estep::{
    by_component, by_component_mut, cholesky_factor, ensure_shape, gather_a, gather_c, group_sums,
    posterior_pass, reduce_pass, round_a, round_c, rows, solve_components, tiles, PosteriorSums,
    Precomputed, Second, COMPONENT_BLOCK, PACKED_BLOCK, SESSION_BLOCK,
};
use super::hyperparams::check_memory;
use super::hyperparams::{TvCommunication, TvConfig, TvTraffic};
use super::model::TvModel;
use super::stats::SessionStats;
use crate::gmm::DiagGmm;
use crate::linalg::packed_len;
use crate::scratch::aligned_rows;
use shardkit::ExactSum;

/// One EM iteration, as [`train_tv`] and [`tv_em`] report it.
#[derive(Debug, Clone, PartialEq)]
pub struct TvIteration {
    /// Iterations done before this one.
    pub iteration: usize,
    /// The objective of the model this iteration started from: the
    /// log-likelihood of the statistics, up to terms that do not depend on
    /// `T`, per session. EM never lowers it.
    pub objective: f64,
    /// Components whose accumulator was singular (unused by every
    /// session) and that kept their previous rows of `T`.
    pub kept_components: u64,
    /// Wall-clock seconds of the iteration.
    pub seconds: f64,
}

/// A trained model and the iterations that made it.
#[derive(Debug, Clone)]
pub struct TvTrained {
    /// The model.
    pub model: TvModel,
    /// Every EM iteration, in order.
    pub history: Vec<TvIteration>,
}

/// Trains a total-variability model on `stats` (from the UBM `ubm`) from a
/// random start ([`TvModel::random`] with `config`'s rank, scale and
/// seed): `config.iterations` EM iterations, `report` called after each.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::gmm::DiagGmm;
/// use shardkit_algorithms::frames::Frames;
/// use shardkit_algorithms::ivector::{baum_welch, train_tv, TvConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ubm = DiagGmm::new(array![0.5, 0.5], array![[-1.0, 0.0], [1.0, 0.0]], Array2::ones((2, 2)))?;
/// // Twenty sessions whose frames are offset by a session-dependent shift.
/// let sessions: Vec<Array2<f32>> = (0..20)
///     .map(|s| Array2::from_shape_fn((50, 2), |(t, d)| {
///         let shift = (s as f32 - 10.0) / 10.0;
///         (if t % 2 == 0 { -1.0 } else { 1.0 }) * (d == 0) as i32 as f32 + shift + 0.1 * ((t * 7 + d) % 5) as f32
///     }))
///     .collect();
/// let views: Vec<_> = sessions.iter().map(|x| x.view()).collect();
/// let stats = baum_welch(&Frames::segments(&views), &ubm)?;
/// let config = TvConfig::new(2).iterations(5);
/// let trained = train_tv(&stats, &ubm, &config, &mut |_| {})?;
/// let objectives: Vec<f64> = trained.history.iter().map(|it| it.objective).collect();
/// assert!(objectives.windows(2).all(|p| p[1] >= p[0] - 1e-9), "{objectives:?}");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`IvectorError::Params`] for an unusable setting,
/// [`IvectorError::StatsModel`] when the statistics do not fit the UBM,
/// [`IvectorError::NoSessions`], [`IvectorError::NotPositiveDefinite`]
/// naming a session.
pub fn train_tv(
    stats: &SessionStats,
    ubm: &DiagGmm,
    config: &TvConfig,
    report: &mut dyn FnMut(&TvIteration),
) -> Result<TvTrained, IvectorError> {
    config.check()?;
    let model = TvModel::random(ubm, config.rank, config.init_scale, config.seed)?;
    tv_em(stats, model, config, report)
}

/// EM from `model`: `config.iterations` iterations of [`tv_iteration`]
/// (`config.rank`, seed and scale are not used).
///
/// # Errors
///
/// As [`train_tv`].
pub fn tv_em(
    stats: &SessionStats,
    model: TvModel,
    config: &TvConfig,
    report: &mut dyn FnMut(&TvIteration),
) -> Result<TvTrained, IvectorError> {
    tv_em_from(stats, model, config, Vec::new(), &mut |_, _| Ok(()), report)
}

/// What [`tv_em_from`] calls after every iteration: the model and the
/// history so far.
pub(crate) type AfterEach<'a> =
    dyn FnMut(&TvModel, &[TvIteration]) -> Result<(), IvectorError> + 'a;

/// EM from `model`, which `history.len()` iterations (recorded in
/// `history`) have already made, up to `config.iterations`;
/// `after_each` sees the model and the history after every new iteration
/// (the checkpoints of
/// [`train_tv_resumable`](super::train_tv_resumable)).
pub(crate) fn tv_em_from(
    stats: &SessionStats,
    model: TvModel,
    config: &TvConfig,
    mut history: Vec<TvIteration>,
    after_each: &mut AfterEach<'_>,
    report: &mut dyn FnMut(&TvIteration),
) -> Result<TvTrained, IvectorError> {
    let mut model = model;
    history.reserve(config.iterations.saturating_sub(history.len()));
    let mut workspace = Workspace::default();
    for iteration in history.len()..config.iterations {
        let started = Instant::now();
        let step = iterate(
            &mut workspace,
            stats,
            &model,
            config.min_divergence,
            config.memory,
            config.communication,
        )?;
        // The old T's memory holds the next iteration's T.
        let old = std::mem::replace(&mut model, step.model);
        workspace.spare_t = Some(old.into_t());
        let it = TvIteration {
            iteration,
            objective: step.objective,
            kept_components: step.kept_components,
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(
            iteration,
            objective = it.objective,
            seconds = it.seconds,
            "total-variability EM"
        );
        report(&it);
        history.push(it);
        after_each(&model, &history)?;
    }
    Ok(TvTrained { model, history })
}

/// What one EM iteration returns.
#[derive(Debug, Clone)]
pub struct TvStep {
    /// The updated model.
    pub model: TvModel,
    /// The objective of the model the iteration started from, per session
    /// (see [`TvIteration::objective`]).
    pub objective: f64,
    /// Components that kept their rows (see
    /// [`TvIteration::kept_components`]).
    pub kept_components: u64,
}

/// One EM iteration: the E-step over every session (the ambient
/// executor's threads or ranks; the same bits on any number of them), the
/// M-step per component, and optionally the minimum-divergence step.
/// `memory` bounds the per-session posteriors held at once (see
/// [`TvConfig::memory`]).
///
/// Counting flops (`K = R(R+1)/2`): `2·S·C·K` for the precisions,
/// `2·S·C·D·R` for the projections, about `S·R³` for the per-session
/// factorisations and inverses, `2·S·C·K` for `A`, `2·S·C·D·R` for `C`,
/// and `C·(R³/3 + 2·D·R²)` for the M-step.
///
/// # Errors
///
/// As [`train_tv`].
pub fn tv_iteration(
    stats: &SessionStats,
    model: &TvModel,
    min_divergence: bool,
    memory: usize,
) -> Result<TvStep, IvectorError> {
    iterate(
        &mut Workspace::default(),
        stats,
        model,
        min_divergence,
        memory,
        TvCommunication::Auto,
    )
}

/// The large arrays of an iteration, kept by [`tv_em`] from one iteration
/// to the next: allocating them afresh (some 80 MB at C = 256, R = 100,
/// 1,000 sessions) cost about 6 % of an iteration in page faults.
#[derive(Default)]
struct Workspace {
    pre: Option<Precomputed>,
    /// `Aᵀ`, `K × C` (see [`aligned_rows`]: the M-step reads one cache
    /// line of every row at a time).
    at: Vec<f64>,
    cacc: Array2<f64>,
    w: Array2<f64>,
    /// `E[w wᵀ]` of a chunk, `K × chunk` (see [`aligned_rows`]).
    second: Vec<f64>,
    /// Each session's objective term, of a chunk.
    objective: Vec<f64>,
    /// The previous model's `T`, to be overwritten by the next one.
    spare_t: Option<Array2<f64>>,
}

/// [`tv_iteration`] with the arrays of `ws`.
fn iterate(
    ws: &mut Workspace,
    stats: &SessionStats,
    model: &TvModel,
    min_divergence: bool,
    memory: usize,
    communication: TvCommunication,
) -> Result<TvStep, IvectorError> {
    check(stats, model)?;
    let (s, c, d, r) = (
        stats.n_sessions(),
        model.n_components(),
        model.dim(),
        model.rank(),
    );
    if s == 0 {
        return Err(IvectorError::NoSessions);
    }
    check_memory(memory, r)?;
    let k = packed_len(r);
    // Sessions whose posteriors fit the budget, and the groups that every
    // product and exact sum is cut into (see `TvCommunication`).
    let fit = memory / (8 * (k + r));
    let group = fit.clamp(1, SESSION_BLOCK);
    let pre = match &mut ws.pre {
        Some(pre) => {
            pre.update(model);
            &*pre
        }
        slot => &*slot.insert(Precomputed::new(model)),
    };
    let how = match communication {
        TvCommunication::Auto => {
            let ranks = shardkit::Executor::current().rank().1;
            TvTraffic::new(s, c, d, r, ranks).choose(memory)
        }
        how => how,
    };
    tracing::debug!(?how, group, "total-variability accumulators");
    let mut at = aligned_rows(&mut ws.at, k, c);
    let sums = match how {
        TvCommunication::Reduce => {
            let total = reduce_pass(
                0..s,
                stats.zero.view(),
                stats.first.view(),
                model,
                pre,
                group,
            )?;
            at.assign(&total.at);
            ws.cacc = total
                .c
                .into_shape_with_order((c * d, r))
                .expect("a standard-layout array");
            total.sums
        }
        _ => {
            // Every array is written whole: the accumulators from their
            // exact sums, the posteriors by the session pass.
            ensure_shape(&mut ws.cacc, (c * d, r));
            let chunk = (fit / group * group).clamp(group, s.max(group));
            ensure_shape(&mut ws.w, (chunk, r));
            ws.objective.resize(chunk, 0.0);
            let a_sums: Vec<_> = (0..tiles(k, PACKED_BLOCK))
                .map(|_| Mutex::new(None))
                .collect();
            let c_sums: Vec<_> = (0..tiles(c, COMPONENT_BLOCK))
                .map(|_| Mutex::new(None))
                .collect();
            let mut posterior = ExactSum::new(r + k + 1);
            let mut start = 0;
            while start < s {
                let end = (start + chunk).min(s);
                let n = end - start;
                let zero = rows(stats.zero.view(), start..end);
                let first = rows(stats.first.view(), start..end);
                let mut w = ws.w.slice_mut(s![..n, ..]);
                // Sessions × K, stored transposed: a batch of the session
                // pass writes one cache line per entry, and the `A` GEMMs
                // read rows.
                let mut second = aligned_rows(&mut ws.second, k, chunk);
                let mut second = second.slice_mut(s![.., ..n]);
                let objective = &mut ws.objective[..n];
                posterior_pass(
                    start..end,
                    zero,
                    first,
                    w.view_mut(),
                    second.view_mut().reversed_axes(),
                    objective,
                    model,
                    pre,
                    Second::Moment,
                )?;
                for g in (0..n).step_by(group) {
                    let local = g..(g + group).min(n);
                    let part = group_sums(
                        w.slice(s![local.clone(), ..]),
                        second.slice(s![.., local.clone()]),
                        &objective[local.clone()],
                    );
                    posterior
                        .add(&part.numbers())
                        .map_err(|bad| IvectorError::Accumulator {
                            what: "of the posterior sums",
                            sessions: start + local.start..start + local.end,
                            value: bad.value,
                        })?;
                }
                gather_a(
                    0..k,
                    &a_sums,
                    second.view().reversed_axes(),
                    zero,
                    start,
                    group,
                )?;
                gather_c(
                    0..c,
                    &c_sums,
                    zero,
                    first,
                    model.means(),
                    w.view(),
                    start,
                    group,
                )?;
                start = end;
            }
            round_a(0..k, at.view_mut(), &a_sums);
            round_c(0..c, by_component_mut(ws.cacc.view_mut(), c), &c_sums);
            PosteriorSums::from_numbers(&posterior.to_vec(), r, s as u64)
        }
    };
    let cacc = &ws.cacc;
    let rotation = if min_divergence {
        let second = sums.second.mapv(|v| v / s as f64);
        Some(
            cholesky_factor(second.as_slice().expect("contiguous"), r)
                .map_err(|_| IvectorError::SingularSecondMoment)?,
        )
    } else {
        None
    };
    // Every row of the new T is written.
    let mut t = match ws.spare_t.take() {
        Some(t) if t.dim() == (c * d, r) => t,
        _ => Array2::<f64>::zeros((c * d, r)),
    };
    let kept = solve_components(
        0..c,
        by_component(cacc.view(), c),
        by_component(model.t(), c),
        by_component_mut(t.view_mut(), c),
        at.view(),
        r,
        rotation.as_ref(),
    );
    Ok(TvStep {
        model: model.with_t(t),
        objective: sums.objective / s as f64,
        kept_components: kept,
    })
}

/// The statistics fit the model.
pub(crate) fn check(stats: &SessionStats, model: &TvModel) -> Result<(), IvectorError> {
    if stats.n_components() != model.n_components() || stats.dim() != model.dim() {
        return Err(IvectorError::StatsModel {
            stats_components: stats.n_components(),
            stats_dim: stats.dim(),
            model_components: model.n_components(),
            model_dim: model.dim(),
        });
    }
    Ok(())
}
