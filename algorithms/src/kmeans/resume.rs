//! Checkpoints of k-means ([`KMeans::fit_resumable`]): the centroids after
//! initialisation and after every Lloyd iteration, and the checks before a
//! run continues from them.

use std::path::Path;
use std::time::Instant;

use ndarray::{Array1, Array2};

use super::errors::KMeansError;
use super::hyperparams::{Init, KMeans};
use super::kernel::Centroids;
use super::lloyd::{lloyd, Assign, Progress};
use super::model::{KMeansModel, LloydIteration};
use crate::checkpoint::{digests_from_array, digests_to_array, Checkpoint, Fnv};
use crate::frames::{Frames, Source};
use crate::npz::{NpzReader, NpzWriter};

/// What a checkpoint was written for: digests of the data (its point
/// count, its exact column sums and sum of squares, which any change of the
/// points changes) and of every setting but `max_iter` (which a resumed run
/// may raise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    data: u64,
    settings: u64,
}

impl Fingerprint {
    /// One pass over the data: the Lloyd pass against the single centroid
    /// 0 sums exactly the points, their coordinates and their squared
    /// norms, the same on any number of threads or ranks.
    fn of(params: &KMeans, data: &Source<'_>) -> Result<Self, KMeansError> {
        let origin = Centroids::new(Array2::zeros((1, data.dim())));
        let sums = data.sum(&Assign { centroids: &origin }, &mut data.state(0, true))?;
        let mut d = Fnv::new();
        d.u64(data.len() as u64);
        d.u64(data.dim() as u64);
        d.u64(sums.counts[0]);
        d.f64s(sums.sums.iter());
        d.u64(sums.inertia.to_bits());
        let mut s = Fnv::new();
        s.u64(params.clusters as u64);
        s.u64(params.tol.to_bits());
        s.u64(params.seed);
        s.u64(params.trials() as u64);
        match &params.init {
            Init::PlusPlus => s.u64(0),
            Init::Parallel {
                oversampling,
                rounds,
            } => {
                s.u64(1);
                s.u64(oversampling.to_bits());
                s.u64(*rounds as u64);
            }
            Init::Given(c) => {
                s.u64(2);
                s.u64(c.nrows() as u64);
                s.u64(c.ncols() as u64);
                s.f64s(c.iter());
            }
        }
        Ok(Fingerprint {
            data: d.0,
            settings: s.0,
        })
    }
}

fn write(path: &Path, fingerprint: Fingerprint, progress: &Progress) -> Result<(), KMeansError> {
    let mut npz = NpzWriter::stamped(path);
    npz.add(super::CENTROIDS, &progress.centroids)?;
    npz.add(
        "fingerprint",
        &digests_to_array(&[fingerprint.data, fingerprint.settings]),
    )?;
    let column = |f: &dyn Fn(&LloydIteration) -> f64| {
        progress.history.iter().map(f).collect::<Array1<f64>>()
    };
    npz.add("inertia", &column(&|it| it.inertia))?;
    npz.add("shift", &column(&|it| it.shift))?;
    npz.add("reseeded", &column(&|it| it.reseeded as f64))?;
    npz.add(
        "converged",
        &Array1::from_elem(1, f64::from(u8::from(progress.converged))),
    )?;
    crate::checkpoint::save_plan(&mut npz)?;
    npz.finish_on_root()?;
    Ok(())
}

/// Reads the checkpoint at `path` and checks that this run can continue
/// from it.
fn read(
    path: &Path,
    ours: Fingerprint,
    params: &KMeans,
    dim: usize,
) -> Result<Progress, KMeansError> {
    let refuse = |reason: String| KMeansError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let mut npz = NpzReader::open(path)?;
    let theirs: Array1<f64> = npz.read("fingerprint")?;
    let theirs = digests_from_array(&theirs, 2)
        .ok_or_else(|| refuse("its fingerprint is damaged".to_owned()))?;
    if theirs[0] != ours.data {
        return Err(refuse(format!(
            "it was written for different data (their point count, column sums or squared norms differ; digest {:016x}, this run {:016x}); remove it to start afresh, or fit what made it",
            theirs[0], ours.data
        )));
    }
    if theirs[1] != ours.settings {
        return Err(refuse(format!(
            "it was written for different settings (clusters, tol, seed, local trials or initialisation; digest {:016x}, this run {:016x}); remove it to start afresh, or fit with the settings that made it",
            theirs[1], ours.settings
        )));
    }
    let centroids: Array2<f64> =
        npz.read_shaped(super::CENTROIDS, &[Some(params.clusters), Some(dim)])?;
    let inertia: Array1<f64> = npz.read("inertia")?;
    let n = inertia.len();
    let shift: Array1<f64> = npz.read_shaped("shift", &[Some(n)])?;
    let reseeded: Array1<f64> = npz.read_shaped("reseeded", &[Some(n)])?;
    let converged: Array1<f64> = npz.read_shaped("converged", &[Some(1)])?;
    if n > params.max_iter {
        return Err(refuse(format!(
            "it holds {n} Lloyd iterations, more than the {} (max_iter) asked for",
            params.max_iter
        )));
    }
    let history = (0..n)
        .map(|i| LloydIteration {
            inertia: inertia[i],
            shift: shift[i],
            reseeded: reseeded[i] as usize,
            seconds: 0.0,
        })
        .collect();
    crate::checkpoint::restore_plan(&mut npz)?;
    Ok(Progress {
        centroids,
        history,
        converged: converged[0] != 0.0,
    })
}

