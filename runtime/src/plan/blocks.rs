//! Cutting `len` items into blocks, from the data alone.

use std::ops::Range;

/// How many blocks a call cuts its input into when neither `block_size` nor
/// `weights` says otherwise (fewer when there are fewer items).
///
/// The number is fixed, not derived from the number of workers, so that the
/// blocks — and therefore the bits of the result — are the same on any
/// executor. 256 blocks keep 16 workers busy with 16 blocks each.
pub const DEFAULT_BLOCKS: usize = 256;

/// The block boundaries of one call: block `i` holds items
/// `bounds[i]..bounds[i + 1]`.
///
/// There is always at least one block. Empty input gives one empty block,
/// so the body still runs once and returns its own empty result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    bounds: Vec<usize>,
    /// For weighted plans, the total weight before each block boundary
    /// (same length as `bounds`): MPI ranks share blocks by weight.
    cumulative: Option<Vec<u128>>,
}

impl Plan {
    /// Blocks of `block_size` items (the last may be shorter), or, for
    /// `None`, `min(len, DEFAULT_BLOCKS)` blocks whose sizes differ by at
    /// most one.
    ///
    /// # Panics
    ///
    /// If `block_size` is `Some(0)`.
    #[track_caller]
    pub fn even(len: usize, block_size: Option<usize>) -> Plan {
        if let Some(size) = block_size {
            assert!(size > 0, "shardkit: `block_size` must be at least 1");
            let mut bounds: Vec<usize> = (0..len).step_by(size).collect();
            bounds.push(len);
            if bounds.len() == 1 {
                bounds.insert(0, 0);
            }
            return Plan {
                bounds,
                cumulative: None,
            };
        }
        let blocks = len.clamp(1, DEFAULT_BLOCKS);
        let (base, extra) = (len / blocks, len % blocks);
        let mut bounds = Vec::with_capacity(blocks + 1);
        let mut at = 0;
        bounds.push(0);
        for i in 0..blocks {
            at += base + usize::from(i < extra);
            bounds.push(at);
        }
        Plan {
            bounds,
            cumulative: None,
        }
    }

    /// Blocks of nearly equal total weight, one weight per item (e.g. a
    /// file's size in bytes), aiming at `min(len, DEFAULT_BLOCKS)` blocks.
    ///
    /// Items are taken in order; a block closes before an item that would
    /// take it past `total / min(len, DEFAULT_BLOCKS)`, so no block is
    /// heavier than that unless it is one heavy item on its own. All-zero
    /// weights fall back to [`Plan::even`].
    pub fn weighted(weights: &[u64]) -> Plan {
        let len = weights.len();
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        if total == 0 {
            return Plan::even(len, None);
        }
        let blocks = len.clamp(1, DEFAULT_BLOCKS) as u128;
        // Compare `block * blocks` with `total` to avoid rounding the target.
        let mut bounds = vec![0];
        let mut cumulative = vec![0];
        let mut block: u128 = 0;
        let mut before: u128 = 0;
        let mut start = 0;
        for (i, &w) in weights.iter().enumerate() {
            let w = u128::from(w);
            if i > start && (block + w) * blocks > total {
                bounds.push(i);
                cumulative.push(before);
                block = 0;
                start = i;
            }
            block += w;
            before += w;
        }
        bounds.push(len);
        cumulative.push(total);
        Plan {
            bounds,
            cumulative: Some(cumulative),
        }
    }

    /// The number of blocks (at least one).
    pub fn blocks(&self) -> usize {
        self.bounds.len() - 1
    }

    /// The total number of items.
    pub fn len(&self) -> usize {
        *self.bounds.last().expect("a plan has bounds")
    }

