//! The exact E-step's two products and its exponential pass on components
//! cut into tiles: the AVX-512 level's path of the `f32` E-step, with
//! register-tiled products written for the E-step's shapes instead of
//! faer's general GEMM.
//!
//! # Layouts
//!
//! The `M` components are cut into tiles of [`TILE`] = 32 (two AVX-512
//! vectors), the last one 16 wide when `M mod 32 = 16` (the E-step takes
//! this path only when `M` is a multiple of 16; see [`fits`]). Tile `j`
//! starts at component `c0 = 32·j` and has `w` components.
//!
//! - The projection `P` (`K×M`, `K = 2D`), packed once per model
//!   ([`pack`]): tile after tile, each `K×w` row-major (it starts at
//!   `c0·K`). A tile's panel (15 KB for `K = 120`) stays in L1 while every
//!   frame of a chunk goes by.
//! - The log-densities, then the posteriors, of a chunk of `b` frames: tile
//!   after tile, each `b×w` row-major (it starts at `c0·b`): the statistics
//!   product reads a tile as one stream, 128 bytes per frame.
//! - `vmax` (`b×16`): per frame, the running maximum of the components
//!   `≡ i (mod 16)` in lane `i`, updated as the log-densities are stored.
//! - The statistics in `f64`, `(2D+1)×M` row-major: row `i` is column `i`
//!   of `C = Eᵀ·A'` (one row per column of `A'`).
//!
//! # Register tiles
//!
//! - Log-densities ([`log_densities`]): up to [`ROWS`] frames × 32
//!   components in 26 accumulators, started at the components' constants
//!   `k_m`, then one FMA chain over `k = 0..K` per element
//!   (`L = k + Σ_k A[t,k]·P[k,m]` in that order); a frame's values are
//!   broadcast from `A` (row-major), the tile's from its panel.
//! - Statistics ([`add_stats`]): 32 components × up to [`COLS`] columns of
//!   `A'` in 24 accumulators, one FMA chain over the chunk's frames per
//!   element, from 0; the `f32` sums are then widened and added into the
//!   `f64` statistics (no `f32` statistics matrix, no separate flush pass).
//!
//! # Bits
//!
//! Each element is one FMA chain in a fixed order, so the scalar bodies
//! with FMA (the AVX2 arms; the portable arms have no FMA) give the bits of
//! the AVX-512 arms; the unit tests check it. The E-step itself uses these
//! kernels on the AVX-512 level only: the other levels keep faer's products
//! and their bits. On the machine measured (a Xeon of the Sapphire Rapids
//! class, faer 0.24) the tiled path also gave faer's path's bits: the
//! statistics and log-likelihoods of `measure_gmm_estep --write`
//! (200,000 frames, `M = 512`, `D = 60`, refined and not) and the models of
//! `train_ubm` compare equal byte for byte (faer's kernels for these shapes
//! run one chain per element over `k` from 0 too, and the posteriors'
//! factor [`SCALE`] is exact). That is an observation about faer's kernel
//! choice, not a promise: the tests bound the tiled path against faer's to
//! `f32` accuracy.

use super::dispatch;
use super::exp::exp1;
use super::madd;
pub(crate) use super::rows::LANES;
use super::rows::{lane_sum, push_bits};

/// Components per tile.
pub(crate) const TILE: usize = 32;
/// Frames per register tile of the log-density product, at most.
const ROWS: usize = 10;
/// Columns of `A'` per register tile of the statistics product, at most.
const COLS: usize = 12;

/// The factor of the stored posteriors: [`exp_chunk`] stores
/// `exp(l − shift)·2^64` (and returns the sum of those), so the statistics
/// that [`add_stats`] adds are `2^64` times the true ones. Posteriors go
/// down to `e^−87` (about `2^−125`), and their products with `A'`
/// (`y²/s` and `y/s` can be small) were often subnormal: the FMA chains
/// that start at 0 then ran on microcode assists, and the statistics
/// product ran at half speed. A power of two changes no bits of anything
/// that stays normal (and keeps what was subnormal accurate); the sums
/// stay far below `f32`'s largest number (`2^64·256·|A'|`).
pub(crate) const SCALE: f32 = 18_446_744_073_709_551_616.0;

