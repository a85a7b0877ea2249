//! [`TvConfig`]: how total-variability EM runs, checked before it starts.

use super::errors::TvParamsError;
use crate::linalg::packed_len;

/// How total-variability EM runs: a builder whose setters take and return
/// it by value; [`train_tv`](super::train_tv) and [`tv_em`](super::tv_em)
/// check it first ([`TvConfig::check`]).
///
/// Defaults: rank 100, 10 iterations, minimum divergence on, seed 0,
/// initial scale 0.1, 1 GiB for the per-session posteriors.
///
/// ```
/// use shardkit_algorithms::ivector::{TvConfig, TvParamsError};
///
/// let config = TvConfig::new(400).iterations(5).seed(7);
/// assert_eq!(config.rank(), 400);
/// assert!(config.check().is_ok());
/// assert_eq!(TvConfig::new(0).check(), Err(TvParamsError::Rank));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TvConfig {
    pub(crate) rank: usize,
    pub(crate) iterations: usize,
    pub(crate) min_divergence: bool,
    pub(crate) seed: u64,
    pub(crate) init_scale: f64,
    pub(crate) memory: usize,
    pub(crate) communication: TvCommunication,
}

impl Default for TvConfig {
    fn default() -> Self {
        TvConfig {
            rank: 100,
            iterations: 10,
            min_divergence: true,
            seed: 0,
            init_scale: 0.1,
            memory: 1 << 30,
            communication: TvCommunication::Auto,
        }
    }
}

impl TvConfig {
    /// The defaults, with i-vectors of dimension `rank`.
    pub fn new(rank: usize) -> Self {
        TvConfig {
            rank,
            ..Self::default()
        }
    }

    /// EM iterations (default 10).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Apply the minimum-divergence step after each M-step (default
    /// `true`): `T ← T·G` with `G·Gᵀ = (1/S) Σ_s E[w_s w_sᵀ]`, so that the
    /// i-vectors' second moment over the training set stays the prior's
    /// `I`. It speeds up convergence and never lowers the likelihood.
    pub fn min_divergence(mut self, apply: bool) -> Self {
        self.min_divergence = apply;
        self
    }

    /// Seed of the random initial `T` (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Scale of the random initial `T`, relative to the UBM's standard
    /// deviations (default 0.1; see
    /// [`TvModel::random`](super::TvModel::random)).
    pub fn init_scale(mut self, scale: f64) -> Self {
        self.init_scale = scale;
        self
    }

    /// Bytes the per-session posteriors of one pass may take (default
    /// 1 GiB): `8·(R + R(R+1)/2)` per session; sessions are processed in
    /// chunks that fit (plus at most 16 sessions' worth of second moments,
    /// `128·R(R+1)/2` bytes, of padding that aligns their rows to cache
    /// lines). The `C × R(R+1)/2` and `C·D × R` accumulators are held
    /// once, beside it.
    pub fn memory(mut self, bytes: usize) -> Self {
        self.memory = bytes;
        self
    }

    /// How each iteration's accumulators come together across MPI ranks
    /// (default [`TvCommunication::Auto`]). Every choice gives the same
    /// bits.
    pub fn communication(mut self, how: TvCommunication) -> Self {
        self.communication = how;
        self
    }

    /// The i-vector dimension `R`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of EM iterations.
    pub fn n_iterations(&self) -> usize {
        self.iterations
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// [`TvParamsError::Rank`] for a rank of 0,
    /// [`TvParamsError::InitScale`] for a scale that is not a positive
    /// number, [`TvParamsError::Memory`] when `memory` cannot hold one
    /// session's posterior.
    pub fn check(&self) -> Result<(), TvParamsError> {
        if self.rank == 0 {
            return Err(TvParamsError::Rank);
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return Err(TvParamsError::InitScale(self.init_scale));
        }
        check_memory(self.memory, self.rank)
    }
}

/// Checks that `memory` bytes hold one session's posterior at `rank`.
pub(crate) fn check_memory(memory: usize, rank: usize) -> Result<(), TvParamsError> {
    let needed = 8 * (packed_len(rank) + rank);
    if memory < needed {
        return Err(TvParamsError::Memory {
            bytes: memory,
            needed,
            rank,
        });
    }
    Ok(())
}

/// How an EM iteration's M-step accumulators `A` (`C × K`, `K =
/// R(R+1)/2`) and `C` (`C·D × R`) come together when the sessions are
/// spread over MPI ranks. Both ways cut the sessions into the same groups
/// (256 sessions from the first, fewer when [`TvConfig::memory`] holds
/// fewer posteriors), compute every group's products with the same
/// operands and add them exactly, so they give the same bits, on any
/// number of threads and ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TvCommunication {
    /// [`TvTraffic::choose`] decides from the sizes, every iteration.
    #[default]
    Auto,
    /// Every session's posterior (`E[w]` and packed `E[w wᵀ]`) is written
    /// in place and gathered to every rank; then `A` and `C` are computed
    /// split by entries and components, and gathered. Each rank receives
    /// `8·(R + K + 1)` bytes per session of the other ranks: it grows with
    /// the sessions. It holds one exact sum (48 bytes) per accumulator
    /// number, and no per-worker copy.
    Gather,
    /// Every rank sums its own groups' contributions to `A` and `C`, and
    /// the ranks add those sums exactly (SIDEKIT's MPI design, made
    /// reproducible): at most `16·(C·K + C·D·R + R + K + 1) + 48` bytes
    /// each way per rank, whatever the number of sessions. Each worker
    /// holds a group's
    /// contribution and the running exact sums: about 112 bytes per
    /// accumulator number.
    Reduce,
}