impl KMeans {
    /// [`fit`](KMeans::fit) that survives being stopped: the centroids and
    /// the iterations done are written to `checkpoint` (atomically; by rank
    /// 0 under MPI, every rank learning whether it succeeded) once the
    /// initial centroids are chosen, then after every
    /// [`every`](Checkpoint::every)-th Lloyd iteration and after the last.
    /// When the file is already there, the fit continues from it instead of
    /// initialising.
    ///
    /// The model — centroids and every iteration's inertia, shift and
    /// re-seeded count — has the same bits as an uninterrupted
    /// [`fit`](KMeans::fit) with the same settings, however often it was
    /// stopped and resumed, and on whatever number of threads or MPI ranks
    /// each part ran. A finished checkpoint with fewer iterations than
    /// `max_iter` (that did not converge) is continued; one that converged
    /// is returned as is.
    ///
    /// A checkpoint is identified by one extra pass over the data at the
    /// start (its point count, exact column sums and squared norms) and by
    /// the settings other than `max_iter`; one written for other data or
    /// settings is refused, saying which.
    ///
    /// # Errors
    ///
    /// As [`fit`](KMeans::fit); [`KMeansError::Npz`] when the checkpoint
    /// cannot be read or written; [`KMeansError::Checkpoint`] when it was
    /// written for another run or holds more iterations than `max_iter`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::Array2;
    /// use shardkit_algorithms::checkpoint::Checkpoint;
    /// use shardkit_algorithms::frames::Frames;
    /// use shardkit_algorithms::kmeans::KMeans;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rows = Array2::from_shape_fn((600, 2), |(i, j)| ((i * 7 + j * 13) % 31) as f32);
    /// let frames = Frames::rows(rows.view());
    /// let dir = tempfile::tempdir()?;
    /// let checkpoint = Checkpoint::new(dir.path().join("kmeans.ckpt.npz"));
    /// // Two iterations, as if the run had been stopped there, then the rest.
    /// KMeans::new(5).seed(1).tol(0.0).max_iter(2).fit_resumable(&frames, &checkpoint)?;
    /// let resumed = KMeans::new(5).seed(1).tol(0.0).max_iter(6).fit_resumable(&frames, &checkpoint)?;
    /// let whole = KMeans::new(5).seed(1).tol(0.0).max_iter(6).fit(&frames)?;
    /// assert_eq!(resumed.centroids(), whole.centroids());
    /// assert_eq!(resumed.inertia(), whole.inertia());
    ///
    /// // Another seed is another run: its checkpoint is refused.
    /// let err = KMeans::new(5).seed(2).fit_resumable(&frames, &checkpoint).unwrap_err();
    /// assert!(err.to_string().contains("different settings"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn fit_resumable(
        &self,
        frames: &Frames<'_>,
        checkpoint: &Checkpoint,
    ) -> Result<KMeansModel, KMeansError> {
        let data = self.source(frames)?;
        self.check_size(&data)?;
        let fingerprint = Fingerprint::of(self, &data)?;
        let path = checkpoint.path();
        let start = Instant::now();
        let (progress, init_seconds) = if path.exists() {
            (read(path, fingerprint, self, data.dim())?, 0.0)
        } else {
            let progress = Progress {
                centroids: self.initialise(&data)?,
                history: Vec::new(),
                converged: false,
            };
            write(path, fingerprint, &progress)?;
            (progress, start.elapsed().as_secs_f64())
        };
        let every = checkpoint.interval();
        let max_iter = self.max_iter;
        let done = lloyd(&data, progress, self, &mut |p| {
            let n = p.history.len();
            if n % every == 0 || n == max_iter || p.converged {
                write(path, fingerprint, p)?;
            }
            Ok(())
        })?;
        Ok(KMeansModel {
            centroids: done.centroids,
            history: done.history,
            converged: done.converged,
            init_seconds,
        })
    }
}
