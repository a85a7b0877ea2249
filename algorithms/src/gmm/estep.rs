//! The block kernels of the E-step: everything one block of frames needs,
//! on the calling thread, with single-threaded GEMMs.
//!
//! A block is processed in chunks of [`CHUNK_FRAMES`] frames, sized so that
//! a chunk's log-densities (`CHUNK_FRAMES × M`) stay in the core's L2 cache
//! between the GEMM that writes them, the log-sum-exp pass and the GEMM
//! that reads them back. Per chunk:
//!
//! 1. `A = [y², y]` with `y = x − c` (`b×2D`);
//! 2. `L = A·P` (GEMM, `b×M`), `P` the model's projection;
//! 3. per frame: `L += k`, its maximum, the refinement of the components
//!    near it (see [`Prepared`]), `e = exp(L − max)`, `s = Σ e`, the
//!    log-likelihood `max + ln s`;
//! 4. `A' = [y²/s, y/s, 1/s]` (`b×(2D+1)`, the posteriors' normalisation
//!    folded into the right operand: `2D+1` products per frame instead of
//!    `M`);
//! 5. `C += Eᵀ·A'` (GEMM, `M×(2D+1)`): the centred second- and first-order
//!    statistics and the zero-order ones, in `T`.
//!
//! `C` is added into `f64` accumulators every [`FLUSH_CHUNKS`] chunks, and
//! at the end of the block the statistics are uncentred in `f64`
//! (`F = F_c + n·c`, `S = S_c + 2c·F_c + n·c²`).

use std::any::Any;
use std::cell::RefCell;

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};

use super::prepared::Prepared;
use super::real::Real;
use super::stats::GmmStats;
use crate::simd::pruned::{refine, refine_hits};
use crate::simd::{self, tiles, Level};

/// Frames per chunk inside a block (see the module docs; measured in
/// `benches/gmm_estep.rs`).
pub const CHUNK_FRAMES: usize = 256;

/// Frames per chunk on the tiled path (the AVX-512 level; see
/// [`accumulate_block_chunked`]).
pub(crate) const TILED_CHUNK_FRAMES: usize = 256;

/// Chunks whose statistics are summed in `T` before they are added into the
/// `f64` accumulators.
const FLUSH_CHUNKS: usize = 1;

/// Buffers reused across chunks (and across blocks on the same thread).
#[derive(Default)]
struct Scratch<T> {
    /// `[y², y]`, `chunk × 2D`.
    a: Vec<T>,
    /// Log-densities, then unnormalised posteriors, `chunk × M`.
    l: Vec<T>,
    /// `[y²/s, y/s, 1/s]`, `chunk × (2D+1)`.
    a2: Vec<T>,
    /// Statistics in `T`, `M × (2D+1)`.
    c: Vec<T>,
    /// Per frame: `1/s`.
    inv: Vec<T>,
    /// Per frame: the log-likelihood.
    ll: Vec<f64>,
    /// One frame in `f64`.
    x64: Vec<f64>,
    /// A chunk of frames copied contiguous, when the caller's are not.
    xbuf: Vec<T>,
    /// The components refined for one frame, and their exact log-densities.
    cand: Vec<u32>,
    exact: Vec<f64>,
    /// The tiled path's log-densities, then posteriors, `chunk × M` in
    /// tiles (`crate::simd::tiles`).
    lt: Vec<f32>,
    /// The tiled path's lane maxima, `chunk × 16`.
    vmax: Vec<f32>,
    /// The tiled path's per-frame lane sums of the posteriors not refined,
    /// `chunk × 16`.
    sums: Vec<f32>,
    /// The tiled path's per-frame maxima and refinement thresholds.
    shift: Vec<f32>,
    threshold: Vec<f32>,
    /// The tiled path's components to refine, `t·M + c` in tile order, and
    /// where each frame's start in `cand` once sorted.
    hits: Vec<u32>,
    starts: Vec<usize>,
    next: Vec<usize>,
}

