//! The back-end recipes of an i-vector system as one type: what is fitted
//! on the training vectors, how speakers are enrolled, how trials are
//! scored.

use std::path::Path;

use ndarray::{array, Array1, Array2, ArrayView2};

use super::classes::ClassStats;
use super::cosine::{cosine_scores, LengthNorm};
use super::errors::BackendError;
use super::lda::{Lda, Wccn};
use super::plda::Plda;
use crate::npz::{NpzReader, NpzWriter};

/// Directions an LDA keeps by default: one fewer than the training
/// speakers, at most this many, and at most the vectors' dimension.
pub const DEFAULT_LDA_MAX: usize = 150;

/// A scoring recipe for fixed-length speaker vectors (i-vectors), fitted
/// with [`Recipe::fit`] into a [`Backend`].
///
/// Every recipe first length-normalises the vectors, centred on the
/// training mean ([`LengthNorm`], no whitening); then
///
/// | recipe | transforms, after the length normalisation | scores | enrolment of several vectors |
/// |---|---|---|---|
/// | [`Cosine`](Recipe::Cosine) | — | cosine | their average |
/// | [`LdaWccnCosine`](Recipe::LdaWccnCosine) | [`Lda`], then [`Wccn`] | cosine | their average |
/// | [`Plda`](Recipe::Plda) | [`Lda`], then length normalisation again | two-covariance [`Plda`] LLR | their count and sum (multi-session PLDA) |
///
/// An LDA dimension of `None` keeps `min(speakers − 1, 150, dimension)`
/// directions.
///
/// ```
/// use ndarray::Array2;
/// use shardkit_algorithms::backend::Recipe;
///
/// # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
/// // 8 speakers × 6 vectors in 5 dimensions.
/// let x = Array2::from_shape_fn((48, 5), |(i, j)| {
///     let s = (i / 6) as f64;
///     3.0 * (s * 0.7 + j as f64 * 1.1).sin() + ((i * 13 + j * 7) % 17) as f64 / 17.0
/// });
/// let labels: Vec<usize> = (0..48).map(|i| i / 6).collect();
/// let backend = Recipe::Plda { lda_dim: None, iterations: 10 }.fit(x.view(), &labels)?;
/// let models = backend.enrol(x.view(), &labels)?;
/// let scores = backend.score(&models, x.view())?;
/// assert_eq!(scores.dim(), (8, 48)); // speakers × test vectors
/// // Each vector scores highest against its own speaker.
/// for (j, &label) in labels.iter().enumerate() {
///     let best = (0..8).max_by(|&a, &b| scores[[a, j]].total_cmp(&scores[[b, j]])).unwrap();
///     assert_eq!(models.labels()[best], label);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Recipe {
    /// Cosine scores of length-normalised vectors.
    Cosine,
    /// LDA to `lda_dim` directions, WCCN, cosine scores.
    LdaWccnCosine {
        /// Directions the LDA keeps (`None`: see the type's documentation).
        lda_dim: Option<usize>,
    },
    /// LDA to `lda_dim` directions, length normalisation, two-covariance
    /// PLDA trained by `iterations` EM iterations.
    Plda {
        /// Directions the LDA keeps (`None`: see the type's documentation).
        lda_dim: Option<usize>,
        /// PLDA's EM iterations.
        iterations: usize,
    },
}

/// A fitted [`Recipe`]: transforms vectors, enrols speakers and scores
/// trials; saves to and loads from one `.npz` archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    recipe: Recipe,
    norm: LengthNorm,
    lda: Option<Lda>,
    wccn: Option<Wccn>,
    renorm: Option<LengthNorm>,
    plda: Option<Plda>,
}

/// Enrolled speakers: one model per distinct label, in increasing label
/// order, from [`Backend::enrol`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    stats: ClassStats,
}

