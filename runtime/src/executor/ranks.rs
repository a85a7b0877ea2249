//! A call on MPI ranks (feature `mpi`), written against the
//! [`Transport`](super::transport::Transport) interface: no MPI here, only
//! the steps every rank takes together.
//!
//! SPMD, as daal4py: every rank runs the same program and calls the function
//! with the same arguments; every rank cuts the same plan (checked), runs a
//! contiguous run of its blocks on its own executor (serial or a thread
//! pool), and receives the combined result.
//!
//! Sums, minima and maxima of types that [`pack`](crate::reduce::Reduce::pack)
//! are combined exactly (fixed-point integers), so the result has the same
//! bits for any number of ranks and threads per rank — and the same bits as
//! a run on threads alone.

use std::ops::Range;

use super::transport::{Keep, PAYLOAD};
use super::Ranks;
use crate::plan::{Output, Plan};
use crate::reduce::{Collect, Exact, ExactFolder, Plain, Reduction, Span, Wire};
use crate::wire::{Codec, ErrorOps, RemoteError};

thread_local! {
    /// The buffer of the exact sums' words, kept from call to call (up to
    /// [`KEPT_WORDS`]), so that an iterative algorithm's sums write into
    /// memory already mapped rather than fresh pages every call.
    static SUM_WORDS: std::cell::Cell<Vec<i64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest buffer of sum words kept between calls: 4 Mi words (32 MiB).
const KEPT_WORDS: usize = 1 << 22;

impl Ranks {
    fn rank(&self) -> usize {
        self.transport.rank()
    }

    fn size(&self) -> usize {
        self.transport.size()
    }

    /// Checks that every rank cut the same plan from the same items
    /// (`contents`, a digest of them), and returns this rank's contiguous
    /// run of blocks, balanced by block weight.
    #[track_caller]
    pub(crate) fn assign(
        &self,
        function: &'static str,
        plan: &Plan,
        contents: u64,
    ) -> Range<usize> {
        let mine = [
            plan.len() as u64,
            plan.blocks() as u64,
            plan.digest(),
            contents,
        ];
        let all = self.transport.begin(function, mine);
        let first = &all[0];
        if let Some((rank, other)) = all.iter().enumerate().find(|(_, other)| *other != first) {
            if other[..2] == first[..2] {
                // Same counts: the digests of the plans (bounds and
                // weights) or of the items tell.
                let (what, at) = if other[2] != first[2] {
                    ("item weights and block bounds", 2)
                } else {
                    ("items", 3)
                };
                panic!(
                    "shardkit: `{function}` was called with different split inputs on different MPI ranks: ranks 0 and {rank} both have {} items in {} blocks, but their lists differ (the digests of their {what}, {:016x} and {:016x}, differ); every rank must pass the same arguments (SPMD)",
                    first[0], first[1], first[at], other[at]
                );
            }
            panic!(
                "shardkit: `{function}` was called with different split inputs on different MPI ranks: rank 0 has {} items in {} blocks, rank {rank} has {} items in {} blocks; every rank must pass the same arguments (SPMD)",
                first[0], first[1], other[0], other[1]
            );
        }
        plan.share(self.rank(), self.size())
    }

    /// The number, in the whole call, of this rank's first block when every
    /// rank cut its own data into `blocks` blocks (`data = "local"`):
    /// blocks are numbered across the ranks in rank order.
    pub(crate) fn offset(&self, function: &'static str, blocks: usize) -> usize {
        let all = self.transport.begin(function, [blocks as u64, 0, 0, 0]);
        all[..self.rank()].iter().map(|p| p[0]).sum::<u64>() as usize
    }

    /// Runs this rank's blocks (numbered from `first`) and combines the
    /// results of all ranks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<P: Send, T: Send, E: Send>(
        &self,
        function: &'static str,
        first: usize,
        pieces: Vec<P>,
        shard: &(dyn Fn(P) -> Result<T, E> + Sync),
        reduction: Reduction<T>,
        exact: Option<ExactFolder<T>>,
        errors: ErrorOps<E>,
    ) -> Result<T, E> {
        if let Some(folder) = exact {
            let mine = self.local.execute(first, pieces, shard, &folder);
            let mine = self.agree(function, mine, &errors)?;
            let exact = self.combine_exact(function, &folder, mine);
            return Ok(folder.finish_owned(exact));
        }
        if let Some(make) = reduction.stays {
            // `none`: nothing travels but the verdict on errors.
            let plain = Plain {
                merge: reduction.merge,
            };
            let mine = self.local.execute(first, pieces, shard, &plain);
            return Ok(self.agree(function, mine, &errors)?.unwrap_or_else(make));
        }
        let Some(codec) = reduction.codec else {
            panic!(
                "shardkit: `{function}` returns `{}`, whose values cannot travel between MPI ranks: its reduction is not an exact sum/min/max, so every block's result is sent to every rank; implement `serde::Serialize` and `serde::Deserialize` for it (ndarray arrays, Vec, String and numbers already do)",
                std::any::type_name::<T>(),
            );
        };
        let mine = self.local.execute(first, pieces, shard, &Collect);
        let mine = self.agree(function, mine, &errors)?.unwrap_or_default();
        let bytes = codec.encode_all(mine.iter()).unwrap_or_else(|e| {
            panic!(
                "shardkit: `{function}`: cannot encode this rank's results to send them to the other MPI ranks: {e}"
            )
        });
        drop(mine);
        let all = self.transport.all_gather_bytes(&bytes);
        drop(bytes);
        // Every rank merges every block's result in block order (ranks hold
        // contiguous runs of blocks, in rank order), as one thread would.
        let mut results = all.iter().enumerate().flat_map(|(rank, bytes)| {
            (codec.decode)(bytes).unwrap_or_else(|e| {
                panic!("shardkit: `{function}`: cannot decode the results of MPI rank {rank}: {e}")
            })
        });
        let block_0 = results.next().expect("some rank holds block 0");
        Ok(results.fold(block_0, reduction.merge))
    }

    /// Gives every rank the items the other ranks wrote into an in-place
    /// output: each rank sends the items of its own blocks.
    pub(crate) fn gather_output<O: Output>(
        &self,
        function: &'static str,
        plan: &Plan,
        parameter: &'static str,
        output: &O,
        codec: Option<Codec<O::Elem>>,
    ) {
        let Some(codec) = codec else {
            panic!(
                "shardkit: `{function}` writes `{parameter}` in place, and its items of type `{}` cannot travel between MPI ranks to give every rank the whole output; implement `serde::Serialize` and `serde::Deserialize` for them",
                std::any::type_name::<O::Elem>()
            );
        };
        let items = |rank: usize| plan.items_in(plan.share(rank, self.size()));
        let bytes = output
            .encode(items(self.rank()), &codec)
            .unwrap_or_else(|e| {
                panic!(
                    "shardkit: `{function}`: cannot encode this rank's part of `{parameter}`: {e}"
                )
            });
        let all = self.transport.all_gather_bytes(&bytes);
        for (rank, bytes) in all.iter().enumerate() {
            if rank != self.rank() {
                output
                    .decode(items(rank), bytes, &codec)
                    .unwrap_or_else(|e| {
                        panic!(
                            "shardkit: `{function}`: cannot decode MPI rank {rank}'s part of `{parameter}`: {e}"
                        )
                    });
            }
        }
    }

    /// Rank 0's verdict, on every rank, as the step named `step`
    /// (`write_on_root`, `claim_output`).
    pub(crate) fn broadcast_verdict(
        &self,
        step: &'static str,
        mine: Result<(), String>,
    ) -> Result<(), String> {
        self.transport.begin(step, [0; PAYLOAD]);
        let is_root = self.rank() == 0;
        let mut message = match &mine {
            Err(m) if is_root => m.clone().into_bytes(),
            _ => Vec::new(),
        };
        let mut head = [u64::from(is_root && mine.is_err()), message.len() as u64];
        self.transport.broadcast_u64(0, &mut head);
        if head[0] == 0 {
            return Ok(());
        }
        message.resize(head[1] as usize, 0);
        self.transport.broadcast_bytes(0, &mut message);
        Err(String::from_utf8_lossy(&message).into_owned())
    }

    /// `bytes` of rank `root`, on every rank: their length, then the bytes.
    fn broadcast_sized(&self, root: usize, bytes: &mut Vec<u8>) {
        let mut len = [bytes.len() as u64];
        self.transport.broadcast_u64(root, &mut len);
        bytes.resize(len[0] as usize, 0);
        self.transport.broadcast_bytes(root, bytes);
    }

    /// Makes every rank agree on whether a shard failed anywhere: the first
    /// failure in block order wins; its rank returns its own error, the
    /// others an error built from a [`RemoteError`].
    fn agree<A, E>(
        &self,
        function: &'static str,
        local: Result<Option<A>, (usize, E)>,
        errors: &ErrorOps<E>,
    ) -> Result<Option<A>, E> {
        let mine: [u64; 2] = match &local {
            Ok(_) => [0, u64::MAX],
            Err((block, _)) => [1, *block as u64],
        };
        let all = self.transport.all_gather_u64(&mine);
        let failed = all
            .chunks_exact(2)
            .enumerate()
            .filter(|(_, s)| s[0] == 1)
            .min_by_key(|(_, s)| s[1]);
        let Some((root, status)) = failed else {
            return Ok(local.unwrap_or_else(|_| unreachable!("no rank failed")));
        };
        // The failing rank tells the others what went wrong.
        let is_root = self.rank() == root;
        let mut message = match (&local, errors.describe) {
            (Err((_, e)), Some(describe)) if is_root => describe(e).into_bytes(),
            (Err(_), None) if is_root => b"(the error type has no Display)".to_vec(),
            _ => Vec::new(),
        };
        self.broadcast_sized(root, &mut message);
        // An error that can travel travels as itself (empty: it cannot, or
        // its encoding failed).
        let mut encoded = match (&local, errors.codec) {
            (Err((_, e)), Some(codec)) if is_root => {
                codec.encode_all(std::iter::once(e)).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        if errors.codec.is_some() {
            self.broadcast_sized(root, &mut encoded);
        }
        let remote = RemoteError {
            function: function.to_string(),
            rank: root,
            block: status[1] as usize,
            message: String::from_utf8_lossy(&message).into_owned(),
        };
        let travelled = errors
            .codec
            .filter(|_| !encoded.is_empty())
            .and_then(|codec| (codec.decode)(&encoded).ok())
            .and_then(|mut errors| errors.pop());
        match local {
            Err((_, e)) if is_root => Err(e),
            _ if travelled.is_some() => Err(travelled.expect("checked")),
            _ => match errors.remote {
                Some(from) => Err(from(remote)),
                None => panic!(
                    "shardkit: {remote} (this rank panics because the error type has no `From<shardkit::RemoteError>`)"
                ),
            },
        }
    }

    /// Adds the ranks' exact partial results with one reduction.
    fn combine_exact<T>(
        &self,
        function: &str,
        folder: &ExactFolder<T>,
        local: Option<Exact>,
    ) -> Exact {
        // A rank with no block, or only identities, adopts the shape of the
        // first rank that has a result.
        let mut local = local.filter(|e| !e.same_as(&folder.identity));
        // Each rank's span of its floating-point sums travels with its
        // shape, so that all ranks choose the same narrow layout.
        let (digest, span) = match &local {
            Some(e) => (e.digest(), e.float_span()),
            None => (0, Span::EMPTY),
        };
        let [low, high] = span.to_words();
        let mine = [u64::from(local.is_some()), digest, low, high];
        let all = self.transport.all_gather_u64(&mine);
        let holders: Vec<(usize, &[u64])> = all
            .chunks_exact(4)
            .enumerate()
            .filter(|(_, s)| s[0] == 1)
            .collect();
        let Some(&(template, first)) = holders.first() else {
            return folder.identity.clone();
        };
        if let Some((rank, _)) = holders.iter().find(|(_, s)| s[1] != first[1]) {
            panic!(
                "shardkit: `{function}`: the result on MPI rank {rank} has a different shape from the result on rank {template}; every block must return the same shape"
            );
        }
        let span = holders
            .iter()
            .map(|(_, s)| Span::from_words([s[2], s[3]]))
            .fold(Span::EMPTY, Span::union);
        if holders.len() < self.size() {
            // Ranks without a result take the template's structure.
            let mut description = match &local {
                Some(e) if self.rank() == template => e.description(),
                _ => Vec::new(),
            };
            let mut len = [description.len() as u64];
            self.transport.broadcast_u64(template, &mut len);
            description.resize(len[0] as usize, 0);
            self.transport.broadcast_u64(template, &mut description);
            if local.is_none() {
                local = Some(Exact::neutral(folder.identity.op(), &description));
            }
        }
        let mut exact = local.expect("every rank holds a result or the template's structure");
        // An MPI_SUM on int64 adds the sums of all ranks, exactly: the
        // floating-point ones in the narrowest layout that holds them (see
        // `Wire` in reduce/exact.rs; a second, small one for the numbers
        // whose rounding the first leaves open), the integer ones as limbs.
        let wire = Wire::choose(span, self.size());
        SUM_WORDS.with(|cell| {
            let mut words = cell.take();
            exact.reduce_sums(wire, &mut words, |w| self.transport.all_reduce_sum(w));
            if words.capacity() <= KEPT_WORDS {
                cell.set(words);
            }
        });
        let (mut keys, layout) = exact.key_words();
        let (mins, maxs) = keys.split_at_mut(layout.mins);
        self.transport.all_reduce_keys(mins, Keep::Min);
        self.transport.all_reduce_keys(maxs, Keep::Max);
        exact.set_key_words(&keys);
        exact
    }
}
