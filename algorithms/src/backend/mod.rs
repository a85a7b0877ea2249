//! Scoring back ends for fixed-length speaker embeddings (i-vectors):
//! length normalisation, cosine scoring, LDA, WCCN and two-covariance PLDA,
//! and the normalisation of their scores against an impostor cohort
//! ([`ScoreNorm`]: Z-, T-, ZT-, S- and adaptive S-norm).
//! GMM-UBM scoring of feature frames is [`crate::gmm::map`]'s
//! ([`score_trials`](crate::gmm::map::score_trials)). [`Recipe`] puts the
//! parts together as an i-vector system uses them (length norm → LDA →
//! WCCN → cosine; length norm → LDA → length norm → PLDA) and fits them
//! into one [`Backend`] that enrols, scores, saves and loads.
//!
//! Vectors are rows of an `Array2<f64>`; a speaker label per row
//! (`&[usize]`, any numbers) says who speaks. Score matrices have one row
//! per enrolment model and one column per test segment, ready for
//! [`crate::metrics::DetCurve::from_score_matrix`].
//!
//! ```
//! use ndarray::Array2;
//! use shardkit_algorithms::backend::{average_by_label, cosine_scores, Lda, LengthNorm, Plda};
//!
//! # fn main() -> Result<(), shardkit_algorithms::backend::BackendError> {
//! // 12 speakers × 6 vectors in 4 dimensions.
//! let x = Array2::from_shape_fn((72, 4), |(i, j)| {
//!     let s = (i / 6) as f64;
//!     2.0 * (s * 0.9 + j as f64 * 1.3).sin() + ((i * 13 + j * 7) % 17) as f64 / 17.0
//! });
//! let labels: Vec<usize> = (0..72).map(|i| i / 6).collect();
//!
//! // Garcia-Romero's recipe: LDA, centring + whitening + length
//! // normalisation, then cosine or PLDA scores.
//! let lda = Lda::fit(x.view(), &labels, 3)?;
//! let projected = lda.transform(x.view())?;
//! let norm = LengthNorm::fit(projected.view(), true)?;
//! let y = norm.transform(projected.view())?;
//!
//! let (models, speakers) = average_by_label(y.view(), &labels)?;
//! let cosine = cosine_scores(models.view(), y.view())?;
//! assert_eq!(cosine.dim(), (12, 72));
//! assert_eq!(speakers.len(), 12);
//!
//! let plda = Plda::fit(y.view(), &labels, 5)?.model;
//! let llr = plda.score(y.view(), y.view())?;
//! assert_eq!(llr.dim(), (72, 72));
//! # Ok(())
//! # }
//! ```
//!
//! ## Numerical choices
//!
//! Factorisations (Cholesky, symmetric eigen decomposition) are faer's, in
//! `f64`. A within-class scatter of `N` vectors from `S` speakers has rank
//! at most `N − S`, so LDA, WCCN and PLDA need `N ≥ d + S` vectors and
//! say so otherwise ([`BackendError::RankDeficient`]); a matrix that is
//! singular all the same is reported by name ([`BackendError::Singular`]).
//! Nothing is regularised silently (PLDA's initial between-class
//! covariance gets a documented ridge, which EM then re-estimates away).
//!
//! Models save to and load from `.npz` archives ([`crate::npz`]), written
//! atomically.
#![warn(missing_docs)]

mod classes;
mod cosine;
mod dense;
mod errors;
mod lda;
mod norm;
mod plda;
mod recipe;

pub use classes::{average_by_label, ClassStats};
pub use cosine::{cosine_scores, length_normalize, LengthNorm};
pub use errors::BackendError;
pub use lda::{Lda, Wccn};
pub use norm::{NormError, ScoreNorm};
pub use plda::{Plda, PldaFit};
pub use recipe::{Backend, Enrolled, Recipe, DEFAULT_LDA_MAX};