/// Whether `m` components can be tiled (a multiple of 16, at least one).
pub(crate) fn fits(m: usize) -> bool {
    m > 0 && m.is_multiple_of(LANES)
}

/// The width of tile `j` of `m` components.
#[inline(always)]
fn width(m: usize, j: usize) -> usize {
    (m - j * TILE).min(TILE)
}

/// Floats from the start of one tile of a chunk of `b` frames to the next:
/// `32·b` and 16 more. Without the 16, tiles start a multiple of 4 KiB
/// apart (`b` a multiple of 32), so a frame's pass over the tiles stored
/// one and loaded the next at addresses that agree in their low 12 bits
/// (4K aliasing: the load waits for the store), and the exponential pass
/// ran 4 times slower.
#[inline(always)]
fn stride(b: usize) -> usize {
    TILE * b + LANES
}

/// The floats of a chunk of `b` frames of `m` components in tiles.
pub(crate) fn chunk_len(m: usize, b: usize) -> usize {
    let tiles = m.div_ceil(TILE);
    if tiles == 0 {
        0
    } else {
        (tiles - 1) * stride(b) + b * width(m, tiles - 1)
    }
}

/// `n` cut into `n.div_ceil(max)` runs whose lengths differ by at most
/// one: `(start, len)`.
#[inline(always)]
fn runs(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = n.div_ceil(max);
    let (base, extra) = n
        .checked_div(count)
        .map_or((0, 0), |base| (base, n % count));
    (0..count).map(move |i| (i * base + i.min(extra), base + usize::from(i < extra)))
}

/// `P` (`k×m` row-major) in tiles (see the module docs).
///
/// # Panics
///
/// If `m` does not [`fit`](fits) or `p` is not `k×m`.
pub(crate) fn pack<T: Copy>(p: &[T], k: usize, m: usize) -> Vec<T> {
    assert!(fits(m) && p.len() == k * m, "pack: {} ≠ {k}×{m}", p.len());
    let mut out = Vec::with_capacity(k * m);
    for j in 0..m.div_ceil(TILE) {
        let (c0, w) = (j * TILE, width(m, j));
        for row in p.chunks_exact(m) {
            out.extend_from_slice(&row[c0..c0 + w]);
        }
    }
    out
}

/// The chunk's shapes `(b, k)` from the operands of [`log_densities`].
#[inline(always)]
fn dens_shapes(a: &[f32], tiles: &[f32], constants: &[f32], l: &[f32], vmax: &[f32]) -> usize {
    let m = constants.len();
    let b = vmax.len() / LANES;
    assert!(fits(m) && vmax.len() == b * LANES && l.len() == chunk_len(m, b));
    let k = tiles.len() / m;
    assert!(
        tiles.len() == k * m && a.len() == b * k,
        "log_densities shapes"
    );
    k
}

/// The tiles of [`log_densities`]'s chunk of `b` frames, one after
/// another: each tile's first component and width `w`, its `k×w` block of
/// the packed `P`, and its `b×w` block of `l`.
#[inline(always)]
fn dens_tiles<'a>(
    tiles: &'a [f32],
    m: usize,
    l: &'a mut [f32],
    b: usize,
) -> impl Iterator<Item = (usize, usize, &'a [f32], &'a mut [f32])> {
    let k = tiles.len() / m;
    (0..m.div_ceil(TILE))
        .zip(l.chunks_mut(stride(b)))
        .map(move |(j, out)| {
            let (c0, w) = (j * TILE, width(m, j));
            (c0, w, &tiles[c0 * k..c0 * k + k * w], &mut out[..b * w])
        })
}

#[inline(always)]
fn log_densities_body<const FMA: bool>(
    a: &[f32],
    tiles: &[f32],
    constants: &[f32],
    l: &mut [f32],
    vmax: &mut [f32],
) {
    let k = dens_shapes(a, tiles, constants, l, vmax);
    let b = vmax.len() / LANES;
    vmax.fill(f32::NEG_INFINITY);
    for (c0, w, p, out) in dens_tiles(tiles, constants.len(), l, b) {
        for t in 0..b {
            let x = &a[t * k..(t + 1) * k];
            for c in 0..w {
                let mut s = 0.0f32;
                for (kk, &xv) in x.iter().enumerate() {
                    s = madd::<FMA>(xv, p[kk * w + c], s);
                }
                let s = s + constants[c0 + c];
                out[t * w + c] = s;
                let mx = &mut vmax[t * LANES + c % LANES];
                *mx = if s > *mx { s } else { *mx };
            }
        }
    }
}

