//! Evaluation of speaker-verification scores: EER, minimum DCF, DET curve
//! points and DET plots (SVG and PNG).
//!
//! ```
//! use shardkit_algorithms::metrics::{DcfParams, DetCurve, DetPlot};
//!
//! # fn main() -> Result<(), shardkit_algorithms::metrics::MetricsError> {
//! let targets = [3.1, 2.2, 0.4, 1.9, 2.8];
//! let nontargets = [-1.2, 0.5, -0.3, 0.1, -2.0, 0.0, -0.7, 1.0];
//! let curve = DetCurve::new(&targets, &nontargets)?;
//! let eer = curve.eer();
//! let dcf = curve.min_dcf(&DcfParams::with_prior(0.1))?;
//! assert!(eer.eer > 0.0 && eer.eer < 0.5);
//! assert!(dcf.min_dcf <= 1.0);
//! let svg = DetPlot::new("demo").system("system A", &curve).to_svg()?;
//! assert!(svg.starts_with("<svg"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Definitions
//!
//! A trial is accepted as a target when its score is **greater than** the
//! threshold. [`DetCurve`] holds one operating point per distinct score
//! value (equal scores are never split by a threshold), from accepting
//! every trial (`p_miss = 0`, `p_fa = 1`) to rejecting every trial.
//!
//! - **EER** ([`DetCurve::eer`]): the ROCCH-EER of the BOSARIS toolkit —
//!   the point where the convex hull of the operating points crosses
//!   `p_miss = p_fa`, by linear interpolation along the crossing hull
//!   segment. It equals the largest Bayes error rate over target priors.
//!   It is exact on ties, 0 for separated scores, and at most the
//!   smallest `max(p_miss, p_fa)` of the staircase.
//! - **minDCF** ([`DetCurve::min_dcf`]): the minimum over thresholds of
//!   the normalised detection cost `(P_tar C_miss p_miss + (1 − P_tar) C_fa
//!   p_fa) / min(P_tar C_miss, (1 − P_tar) C_fa)`, with the threshold and
//!   rates that reach it ([`DcfParams`], default `P_tar = 0.01`,
//!   `C_miss = C_fa = 1`).
//! - **DET points** ([`DetCurve::points`], [`DetCurve::probit_points`]):
//!   `(p_miss, p_fa)` pairs and their probit transforms `Φ⁻¹`
//!   ([`probit`], from statrs).
//!
//! Scores must be finite: a NaN or an infinity is an error naming the list
//! and the position, as is an empty list ([`MetricsError`]).
#![warn(missing_docs)]

mod curve;
mod errors;
mod plot;

pub use curve::{
    eer, min_dcf, normal_cdf, probit, split_scores, DcfParams, DetCurve, Eer, MinDcf,
    OperatingPoint,
};
pub use errors::{MetricsError, ScoreSet};
pub use plot::DetPlot;
