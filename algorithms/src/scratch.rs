//! Buffers that a kernel keeps on each thread between its calls, so that a
//! hot loop over blocks does not allocate (and page-fault) its scratch
//! afresh for every block.

use std::any::Any;
use std::cell::RefCell;

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

#[cfg(test)]
mod tests {
    use super::with_scratch;

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
