//! Buffers that a kernel keeps on each thread between its calls, so that a
//! hot loop over blocks does not allocate (and page-fault) its scratch
//! afresh for every block.

use std::any::Any;
use std::cell::RefCell;

use ndarray::ArrayViewMut2;

thread_local! {
    /// This thread's scratch values, at most one of each type at rest.
    static SLOTS: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch value of type `S` (its
/// `Default` the first time), and keeps it for the thread's next call. A
/// nested call for the same type, while the outer one holds it, gets a
/// fresh value.
pub(crate) fn with_scratch<S: Default + 'static, R>(f: impl FnOnce(&mut S) -> R) -> R {
    let taken = SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        let at = slots.iter().position(|s| s.is::<S>());
        at.map(|i| slots.swap_remove(i))
    });
    let mut scratch: Box<S> = taken.and_then(|s| s.downcast().ok()).unwrap_or_default();
    let out = f(&mut scratch);
    SLOTS.with(|slots| slots.borrow_mut().push(scratch));
    out
}

/// A `rows × cols` view of `buf` (grown as needed; contents unspecified)
/// whose rows each start on a cache line (64 bytes): the row stride is
/// `cols` rounded up to whole lines, plus one line when that is an even
/// number of lines, so that walking down a column touches every cache set
/// (a power-of-two stride would reuse a few sets and evict the rest).
///
/// For kernels that read or write one cache line per row: unaligned, each
/// such access would touch two lines.
pub(crate) fn aligned_rows(buf: &mut Vec<f64>, rows: usize, cols: usize) -> ArrayViewMut2<'_, f64> {
    const LINE: usize = 64 / std::mem::size_of::<f64>();
    let mut stride = cols.div_ceil(LINE) * LINE;
    if (stride / LINE).is_multiple_of(2) {
        stride += LINE;
    }
    buf.resize(rows * stride + LINE, 0.0);
    let misaligned = (buf.as_ptr() as usize % 64) / std::mem::size_of::<f64>();
    let offset = (LINE - misaligned) % LINE;
    let len = rows * stride;
    let view = ArrayViewMut2::from_shape((rows, stride), &mut buf[offset..offset + len])
        .expect("rows × stride elements");
    view.slice_move(ndarray::s![.., ..cols])
}

#[cfg(test)]
mod tests {
    use super::{aligned_rows, with_scratch};

    #[test]
    fn aligned_rows_start_on_cache_lines() {
        let mut buf = Vec::new();
        for (rows, cols) in [(3, 1), (5, 8), (4, 16), (7, 100), (2, 0)] {
            let mut v = aligned_rows(&mut buf, rows, cols);
            assert_eq!(v.dim(), (rows, cols));
            let stride = v.strides()[0] as usize;
            if cols > 0 {
                assert!(stride >= cols && stride.is_multiple_of(8) && (stride / 8) % 2 == 1);
            }
            for mut row in v.rows_mut() {
                assert_eq!(row.as_mut_ptr() as usize % 64, 0);
                row.fill(1.0);
            }
        }
    }

    #[test]
    fn kept_per_type_and_fresh_when_nested() {
        with_scratch(|v: &mut Vec<u8>| v.push(1));
        with_scratch(|s: &mut String| s.push('a'));
        with_scratch(|v: &mut Vec<u8>| {
            assert_eq!(*v, [1]);
            with_scratch(|inner: &mut Vec<u8>| assert!(inner.is_empty()));
        });
        with_scratch(|s: &mut String| assert_eq!(s, "a"));
    }
}
