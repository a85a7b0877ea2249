//! Linear models over a [`Table`](crate::stats::Table): linear and ridge
//! regression with several targets, with or without an intercept, by
//! normal equations or by QR (daal4py's `linear_regression_training` and
//! `ridge_regression_training`); prediction and coefficients of
//! determination.
//!
//! Each fit is one pass over the table — exact sums of the normal
//! equations, or a TSQR whose R factors merge in a fixed tree — so a model
//! has the same bits on any number of threads or MPI ranks, for tables
//! that are the same on every rank or each rank's own
//! ([`Table::local`](crate::stats::Table::local)). The normal equations'
//! sums are a streaming partial ([`NormalEquationsPartial`]) that merges
//! and saves, for data that arrives over time.

mod errors;
mod regression;

pub use errors::LinearError;
pub use regression::{
    LinearModel, LinearRegression, Method, NormalEquationsPartial, NORMAL_EQUATIONS_TOLERANCE,
    QR_TOLERANCE,
};
