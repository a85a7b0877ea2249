//! The precisions the E-step runs in: `f32` (fast) and `f64` (checking).

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::linalg::gemm;
use crate::simd::{convert, rows, select};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point type the E-step's products run in: `f32` (the fast
/// path) or `f64` (the same algorithm in double precision, for checking).
/// Implemented for those two only.
pub trait Real:
    sealed::Sealed
    + Copy
    + Default
    + PartialOrd
    + Send
    + Sync
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + 'static
{
    /// `x` rounded to this type.
    #[doc(hidden)]
    fn from_f64(x: f64) -> Self;
    /// This value in `f64` (exact).
    #[doc(hidden)]
    fn to_f64(self) -> f64;
    /// `row[i] += add[i]`, returning the maximum of the new row.
    #[doc(hidden)]
    fn add_max(row: &mut [Self], add: &[Self]) -> Self;
    /// `row[i] = exp(row[i] − shift)`, returning the sum.
    #[doc(hidden)]
    fn exp_sum(row: &mut [Self], shift: Self) -> Self;
    /// `row[i] = exp(row[i] − shift)`; the indices of the elements that
    /// were at least `threshold` go to `out`; returns the sum of the others.
    #[doc(hidden)]
    fn exp_split(row: &mut [Self], shift: Self, threshold: Self, out: &mut Vec<u32>) -> Self;
    /// The number of elements at least `threshold`.
    #[doc(hidden)]
    fn count_ge(row: &[Self], threshold: Self) -> usize;
    /// Appends the indices of the elements at least `threshold`, in
    /// increasing order.
    #[doc(hidden)]
    fn collect_ge(row: &[Self], threshold: Self, out: &mut Vec<u32>);
    /// `a` (`b×2D`) gets `[y², y]`, `y = x − offset`, for the `b×D` frames `x`.
    #[doc(hidden)]
    fn centre(x: &[Self], offset: &[Self], a: &mut [Self]);
    /// `a2` (`b×(2D+1)`) gets each row of `a` times `inv[t]`, then `inv[t]`.
    #[doc(hidden)]
    fn scale(a: &[Self], inv: &[Self], a2: &mut [Self]);
    /// `dst[i] = src[i]` in `f64`.
    #[doc(hidden)]
    fn widen(src: &[Self], dst: &mut [f64]);
    /// `dst[i] += src[i]` in `f64`.
    #[doc(hidden)]
    fn add_to_f64(src: &[Self], dst: &mut [f64]);
    /// `c = a·b` (or `c += a·b` with `add`), single-threaded.
    #[doc(hidden)]
    fn gemm(c: ArrayViewMut2<Self>, add: bool, a: ArrayView2<Self>, b: ArrayView2<Self>);
    /// The same elements as `f32`, for `f32` (the tiled E-step's kernels
    /// are `f32` only); `None` for `f64`.
    #[doc(hidden)]
    fn as_f32(xs: &[Self]) -> Option<&[f32]>;
}

impl Real for f32 {
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn add_max(row: &mut [Self], add: &[Self]) -> Self {
        rows::add_max(row, add)
    }
    #[inline]
    fn exp_sum(row: &mut [Self], shift: Self) -> Self {
        rows::exp_sum(row, shift)
    }
    #[inline]
    fn exp_split(row: &mut [Self], shift: Self, threshold: Self, out: &mut Vec<u32>) -> Self {
        rows::exp_split(row, shift, threshold, out)
    }
    #[inline]
    fn count_ge(row: &[Self], threshold: Self) -> usize {
        select::count_ge(row, threshold)
    }
    #[inline]
    fn collect_ge(row: &[Self], threshold: Self, out: &mut Vec<u32>) {
        select::collect_ge(row, threshold, out)
    }
    #[inline]
    fn centre(x: &[Self], offset: &[Self], a: &mut [Self]) {
        convert::centre(x, offset, a)
    }
    #[inline]
    fn scale(a: &[Self], inv: &[Self], a2: &mut [Self]) {
        convert::scale(a, inv, a2)
    }
    #[inline]
    fn widen(src: &[Self], dst: &mut [f64]) {
        convert::widen(src, dst)
    }
    #[inline]
    fn add_to_f64(src: &[Self], dst: &mut [f64]) {
        rows::add_to_f64(src, dst)
    }
    fn gemm(c: ArrayViewMut2<Self>, add: bool, a: ArrayView2<Self>, b: ArrayView2<Self>) {
        gemm(c, a, b, add)
    }
    #[inline]
    fn as_f32(xs: &[Self]) -> Option<&[f32]> {
        Some(xs)
    }
}

/// The `f64` kernels are plain loops with `f64::exp`: this path exists to
/// check the `f32` one, not to be fast.
impl Real for f64 {
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    fn add_max(row: &mut [Self], add: &[Self]) -> Self {
        assert_eq!(row.len(), add.len());
        let mut max = f64::NEG_INFINITY;
        for (r, a) in row.iter_mut().zip(add) {
            *r += a;
            max = if *r > max { *r } else { max };
        }
        max
    }
    fn exp_sum(row: &mut [Self], shift: Self) -> Self {
        let mut sum = 0.0;
        for r in row {
            *r = (*r - shift).exp();
            sum += *r;
        }
        sum
    }
    fn exp_split(row: &mut [Self], shift: Self, threshold: Self, out: &mut Vec<u32>) -> Self {
        let mut rest = 0.0;
        for (i, r) in row.iter_mut().enumerate() {
            let hit = *r >= threshold;
            *r = (*r - shift).exp();
            if hit {
                out.push(i as u32);
            } else {
                rest += *r;
            }
        }
        rest
    }
    fn count_ge(row: &[Self], threshold: Self) -> usize {
        row.iter().filter(|&&v| v >= threshold).count()
    }
    fn collect_ge(row: &[Self], threshold: Self, out: &mut Vec<u32>) {
        for (i, &v) in row.iter().enumerate() {
            if v >= threshold {
                out.push(i as u32);
            }
        }
    }
    fn centre(x: &[Self], offset: &[Self], a: &mut [Self]) {
        let d = offset.len();
        for (xr, ar) in x.chunks_exact(d).zip(a.chunks_exact_mut(2 * d)) {
            for (j, (&xv, &c)) in xr.iter().zip(offset).enumerate() {
                let y = xv - c;
                ar[j] = y * y;
                ar[d + j] = y;
            }
        }
    }
    fn scale(a: &[Self], inv: &[Self], a2: &mut [Self]) {
        let w = a2.len() / inv.len().max(1);
        for ((ar, a2r), &s) in a.chunks_exact(w - 1).zip(a2.chunks_exact_mut(w)).zip(inv) {
            for (o, &v) in a2r.iter_mut().zip(ar) {
                *o = v * s;
            }
            a2r[w - 1] = s;
        }
    }
    fn widen(src: &[Self], dst: &mut [f64]) {
        dst.copy_from_slice(src);
    }
    fn add_to_f64(src: &[Self], dst: &mut [f64]) {
        assert_eq!(src.len(), dst.len());
        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
    }
    fn gemm(c: ArrayViewMut2<Self>, add: bool, a: ArrayView2<Self>, b: ArrayView2<Self>) {
        gemm(c, a, b, add)
    }
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
}