/// The chunk's shapes `(b, w)` from the operands of [`add_stats`].
#[inline(always)]
fn stats_shapes(e: &[f32], a2: &[f32], m: usize, acc: &[f64]) -> (usize, usize) {
    assert!(fits(m));
    let w = acc.len() / m;
    let b = a2.len() / w.max(1);
    assert!(
        w > 0 && e.len() == chunk_len(m, b) && a2.len() == b * w && acc.len() == w * m,
        "add_stats shapes"
    );
    (b, w)
}

#[inline(always)]
fn add_stats_body<const FMA: bool>(e: &[f32], a2: &[f32], m: usize, acc: &mut [f64]) {
    let (b, w) = stats_shapes(e, a2, m, acc);
    for j in 0..m.div_ceil(TILE) {
        let (c0, tw) = (j * TILE, width(m, j));
        let tile = &e[j * stride(b)..j * stride(b) + b * tw];
        for col in 0..w {
            for c in 0..tw {
                let mut s = 0.0f32;
                for t in 0..b {
                    s = madd::<FMA>(a2[t * w + col], tile[t * tw + c], s);
                }
                acc[col * m + c0 + c] += f64::from(s);
            }
        }
    }
}

/// The operands of [`exp_chunk`]: the chunk's `b`.
#[inline(always)]
fn exp_shapes(l: &[f32], m: usize, shift: &[f32], threshold: &[f32], sums: &[f32]) -> usize {
    let b = shift.len();
    assert!(fits(m) && l.len() == chunk_len(m, b));
    assert!(
        threshold.len() == b && sums.len() == b * LANES,
        "exp_chunk shapes"
    );
    b
}