impl<T: Real> Scratch<T> {
    fn fit(&mut self, chunk: usize, m: usize, d: usize) {
        let grow = |v: &mut Vec<T>, n: usize| {
            if v.len() < n {
                v.resize(n, T::default());
            }
        };
        grow(&mut self.a, chunk * 2 * d);
        grow(&mut self.l, chunk * m);
        grow(&mut self.a2, chunk * (2 * d + 1));
        grow(&mut self.c, m * (2 * d + 1));
        grow(&mut self.inv, chunk);
        self.ll.resize(chunk.max(self.ll.len()), 0.0);
        self.x64.resize(d, 0.0);
    }
}

thread_local! {
    static SCRATCH: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's scratch buffers for `T`.
fn with_scratch<T: Real, R>(f: impl FnOnce(&mut Scratch<T>) -> R) -> R {
    let taken = SCRATCH.with(|cell| cell.borrow_mut().take());
    let mut scratch: Box<Scratch<T>> = match taken.map(|b| b.downcast::<Scratch<T>>()) {
        Some(Ok(s)) => s,
        _ => Box::default(),
    };
    let r = f(&mut scratch);
    SCRATCH.with(|cell| *cell.borrow_mut() = Some(scratch));
    r
}

#[track_caller]
fn check_dim<T: Real>(frames: &ArrayView2<T>, model: &Prepared<T>) {
    assert_eq!(
        frames.ncols(),
        model.dim,
        "frames have {} columns but the model has {} dimensions",
        frames.ncols(),
        model.dim
    );
}

/// Steps 1–3 for the frames `x` (at most the scratch's chunk): fills
/// `s.a`, `s.l` (unnormalised posteriors), `s.inv` and `s.ll`.
fn chunk_posteriors<T: Real>(x: ArrayView2<T>, model: &Prepared<T>, s: &mut Scratch<T>) {
    let (b, d) = x.dim();
    let m = model.n_components;
    let d2 = 2 * d;
    let xs: &[T] = match x.as_slice() {
        Some(xs) => xs,
        None => {
            s.xbuf.clear();
            s.xbuf.extend(x.iter().copied());
            &s.xbuf
        }
    };
    T::centre(xs, &model.offset, &mut s.a[..b * d2]);
    {
        let av = ArrayView2::from_shape((b, d2), &s.a[..b * d2]).expect("chunk shape");
        let lv = ArrayViewMut2::from_shape((b, m), &mut s.l[..b * m]).expect("chunk shape");
        T::gemm(lv, false, av, model.projection.view());
    }
    for t in 0..b {
        let row = &mut s.l[t * m..(t + 1) * m];
        let max = T::add_max(row, &model.constants);
        let shift = max.to_f64();
        let sum = match model.refine_margin {
            None => T::exp_sum(row, max).to_f64(),
            Some(margin) => {
                // Every component within the margin of the best is
                // recomputed exactly; all values are relative to `max`.
                s.cand.clear();
                let threshold = T::from_f64(shift - margin);
                let rest = T::exp_split(row, max, threshold, &mut s.cand).to_f64();
                T::widen(&xs[t * d..(t + 1) * d], &mut s.x64);
                s.exact.clear();
                s.exact.resize(s.cand.len(), 0.0);
                refine(
                    &s.x64,
                    &s.cand,
                    &model.means,
                    &model.precisions,
                    &model.log_norm,
                    &mut s.exact,
                );
                let mut sum = rest;
                for (&c, &l) in s.cand.iter().zip(&s.exact) {
                    let e = (l - shift).exp();
                    row[c as usize] = T::from_f64(e);
                    sum += e;
                }
                sum
            }
        };
        s.ll[t] = shift + sum.ln();
        s.inv[t] = T::from_f64(1.0 / sum);
    }
}

/// Steps 4–5: `C (+)= Eᵀ·[y²/s, y/s, 1/s]` for the chunk's `b` frames.
fn chunk_stats<T: Real>(b: usize, model: &Prepared<T>, s: &mut Scratch<T>, add: bool) {
    let (m, d) = (model.n_components, model.dim);
    let w = 2 * d + 1;
    T::scale(&s.a[..b * 2 * d], &s.inv[..b], &mut s.a2[..b * w]);
    let e = ArrayView2::from_shape((b, m), &s.l[..b * m]).expect("chunk shape");
    let a2 = ArrayView2::from_shape((b, w), &s.a2[..b * w]).expect("chunk shape");
    let c = ArrayViewMut2::from_shape((m, w), &mut s.c[..m * w]).expect("stats shape");
    T::gemm(c, add, e.t(), a2);
}

/// The E-step statistics of one block of frames, on the calling thread:
/// the block kernel that [`accumulate`](super::accumulate) runs on each
/// block. Frames are processed [`CHUNK_FRAMES`] at a time
/// (`TILED_CHUNK_FRAMES`, 256, on the tiled path).
///
/// # Panics
///
/// If the frames' width is not the model's dimension.
pub fn accumulate_block<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> GmmStats {
    let chunk = if tiled(model) {
        TILED_CHUNK_FRAMES
    } else {
        CHUNK_FRAMES
    };
    accumulate_block_chunked(frames, model, chunk)
}

/// Whether the block kernel takes the tiled path: `f32`, `M` a multiple
/// of 16, and the AVX-512 level.
fn tiled<T: Real>(model: &Prepared<T>) -> bool {
    !model.tiles.is_empty() && T::as_f32(&model.tiles).is_some() && simd::level() == Level::Avx512
}

/// [`accumulate_block`] with another chunk size (for measurements,
/// through [`crate::__bench`]).
///
/// On the AVX-512 level, an `f32` model whose `M` is a multiple of 16 takes
/// the tiled path (`simd::tiles`): the two products are
/// register-tiled kernels written for these shapes (the log-densities
/// with their constants and the frames' maxima, the statistics added into
/// the `f64` accumulators as each tile finishes) instead of faer's GEMMs
/// with separate passes; the other levels and models keep faer's products
/// (and their bits).
///
/// # Panics
///
/// If the frames' width is not the model's dimension, or `chunk` is 0.
pub fn accumulate_block_chunked<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    chunk: usize,
) -> GmmStats {
    check_dim(&frames, model);
    assert!(chunk > 0, "the chunk size must be positive");
    if tiled(model) {
        return accumulate_tiled(frames, model, chunk);
    }
    let (n, d) = frames.dim();
    let m = model.n_components;
    let w = 2 * d + 1;
    with_scratch(|s: &mut Scratch<T>| {
        s.fit(chunk, m, d);
        let mut acc = vec![0.0f64; m * w];
        let mut log_lik = 0.0f64;
        let mut pending = 0;
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            chunk_posteriors(frames.slice(s![start..end, ..]), model, s);
            log_lik += s.ll[..end - start].iter().sum::<f64>();
            chunk_stats(end - start, model, s, pending > 0);
            pending += 1;
            if pending == FLUSH_CHUNKS {
                T::add_to_f64(&s.c[..m * w], &mut acc);
                pending = 0;
            }
        }
        if pending > 0 {
            T::add_to_f64(&s.c[..m * w], &mut acc);
        }
        uncentre(&acc, (w, 1), model, log_lik, n)
    })
}

