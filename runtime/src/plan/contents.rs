//! What MPI ranks compare of a split parameter's items: a digest, so that
//! ranks that passed different lists of the same length (two file lists,
//! say) are told that the lists differ, not only that their lengths agree.
//!
//! Items are hashed with their `Hash` impl where the item type has one
//! (paths, strings, integers; the call site probes for it); float slices,
//! arrays and in-place outputs have nothing to compare beyond the plan. A
//! `Range<usize>` is compared by its bounds. Only MPI calls with data that
//! every rank passes whole (`data = "same"`) compute it.

use std::hash::{Hash, Hasher};
use std::ops::Range;

use super::split::{Items, MutRows, MutSlice, Rows};
use crate::wire::Probe;

/// FNV-1a over the words that `Hash` impls write (eight bytes at a time,
/// so that a long list costs one multiplication per word): the same digest
/// in every process, whatever its address-space layout or hash seed.
#[derive(Debug, Clone)]
pub struct ItemHasher(u64);

impl ItemHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x0100_0000_01b3);
    }
}

impl Default for ItemHasher {
    fn default() -> Self {
        ItemHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for ItemHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = words.remainder();
        last[..rest.len()].copy_from_slice(rest);
        // The length, so that trailing zero bytes still count.
        self.mix(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }
}

/// A split parameter's items, as MPI ranks compare them.
pub trait Contents {
    /// The item type whose `Hash` impl the digest uses.
    type Item;
    /// A digest of the items, each hashed with `hash` where the item type
    /// has one; 0 where there is nothing to compare.
    fn digest(&self, hash: Option<fn(&Self::Item, &mut ItemHasher)>) -> u64;
}

fn digest_of<T>(items: &[T], hash: Option<fn(&T, &mut ItemHasher)>) -> u64 {
    let Some(hash) = hash else { return 0 };
    let mut hasher = ItemHasher::default();
    for item in items {
        hash(item, &mut hasher);
    }
    hasher.finish()
}

impl<T> Contents for Items<&[T]> {
    type Item = T;
    fn digest(&self, hash: Option<fn(&T, &mut ItemHasher)>) -> u64 {
        digest_of(self.0, hash)
    }
}

impl<T> Contents for Items<Vec<T>> {
    type Item = T;
    fn digest(&self, hash: Option<fn(&T, &mut ItemHasher)>) -> u64 {
        digest_of(&self.0, hash)
    }
}

impl<T> Contents for Items<&Vec<T>> {
    type Item = T;
    fn digest(&self, hash: Option<fn(&T, &mut ItemHasher)>) -> u64 {
        digest_of(self.0, hash)
    }
}

impl Contents for Items<Range<usize>> {
    type Item = ();
    fn digest(&self, _: Option<fn(&(), &mut ItemHasher)>) -> u64 {
        let mut hasher = ItemHasher::default();
        hasher.write_u64(self.0.start as u64);
        hasher.write_u64(self.0.end as u64);
        hasher.finish()
    }
}

macro_rules! nothing_to_compare {
    ($($source:ty),* $(,)?) => {$(
        impl<'a, T> Contents for $source {
            type Item = ();
            fn digest(&self, _: Option<fn(&(), &mut ItemHasher)>) -> u64 {
                0
            }
        }
    )*};
}

// In-place outputs hold what the call will write, not its input.
nothing_to_compare!(Items<MutSlice<'a, T>>);

impl<A, D: ndarray::Dimension> Contents for Rows<ndarray::ArrayView<'_, A, D>> {
    type Item = ();
    fn digest(&self, _: Option<fn(&(), &mut ItemHasher)>) -> u64 {
        0
    }
}

impl<A, D: ndarray::Dimension> Contents for Rows<MutRows<'_, A, D>> {
    type Item = ();
    fn digest(&self, _: Option<fn(&(), &mut ItemHasher)>) -> u64 {
        0
    }
}

impl<A, D: ndarray::Dimension> Contents for Rows<&ndarray::Array<A, D>> {
    type Item = ();
    fn digest(&self, _: Option<fn(&(), &mut ItemHasher)>) -> u64 {
        0
    }
}

impl<A, D: ndarray::Dimension> Contents for Rows<ndarray::Array<A, D>> {
    type Item = ();
    fn digest(&self, _: Option<fn(&(), &mut ItemHasher)>) -> u64 {
        0
    }
}

/// Chosen when `T: Hash` (an autoref probe: see `wire/probe.rs`).
pub trait ViaHash<T> {
    /// `Some` hash of one item.
    fn hasher(&self) -> Option<fn(&T, &mut ItemHasher)>;
}

impl<T: Hash> ViaHash<T> for Probe<T> {
    fn hasher(&self) -> Option<fn(&T, &mut ItemHasher)> {
        Some(|item, hasher| item.hash(hasher))
    }
}

/// Chosen otherwise.
pub trait NoHash<T> {
    /// `None`.
    fn hasher(&self) -> Option<fn(&T, &mut ItemHasher)>;
}

impl<T> NoHash<T> for &Probe<T> {
    fn hasher(&self) -> Option<fn(&T, &mut ItemHasher)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn hash<T: Hash>(t: &T, h: &mut ItemHasher) {
        t.hash(h);
    }

    #[test]
    fn lists_of_the_same_length_differ_by_content() {
        let a = [PathBuf::from("a.wav"), PathBuf::from("b.wav")];
        let b = [PathBuf::from("a.wav"), PathBuf::from("c.wav")];
        let d = |x: &[PathBuf]| Items(x).digest(Some(hash::<PathBuf>));
        assert_eq!(d(&a), d(&a.clone()));
        assert_ne!(d(&a), d(&b));
        assert_eq!(Items(&a[..]).digest(None), 0);
        let n = |x: &[u64]| Items(x).digest(Some(hash::<u64>));
        assert_ne!(n(&[1, 2]), n(&[2, 1]));
        let s = |x: &[&str]| Items(x).digest(Some(hash::<&str>));
        assert_ne!(s(&["ab", "c"]), s(&["a", "bc"]));
        assert_ne!(s(&["abcdefgh\0"]), s(&["abcdefgh"]));
        assert_ne!(Items(0..10).digest(None), Items(10..20).digest(None));
    }
}
