//! Checkpoints of UBM training
//! ([`train_ubm_resumable`](super::train_ubm_resumable)): what they hold,
//! and the checks before a run continues from one.

use std::path::Path;

use ndarray::{array, Array1, Array2};

use super::errors::UbmError;
use super::hyperparams::EmConfig;
use super::iteration::EmIteration;
use crate::checkpoint::{digests_from_array, digests_to_array, Fnv};
use crate::gmm::DiagGmm;
use crate::npz::{NpzReader, NpzWriter};

/// What a checkpoint was written for: digests of the training data (its
/// frame count and its exact global mean and variance, which any change of
/// the frames changes) and of the settings (components and every setting
/// of [`EmConfig`], the iteration schedule included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fingerprint {
    data: u64,
    settings: u64,
}

impl Fingerprint {
    pub(super) fn of(
        mean: &Array1<f64>,
        variance: &Array1<f64>,
        frames: u64,
        components: usize,
        config: &EmConfig,
    ) -> Self {
        let mut d = Fnv::new();
        d.u64(frames);
        d.u64(mean.len() as u64);
        d.f64s(mean.iter());
        d.f64s(variance.iter());
        let mut s = Fnv::new();
        s.u64(components as u64);
        s.u64(config.iterations.len() as u64);
        for &n in &config.iterations {
            s.u64(n as u64);
        }
        s.f64s(
            [
                config.variance_floor,
                config.variance_ceiling,
                config.min_occupancy,
            ]
            .iter(),
        );
        match &config.pruning {
            Some(p) => {
                s.u64(1);
                s.u64(p.top_n as u64);
                s.u64(p.min_posterior.to_bits());
                s.u64(p.reselect_every as u64);
            }
            None => s.u64(0),
        }
        Fingerprint {
            data: d.0,
            settings: s.0,
        }
    }

    fn to_array(self) -> Array1<f64> {
        digests_to_array(&[self.data, self.settings])
    }

    fn from_array(a: &Array1<f64>) -> Option<Self> {
        let d = digests_from_array(a, 2)?;
        Some(Fingerprint {
            data: d[0],
            settings: d[1],
        })
    }
}

/// A checkpoint read back: the model after `done` iterations of stage
/// `stage` (counting from 0), the model of that stage's last selection
/// pass (pruned EM), and every iteration so far.
pub(super) struct Saved {
    pub(super) stage: usize,
    pub(super) done: usize,
    pub(super) model: DiagGmm,
    pub(super) selected_with: Option<DiagGmm>,
    pub(super) history: Vec<EmIteration>,
}

fn add_model(npz: &mut NpzWriter, prefix: &str, model: &DiagGmm) -> Result<(), UbmError> {
    npz.add(&format!("{prefix}weights"), &model.weights())?;
    npz.add(&format!("{prefix}means"), &model.means())?;
    npz.add(&format!("{prefix}variances"), &model.variances())?;
    Ok(())
}

fn read_model(npz: &mut NpzReader, prefix: &str) -> Result<DiagGmm, UbmError> {
    let weights: Array1<f64> = npz.read(&format!("{prefix}weights"))?;
    let m = weights.len();
    let means: Array2<f64> = npz.read_shaped(&format!("{prefix}means"), &[Some(m), None])?;
    let d = means.ncols();
    let variances: Array2<f64> =
        npz.read_shaped(&format!("{prefix}variances"), &[Some(m), Some(d)])?;
    Ok(DiagGmm::new(weights, means, variances)?)
}

/// Writes the state after `done` iterations of `stage`, atomically (rank 0
/// under MPI; every rank gets the verdict).
pub(super) fn write(
    path: &Path,
    fingerprint: &Fingerprint,
    stage: usize,
    done: usize,
    model: &DiagGmm,
    selected_with: Option<&DiagGmm>,
    history: &[EmIteration],
) -> Result<(), UbmError> {
    let mut npz = NpzWriter::stamped(path);
    add_model(&mut npz, "", model)?;
    if let Some(selected) = selected_with {
        add_model(&mut npz, "selected_with.", selected)?;
    }
    npz.add("fingerprint", &fingerprint.to_array())?;
    npz.add("position", &array![stage as f64, done as f64])?;
    let column = |f: &dyn Fn(&EmIteration) -> f64| history.iter().map(f).collect::<Array1<f64>>();
    npz.add("components", &column(&|it| it.components as f64))?;
    npz.add(
        "average_log_likelihood",
        &column(&|it| it.average_log_likelihood),
    )?;
    npz.add("frames", &column(&|it| it.frames as f64))?;
    npz.add("pruned", &column(&|it| f64::from(u8::from(it.pruned))))?;
    npz.add(
        "selection_pass",
        &column(&|it| f64::from(u8::from(it.selection_pass))),
    )?;
    crate::checkpoint::save_plan(&mut npz)?;
    npz.finish_on_root()?;
    Ok(())
}

/// Reads the checkpoint at `path` and checks that this run can continue
/// from it.
pub(super) fn read(path: &Path, ours: &Fingerprint, config: &EmConfig) -> Result<Saved, UbmError> {
    let refuse = |reason: String| UbmError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let mut npz = NpzReader::open(path)?;
    let theirs: Array1<f64> = npz.read("fingerprint")?;
    let theirs = Fingerprint::from_array(&theirs)
        .ok_or_else(|| refuse("its fingerprint is damaged".to_owned()))?;
    if theirs.data != ours.data {
        return Err(refuse(format!(
            "it was written for different training data (their frame count, mean or variance differ; digest {:016x}, this run {:016x}); remove it to start afresh, or train on what made it",
            theirs.data, ours.data
        )));
    }
    if theirs.settings != ours.settings {
        return Err(refuse(format!(
            "it was written for different settings (components, iteration schedule, variance floor or ceiling, minimum occupancy or pruning; digest {:016x}, this run {:016x})",
            theirs.settings, ours.settings
        )));
    }
    let position: Array1<f64> = npz.read_shaped("position", &[Some(2)])?;
    let (stage, done) = (position[0] as usize, position[1] as usize);
    if stage >= config.iterations.len() || done > config.iterations[stage] {
        return Err(refuse(format!(
            "its position (stage {stage}, iteration {done}) is not in this run's schedule"
        )));
    }
    let model = read_model(&mut npz, "")?;
    let selected_with = if npz.names().iter().any(|n| n == "selected_with.weights") {
        Some(read_model(&mut npz, "selected_with.")?)
    } else {
        None
    };
    let components: Array1<f64> = npz.read("components")?;
    let n = components.len();
    let mut column =
        |name: &str| -> Result<Array1<f64>, UbmError> { Ok(npz.read_shaped(name, &[Some(n)])?) };
    let (ll, frames, pruned, selection) = (
        column("average_log_likelihood")?,
        column("frames")?,
        column("pruned")?,
        column("selection_pass")?,
    );
    let history = (0..n)
        .map(|i| EmIteration {
            components: components[i] as usize,
            average_log_likelihood: ll[i],
            frames: frames[i] as u64,
            seconds: 0.0,
            pruned: pruned[i] != 0.0,
            selection_pass: selection[i] != 0.0,
        })
        .collect();
    crate::checkpoint::restore_plan(&mut npz)?;
    Ok(Saved {
        stage,
        done,
        model,
        selected_with,
        history,
    })
}
