//! Checkpoints of PLDA training ([`Plda::fit_resumable`]).

use std::path::Path;

use ndarray::{Array1, ArrayView2};

use super::{Plda, PldaFit};
use crate::backend::errors::BackendError;
use crate::checkpoint::{digests_from_array, digests_to_array, Checkpoint, Fnv};
use crate::npz::{NpzReader, NpzWriter};

/// A digest of the training vectors and their labels: the whole input of
/// PLDA training, whose initialisation has no settings.
fn fingerprint(x: ArrayView2<'_, f64>, labels: &[usize]) -> u64 {
    let mut d = Fnv::new();
    d.u64(x.nrows() as u64);
    d.u64(x.ncols() as u64);
    d.f64s(x.iter());
    for &l in labels {
        d.u64(l as u64);
    }
    d.0
}

fn write(path: &Path, fingerprint: u64, fit: &PldaFit) -> Result<(), BackendError> {
    let mut npz = NpzWriter::stamped(path);
    fit.model.write(&mut npz, "")?;
    npz.add("fingerprint", &digests_to_array(&[fingerprint]))?;
    npz.add(
        "log_likelihood",
        &fit.log_likelihood.iter().copied().collect::<Array1<f64>>(),
    )?;
    crate::checkpoint::save_plan(&mut npz)?;
    npz.finish_on_root()?;
    Ok(())
}

fn read(path: &Path, ours: u64, iterations: usize, dim: usize) -> Result<PldaFit, BackendError> {
    let refuse = |reason: String| BackendError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let mut npz = NpzReader::open(path)?;
    let theirs: Array1<f64> = npz.read("fingerprint")?;
    let theirs = digests_from_array(&theirs, 1)
        .ok_or_else(|| refuse("its fingerprint is damaged".to_owned()))?;
    if theirs[0] != ours {
        return Err(refuse(format!(
            "it was written for different training vectors or labels (digest {:016x}, this run {ours:016x}); remove it to start afresh, or train on what made it",
            theirs[0]
        )));
    }
    let model = Plda::read(&mut npz, "")?;
    if model.dim() != dim {
        return Err(refuse(format!(
            "its model has dimension {}, the vectors {dim}",
            model.dim()
        )));
    }
    let log_likelihood: Array1<f64> = npz.read("log_likelihood")?;
    if log_likelihood.len() > iterations {
        return Err(refuse(format!(
            "it holds {} iterations, more than the {iterations} asked for",
            log_likelihood.len()
        )));
    }
    crate::checkpoint::restore_plan(&mut npz)?;
    Ok(PldaFit {
        model,
        log_likelihood: log_likelihood.to_vec(),
    })
}

impl Plda {
    /// [`fit`](Plda::fit) that survives being stopped: the model and the
    /// log-likelihoods so far are written to `checkpoint` (atomically; by
    /// rank 0 under MPI, every rank learning whether it succeeded) after
    /// every [`every`](Checkpoint::every)-th EM iteration and after the
    /// last. When the file is already there, training continues from it.
    ///
    /// The result has the same bits as an uninterrupted [`fit`](Plda::fit)
    /// of as many iterations, however often it was stopped and resumed and
    /// on whatever number of threads or MPI ranks; a finished checkpoint
    /// may be extended by asking for more iterations. A checkpoint is
    /// identified by a digest of `x` and `labels`: one written for other
    /// vectors is refused.
    ///
    /// # Errors
    ///
    /// As [`fit`](Plda::fit); [`BackendError::Npz`] when the checkpoint
    /// cannot be read or written; [`BackendError::Checkpoint`] when it was
    /// written for other data or holds more iterations than `iterations`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::Array2;
    /// use shardkit_algorithms::backend::Plda;
    /// use shardkit_algorithms::checkpoint::Checkpoint;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // 8 speakers, 6 vectors each, in 3 dimensions.
    /// let labels: Vec<usize> = (0..48).map(|i| i / 6).collect();
    /// let x = Array2::from_shape_fn((48, 3), |(i, j)| {
    ///     (labels[i] * (j + 2) % 7) as f64 + ((i * 31 + j * 17) % 13) as f64 / 13.0
    /// });
    /// let dir = tempfile::tempdir()?;
    /// let checkpoint = Checkpoint::new(dir.path().join("plda.ckpt.npz"));
    /// Plda::fit_resumable(x.view(), &labels, 2, &checkpoint)?;
    /// let resumed = Plda::fit_resumable(x.view(), &labels, 5, &checkpoint)?;
    /// assert_eq!(resumed, Plda::fit(x.view(), &labels, 5)?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fit_resumable(
        x: ArrayView2<'_, f64>,
        labels: &[usize],
        iterations: usize,
        checkpoint: &Checkpoint,
    ) -> Result<PldaFit, BackendError> {
        let ours = fingerprint(x, labels);
        let path = checkpoint.path();
        let resume = if path.exists() {
            Some(read(path, ours, iterations, x.ncols())?)
        } else {
            None
        };
        let every = checkpoint.interval();
        Plda::fit_from(x, labels, iterations, resume, &mut |fit| {
            let n = fit.log_likelihood.len();
            if n % every == 0 || n == iterations {
                write(path, ours, fit)?;
            }
            Ok(())
        })
    }
}