/// The tiled path of [`accumulate_block_chunked`] (`f32` only).
fn accumulate_tiled<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>, chunk: usize) -> GmmStats {
    let (n, d) = frames.dim();
    let m = model.n_components;
    let (d2, w) = (2 * d, 2 * d + 1);
    let (packed, constants) = (f32s(&model.tiles), f32s(&model.constants));
    with_scratch(|s: &mut Scratch<T>| {
        s.fit(chunk, 0, d);
        let grow = |v: &mut Vec<f32>, n: usize| v.resize(v.len().max(n), 0.0);
        grow(&mut s.lt, tiles::chunk_len(m, chunk));
        grow(&mut s.vmax, chunk * tiles::LANES);
        grow(&mut s.sums, chunk * tiles::LANES);
        grow(&mut s.shift, chunk);
        grow(&mut s.threshold, chunk);
        let mut acc = vec![0.0f64; w * m];
        let mut log_lik = 0.0f64;
        let mut xbuf = std::mem::take(&mut s.xbuf);
        for start in (0..n).step_by(chunk) {
            let b = (start + chunk).min(n) - start;
            let x = frames.slice(s![start..start + b, ..]);
            let xs: &[T] = match x.as_slice() {
                Some(xs) => xs,
                None => {
                    xbuf.clear();
                    xbuf.extend(x.iter().copied());
                    &xbuf
                }
            };
            T::centre(xs, &model.offset, &mut s.a[..b * d2]);
            tiles::log_densities(
                f32s(&s.a[..b * d2]),
                packed,
                constants,
                &mut s.lt[..tiles::chunk_len(m, b)],
                &mut s.vmax[..b * tiles::LANES],
            );
            log_lik += tiled_posteriors(xs, b, model, s);
            T::scale(&s.a[..b * d2], &s.inv[..b], &mut s.a2[..b * w]);
            tiles::add_stats(
                &s.lt[..tiles::chunk_len(m, b)],
                f32s(&s.a2[..b * w]),
                m,
                &mut acc,
            );
        }
        s.xbuf = xbuf;
        // The statistics were summed times `tiles::SCALE` (a power of two).
        let scale = f64::from(tiles::SCALE);
        acc.iter_mut().for_each(|v| *v /= scale);
        uncentre(&acc, (1, m), model, log_lik, n)
    })
}