impl Enrolled {
    /// The speakers' labels, one per model (the rows of
    /// [`Backend::score`]'s matrix).
    pub fn labels(&self) -> &[usize] {
        self.stats.labels()
    }

    /// The number of models.
    pub fn len(&self) -> usize {
        self.stats.len()
    }

    /// Whether there are no models.
    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }
}

impl Recipe {
    /// The LDA dimension this recipe uses for `speakers` speakers in `dim`
    /// dimensions, if it has an LDA.
    pub fn lda_dim(&self, speakers: usize, dim: usize) -> Option<usize> {
        let default = || speakers.saturating_sub(1).min(DEFAULT_LDA_MAX).min(dim);
        match self {
            Recipe::Cosine => None,
            Recipe::LdaWccnCosine { lda_dim } | Recipe::Plda { lda_dim, .. } => {
                Some(lda_dim.unwrap_or_else(default))
            }
        }
    }

    /// Fits the recipe on training vectors `x` (one per row) of the
    /// speakers `labels` (one per row, any numbers).
    ///
    /// # Errors
    ///
    /// Those of the parts: [`LengthNorm::fit`], [`Lda::fit`],
    /// [`Wccn::fit`], [`Plda::fit`] (too few speakers or vectors, singular
    /// scatter, non-finite input, one label per row).
    pub fn fit(&self, x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<Backend, BackendError> {
        let norm = LengthNorm::fit(x, false)?;
        let mut y = norm.transform(x)?;
        let mut backend = Backend {
            recipe: self.clone(),
            norm,
            lda: None,
            wccn: None,
            renorm: None,
            plda: None,
        };
        if let Some(k) = self.lda_dim(ClassStats::from_labels(y.view(), labels)?.len(), y.ncols()) {
            let lda = Lda::fit(y.view(), labels, k)?;
            y = lda.transform(y.view())?;
            backend.lda = Some(lda);
        }
        match self {
            Recipe::Cosine => {}
            Recipe::LdaWccnCosine { .. } => backend.wccn = Some(Wccn::fit(y.view(), labels)?),
            Recipe::Plda { iterations, .. } => {
                let renorm = LengthNorm::fit(y.view(), false)?;
                let z = renorm.transform(y.view())?;
                backend.plda = Some(Plda::fit(z.view(), labels, *iterations)?.model);
                backend.renorm = Some(renorm);
            }
        }
        Ok(backend)
    }
}

impl Backend {
    /// The recipe this back end was fitted with.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// The vectors as the scorer sees them: length-normalised, then
    /// through the recipe's transforms.
    ///
    /// # Errors
    ///
    /// Vectors of another dimension than the training vectors, or
    /// non-finite ones ([`BackendError::Dimension`],
    /// [`BackendError::NonFinite`]), or of zero length after centring.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
        let mut y = self.norm.transform(x)?;
        if let Some(lda) = &self.lda {
            y = lda.transform(y.view())?;
        }
        if let Some(wccn) = &self.wccn {
            y = wccn.transform(y.view())?;
        }
        if let Some(renorm) = &self.renorm {
            y = renorm.transform(y.view())?;
        }
        Ok(y)
    }

    /// Enrols one model per speaker from vectors `x` (one per row) and
    /// their speakers `labels`: the transformed vectors' count and sum per
    /// speaker.
    ///
    /// # Errors
    ///
    /// As [`transform`](Backend::transform), and
    /// [`BackendError::LabelCount`].
    pub fn enrol(
        &self,
        x: ArrayView2<'_, f64>,
        labels: &[usize],
    ) -> Result<Enrolled, BackendError> {
        let y = self.transform(x)?;
        Ok(Enrolled {
            stats: ClassStats::from_labels(y.view(), labels)?,
        })
    }