#[inline(always)]
fn exp_chunk_body<const FMA: bool>(
    l: &mut [f32],
    m: usize,
    shift: &[f32],
    threshold: &[f32],
    sums: &mut [f32],
    hits: &mut Vec<u32>,
) {
    let b = exp_shapes(l, m, shift, threshold, sums);
    sums.fill(0.0);
    for j in 0..m.div_ceil(TILE) {
        let (c0, w) = (j * TILE, width(m, j));
        let tile = &mut l[j * stride(b)..j * stride(b) + b * w];
        for (t, row) in tile.chunks_exact_mut(w).enumerate() {
            let acc = &mut sums[t * LANES..(t + 1) * LANES];
            for (v, chunk) in row.chunks_exact_mut(LANES).enumerate() {
                let mut bits = 0u32;
                for i in 0..LANES {
                    let x = chunk[i];
                    let hit = x >= threshold[t];
                    let e = exp1::<FMA>(x - shift[t]) * SCALE;
                    chunk[i] = e;
                    acc[i] += if hit { 0.0 } else { e };
                    bits |= u32::from(hit) << i;
                }
                push_bits(hits, (t * m + c0 + v * LANES) as u32, bits);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The AVX-512 arms: the bodies' operations on register tiles.

    use std::arch::x86_64::*;

    use super::{
        dens_shapes, dens_tiles, runs, stats_shapes, stride, width, COLS, LANES, ROWS, SCALE, TILE,
    };
    use crate::simd::exp::x86::exp16;

    /// Expands `$call` (a kernel call with `R` as its row or column count)
    /// for every count from 1 to 13.
    macro_rules! by_count {
        ($n:expr, $f:ident::<_, $nv:ident>($($arg:expr),*)) => {
            match $n {
                1 => $f::<1, $nv>($($arg),*),
                2 => $f::<2, $nv>($($arg),*),
                3 => $f::<3, $nv>($($arg),*),
                4 => $f::<4, $nv>($($arg),*),
                5 => $f::<5, $nv>($($arg),*),
                6 => $f::<6, $nv>($($arg),*),
                7 => $f::<7, $nv>($($arg),*),
                8 => $f::<8, $nv>($($arg),*),
                9 => $f::<9, $nv>($($arg),*),
                10 => $f::<10, $nv>($($arg),*),
                11 => $f::<11, $nv>($($arg),*),
                12 => $f::<12, $nv>($($arg),*),
                13 => $f::<13, $nv>($($arg),*),
                n => unreachable!("a register tile of {n}"),
            }
        };
    }

    /// `R` frames × `NV` vectors of components: `out` (`R×16NV`) gets
    /// `(Σ_k a[r·k + kk]·p[kk·16NV + ..]) + cst`, and each frame's 16 lanes of
    /// `vmax` the maxima with its new values.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dens_tile<const R: usize, const NV: usize>(
        a: &[f32],
        k: usize,
        p: &[f32],
        cst: &[f32],
        out: &mut [f32],
        vmax: &mut [f32],
    ) {
        let w = LANES * NV;
        assert!(a.len() == R * k && p.len() == k * w && cst.len() == w);
        assert!(out.len() == R * w && vmax.len() == R * LANES);
        let (ap, pp) = (a.as_ptr(), p.as_ptr());
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        for kk in 0..k {
            let mut pv = [_mm512_setzero_ps(); NV];
            for (v, pv) in pv.iter_mut().enumerate() {
                // SAFETY: `kk < k` and `v < NV`: inside `p` (`k×16NV`).
                *pv = unsafe { _mm512_loadu_ps(pp.wrapping_add(kk * w + v * LANES)) };
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                // SAFETY: `r < R` and `kk < k`: inside `a` (`R×k`).
                let x = _mm512_set1_ps(unsafe { *ap.wrapping_add(r * k + kk) });
                for v in 0..NV {
                    acc[v] = _mm512_fmadd_ps(x, pv[v], acc[v]);
                }
            }
        }
        let mut c = [_mm512_setzero_ps(); NV];
        for (v, c) in c.iter_mut().enumerate() {
            // SAFETY: `cst` has `16·NV` elements.
            *c = unsafe { _mm512_loadu_ps(cst.as_ptr().wrapping_add(v * LANES)) };
        }
        let (op, mp) = (out.as_mut_ptr(), vmax.as_mut_ptr());
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: `r < R`: inside `vmax` (`R×16`).
            let mut mx = unsafe { _mm512_loadu_ps(mp.wrapping_add(r * LANES)) };
            for (v, &sum) in acc.iter().enumerate() {
                let val = _mm512_add_ps(sum, c[v]);
                // SAFETY: `r < R` and `v < NV`: inside `out` (`R×16NV`).
                unsafe { _mm512_storeu_ps(op.wrapping_add(r * w + v * LANES), val) };
                // `max(val, mx)` is `mx` when `val` is NaN, as the body.
                mx = _mm512_max_ps(val, mx);
            }
            // SAFETY: as the load above.
            unsafe { _mm512_storeu_ps(mp.wrapping_add(r * LANES), mx) };
        }
    }

    /// The frames of one chunk against one tile of `NV` vectors.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dens_panel<const NV: usize>(
        a: &[f32],
        k: usize,
        p: &[f32],
        cst: &[f32],
        out: &mut [f32],
        vmax: &mut [f32],
    ) {
        let (w, b) = (LANES * NV, vmax.len() / LANES);
        for (t0, n) in runs(b, ROWS) {
            let a = &a[t0 * k..(t0 + n) * k];
            let out = &mut out[t0 * w..(t0 + n) * w];
            let vm = &mut vmax[t0 * LANES..(t0 + n) * LANES];
            by_count!(n, dens_tile::<_, NV>(a, k, p, cst, out, vm));
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,popcnt")]
    pub(super) fn log_densities(
        a: &[f32],
        tiles: &[f32],
        constants: &[f32],
        l: &mut [f32],
        vmax: &mut [f32],
    ) {
        let k = dens_shapes(a, tiles, constants, l, vmax);
        let b = vmax.len() / LANES;
        vmax.fill(f32::NEG_INFINITY);
        for (c0, w, p, out) in dens_tiles(tiles, constants.len(), l, b) {
            let cst = &constants[c0..c0 + w];
            if w == TILE {
                dens_panel::<2>(a, k, p, cst, out, vmax);
            } else {
                dens_panel::<1>(a, k, p, cst, out, vmax);
            }
        }
    }

    /// `C` columns of `A'` × `NV` vectors of components: the chunk's `f32`
    /// sums `Σ_t a2[t·w + c]·e[t·16NV + ..]`, added in `f64` to row `c` of
    /// `acc` (rows `m` apart).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn stats_tile<const C: usize, const NV: usize>(
        e: &[f32],
        a2: &[f32],
        w: usize,
        acc: &mut [f64],
        m: usize,
    ) {
        let tw = LANES * NV;
        let b = e.len() / tw;
        assert!(e.len() == b * tw && C <= w);
        assert!(b == 0 || a2.len() >= (b - 1) * w + C);
        assert!(acc.len() >= (C - 1) * m + tw);
        let (ep, ap) = (e.as_ptr(), a2.as_ptr());
        let mut s = [[_mm512_setzero_ps(); NV]; C];
        for t in 0..b {
            let mut ev = [_mm512_setzero_ps(); NV];
            for (v, ev) in ev.iter_mut().enumerate() {
                // SAFETY: `t < b` and `v < NV`: inside `e` (`b×16NV`).
                *ev = unsafe { _mm512_loadu_ps(ep.wrapping_add(t * tw + v * LANES)) };
            }
            for (c, s) in s.iter_mut().enumerate() {
                // SAFETY: `t < b` and `c < C`: at most `(b−1)·w + C − 1`.
                let x = _mm512_set1_ps(unsafe { *ap.wrapping_add(t * w + c) });
                for v in 0..NV {
                    s[v] = _mm512_fmadd_ps(x, ev[v], s[v]);
                }
            }
        }
        let dp = acc.as_mut_ptr();
        for (c, s) in s.iter().enumerate() {
            for (v, &sv) in s.iter().enumerate() {
                let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(sv));
                let hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(sv));
                let at = c * m + v * LANES;
                let (d0, d1) = (dp.wrapping_add(at), dp.wrapping_add(at + 8));
                // SAFETY: `c < C` and `v < NV`: `at + 16 ≤ (C−1)·m + 16NV`,
                // inside `acc`.
                let old = unsafe { _mm512_loadu_pd(d0) };
                let new = _mm512_add_pd(old, lo);
                // SAFETY: as above.
                unsafe { _mm512_storeu_pd(d0, new) };
                // SAFETY: as above.
                let old = unsafe { _mm512_loadu_pd(d1) };
                let new = _mm512_add_pd(old, hi);
                // SAFETY: as above.
                unsafe { _mm512_storeu_pd(d1, new) };
            }
        }
    }

    /// One tile of `NV` vectors against every column of `A'`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn stats_panel<const NV: usize>(e: &[f32], a2: &[f32], w: usize, acc: &mut [f64], m: usize) {
        for (col, n) in runs(w, COLS) {
            let a2 = &a2[col.min(a2.len())..];
            let acc = &mut acc[col * m..];
            by_count!(n, stats_tile::<_, NV>(e, a2, w, acc, m));
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,popcnt")]
    pub(super) fn add_stats(e: &[f32], a2: &[f32], m: usize, acc: &mut [f64]) {
        let (b, w) = stats_shapes(e, a2, m, acc);
        for j in 0..m.div_ceil(TILE) {
            let (c0, tw) = (j * TILE, width(m, j));
            let tile = &e[j * stride(b)..j * stride(b) + b * tw];
            let acc = &mut acc[c0..];
            if tw == TILE {
                stats_panel::<2>(tile, a2, w, acc, m);
            } else {
                stats_panel::<1>(tile, a2, w, acc, m);
            }
        }
    }

    /// Appends the set bits of `mask` (out of line: hits are rare).
    #[cold]
    #[inline(never)]
    fn push_bits(out: &mut Vec<u32>, base: u32, mask: u32) {
        super::push_bits(out, base, mask)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,popcnt")]
    pub(super) fn exp_chunk(
        l: &mut [f32],
        m: usize,
        shift: &[f32],
        threshold: &[f32],
        sums: &mut [f32],
        hits: &mut Vec<u32>,
    ) {
        let b = super::exp_shapes(l, m, shift, threshold, sums);
        sums.fill(0.0);
        let vscale = _mm512_set1_ps(SCALE);
        for j in 0..m.div_ceil(TILE) {
            let (c0, w) = (j * TILE, width(m, j));
            let tile = &mut l[j * stride(b)..j * stride(b) + b * w];
            for (t, row) in tile.chunks_exact_mut(w).enumerate() {
                let (vshift, vthr) = (_mm512_set1_ps(shift[t]), _mm512_set1_ps(threshold[t]));
                let acc = &mut sums[t * LANES..(t + 1) * LANES];
                // SAFETY: `acc` has 16 elements.
                let mut sum = unsafe { _mm512_loadu_ps(acc.as_ptr()) };
                for (v, chunk) in row.chunks_exact_mut(LANES).enumerate() {
                    // SAFETY: a chunk has 16 elements.
                    let x = unsafe { _mm512_loadu_ps(chunk.as_ptr()) };
                    let hit = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, vthr);
                    let e = _mm512_mul_ps(exp16(_mm512_sub_ps(x, vshift)), vscale);
                    // SAFETY: as above.
                    unsafe { _mm512_storeu_ps(chunk.as_mut_ptr(), e) };
                    // Lanes that hit add +0.0, as the body.
                    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(!hit, e));
                    if hit != 0 {
                        push_bits(hits, (t * m + c0 + v * LANES) as u32, u32::from(hit));
                    }
                }
                // SAFETY: as the load.
                unsafe { _mm512_storeu_ps(acc.as_mut_ptr(), sum) };
            }
        }
    }
}

