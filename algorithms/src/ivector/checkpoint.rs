//! Checkpoints of total-variability training ([`train_tv_resumable`]):
//! an interrupted run continues where it stopped and ends with the same
//! bits as one that never stopped, on any number of threads or MPI ranks.

use std::path::Path;

use ndarray::{Array1, Array2};

use super::errors::IvectorError;
use super::hyperparams::TvConfig;
use super::model::TvModel;
use super::stats::SessionStats;
use super::train::{tv_em_from, TvIteration, TvTrained};
use crate::checkpoint::{digests_from_array, digests_to_array, Checkpoint, Fnv};
use crate::gmm::DiagGmm;
use crate::npz::{NpzReader, NpzWriter};

/// What the checkpoint was written for: a digest of the statistics, of the
/// starting model (the UBM's means and variances, the initial T) and of
/// the settings that change the result (all but the number of iterations,
/// which a resumed run may extend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    stats: u64,
    start: u64,
    config: u64,
}

impl Fingerprint {
    fn of(stats: &SessionStats, start: &TvModel, config: &TvConfig) -> Self {
        let mut s = Fnv::new();
        s.u64(stats.zero.nrows() as u64);
        s.u64(stats.zero.ncols() as u64);
        s.u64(stats.first.ncols() as u64);
        s.f64s(stats.zero.iter());
        s.f64s(stats.first.iter());
        let mut m = Fnv::new();
        m.u64(start.t().nrows() as u64);
        m.u64(start.t().ncols() as u64);
        m.f64s(start.t().iter());
        m.f64s(start.means().iter());
        m.f64s(start.variances().iter());
        let mut c = Fnv::new();
        c.u64(u64::from(config.min_divergence));
        c.u64(config.memory as u64);
        Fingerprint {
            stats: s.0,
            start: m.0,
            config: c.0,
        }
    }

    fn to_array(self) -> Array1<f64> {
        digests_to_array(&[self.stats, self.start, self.config])
    }

    fn from_array(a: &Array1<f64>) -> Option<Self> {
        let d = digests_from_array(a, 3)?;
        Some(Fingerprint {
            stats: d[0],
            start: d[1],
            config: d[2],
        })
    }
}

/// A checkpoint read back: the model after `history.len()` iterations.
struct Saved {
    model: TvModel,
    fingerprint: Option<Fingerprint>,
    history: Vec<TvIteration>,
}

fn write(
    path: &Path,
    model: &TvModel,
    fingerprint: Fingerprint,
    history: &[TvIteration],
) -> Result<(), IvectorError> {
    let mut npz = NpzWriter::stamped(path);
    npz.add("t", &model.t())?;
    npz.add("means", &model.means())?;
    npz.add("variances", &model.variances())?;
    npz.add("fingerprint", &fingerprint.to_array())?;
    npz.add(
        "objective",
        &history
            .iter()
            .map(|it| it.objective)
            .collect::<Array1<f64>>(),
    )?;
    npz.add(
        "kept_components",
        &history
            .iter()
            .map(|it| it.kept_components as f64)
            .collect::<Array1<f64>>(),
    )?;
    crate::checkpoint::save_plan(&mut npz)?;
    npz.finish_on_root()?;
    Ok(())
}

fn read(path: &Path) -> Result<Saved, IvectorError> {
    let mut npz = NpzReader::open(path)?;
    let means: Array2<f64> = npz.read("means")?;
    let (c, d) = means.dim();
    let variances: Array2<f64> = npz.read_shaped("variances", &[Some(c), Some(d)])?;
    let t: Array2<f64> = npz.read_shaped("t", &[Some(c * d), None])?;
    let model = TvModel::new(t, means, variances)?;
    let fingerprint: Array1<f64> = npz.read("fingerprint")?;
    let objective: Array1<f64> = npz.read("objective")?;
    let kept: Array1<f64> = npz.read_shaped("kept_components", &[Some(objective.len())])?;
    let history = objective
        .iter()
        .zip(&kept)
        .enumerate()
        .map(|(iteration, (&objective, &kept))| TvIteration {
            iteration,
            objective,
            kept_components: kept as u64,
            seconds: 0.0,
        })
        .collect();
    crate::checkpoint::restore_plan(&mut npz)?;
    Ok(Saved {
        model,
        fingerprint: Fingerprint::from_array(&fingerprint),
        history,
    })
}

