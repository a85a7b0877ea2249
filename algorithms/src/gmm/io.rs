//! Saving and loading a [`DiagGmm`] as an `.npz` archive NumPy reads.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};

use super::{DiagGmm, GmmError};
use crate::npz::{NpzError, NpzReader, NpzWriter};

/// Name of the weights (`M`) in a model archive.
pub const WEIGHTS: &str = "weights";
/// Name of the means (`M×D`) in a model archive.
pub const MEANS: &str = "means";
/// Name of the variances (`M×D`) in a model archive.
pub const VARIANCES: &str = "variances";

/// Why a [`DiagGmm`] could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum GmmFileError {
    /// The archive could not be written or read, or an array is missing or
    /// has the wrong shape (the message names the file and the array).
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// The arrays were read but do not make a valid mixture.
    #[error("{}: not a valid GMM: {source}", path.display())]
    Invalid {
        /// The archive.
        path: PathBuf,
        /// What is wrong with its parts.
        source: GmmError,
    },
}

impl DiagGmm {
    /// Saves the model as float64 arrays `weights` (`M`), `means` (`M×D`)
    /// and `variances` (`M×D`) of an `.npz` archive, atomically: a reader
    /// sees the previous file or the complete new one, never a partial
    /// model. `np.load(path)["means"]` reads them.
    ///
    /// ```
    /// use ndarray::{array, Array2};
    /// use shardkit_algorithms::gmm::DiagGmm;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let gmm = DiagGmm::new(
    ///     array![0.25, 0.75],
    ///     array![[0.0, 1.0], [2.0, 3.0]],
    ///     Array2::ones((2, 2)),
    /// )?;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("ubm.npz");
    /// gmm.save(&path)?;
    /// assert_eq!(DiagGmm::load(&path)?, gmm);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`GmmFileError::Npz`] naming the file if it cannot be written (the
    /// previous file, if any, is left as it was).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), GmmFileError> {
        let mut npz = NpzWriter::stamped(path);
        npz.add(WEIGHTS, &self.weights())?;
        npz.add(MEANS, &self.means())?;
        npz.add(VARIANCES, &self.variances())?;
        npz.finish()?;
        Ok(())
    }

    /// Loads a model saved by [`save`](DiagGmm::save), or any `.npz`
    /// archive (from `np.savez`, compressed or not) holding float32 or
    /// float64 arrays `weights` (`M`), `means` and `variances` (`M×D`).
    /// Other arrays in the archive are ignored.
    ///
    /// # Errors
    ///
    /// [`GmmFileError::Npz`] naming the file and, where one is concerned,
    /// the array: missing file, not an archive, a missing array, one of
    /// another shape than the weights imply. [`GmmFileError::Invalid`] when
    /// the parts fail [`DiagGmm::new`]'s checks (weights not summing to 1, a
    /// variance that is not positive, …).
    pub fn load(path: impl AsRef<Path>) -> Result<DiagGmm, GmmFileError> {
        let path = path.as_ref();
        let mut npz = NpzReader::open(path)?;
        let weights: Array1<f64> = npz.read(WEIGHTS)?;
        let m = weights.len();
        let means: Array2<f64> = npz.read_shaped(MEANS, &[Some(m), None])?;
        let d = means.ncols();
        let variances: Array2<f64> = npz.read_shaped(VARIANCES, &[Some(m), Some(d)])?;
        DiagGmm::new(weights, means, variances).map_err(|source| GmmFileError::Invalid {
            path: path.to_owned(),
            source,
        })
    }
}