dispatch! {
    /// The log-densities of a chunk of `b` frames: `l` (`b×M` in tiles)
    /// gets `k_m + Σ_k a[t,k]·P[k,m]` for the frames' `a = [y², y]`
    /// (`b×K` row-major), the packed projection `tiles` ([`pack`]) and the
    /// constants `k_m` (`M`); `vmax` (`b×16`) the frames' lane maxima
    /// (NaNs skipped). See the module docs.
    ///
    /// # Panics
    ///
    /// If the shapes do not agree or `M` does not [`fit`](fits).
    pub(crate) fn log_densities(
        a: &[f32],
        tiles: &[f32],
        constants: &[f32],
        l: &mut [f32],
        vmax: &mut [f32],
    ) {
        portable => log_densities_body::<false>(a, tiles, constants, l, vmax),
        avx2 => log_densities_body::<true>(a, tiles, constants, l, vmax),
        avx512 => x86::log_densities(a, tiles, constants, l, vmax),
    }
}

dispatch! {
    /// `acc[i, c] += Σ_t a2[t, i]·e[t, c]` for the chunk's posteriors `e`
    /// (`b×M` in tiles) and `a2` (`b×W` row-major): the statistics, `acc`
    /// `W×M` row-major in `f64`, each element summed over the chunk in
    /// `f32` first. See the module docs.
    ///
    /// # Panics
    ///
    /// If the shapes do not agree or `M` does not [`fit`](fits).
    pub(crate) fn add_stats(e: &[f32], a2: &[f32], m: usize, acc: &mut [f64]) {
        portable => add_stats_body::<false>(e, a2, m, acc),
        avx2 => add_stats_body::<true>(e, a2, m, acc),
        avx512 => x86::add_stats(e, a2, m, acc),
    }
}

