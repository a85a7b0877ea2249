//! [`FrameCache`]: feature files kept in memory after their first read, so
//! that an iterative algorithm reads each file once instead of once per
//! iteration.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use ndarray::Array2;

/// Feature files kept in memory, up to a budget of bytes, once a pass has
/// read them: give it to [`Frames::cached`](super::Frames::cached), and
/// every later pass of an algorithm over those frames (UBM EM, k-means,
/// Baum-Welch, MAP) reads memory instead of the file.
///
/// Under MPI each rank keeps only the files of the blocks it runs, and
/// every pass gives a rank the same blocks (they are cut from the data,
/// never from timing), so together the ranks hold each file once. Files
/// beyond the budget are read as before, each time. The frames kept are
/// those a read returns, so results have the same bits with or without a
/// cache; a file changed on disk after its first read is not seen again.
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::features::write_npy;
/// use shardkit_algorithms::frames::{FrameCache, Frames};
/// use shardkit_algorithms::kmeans::KMeans;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let mut files = Vec::new();
/// for u in 0..3 {
///     let path = dir.path().join(format!("u{u}.npy"));
///     write_npy(&path, &Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * u) % 11) as f32))?;
///     files.push(path);
/// }
/// let cache = FrameCache::new(files.len(), 1 << 30);
/// let params = KMeans::new(4).seed(1);
/// let cached = params.fit(&Frames::files(&files).cached(&cache))?;
/// assert_eq!(cache.files_held(), 3);
/// assert_eq!(cached.centroids(), params.fit(&Frames::files(&files))?.centroids());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FrameCache {
    slots: Vec<OnceLock<Array2<f32>>>,
    budget: usize,
    used: AtomicUsize,
}

impl FrameCache {
    /// A cache for a list of `files` files, holding at most `budget_bytes`
    /// bytes of frames (4 bytes a value).
    pub fn new(files: usize, budget_bytes: usize) -> Self {
        FrameCache {
            slots: (0..files).map(|_| OnceLock::new()).collect(),
            budget: budget_bytes,
            used: AtomicUsize::new(0),
        }
    }

    /// The number of files it was made for.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it was made for no file.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The bytes of frames held.
    pub fn bytes_held(&self) -> usize {
        self.used.load(Ordering::Relaxed).min(self.budget)
    }

    /// The files held.
    pub fn files_held(&self) -> usize {
        self.slots.iter().filter(|s| s.get().is_some()).count()
    }

    /// File `i`'s frames, if held.
    pub(crate) fn get(&self, i: usize) -> Option<&Array2<f32>> {
        self.slots.get(i)?.get()
    }

    /// Keeps file `i`'s frames if the budget allows (then returns them
    /// held), or gives them back.
    pub(crate) fn keep(&self, i: usize, x: Array2<f32>) -> Result<&Array2<f32>, Array2<f32>> {
        let Some(slot) = self.slots.get(i) else {
            return Err(x);
        };
        let bytes = 4 * x.len();
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.budget {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(x);
        }
        match slot.set(x) {
            Ok(()) => Ok(slot.get().expect("just set")),
            // Kept by another pass meanwhile: this copy is not needed.
            Err(x) => {
                self.used.fetch_sub(bytes, Ordering::Relaxed);
                Err(x)
            }
        }
    }
}