/// `xs` as `f32` (the tiled path's kernels are `f32` only).
fn f32s<T: Real>(xs: &[T]) -> &[f32] {
    T::as_f32(xs).expect("the tiled path is f32")
}

/// The tiled path's step 3 for the chunk's `b` frames `xs`, whose
/// log-densities and lane maxima are in `s.lt` and `s.vmax`: the
/// posteriors (times `tiles::SCALE`) in `s.lt`, `1/s` in `s.inv`; returns
/// the sum of the frames' log-likelihoods.
fn tiled_posteriors<T: Real>(xs: &[T], b: usize, model: &Prepared<T>, s: &mut Scratch<T>) -> f64 {
    let m = model.n_components;
    let lanes = tiles::LANES;
    for t in 0..b {
        let max = s.vmax[t * lanes..(t + 1) * lanes]
            .iter()
            .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        s.shift[t] = max;
        // As `chunk_posteriors`: the components within the margin of the
        // best are recomputed exactly (a NaN threshold: none).
        s.threshold[t] = match model.refine_margin {
            None => f32::NAN,
            Some(margin) => (f64::from(max) - margin) as f32,
        };
    }
    let l = &mut s.lt[..tiles::chunk_len(m, b)];
    s.hits.clear();
    tiles::exp_chunk(
        l,
        m,
        &s.shift[..b],
        &s.threshold[..b],
        &mut s.sums[..b * lanes],
        &mut s.hits,
    );
    // The exact log-densities of the hits (`t·M + c`), in their order:
    // tile after tile, so each tile's means and precisions stay in L1.
    s.exact.clear();
    s.exact.resize(s.hits.len(), 0.0);
    refine_hits(
        f32s(xs),
        &s.hits,
        m,
        &model.means,
        &model.precisions,
        &model.log_norm,
        &mut s.x64,
        &mut s.exact,
    );
    // The hits by frame: a counting sort, stable, so each frame's
    // components stay in increasing order (`s.cand`: indices into the
    // hits).
    s.starts.clear();
    s.starts.resize(b + 1, 0);
    for &h in &s.hits {
        s.starts[h as usize / m + 1] += 1;
    }
    for t in 0..b {
        s.starts[t + 1] += s.starts[t];
    }
    s.cand.resize(s.hits.len(), 0);
    s.next.clear();
    s.next.extend_from_slice(&s.starts[..b]);
    for (i, &h) in s.hits.iter().enumerate() {
        let slot = &mut s.next[h as usize / m];
        s.cand[*slot] = i as u32;
        *slot += 1;
    }
    let scale = f64::from(tiles::SCALE);
    let mut log_lik = 0.0;
    for t in 0..b {
        let shift = f64::from(s.shift[t]);
        // The posteriors are stored times `tiles::SCALE` (a power of two:
        // exact); `sum` is the true one.
        let mut sum = f64::from(tiles::frame_sum(&s.sums, t)) / scale;
        for &i in &s.cand[s.starts[t]..s.starts[t + 1]] {
            let c = s.hits[i as usize] as usize % m;
            let e = (s.exact[i as usize] - shift).exp();
            l[tiles::position(m, b, t, c)] = (e * scale) as f32;
            sum += e;
        }
        log_lik += shift + sum.ln();
        s.inv[t] = T::from_f64(1.0 / sum);
    }
    log_lik
}