dispatch! {
    /// For every frame `t` of the chunk `l` (`b` frames of `M` components
    /// in tiles), tile after tile: `l = exp(l − shift[t])·`[`SCALE`]; lane
    /// `i` of `sums[t·16..]` gets the sum of the new values of components
    /// `≡ i (mod 16)` that were below `threshold[t]` (in increasing order),
    /// and `t·M + c` is appended to `hits` for each component `c` at or
    /// above it (none for a NaN threshold), tile after tile: a frame's hits
    /// in increasing order. [`frame_sum`] adds a frame's lanes.
    ///
    /// # Panics
    ///
    /// If `M` does not [`fit`](fits) or the shapes do not agree.
    pub(crate) fn exp_chunk(
        l: &mut [f32],
        m: usize,
        shift: &[f32],
        threshold: &[f32],
        sums: &mut [f32],
        hits: &mut Vec<u32>,
    ) {
        portable => exp_chunk_body::<false>(l, m, shift, threshold, sums, hits),
        avx2 => exp_chunk_body::<true>(l, m, shift, threshold, sums, hits),
        avx512 => x86::exp_chunk(l, m, shift, threshold, sums, hits),
    }
}

/// The sum of frame `t`'s lanes of [`exp_chunk`]'s `sums`, as [`lane_sum`].
#[inline]
pub(crate) fn frame_sum(sums: &[f32], t: usize) -> f32 {
    let mut lanes = [0.0f32; LANES];
    lanes.copy_from_slice(&sums[t * LANES..(t + 1) * LANES]);
    lane_sum(lanes)
}

