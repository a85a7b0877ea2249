//! Small dense kernels shared by the algorithms: an f32 GEMM (faer, one
//! thread — shardkit's blocks give the parallelism).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

/// `c = a · b` in f32, on the calling thread. Any strides.
///
/// # Panics
///
/// If the shapes do not agree (`a`: m × k, `b`: k × n, `c`: m × n).
pub(crate) fn gemm_f32(
    mut c: ArrayViewMut2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && c.dim() == (m, n),
        "gemm shapes: a {:?}, b {:?}, c {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
    let (sc0, sc1) = (sc[0], sc[1]);
    // SAFETY: pointers, shapes and strides come from live ndarray views of
    // exactly these shapes; `c` is borrowed mutably for the call and cannot
    // alias `a` or `b`.
    unsafe {
        let a = MatRef::from_raw_parts(a.as_ptr(), m, k, sa[0], sa[1]);
        let b = MatRef::from_raw_parts(b.as_ptr(), k, n, sb[0], sb[1]);
        let c = MatMut::from_raw_parts_mut(c.as_mut_ptr(), m, n, sc0, sc1);
        matmul(c, Accum::Replace, a, b, 1.0f32, Par::Seq);
    }
}
