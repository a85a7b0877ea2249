//! The `m` points of largest key seen by a block, with their rows: the
//! farthest points (empty-cluster re-seeding) and k-means||'s sample.
//!
//! Order: larger key first; equal keys, lower global index first. The
//! order is total, so the `m` best of a union do not depend on how the
//! points were grouped into blocks.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The kept points of one block, best first: keys, global indices, rows
/// (flattened, `dim` values each). Tuples of vectors, so that the block
/// results can travel between MPI ranks.
pub(crate) type TopRows = (Vec<f64>, Vec<u64>, Vec<f32>);

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: f64,
    index: u64,
    slot: usize,
}

impl Entry {
    /// `Less` when `self` comes before `other` (is better).
    fn rank(&self, other: &Self) -> Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(self.index.cmp(&other.index))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// The heap's top is the worst entry, the first to go.
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// The best `cap` points pushed so far.
#[derive(Debug, Clone)]
pub(crate) struct Top {
    cap: usize,
    dim: usize,
    heap: BinaryHeap<Entry>,
    rows: Vec<f32>,
}

impl Top {
    pub(crate) fn new(cap: usize, dim: usize) -> Self {
        Self {
            cap,
            dim,
            heap: BinaryHeap::with_capacity(cap.min(1 << 16)),
            rows: Vec::new(),
        }
    }

    /// Offers a point.
    #[inline]
    pub(crate) fn push(&mut self, key: f64, index: u64, row: impl FnOnce(&mut [f32])) {
        if self.cap == 0 {
            return;
        }
        let mut entry = Entry {
            key,
            index,
            slot: self.heap.len(),
        };
        if self.heap.len() < self.cap {
            self.rows.resize(self.rows.len() + self.dim, 0.0);
        } else {
            let worst = *self.heap.peek().expect("full heap");
            if entry.rank(&worst) != Ordering::Less {
                return;
            }
            self.heap.pop();
            entry.slot = worst.slot;
        }
        row(&mut self.rows[entry.slot * self.dim..][..self.dim]);
        self.heap.push(entry);
    }

    /// The kept points, best first.
    pub(crate) fn finish(self) -> TopRows {
        let mut entries = self.heap.into_vec();
        entries.sort_by(Entry::rank);
        let mut rows = Vec::with_capacity(entries.len() * self.dim);
        for e in &entries {
            rows.extend_from_slice(&self.rows[e.slot * self.dim..][..self.dim]);
        }
        (
            entries.iter().map(|e| e.key).collect(),
            entries.iter().map(|e| e.index).collect(),
            rows,
        )
    }
}

/// The best `cap` points of several blocks' kept points, best first:
/// `(key, global index, row)`.
pub(crate) fn merge(blocks: Vec<TopRows>, dim: usize, cap: usize) -> Vec<(f64, u64, Vec<f32>)> {
    let mut all: Vec<(f64, u64, Vec<f32>)> = Vec::new();
    for (keys, index, rows) in blocks {
        for (i, (k, ix)) in keys.into_iter().zip(index).enumerate() {
            all.push((k, ix, rows[i * dim..][..dim].to_vec()));
        }
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all.truncate(cap);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_whatever_the_grouping() {
        let keys = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0];
        let one = {
            let mut t = Top::new(4, 1);
            for (i, &k) in keys.iter().enumerate() {
                t.push(k, i as u64, |r| r[0] = i as f32);
            }
            merge(vec![t.finish()], 1, 4)
        };
        let split = {
            let mut parts = Vec::new();
            for chunk in [0..3, 3..7, 7..10] {
                let mut t = Top::new(4, 1);
                for i in chunk {
                    t.push(keys[i], i as u64, |r| r[0] = i as f32);
                }
                parts.push(t.finish());
            }
            merge(parts, 1, 4)
        };
        let got: Vec<(f64, u64)> = one.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(got, [(9.0, 5), (6.0, 7), (5.0, 4), (5.0, 8)]);
        assert_eq!(one, split);
        assert!(one.iter().all(|e| e.2[0] == e.1 as f32));
    }
}