/// The position of component `c` of frame `t` in a chunk of `b` frames of
/// `m` components in tiles.
#[inline]
pub(crate) fn position(m: usize, b: usize, t: usize, c: usize) -> usize {
    let j = c / TILE;
    j * stride(b) + t * width(m, j) + c % TILE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, detected, Level};

    fn values(n: usize, seed: u32, scale: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                ((s % 20001) as f32 * 1e-4 - 1.0) * scale
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter()
            .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
            .collect()
    }

    #[test]
    fn runs_cover_evenly() {
        for (n, max) in [(0, 13), (1, 13), (13, 13), (14, 13), (256, 13), (121, 12)] {
            let r: Vec<_> = runs(n, max).collect();
            assert_eq!(r.iter().map(|x| x.1).sum::<usize>(), n);
            let mut next = 0;
            for &(s, len) in &r {
                assert!(s == next && len <= max && len + 1 >= n / r.len().max(1));
                next = s + len;
            }
        }
        assert_eq!(runs(121, 12).count(), 11);
    }

    /// Every kernel against a plain `f64` reference (the layouts), and the
    /// AVX-512 arms against the AVX2 ones (the bits).
    #[test]
    fn kernels_are_right_and_avx512_has_the_bits_of_avx2() {
        for (b, k, m, w) in [
            (1, 3, 16, 1),
            (29, 10, 48, 21),
            (256, 120, 64, 121),
            (14, 8, 32, 13),
        ] {
            let a = values(b * k, 3 + b as u32, 2.0);
            let p = values(k * m, 5 + m as u32, 1.0);
            let cst = values(m, 7, 10.0);
            let tiles = pack(&p, k, m);
            let a2 = values(b * w, 11, 1.0);
            let run = |level: Level| {
                at(level, || {
                    let mut l = vec![0.0f32; chunk_len(m, b)];
                    let mut vmax = vec![0.0f32; b * LANES];
                    log_densities(&a, &tiles, &cst, &mut l, &mut vmax);
                    let dens = l.clone();
                    let mut acc: Vec<f64> = (0..w * m).map(|i| i as f64).collect();
                    add_stats(&l, &a2, m, &mut acc);
                    let mut hits = Vec::new();
                    let mut lanes = vec![f32::NAN; b * LANES];
                    let shift: Vec<f32> = (0..b).map(|t| 1.0 + (t % 3) as f32).collect();
                    let thr: Vec<f32> = shift.iter().map(|s| s + 1.0).collect();
                    exp_chunk(&mut l, m, &shift, &thr, &mut lanes, &mut hits);
                    let sums: Vec<f32> = (0..b).map(|t| frame_sum(&lanes, t)).collect();
                    (dens, vmax, acc, l, hits, sums)
                })
            };
            let got = run(Level::Portable);
            for t in 0..b {
                let mut max = f32::NEG_INFINITY;
                for c in 0..m {
                    let want = f64::from(cst[c])
                        + (0..k)
                            .map(|kk| f64::from(a[t * k + kk]) * f64::from(p[kk * m + c]))
                            .sum::<f64>();
                    let v = got.0[position(m, b, t, c)];
                    assert!((f64::from(v) - want).abs() < 1e-5 * (1.0 + want.abs()));
                    max = max.max(v);
                }
                let vm = got.1[t * LANES..(t + 1) * LANES]
                    .iter()
                    .fold(f32::MIN, |x, &y| x.max(y));
                assert_eq!(vm, max);
            }
            for i in 0..w {
                for c in 0..m {
                    let want = (0..b)
                        .map(|t| f64::from(a2[t * w + i]) * f64::from(got.0[position(m, b, t, c)]))
                        .sum::<f64>();
                    let scale = (0..b)
                        .map(|t| {
                            (f64::from(a2[t * w + i]) * f64::from(got.0[position(m, b, t, c)]))
                                .abs()
                        })
                        .sum::<f64>();
                    let v = got.2[i * m + c] - (i * m + c) as f64;
                    assert!((v - want).abs() <= 1e-5 * (1.0 + scale), "{i} {c}");
                }
            }
            let mut hits = Vec::new();
            for t in 0..b {
                let mut sum = 0.0;
                let shift = 1.0 + (t % 3) as f32;
                for c in 0..m {
                    let x = got.0[position(m, b, t, c)];
                    let e = f64::from(got.3[position(m, b, t, c)]) / f64::from(SCALE);
                    assert!((e - f64::from(x - shift).exp()).abs() <= 3e-7 * e);
                    if x >= shift + 1.0 {
                        hits.push((t * m + c) as u32);
                    } else {
                        sum += e;
                    }
                }
                let got_sum = f64::from(got.5[t]) / f64::from(SCALE);
                assert!((got_sum - sum).abs() <= 1e-6 * sum);
            }
            let mut sorted = got.4.clone();
            sorted.sort_by_key(|&h| (h as usize % m / TILE, h as usize / m, h as usize % m));
            assert_eq!(sorted, got.4, "tile after tile");
            let mut by_frame = got.4.clone();
            by_frame.sort_unstable();
            assert_eq!(by_frame, hits);
            if detected() >= Level::Avx512 {
                let (x, y) = (run(Level::Avx2), run(Level::Avx512));
                assert_eq!(bits(&x.0), bits(&y.0), "b {b} m {m}");
                assert_eq!(bits(&x.1), bits(&y.1));
                assert_eq!(
                    x.2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    y.2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                assert_eq!(bits(&x.3), bits(&y.3));
                assert_eq!(x.4, y.4);
                assert_eq!(bits(&x.5), bits(&y.5));
            }
        }
    }

    #[test]
    fn a_nan_threshold_hits_nothing() {
        let m = 48;
        let l = values(chunk_len(m, 2), 9, 5.0);
        for level in crate::simd::levels() {
            let mut hits = Vec::new();
            let mut x = l.clone();
            let mut sums = vec![0.0; 2 * LANES];
            let (shift, thr) = ([0.0; 2], [f32::NAN; 2]);
            at(level, || {
                exp_chunk(&mut x, m, &shift, &thr, &mut sums, &mut hits)
            });
            assert!(hits.is_empty());
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Best rate of 30 batches of 20 calls, GFLOP/s.
    fn best(flops: f64, mut f: impl FnMut()) -> f64 {
        let mut best = f64::MAX;
        for _ in 0..30 {
            let t0 = std::time::Instant::now();
            for _ in 0..20 {
                f();
            }
            best = best.min(t0.elapsed().as_secs_f64() / 20.0);
        }
        flops / best / 1e9
    }

    #[test]
    #[ignore]
    fn time_kernels() {
        let (b, k, m, w) = (256usize, 120usize, 512usize, 121usize);
        let a: Vec<f32> = (0..b * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let p: Vec<f32> = (0..k * m).map(|i| (i % 5) as f32 * 0.01).collect();
        let cst = vec![-1.0f32; m];
        let tiles = pack(&p, k, m);
        let mut l = vec![0.0f32; chunk_len(m, b)];
        let mut vmax = vec![0.0f32; b * LANES];
        let a2: Vec<f32> = (0..b * w).map(|i| (i % 3) as f32 * 0.1).collect();
        let mut acc = vec![0.0f64; w * m];
        let f1 = 2.0 * (b * k * m) as f64;
        let f2 = 2.0 * (b * w * m) as f64;
        let g1 = best(f1, || log_densities(&a, &tiles, &cst, &mut l, &mut vmax));
        let g2 = best(f2, || add_stats(&l, &a2, m, &mut acc));
        let mut hits = Vec::new();
        let mut sums = vec![0.0f32; b * LANES];
        let (shift, thr) = (vec![100.0f32; b], vec![f32::INFINITY; b]);
        let g3 = best(f1, || {
            hits.clear();
            exp_chunk(&mut l, m, &shift, &thr, &mut sums, &mut hits);
        });
        println!("log_densities {g1:.1} GFLOP/s, add_stats {g2:.1} GFLOP/s, exp pass {g3:.1}");
    }
}