/// [`train_tv`](super::train_tv) that survives being stopped: the model,
/// the iterations done and what they were done on are written to
/// `checkpoint` (atomically, by rank 0 under MPI) after every
/// [`every`](Checkpoint::every)-th iteration and after the last; when the
/// file is already there, training continues from it instead of from the
/// random start.
///
/// The result — `T` and the objectives — has the same bits as an
/// uninterrupted [`train_tv`](super::train_tv) with the same settings,
/// however often it was stopped and resumed, and on whatever number of
/// threads or MPI ranks each part ran (every pass reduces exactly). A run
/// may also continue a finished one with more iterations. Iterations read
/// back from the checkpoint are in the history with `seconds` 0; `report`
/// is called for the new ones only. Under MPI every rank reads the
/// checkpoint, so it must be on a file system they all see.
///
/// ```
/// use ndarray::{array, Array2};
/// use shardkit_algorithms::frames::Frames;
/// use shardkit_algorithms::gmm::DiagGmm;
/// use shardkit_algorithms::ivector::{baum_welch, train_tv, train_tv_resumable, Checkpoint, TvConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ubm = DiagGmm::new(array![0.5, 0.5], array![[-1.0, 0.0], [1.0, 0.0]], Array2::ones((2, 2)))?;
/// let sessions: Vec<Array2<f32>> = (0..12)
///     .map(|s| Array2::from_shape_fn((40, 2), |(t, d)| (s as f32 - 6.0) / 6.0 + ((t * 3 + d) % 5) as f32 - 2.0))
///     .collect();
/// let views: Vec<_> = sessions.iter().map(|x| x.view()).collect();
/// let stats = baum_welch(&Frames::segments(&views), &ubm)?;
/// let dir = tempfile::tempdir()?;
/// let checkpoint = Checkpoint::new(dir.path().join("tv.ckpt.npz"));
/// // Three iterations, "stopped", then resumed up to five …
/// train_tv_resumable(&stats, &ubm, &TvConfig::new(2).iterations(3), &checkpoint, &mut |_| {})?;
/// let resumed = train_tv_resumable(&stats, &ubm, &TvConfig::new(2).iterations(5), &checkpoint, &mut |_| {})?;
/// // … is the run that never stopped.
/// let straight = train_tv(&stats, &ubm, &TvConfig::new(2).iterations(5), &mut |_| {})?;
/// assert_eq!(resumed.model.t(), straight.model.t());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// Those of [`train_tv`](super::train_tv); [`IvectorError::Npz`] when the
/// checkpoint cannot be read or written; [`IvectorError::Checkpoint`] when
/// it was written for other statistics, another starting model (UBM,
/// rank, seed) or other settings (saying which), or holds more iterations
/// than `config` asks for.
pub fn train_tv_resumable(
    stats: &SessionStats,
    ubm: &DiagGmm,
    config: &TvConfig,
    checkpoint: &Checkpoint,
    report: &mut dyn FnMut(&TvIteration),
) -> Result<TvTrained, IvectorError> {
    config.check()?;
    let start = TvModel::random(ubm, config.rank, config.init_scale, config.seed)?;
    tv_em_resumable(stats, start, config, checkpoint, report)
}

/// [`tv_em`](super::tv_em) from `start` with [`train_tv_resumable`]'s
/// checkpoints: the checkpoint is refused when it was written for other
/// statistics, another starting model or other settings.
///
/// # Errors
///
/// As [`train_tv_resumable`].
pub fn tv_em_resumable(
    stats: &SessionStats,
    start: TvModel,
    config: &TvConfig,
    checkpoint: &Checkpoint,
    report: &mut dyn FnMut(&TvIteration),
) -> Result<TvTrained, IvectorError> {
    config.check()?;
    let fingerprint = Fingerprint::of(stats, &start, config);
    let path = checkpoint.path();
    let (model, history) = if path.exists() {
        let saved = read(path)?;
        let refuse = |reason: String| IvectorError::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let theirs = saved
            .fingerprint
            .ok_or_else(|| refuse("its fingerprint is damaged".to_owned()))?;
        for (what, ours, found) in [
            ("different statistics", fingerprint.stats, theirs.stats),
            (
                "a different starting model (the UBM, or the initial T's rank, seed or scale)",
                fingerprint.start,
                theirs.start,
            ),
            (
                "different settings (min-divergence or memory)",
                fingerprint.config,
                theirs.config,
            ),
        ] {
            if ours != found {
                return Err(refuse(format!(
                    "it was written for {what} than this run's (digest {found:016x}, this run {ours:016x}); remove it to start afresh, or run with what made it"
                )));
            }
        }
        if saved.history.len() > config.iterations {
            return Err(refuse(format!(
                "it holds {} iterations, more than the {} asked for",
                saved.history.len(),
                config.iterations
            )));
        }
        (saved.model, saved.history)
    } else {
        (start, Vec::new())
    };
    let every = checkpoint.interval();
    let last = config.iterations;
    tv_em_from(
        stats,
        model,
        config,
        history,
        &mut |model, history| {
            let done = history.len();
            if done % every == 0 || done == last {
                write(path, model, fingerprint, history)?;
            }
            Ok(())
        },
        report,
    )
}
