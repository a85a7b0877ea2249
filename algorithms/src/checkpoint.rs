//! Checkpoints of long trainings: where their state is kept
//! ([`Checkpoint`]), and the digest that says what a checkpoint was
//! written for. A run resumed from a checkpoint ends with the same bits as
//! one that never stopped, on any number of threads or MPI ranks, because
//! every pass reduces exactly.

use std::path::{Path, PathBuf};

/// Where a resumable training keeps its state, and how often it writes it
/// ([`train_tv_resumable`](crate::ivector::train_tv_resumable),
/// [`train_ubm_resumable`](crate::gmm::ubm::train_ubm_resumable),
/// [`KMeans::fit_resumable`](crate::kmeans::KMeans::fit_resumable),
/// [`Plda::fit_resumable`](crate::backend::Plda::fit_resumable)).
///
/// ```
/// use shardkit_algorithms::checkpoint::Checkpoint;
/// let checkpoint = Checkpoint::new("tv.ckpt.npz").every(2);
/// assert_eq!(checkpoint.path().to_str(), Some("tv.ckpt.npz"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    path: PathBuf,
    every: usize,
}

impl Checkpoint {
    /// A checkpoint at `path` (an `.npz` archive), written after every
    /// iteration.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Checkpoint {
            path: path.into(),
            every: 1,
        }
    }

    /// Writes the state after every `n`-th iteration (and after the last)
    /// instead of after each; 0 is taken as 1.
    pub fn every(mut self, n: usize) -> Self {
        self.every = n.max(1);
        self
    }

    /// The checkpoint's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many iterations pass between two writes.
    pub fn interval(&self) -> usize {
        self.every
    }
}

/// FNV-1a, 64 bits: a digest that is the same on every machine and run
/// (the standard library's hashers promise neither).
pub(crate) struct Fnv(pub(crate) u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn f64s<'a>(&mut self, values: impl IntoIterator<Item = &'a f64>) {
        for v in values {
            self.u64(v.to_bits());
        }
    }
}

/// Digests as `f64` halves, two per digest (the `.npz` archives of this
/// crate hold floats; every 32-bit half is exact in an `f64`).
pub(crate) fn digests_to_array(digests: &[u64]) -> ndarray::Array1<f64> {
    digests
        .iter()
        .flat_map(|&v| [(v >> 32) as f64, (v & 0xffff_ffff) as f64])
        .collect()
}

/// The `n` digests [`digests_to_array`] wrote, or `None` when `a` is not
/// such an array.
pub(crate) fn digests_from_array(a: &ndarray::Array1<f64>, n: usize) -> Option<Vec<u64>> {
    let half =
        |x: f64| (x >= 0.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0).then_some(x as u64);
    (a.len() == 2 * n).then_some(())?;
    (0..n)
        .map(|i| Some((half(a[2 * i])? << 32) | half(a[2 * i + 1])?))
        .collect()
}

/// The member of a checkpoint that holds the kinds of pass made before it
/// ([`shardkit::plan_kinds`]).
const PLAN_KINDS: &str = "plan_kinds";

/// Adds the kinds of pass this run has made to a checkpoint being written,
/// so that the run resumed from it ends with the plan digest of a run
/// never stopped ([`restore_plan`]).
pub(crate) fn save_plan(npz: &mut crate::npz::NpzWriter) -> Result<(), crate::npz::NpzError> {
    npz.add(PLAN_KINDS, &digests_to_array(&shardkit::plan_kinds()))
}

/// Adds the kinds of pass a checkpoint was written after to this run's
/// ([`shardkit::merge_plan_kinds`]); a checkpoint without them adds none.
pub(crate) fn restore_plan(npz: &mut crate::npz::NpzReader) -> Result<(), crate::npz::NpzError> {
    if !npz.contains(PLAN_KINDS) {
        return Ok(());
    }
    let saved: ndarray::Array1<f64> = npz.read(PLAN_KINDS)?;
    if let Some(kinds) = digests_from_array(&saved, saved.len() / 2) {
        shardkit::merge_plan_kinds(&kinds);
    }
    Ok(())
}
