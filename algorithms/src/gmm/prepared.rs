//! The model rearranged for the E-step's products, built once per iteration.

use ndarray::{Array1, Array2, ArrayView1};

use super::model::DiagGmm;
use super::real::Real;
use crate::simd::tiles;

/// The default [`refine_margin`](Prepared::refine_margin) of an `f32`
/// preparation, in nats.
pub const DEFAULT_REFINE_MARGIN: f64 = 20.0;

/// A [`DiagGmm`] rearranged for the E-step in precision `T` (`f32` by
/// default; `f64` to check it). Build it with [`DiagGmm::prepare`] /
/// [`prepare_f64`](DiagGmm::prepare_f64) once per EM iteration, then pass it
/// to [`accumulate`](super::accumulate) and the other E-step functions.
///
/// # The arrangement
///
/// Frames are first centred on an offset `c`, rounded to `T`. With
/// `y = x − c` and `ν_m = μ_m − c`,
///
/// ```text
/// log w_m·N(x; μ_m, σ²_m) = [y², y] · [−½/σ²_m, ν_m/σ²_m]ᵀ + k_m,
/// k_m = log w_m − ½ Σ_d (log 2πσ²_md + ν²_md/σ²_md)
/// ```
///
/// so the log-densities of a block of frames are one GEMM with the `2D×M`
/// matrix [`projection`](Prepared::projection), plus
/// [`constants`](Prepared::constants); the statistics are then one GEMM
/// of the posteriors with `[y², y, 1]`, uncentred in `f64`.
///
/// # The offset
///
/// By default `c_d` is the mixture's mean `Σ_m w_m μ_md` in the dimensions
/// where that mean is more than [`CENTRE_RATIO`] of the mixture's standard
/// deviations away from 0 (c0 of MFCCs, around 50), and 0 in the others.
/// Centring a far-off dimension keeps `f32` from losing most of its digits
/// to cancellation, both in the expanded square above and when the M-step
/// turns `Σγx²` into a variance; centring a dimension that is already near
/// 0 gains nothing there and costs accuracy in `Σγx²` of components
/// whose frames sit much closer to 0 than `c_d` (uncentring adds back
/// `2c·Σγy + c²·Σγ`). [`Prepared::with_offset`] sets another offset.
///
/// # Refinement
///
/// In `f32` the log-densities (around −100 for 60 dimensions) carry
/// absolute errors near 1e-5, so posteriors would carry relative errors of
/// that order. With a refine margin (the default for `f32`:
/// [`DEFAULT_REFINE_MARGIN`] nats), every component whose `f32`
/// log-density is within the margin of the frame's best is recomputed
/// exactly in `f64`, `log w_m − ½Σ log 2πσ² − ½Σ (x − μ)²/σ²`, and those
/// exact values set the frame's log-likelihood and the leading posteriors.
/// Components further down have posteriors below `e^−margin` (2e-9 for
/// 20), where their `f32` errors do not matter. With a few components
/// within the margin per frame (5.6 on average in the benchmark's
/// UBM-like model, `M = 512`), this costs about 9% of the E-step's time.
#[derive(Debug, Clone)]
pub struct Prepared<T: Real = f32> {
    pub(crate) dim: usize,
    pub(crate) n_components: usize,
    /// The centring offset `c`, in `T`.
    pub(crate) offset: Vec<T>,
    /// The same offset in `f64` (exactly the `T` values).
    pub(crate) offset64: Vec<f64>,
    /// `2D×M` row-major: rows `0..D` are `−½/σ²` (transposed), rows
    /// `D..2D` are `ν/σ²`.
    pub(crate) projection: Array2<T>,
    /// `k_m`, `M`.
    pub(crate) constants: Vec<T>,
    /// The projection in tiles of 32 components for the AVX-512 level's
    /// products (`crate::simd::tiles`), when `M` is a multiple of 16;
    /// empty otherwise.
    pub(crate) tiles: Vec<T>,
    /// For the refinement: the means, `M×D` row-major, `f64`.
    pub(crate) means: Vec<f64>,
    /// For the refinement: `1/σ²`, `M×D` row-major, `f64`.
    pub(crate) precisions: Vec<f64>,
    /// For the refinement: `log w_m − ½ Σ_d log 2πσ²_md`.
    pub(crate) log_norm: Vec<f64>,
    pub(crate) refine_margin: Option<f64>,
}

impl<T: Real> Prepared<T> {
    /// Prepares `gmm` for the E-step in precision `T`, centred on the
    /// weighted mean of its means, without refinement for `f64` and with
    /// [`DEFAULT_REFINE_MARGIN`] for `f32`.
    pub fn new(gmm: &DiagGmm) -> Prepared<T> {
        Prepared::with_offset(gmm, default_offset(gmm).view())
    }