/// `GmmStats` from the centred statistics: `[S_c, F_c, n]` of component
/// `i` at `acc[i·stride.0 + j·stride.1]`, `j < 2D+1`.
fn uncentre<T: Real>(
    acc: &[f64],
    stride: (usize, usize),
    model: &Prepared<T>,
    log_lik: f64,
    n: usize,
) -> GmmStats {
    let (m, d) = (model.n_components, model.dim);
    let at = |i: usize, j: usize| acc[i * stride.0 + j * stride.1];
    let mut stats = GmmStats::zeros(m, d);
    for i in 0..m {
        let zero = at(i, 2 * d);
        stats.zero[i] = zero;
        for (j, &c) in model.offset64.iter().enumerate() {
            let (sc, fc) = (at(i, j), at(i, d + j));
            stats.first[[i, j]] = fc + c * zero;
            stats.second[[i, j]] = sc + c * (2.0 * fc + c * zero);
        }
    }
    stats.log_likelihood = log_lik;
    stats.frames = n as u64;
    stats
}

/// Runs `each(t, posteriors_row_unnormalised, 1/s, log_lik)` for every frame.
fn for_each_frame<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    mut each: impl FnMut(usize, &[T], T, f64),
) {
    check_dim(&frames, model);
    let (n, d) = frames.dim();
    let m = model.n_components;
    with_scratch(|s: &mut Scratch<T>| {
        s.fit(CHUNK_FRAMES, m, d);
        for start in (0..n).step_by(CHUNK_FRAMES) {
            let end = (start + CHUNK_FRAMES).min(n);
            chunk_posteriors(frames.slice(s![start..end, ..]), model, s);
            for t in 0..end - start {
                each(start + t, &s.l[t * m..(t + 1) * m], s.inv[t], s.ll[t]);
            }
        }
    })
}

/// Block kernel of [`frame_log_likelihood`](super::frame_log_likelihood).
pub(crate) fn log_likelihood_block<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
) -> Array1<f64> {
    let mut out = Array1::zeros(frames.nrows());
    for_each_frame(frames, model, |t, _, _, ll| out[t] = ll);
    out
}

/// Block kernel of [`posteriors`](super::posteriors).
pub(crate) fn posteriors_block<T: Real>(frames: ArrayView2<T>, model: &Prepared<T>) -> Array2<T> {
    let mut out = Array2::from_elem((frames.nrows(), model.n_components), T::default());
    for_each_frame(frames, model, |t, e, inv, _| {
        for (o, &v) in out.row_mut(t).iter_mut().zip(e) {
            *o = v * inv;
        }
    });
    out
}