    /// Whether the plan covers no item (it still has one, empty, block).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item range of every block, in block order.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = Range<usize>> + '_ {
        self.bounds.windows(2).map(|w| w[0]..w[1])
    }

    /// The item ranges of the blocks numbered `blocks`, in block order.
    pub fn ranges_in(
        &self,
        blocks: Range<usize>,
    ) -> impl ExactSizeIterator<Item = Range<usize>> + '_ {
        self.bounds[blocks.start..=blocks.end]
            .windows(2)
            .map(|w| w[0]..w[1])
    }

    /// The items of the blocks numbered `blocks`.
    pub fn items_in(&self, blocks: Range<usize>) -> Range<usize> {
        self.bounds[blocks.start]..self.bounds[blocks.end]
    }

    /// A digest of the block boundaries (and weights), to check that MPI
    /// ranks cut the same plan.
    pub fn digest(&self) -> u64 {
        // FNV-1a over the bounds: stable across processes and platforms.
        let words = self.bounds.iter().map(|&b| b as u128);
        let weights = self.cumulative.iter().flatten().copied();
        words
            .chain(weights)
            .flat_map(|w| [w as u64, (w >> 64) as u64])
            .fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
                (h ^ w).wrapping_mul(0x0100_0000_01b3)
            })
    }

    /// The contiguous run of blocks of part `part` of `parts` (an MPI rank of
    /// a world), in order, the first part always holding block 0: runs of
    /// nearly equal total weight for weighted plans, of nearly equal item
    /// count otherwise.
    pub fn share(&self, part: usize, parts: usize) -> Range<usize> {
        let at = |i: usize| match &self.cumulative {
            Some(c) => c[i],
            None => self.bounds[i] as u128,
        };
        let total = at(self.blocks());
        let parts = parts as u128;
        // Block i goes to the part in which its first item (or unit of
        // weight) falls; without any, blocks are shared by count.
        let owner = |i: usize| -> usize {
            if total == 0 {
                return (i as u128 * parts / self.blocks() as u128) as usize;
            }
            (at(i) * parts / total) as usize
        };
        let start = (0..self.blocks())
            .find(|&i| owner(i) >= part)
            .unwrap_or(self.blocks());
        let end = (0..self.blocks())
            .find(|&i| owner(i) > part)
            .unwrap_or(self.blocks());
        start.min(end)..end
    }

    /// The sizes of the blocks, in block order.
    pub fn sizes(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.bounds.windows(2).map(|w| w[1] - w[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(plan: &Plan, len: usize) {
        assert_eq!(plan.len(), len);
        assert!(plan.blocks() >= 1);
        let mut at = 0;
        for r in plan.ranges() {
            assert_eq!(r.start, at);
            assert!(r.end > r.start || len == 0, "empty block in {plan:?}");
            at = r.end;
        }
        assert_eq!(at, len);
    }

    #[test]
    fn even_plans_cover_the_input_without_empty_blocks() {
        for len in [0, 1, 2, 3, 7, 255, 256, 257, 1000, 100_000] {
            let plan = Plan::even(len, None);
            check(&plan, len);
            assert_eq!(plan.blocks(), len.clamp(1, DEFAULT_BLOCKS));
            let (min, max) = (plan.sizes().min().unwrap(), plan.sizes().max().unwrap());
            assert!(max - min <= 1);
        }
    }

    #[test]
    fn fixed_block_size() {
        let plan = Plan::even(10, Some(4));
        assert_eq!(plan.sizes().collect::<Vec<_>>(), [4, 4, 2]);
        let plan = Plan::even(0, Some(4));
        assert_eq!(plan.sizes().collect::<Vec<_>>(), [0]);
        check(&Plan::even(8, Some(4)), 8);
    }

    #[test]
    #[should_panic(expected = "`block_size` must be at least 1")]
    fn zero_block_size_is_refused() {
        Plan::even(3, Some(0));
    }

    #[test]
    fn weights_balance_blocks() {
        // One heavy item among light ones gets a block of its own.
        let mut w = vec![1u64; 999];
        w.insert(500, 1_000_000);
        let plan = Plan::weighted(&w);
        check(&plan, 1000);
        assert!(plan.ranges().any(|r| r == (500..501)), "{plan:?}");

        let w: Vec<u64> = (0..1000).map(|i| (i % 7) as u64 + 1).collect();
        let plan = Plan::weighted(&w);
        check(&plan, 1000);
        let total: u64 = w.iter().sum();
        let heaviest = plan
            .ranges()
            .map(|r| w[r].iter().sum::<u64>())
            .max()
            .unwrap();
        assert!(heaviest * DEFAULT_BLOCKS as u64 <= total, "{heaviest}");
        assert!(plan.blocks() <= 2 * DEFAULT_BLOCKS + 1);
    }

    #[test]
    fn weighted_plans_share_by_weight() {
        // The first half of the items is 9 times heavier: an even split of
        // items would give rank 0 nine tenths of the work.
        let w: Vec<u64> = (0..512).map(|i| if i < 256 { 9 } else { 1 }).collect();
        let plan = Plan::weighted(&w);
        let total: u64 = w.iter().sum();
        let mut next = 0;
        for part in 0..2 {
            let share = plan.share(part, 2);
            assert_eq!(share.start, next);
            next = share.end;
            let weight: u64 = w[plan.items_in(share)].iter().sum();
            let off = weight.abs_diff(total / 2);
            assert!(
                off * 20 <= total,
                "part {part} has weight {weight} of {total}"
            );
        }
        assert_eq!(next, plan.blocks());
        // The weights are part of what ranks compare.
        let (a, b) = (Plan::weighted(&[1, 1, 1, 1]), Plan::weighted(&[2, 2, 2, 2]));
        assert_eq!(
            a.ranges().collect::<Vec<_>>(),
            b.ranges().collect::<Vec<_>>()
        );
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn shares_are_contiguous_and_cover_every_block() {
        for (len, parts) in [(0, 3), (1, 4), (5, 2), (1000, 3), (10, 16), (300, 7)] {
            let plan = Plan::even(len, None);
            let mut next = 0;
            for part in 0..parts {
                let share = plan.share(part, parts);
                assert_eq!(share.start, next, "{len} items, part {part} of {parts}");
                next = share.end;
            }
            assert_eq!(next, plan.blocks());
            assert!(plan.share(0, parts).contains(&0));
        }
        let plan = Plan::even(1000, None);
        let sizes: Vec<usize> = (0..4)
            .map(|p| plan.items_in(plan.share(p, 4)).len())
            .collect();
        assert!(sizes.iter().all(|&n| n.abs_diff(250) <= 4), "{sizes:?}");
    }

    #[test]
    fn degenerate_weights() {
        check(&Plan::weighted(&[]), 0);
        check(&Plan::weighted(&[0, 0, 0]), 3);
        check(&Plan::weighted(&[5]), 1);
        check(&Plan::weighted(&[u64::MAX, u64::MAX, 1]), 3);
    }
}