    /// Scores every enrolled model against every test vector (one per row
    /// of `test`): a matrix of models (rows, in
    /// [`Enrolled::labels`] order) × test vectors.
    ///
    /// # Errors
    ///
    /// As [`transform`](Backend::transform) for `test`;
    /// [`BackendError::Dimension`] for models enrolled by another back end.
    pub fn score(
        &self,
        models: &Enrolled,
        test: ArrayView2<'_, f64>,
    ) -> Result<Array2<f64>, BackendError> {
        let test = self.transform(test)?;
        match &self.plda {
            Some(plda) => plda.score_stats(&models.stats, &ClassStats::singles(test.view())?),
            None => cosine_scores(models.stats.means().view(), test.view()),
        }
    }

    /// Saves the back end as one `.npz` archive, written atomically: the
    /// recipe as `recipe` (`[kind, lda_dim, iterations]`, kind 0 cosine, 1
    /// LDA+WCCN, 2 PLDA), and each part's arrays under its prefix
    /// (`norm.mean`, `lda.projection`, `wccn.factor`, `renorm.mean`,
    /// `plda.within`, …) as [`LengthNorm::save`], [`Lda::save`],
    /// [`Wccn::save`] and [`Plda::save`] name them.
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BackendError> {
        let (kind, iterations) = match &self.recipe {
            Recipe::Cosine => (0.0, 0.0),
            Recipe::LdaWccnCosine { .. } => (1.0, 0.0),
            Recipe::Plda { iterations, .. } => (2.0, *iterations as f64),
        };
        let lda_dim = self
            .lda
            .as_ref()
            .map_or(0.0, |l| l.projection().ncols() as f64);
        let mut npz = NpzWriter::stamped(path);
        npz.add("recipe", &array![kind, lda_dim, iterations])?;
        self.norm.write(&mut npz, "norm.")?;
        if let Some(lda) = &self.lda {
            lda.write(&mut npz, "lda.")?;
        }
        if let Some(wccn) = &self.wccn {
            wccn.write(&mut npz, "wccn.")?;
        }
        if let Some(renorm) = &self.renorm {
            renorm.write(&mut npz, "renorm.")?;
        }
        if let Some(plda) = &self.plda {
            plda.write(&mut npz, "plda.")?;
        }
        Ok(npz.finish()?)
    }

    /// Loads a back end saved by [`save`](Backend::save).
    ///
    /// # Errors
    ///
    /// [`BackendError::Npz`] for a missing, unreadable or misshapen array
    /// (naming the archive and the array); [`BackendError::BadModel`] for
    /// an unknown recipe or PLDA covariances that are not positive
    /// definite.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, BackendError> {
        let path = path.as_ref();
        let mut npz = NpzReader::open(path)?;
        let recipe: Array1<f64> = npz.read_shaped("recipe", &[Some(3)])?;
        let bad = |reason: String| BackendError::BadModel {
            path: path.to_path_buf(),
            model: "back end",
            reason,
        };
        let lda_dim = Some(recipe[1] as usize);
        let recipe = match recipe[0] {
            0.0 => Recipe::Cosine,
            1.0 => Recipe::LdaWccnCosine { lda_dim },
            2.0 => Recipe::Plda {
                lda_dim,
                iterations: recipe[2] as usize,
            },
            other => return Err(bad(format!("unknown recipe kind {other} (0, 1 or 2)"))),
        };
        let has_lda = !matches!(recipe, Recipe::Cosine);
        let is_plda = matches!(recipe, Recipe::Plda { .. });
        Ok(Backend {
            norm: LengthNorm::read(&mut npz, "norm.")?,
            lda: has_lda.then(|| Lda::read(&mut npz, "lda.")).transpose()?,
            wccn: matches!(recipe, Recipe::LdaWccnCosine { .. })
                .then(|| Wccn::read(&mut npz, "wccn."))
                .transpose()?,
            renorm: is_plda
                .then(|| LengthNorm::read(&mut npz, "renorm."))
                .transpose()?,
            plda: is_plda.then(|| Plda::read(&mut npz, "plda.")).transpose()?,
            recipe,
        })
    }
}