    /// As [`new`](Prepared::new), but centred on `offset` (`D`; rounded to
    /// `T`) instead of the weighted mean of the means: the data's mean is
    /// the best choice, and zeros turn centring off.
    ///
    /// # Panics
    ///
    /// If `offset` does not have `gmm.dim()` finite elements.
    pub fn with_offset(gmm: &DiagGmm, offset: ArrayView1<f64>) -> Prepared<T> {
        let (m, d) = (gmm.n_components(), gmm.dim());
        assert!(
            offset.len() == d && offset.iter().all(|c| c.is_finite()),
            "the offset must have {d} finite elements, one per dimension"
        );
        let w = gmm.weights();
        let mu = gmm.means();
        let var = gmm.variances();
        let offset: Vec<T> = offset.iter().map(|&c| T::from_f64(c)).collect();
        let offset64: Vec<f64> = offset.iter().map(|c| c.to_f64()).collect();
        let mut projection = Array2::from_elem((2 * d, m), T::default());
        let mut constants = Vec::with_capacity(m);
        let mut log_norm = Vec::with_capacity(m);
        let mut precisions = Vec::with_capacity(m * d);
        let two_pi = 2.0 * std::f64::consts::PI;
        for i in 0..m {
            let mut log_det = 0.0;
            let mut quad = 0.0;
            for j in 0..d {
                let p = 1.0 / var[[i, j]];
                let nu = mu[[i, j]] - offset64[j];
                projection[[j, i]] = T::from_f64(-0.5 * p);
                projection[[d + j, i]] = T::from_f64(p * nu);
                log_det += (two_pi * var[[i, j]]).ln();
                quad += p * nu * nu;
                precisions.push(p);
            }
            let norm = w[i].ln() - 0.5 * log_det;
            log_norm.push(norm);
            constants.push(T::from_f64(norm - 0.5 * quad));
        }
        let refine_margin = (std::mem::size_of::<T>() == 4).then_some(DEFAULT_REFINE_MARGIN);
        let tiles = if tiles::fits(m) {
            tiles::pack(projection.as_slice().expect("standard layout"), 2 * d, m)
        } else {
            Vec::new()
        };
        Prepared {
            dim: d,
            n_components: m,
            offset,
            offset64,
            projection,
            constants,
            tiles,
            means: mu.iter().copied().collect(),
            precisions,
            log_norm,
            refine_margin,
        }
    }

    /// The same preparation with another refine margin (see the type's
    /// docs): `Some(nats)` recomputes in `f64` every component within
    /// `nats` of each frame's best, `None` keeps the GEMM's log-densities
    /// (fastest; posteriors with relative errors near 1e-5 in `f32`).
    ///
    /// # Panics
    ///
    /// If the margin is not a positive finite number.
    pub fn with_refine_margin(mut self, margin: Option<f64>) -> Prepared<T> {
        if let Some(nats) = margin {
            assert!(
                nats.is_finite() && nats > 0.0,
                "the refine margin must be a positive number of nats, not {nats}"
            );
        }
        self.refine_margin = margin;
        self
    }

    /// The refine margin in nats, if refinement is on.
    pub fn refine_margin(&self) -> Option<f64> {
        self.refine_margin
    }

    /// The number of components `M`.
    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// The dimension `D` of a frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The centring offset `c` (`D`), in `f64`.
    pub fn offset(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.offset64[..])
    }

    /// The `2D×M` right operand of the log-density GEMM:
    /// `[−½/σ², (μ − c)/σ²]ᵀ`.
    pub fn projection(&self) -> &Array2<T> {
        &self.projection
    }

    /// The per-component constants `k_m` added to the GEMM's result.
    pub fn constants(&self) -> Array1<T> {
        Array1::from(self.constants.clone())
    }
}

/// Dimensions whose mean is at most this many standard deviations from 0
/// are not centred (see [`Prepared`]).
pub const CENTRE_RATIO: f64 = 4.0;

/// The mixture's mean `Σ_m w_m μ_m` in the dimensions where it is more than
/// [`CENTRE_RATIO`] of the mixture's standard deviations from 0, and 0 in
/// the others.
fn default_offset(gmm: &DiagGmm) -> Array1<f64> {
    let w = gmm.weights();
    let mean = w.dot(&gmm.means());
    let second = w.dot(&(&gmm.variances() + &gmm.means().mapv(|v| v * v)));
    let mut offset = mean.clone();
    for ((c, &mu), &s2) in offset.iter_mut().zip(&mean).zip(&second) {
        let var = (s2 - mu * mu).max(0.0);
        if mu * mu <= CENTRE_RATIO * CENTRE_RATIO * var {
            *c = 0.0;
        }
    }
    offset
}

impl DiagGmm {
    /// The `f32` preparation for the E-step (with the default refinement);
    /// see [`Prepared`].
    ///
    /// ```
    /// use ndarray::{array, Array2};
    /// use shardkit_algorithms::gmm::DiagGmm;
    ///
    /// let gmm = DiagGmm::new(array![1.0], array![[50.0, 0.0]], Array2::ones((1, 2)))?;
    /// let prepared = gmm.prepare();
    /// assert_eq!(prepared.offset().to_vec(), vec![50.0, 0.0]);
    /// # Ok::<(), shardkit_algorithms::gmm::GmmError>(())
    /// ```
    pub fn prepare(&self) -> Prepared<f32> {
        Prepared::new(self)
    }

    /// The `f64` preparation: the same algorithm in double precision, to
    /// check the `f32` one.
    pub fn prepare_f64(&self) -> Prepared<f64> {
        Prepared::new(self)
    }
}