/// Bytes of one `f64` of shardkit's exact sums as the ranks' all-reduces
/// move it, at most, when the partial sums span less than 126 bits
/// (`shardkit::exact_sum_bytes`: one word, and one more for a total whose
/// rounding the first leaves open; TV's accumulators leave most open).
pub(crate) const EXACT_BYTES: u64 = 16;

/// Bytes of one integer of an exact sum (six words).
const EXACT_INT_BYTES: u64 = 48;

/// Bytes an exact sum holds per number (six 64-bit limbs).
const EXACT_HELD: u64 = 48;

/// What each [`TvCommunication`] costs one rank per EM iteration, from the
/// sizes alone (so that every rank makes the same choice): the rule
/// [`TvCommunication::Auto`] applies.
///
/// ```
/// use shardkit_algorithms::ivector::{TvCommunication, TvTraffic};
///
/// // NIST-sized: 2048 components, 60 dimensions, rank 400, 60,000
/// // sessions on 16 ranks.
/// let t = TvTraffic::new(60_000, 2048, 60, 400, 16);
/// assert!(t.reduce_bytes < t.gather_bytes / 3);
/// // A worker of the reduction holds ~24 GB at this size: with the
/// // default budget of 1 GiB the posteriors are gathered instead.
/// assert_eq!(t.choose(1 << 30), TvCommunication::Gather);
/// assert_eq!(t.choose(32 << 30), TvCommunication::Reduce);
/// // One rank: nothing travels, and gathering in place needs less memory.
/// let one = TvTraffic::new(60_000, 2048, 60, 400, 1);
/// assert_eq!(one.choose(32 << 30), TvCommunication::Gather);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TvTraffic {
    /// Ranks.
    pub ranks: usize,
    /// Bytes a rank receives when gathering: the other ranks' posteriors
    /// (`8·(R + K + 1)` per session) and their parts of `A` and `C`
    /// (`8·(C·K + C·D·R)·(P − 1)/P`).
    pub gather_bytes: u64,
    /// Bytes a rank sends (and receives) when reducing, at most: the exact
    /// sums of `A`, `C` and the posterior sums,
    /// `16·(C·K + C·D·R + R + K + 1) + 48` (the sums of `E[w]`, `E[w wᵀ]`
    /// and the objective, and the session count).
    pub reduce_bytes: u64,
    /// Bytes each worker of the reduction holds: a group's contribution in
    /// `f64` and as exact sums, `56·(C·K + C·D·R)`, and as much again for
    /// the running sum it may be folding into.
    pub reduce_memory: u64,
}

impl TvTraffic {
    /// The costs for `sessions` sessions, `components` × `dim` statistics
    /// and rank `rank` on `ranks` ranks.
    pub fn new(
        sessions: usize,
        components: usize,
        dim: usize,
        rank: usize,
        ranks: usize,
    ) -> TvTraffic {
        let (s, c, d, r) = (sessions as u64, components as u64, dim as u64, rank as u64);
        let p = ranks.max(1) as u64;
        let k = packed_len(rank) as u64;
        let accumulators = c * k + c * d * r;
        let others = s - s / p;
        TvTraffic {
            ranks: ranks.max(1),
            gather_bytes: if p == 1 {
                0
            } else {
                8 * others * (r + k + 1) + 8 * accumulators * (p - 1) / p
            },
            reduce_bytes: if p == 1 {
                0
            } else {
                EXACT_BYTES * (accumulators + r + k + 1) + EXACT_INT_BYTES
            },
            reduce_memory: 2 * (8 + EXACT_HELD) * accumulators,
        }
    }

    /// The rule of [`TvCommunication::Auto`]: reduce when there are
    /// several ranks, the reduction moves fewer bytes than gathering, and
    /// a worker's share of it fits `memory` (the [`TvConfig::memory`]
    /// budget); gather otherwise.
    pub fn choose(&self, memory: usize) -> TvCommunication {
        if self.ranks > 1
            && self.reduce_bytes < self.gather_bytes
            && self.reduce_memory <= memory as u64
        {
            TvCommunication::Reduce
        } else {
            TvCommunication::Gather
        }
    }
}
