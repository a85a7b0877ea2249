//! Element-wise conversions around the E-step's GEMMs: centring frames
//! into `[y², y]`, scaling rows by the posteriors' normalisers, and
//! widening `f32` to `f64`. No reductions: every level gives the same bits.

use super::dispatch;

/// For each of the `b` frames of `x` (`b×D` row-major): `y = x − offset`,
/// and the frame's row of `a` (`b×2D`) is `[y², y]`.
#[inline(always)]
fn centre_body(x: &[f32], offset: &[f32], a: &mut [f32]) {
    let d = offset.len();
    for (xr, ar) in x.chunks_exact(d).zip(a.chunks_exact_mut(2 * d)) {
        let (sq, lin) = ar.split_at_mut(d);
        for (((&xv, &c), s), l) in xr.iter().zip(offset).zip(sq).zip(lin) {
            let y = xv - c;
            *s = y * y;
            *l = y;
        }
    }
}

/// For each of the `b` frames: the frame's row of `a2` (`b×(2D+1)`) is its
/// row of `a` (`b×2D`) times `inv[t]`, then `inv[t]`.
#[inline(always)]
fn scale_body(a: &[f32], inv: &[f32], a2: &mut [f32]) {
    let w = a2.len() / inv.len().max(1);
    for ((ar, a2r), &s) in a.chunks_exact(w - 1).zip(a2.chunks_exact_mut(w)).zip(inv) {
        let (head, last) = a2r.split_at_mut(w - 1);
        for (o, &v) in head.iter_mut().zip(ar) {
            *o = v * s;
        }
        last[0] = s;
    }
}

#[inline(always)]
fn widen_body(src: &[f32], dst: &mut [f64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f64::from(s);
    }
}

/// For one frame `x` (`D`, `f64`): `u = [y, y²]` (`2D`) with
/// `y = x − offset`.
#[inline(always)]
fn expand_body(x: &[f64], offset: &[f64], u: &mut [f64]) {
    let d = x.len();
    assert!(offset.len() == d && u.len() == 2 * d);
    let (uy, usq) = u.split_at_mut(d);
    for (((&v, &c), a), b) in x.iter().zip(offset).zip(uy).zip(usq) {
        let y = v - c;
        *a = y;
        *b = y * y;
    }
}

dispatch! {
    /// `a` (`b×2D`) gets `[y², y]` with `y = x − offset` for each of the
    /// `b` frames of `x` (`b×D`, row-major).
    pub(crate) fn centre(x: &[f32], offset: &[f32], a: &mut [f32]) {
        portable => centre_body(x, offset, a),
        avx2 => centre_body(x, offset, a),
        avx512 => centre_body(x, offset, a),
    }
}

dispatch! {
    /// `a2` (`b×(2D+1)`) gets each row of `a` (`b×2D`) times `inv[t]`, then
    /// `inv[t]`.
    pub(crate) fn scale(a: &[f32], inv: &[f32], a2: &mut [f32]) {
        portable => scale_body(a, inv, a2),
        avx2 => scale_body(a, inv, a2),
        avx512 => scale_body(a, inv, a2),
    }
}

dispatch! {
    /// `dst[i] = src[i]` in `f64`.
    pub(crate) fn widen(src: &[f32], dst: &mut [f64]) {
        portable => widen_body(src, dst),
        avx2 => widen_body(src, dst),
        avx512 => widen_body(src, dst),
    }
}

dispatch! {
    /// For one frame `x` (`D`): `u = [y, y²]` with `y = x − offset`, in
    /// `f64`.
    ///
    /// # Panics
    ///
    /// If `offset` is not `D` long, or `u` not `2D`.
    pub(crate) fn expand(x: &[f64], offset: &[f64], u: &mut [f64]) {
        portable => expand_body(x, offset, u),
        avx2 => expand_body(x, offset, u),
        avx512 => expand_body(x, offset, u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at, levels};

    #[test]
    fn every_level_gives_the_same_bits() {
        let d = 13;
        let x: Vec<f32> = (0..5 * d).map(|i| (i as f32 * 0.37).sin() * 30.0).collect();
        let offset: Vec<f32> = (0..d).map(|i| i as f32 - 6.0).collect();
        let inv: Vec<f32> = (0..5).map(|i| 1.0 / (i as f32 + 1.5)).collect();
        let x64: Vec<f64> = x[..d].iter().map(|&v| f64::from(v) + 0.1).collect();
        let off64: Vec<f64> = offset.iter().map(|&v| f64::from(v)).collect();
        let run = || {
            let mut a = vec![0.0f32; 5 * 2 * d];
            centre(&x, &offset, &mut a);
            let mut a2 = vec![0.0f32; 5 * (2 * d + 1)];
            scale(&a, &inv, &mut a2);
            let mut w = vec![0.0f64; x.len()];
            widen(&x, &mut w);
            let mut u = vec![0.0f64; 2 * d];
            expand(&x64, &off64, &mut u);
            (a, a2, w, u)
        };
        let first = run();
        let y = x[d + 2] - offset[2];
        assert_eq!(first.0[2 * d + 2], y * y);
        assert_eq!(first.0[2 * d + d + 2], y);
        assert_eq!(first.1[(2 * d + 1) + 2 * d], inv[1]);
        for level in levels() {
            assert!(at(level, run) == first, "{level:?}");
        }
    }
}