/// Block kernel of [`top_posteriors`](super::top_posteriors).
pub(crate) fn top_block<T: Real>(
    frames: ArrayView2<T>,
    model: &Prepared<T>,
    top: usize,
) -> (Array2<u32>, Array2<T>) {
    let n = frames.nrows();
    let top = top.min(model.n_components);
    let mut indices = Array2::zeros((n, top));
    let mut values = Array2::from_elem((n, top), T::default());
    let mut order: Vec<u32> = Vec::with_capacity(model.n_components);
    for_each_frame(frames, model, |t, e, inv, _| {
        if top == 0 {
            return;
        }
        order.clear();
        order.extend(0..e.len() as u32);
        // Larger first; ties (and NaNs) by index, so the order is total.
        let cmp = |a: &u32, b: &u32| {
            let (x, y) = (e[*a as usize], e[*b as usize]);
            y.partial_cmp(&x)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(b))
        };
        if top < order.len() {
            order.select_nth_unstable_by(top - 1, cmp);
        }
        order[..top].sort_unstable_by(cmp);
        for (k, &i) in order[..top].iter().enumerate() {
            indices[[t, k]] = i;
            values[[t, k]] = e[i as usize] * inv;
        }
    });
    (indices, values)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::*;
    use crate::gmm::DiagGmm;
    use crate::simd::{at, detected};

    /// Frames around a few centres (c0 near 50), and a model of `m`
    /// components near them.
    fn case(n: usize, d: usize, m: usize) -> (Array2<f32>, DiagGmm) {
        let mut s = 12345u32;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            f64::from(s % 10_000) / 10_000.0 - 0.5
        };
        let frames = Array2::from_shape_fn((n, d), |(t, j)| {
            let centre = ((t % 7) as f64 - 3.0) * (1.0 + j as f64 * 0.1);
            (centre + 2.0 * next() + if j == 0 { 50.0 } else { 0.0 }) as f32
        });
        let means = Array2::from_shape_fn((m, d), |(i, j)| {
            ((i % 7) as f64 - 3.0) * (1.0 + j as f64 * 0.1)
                + next()
                + if j == 0 { 50.0 } else { 0.0 }
        });
        let variances = Array2::from_shape_fn((m, d), |_| 0.5 + next().abs() * 2.0);
        let weights = Array1::from_elem(m, 1.0 / m as f64);
        (frames, DiagGmm::new(weights, means, variances).unwrap())
    }

    #[test]
    fn the_tiled_path_agrees_with_faers_to_f32_accuracy() {
        if detected() < Level::Avx512 {
            return;
        }
        for (m, chunk) in [(48, 256), (64, 100), (16, 7)] {
            let (frames, gmm) = case(700, 13, m);
            for margin in [Some(20.0), None] {
                let prepared = gmm.prepare().with_refine_margin(margin);
                assert!(!prepared.tiles.is_empty());
                let faer = at(Level::Avx2, || {
                    assert!(!tiled(&prepared));
                    accumulate_block_chunked(frames.view(), &prepared, chunk)
                });
                let tiled_stats = at(Level::Avx512, || {
                    assert!(tiled(&prepared));
                    accumulate_block_chunked(frames.view(), &prepared, chunk)
                });
                let close = |a: f64, b: f64, scale: f64| (a - b).abs() <= 2e-6 * scale;
                let tol = if margin.is_some() { 1e-9 } else { 1e-6 };
                assert!(close(
                    faer.log_likelihood,
                    tiled_stats.log_likelihood,
                    faer.log_likelihood.abs() * tol / 2e-6
                ));
                for i in 0..m {
                    let n = faer.zero[i];
                    assert!(close(n, tiled_stats.zero[i], 1.0 + n), "{m} {i}");
                    for j in 0..13 {
                        let (f, s) = (faer.first[[i, j]], faer.second[[i, j]]);
                        assert!(close(f, tiled_stats.first[[i, j]], 1.0 + 50.0 * n));
                        assert!(close(s, tiled_stats.second[[i, j]], 1.0 + s.abs()));
                    }
                }
            }
        }
    }
}
