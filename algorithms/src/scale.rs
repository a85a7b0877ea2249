//! A model of what a training run costs each MPI rank: flops, bytes moved,
//! memory, and the time of an iteration on a stated cluster.
//!
//! It answers the questions an HPC engineer asks before `mpirun` on many
//! nodes — how much does each rank hold, what crosses the network per
//! iteration, where does adding ranks stop paying — from the sizes alone,
//! for the passes shardkit runs (UBM EM, total-variability EM gathering or
//! reducing, see [`TvCommunication`]) and, beside them, SIDEKIT's MPI
//! total-variability EM at the same sizes. `docs/scaling.md` tabulates it
//! at NIST size; the `scale_model` example prints it for any sizes.
//!
//! **Bytes** are payload as shardkit's counters count them
//! ([`shardkit::comm_counts`]): what a rank receives of the data its
//! collectives exchange (gathered outputs, summed accumulators). The
//! per-call control messages (a few dozen bytes: the call's identity and
//! plan check) are left out. For gathering passes the prediction is exact
//! (each rank's share is the runtime's [`Plan`] share, encoded as a length
//! and 8 bytes per `f64`); `measure_tv --check-model` compares it with
//! the counters.
//!
//! **Time** is flops at the rank's GEMM rate plus the network's share: a
//! ring all-reduce or all-gather moves `2·(P − 1)/P` (all-reduce) or
//! `(P − 1)/P` (all-gather) of the buffer through each rank's link, plus
//! `2·(P − 1)` or `P − 1` latencies. It ignores overlap, imbalance and
//! the exponentials and factorisations that run below the GEMM rate, so
//! it is a floor: measured iterations here ran at 30–60 % of the GEMM peak
//! (see the README).

use shardkit::Plan;

use crate::ivector::TvCommunication;

/// The machine a run is planned for: one MPI rank per node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// The f64 GEMM rate of one rank (all its cores), GFLOP/s.
    pub rank_gflops: f64,
    /// The network bandwidth per rank, GB/s.
    pub bandwidth_gbs: f64,
    /// The latency of one message, µs.
    pub latency_us: f64,
}

impl Cluster {
    /// A 2024-era CPU cluster: 32-core nodes at 1.5 TFLOP/s f64, 100 Gb/s
    /// InfiniBand (12.5 GB/s), 2 µs latency.
    pub fn infiniband() -> Cluster {
        Cluster {
            rank_gflops: 1500.0,
            bandwidth_gbs: 12.5,
            latency_us: 2.0,
        }
    }
}

/// The sizes of a total-variability training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TvSizes {
    /// Training sessions `S`.
    pub sessions: usize,
    /// UBM components `C`.
    pub components: usize,
    /// Feature dimension `D`.
    pub dim: usize,
    /// Rank `R` of `T`.
    pub rank: usize,
}

impl TvSizes {
    /// NIST SRE size: 60,000 sessions, C = 2048, D = 60, R = 400.
    pub fn nist() -> TvSizes {
        TvSizes {
            sessions: 60_000,
            components: 2048,
            dim: 60,
            rank: 400,
        }
    }

    fn k(&self) -> u64 {
        let r = self.rank as u64;
        r * (r + 1) / 2
    }
}

/// What one iteration of a pass costs one rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankCost {
    /// Floating-point operations of the rank.
    pub flops: f64,
    /// Bytes the rank receives through its collectives (see the module
    /// docs).
    pub bytes: u64,
    /// Of [`bytes`](RankCost::bytes), those of gathered outputs: exact
    /// predictions of the counters (the rest, exact sums, is a bound).
    pub gathered: u64,
    /// Bytes the rank holds (its largest arrays).
    pub memory: u64,
    /// Seconds of the iteration on the cluster (a floor: see the module
    /// docs).
    pub seconds: f64,
}

/// Bytes of `n` `f64`s as the runtime's codec sends them: a postcard
/// sequence (its length as a varint, then 8 bytes each).
pub fn encoded_f64s(n: u64) -> u64 {
    let mut varint = 1;
    let mut rest = n >> 7;
    while rest > 0 {
        varint += 1;
        rest >>= 7;
    }
    varint + 8 * n
}

/// What a rank receives when a pass over `len` items cut in blocks of
/// `block` writes `per_item` `f64`s per item into each of `outputs`
/// outputs and every rank gathers the others' items: the runtime's own
/// plan share and encoding.
pub fn gathered_bytes(
    len: usize,
    block: usize,
    per_item: &[u64],
    ranks: usize,
    rank: usize,
) -> u64 {
    let plan = Plan::even(len, Some(block));
    (0..ranks)
        .filter(|&other| other != rank)
        .map(|other| {
            let items = plan.items_in(plan.share(other, ranks)).len() as u64;
            per_item
                .iter()
                .map(|&each| encoded_f64s(items * each))
                .sum::<u64>()
        })
        .sum()
}

/// Seconds of a ring all-reduce of `bytes` on `p` ranks.
fn allreduce_seconds(bytes: f64, p: f64, cluster: &Cluster) -> f64 {
    if p <= 1.0 {
        return 0.0;
    }
    2.0 * (p - 1.0) / p * bytes / (cluster.bandwidth_gbs * 1e9)
        + 2.0 * (p - 1.0) * cluster.latency_us * 1e-6
}

/// Seconds of a ring all-gather in which each rank ends with `total`
/// bytes, on `p` ranks.
fn allgather_seconds(total: f64, p: f64, cluster: &Cluster) -> f64 {
    if p <= 1.0 {
        return 0.0;
    }
    (p - 1.0) / p * total / (cluster.bandwidth_gbs * 1e9) + (p - 1.0) * cluster.latency_us * 1e-6
}

/// Flops of one total-variability EM iteration, all ranks together: the
/// GEMMs (precisions and `A`, `4·S·C·K`; projections and `C`, `4·S·C·D·R`;
/// the rank-`C` corrections `4·S·C·R`; precomputation, solves and
/// rotation `6·C·D·R²`) and the factorisations (`S·R³ + C·R³/3`).
pub fn tv_flops(sizes: &TvSizes) -> f64 {
    let (s, c, d, r) = (
        sizes.sessions as f64,
        sizes.components as f64,
        sizes.dim as f64,
        sizes.rank as f64,
    );
    let k = sizes.k() as f64;
    4.0 * s * c * k
        + 4.0 * s * c * d * r
        + 6.0 * c * d * r * r
        + 4.0 * s * c * r
        + s * r.powi(3)
        + c * r.powi(3) / 3.0
}

/// One total-variability EM iteration of shardkit on `ranks` ranks (rank 0's
/// share), communicating as `how` (`Auto` is resolved by
/// [`TvTraffic`](crate::ivector::TvTraffic)'s rule with `memory`).
///
/// Bytes: the gathered session outputs (`E[w]`, packed `E[w wᵀ]`, the
/// objective term: [`gathered_bytes`] with blocks of 256 sessions) and the
/// gathered tiles of `A` (256 packed entries) and `C` (8 components) when
/// gathering, or the exact sums (`exact_bytes` per number) when reducing;
/// both then gather the model's precomputation (`C·(K + D·R + R)`) and the
/// new `T` (`C·D·R`) by 8-component blocks.
///
/// Memory: every rank holds the whole statistics (`8·S·C·(D + 1)`), `T`
/// twice and its precomputation; gathering adds the posteriors of one
/// chunk (the budget `memory`), `A` and the exact sums of its own tiles
/// (48 bytes per number); reducing adds `112` bytes per accumulator number
/// per worker (`workers`).
pub fn tv_iteration(
    sizes: &TvSizes,
    ranks: usize,
    workers: usize,
    how: TvCommunication,
    memory: usize,
    exact_bytes: u64,
    cluster: &Cluster,
) -> RankCost {
    tv_iteration_of(0, sizes, ranks, workers, how, memory, exact_bytes, cluster)
}

/// [`tv_iteration`] for rank `rank` (ranks may hold different shares of
/// the blocks).
#[allow(clippy::too_many_arguments)]
pub fn tv_iteration_of(
    rank: usize,
    sizes: &TvSizes,
    ranks: usize,
    workers: usize,
    how: TvCommunication,
    memory: usize,
    exact_bytes: u64,
    cluster: &Cluster,
) -> RankCost {
    let (s, c, d, r) = (
        sizes.sessions as u64,
        sizes.components as u64,
        sizes.dim as u64,
        sizes.rank as u64,
    );
    let k = sizes.k();
    let p = ranks.max(1);
    let how = match how {
        TvCommunication::Auto => crate::ivector::TvTraffic::new(
            sizes.sessions,
            sizes.components,
            sizes.dim,
            sizes.rank,
            p,
        )
        .choose(memory),
        how => how,
    };
    let accumulators = c * k + c * d * r;
    // The precomputation's three outputs (`P_c`, `Σ⁻¹T`, `Q`) and the new
    // `T`, by blocks of 8 components.
    let model_bytes = gathered_bytes(c as usize, 8, &[k, d * r, r], p, rank)
        + gathered_bytes(c as usize, 8, &[d * r], p, rank);
    let (bytes, gathered, comm_seconds, extra_memory) = match how {
        TvCommunication::Reduce => {
            let bytes = if p == 1 {
                0
            } else {
                exact_bytes * (accumulators + r + k + 1) + 48
            };
            let seconds = allreduce_seconds(bytes as f64, p as f64, cluster);
            (
                bytes,
                0,
                seconds,
                112 * accumulators * workers.max(1) as u64,
            )
        }
        _ => {
            // One session pass per chunk of the posteriors the budget
            // holds (as `tv_em` cuts them: whole groups of up to 256).
            let fit = memory / (8 * (r + k) as usize).max(1);
            let group = fit.clamp(1, 256);
            let chunk = (fit / group * group).clamp(group, sizes.sessions.max(group));
            let sessions = (0..sizes.sessions)
                .step_by(chunk)
                .map(|start| {
                    let n = chunk.min(sizes.sessions - start);
                    gathered_bytes(n, 256, &[r, k, 1], p, rank)
                })
                .sum::<u64>();
            let tiles = gathered_bytes(k as usize, 256, &[c], p, rank)
                + gathered_bytes(c as usize, 8, &[d * r], p, rank);
            let total = 8.0 * (s * (r + k + 1) + accumulators) as f64;
            let seconds = allgather_seconds(total, p as f64, cluster);
            let posteriors = (memory as u64).min(8 * s * (r + k + 1));
            (
                sessions + tiles,
                sessions + tiles,
                seconds,
                posteriors + 8 * c * k + 48 * accumulators / p as u64,
            )
        }
    };
    let model_seconds =
        allgather_seconds(8.0 * (c * (k + 2 * d * r + r)) as f64, p as f64, cluster);
    let flops = tv_flops(sizes) / p as f64;
    RankCost {
        flops,
        bytes: bytes + model_bytes,
        gathered: gathered + model_bytes,
        memory: 8 * s * c * (d + 1)
            + 8 * 2 * c * d * r
            + 8 * (c * k + c * d * r + c * r)
            + extra_memory,
        seconds: flops / (cluster.rank_gflops * 1e9) + comm_seconds + model_seconds,
    }
}

/// SIDEKIT's MPI total-variability EM (`FactorAnalyser.total_variability`
/// with MPI) at the same sizes, as its code is laid out: each rank reads
/// its own sessions' statistics, computes their posteriors and its parts
/// of `A` and `C` in `f64`, rank 0 receives the sum (an MPI reduce of
/// `C·K + C·D·R` numbers, 8 bytes each: counted here as the all-reduce
/// it amounts to) and broadcasts the new `T`. Its flops are ours, except
/// that it forms the precisions and `A` over full `R × R` matrices where
/// shardkit packs their triangles (`4·S·C·(R² − K)` flops more).
pub fn sidekit_tv_iteration(sizes: &TvSizes, ranks: usize, cluster: &Cluster) -> RankCost {
    let (s, c, d, r) = (
        sizes.sessions as f64,
        sizes.components as f64,
        sizes.dim as f64,
        sizes.rank as f64,
    );
    let k = sizes.k() as f64;
    let p = ranks.max(1) as f64;
    let accumulators = c * k + c * d * r;
    let bytes = if p > 1.0 {
        8.0 * accumulators + 8.0 * c * d * r
    } else {
        0.0
    };
    let flops = (tv_flops(sizes) + 4.0 * s * c * (r * r - k)) / p;
    RankCost {
        flops,
        bytes: bytes as u64,
        gathered: 0,
        memory: (8.0 * (s / p) * c * (d + 1.0) + 8.0 * 2.0 * accumulators + 16.0 * c * d * r)
            as u64,
        seconds: flops / (cluster.rank_gflops * 1e9)
            + allreduce_seconds(8.0 * accumulators, p, cluster)
            + allgather_seconds(8.0 * c * d * r, p, cluster),
    }
}

/// One UBM EM iteration over `frames` frames of dimension `dim` with
/// `components` components, on `ranks` ranks: the E-step (about `8·C·D`
/// flops per frame: the log-likelihoods as a GEMM of `[x, x²]`, then the
/// zero-, first- and second-order sums, in `f32`: at twice the rank's
/// `f64` rate) split by frames, and one exact
/// sum of the statistics (`C·(2D + 1) + 2` numbers). Memory: the rank's
/// frames in `f32` when they are kept (`keep_frames`), and the model.
pub fn ubm_iteration(
    frames: u64,
    components: usize,
    dim: usize,
    ranks: usize,
    keep_frames: bool,
    exact_bytes: u64,
    cluster: &Cluster,
) -> RankCost {
    let (c, d) = (components as u64, dim as u64);
    let p = ranks.max(1) as u64;
    let numbers = c * (2 * d + 1) + 2;
    let flops = 8.0 * (frames as f64) * (c * d) as f64 / p as f64;
    let bytes = if p == 1 { 0 } else { exact_bytes * numbers };
    RankCost {
        flops,
        bytes,
        gathered: 0,
        memory: if keep_frames {
            4 * d * frames.div_ceil(p)
        } else {
            0
        } + 8 * 3 * c * d,
        // The E-step runs in f32, at twice the f64 rate.
        seconds: flops / (2.0 * cluster.rank_gflops * 1e9)
            + allreduce_seconds(bytes as f64, p as f64, cluster),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_lengths_are_postcards() {
        assert_eq!(encoded_f64s(0), 1);
        assert_eq!(encoded_f64s(127), 1 + 8 * 127);
        assert_eq!(encoded_f64s(128), 2 + 8 * 128);
        assert_eq!(encoded_f64s(16_384), 3 + 8 * 16_384);
    }

    #[test]
    fn gathering_sums_the_other_ranks_shares() {
        // 600 items in blocks of 256 on 2 ranks: rank 0 has block 0
        // (256 items) and rank 1 blocks 1 and 2 (344), or the reverse:
        // either way rank 0 receives the other share.
        let plan = Plan::even(600, Some(256));
        let other = plan.items_in(plan.share(1, 2)).len() as u64;
        assert_eq!(
            gathered_bytes(600, 256, &[3], 2, 0),
            encoded_f64s(3 * other)
        );
        assert_eq!(gathered_bytes(600, 256, &[3], 1, 0), 0);
    }

    #[test]
    fn reducing_moves_the_same_bytes_however_many_sessions() {
        let cluster = Cluster::infiniband();
        let mut small = TvSizes::nist();
        small.sessions = 6_000;
        let at =
            |sizes: &TvSizes, how| tv_iteration(sizes, 16, 8, how, 1 << 40, 48, &cluster).bytes;
        assert_eq!(
            at(&small, TvCommunication::Reduce),
            at(&TvSizes::nist(), TvCommunication::Reduce)
        );
        // Gathering grows with them: 54,000 more sessions, 15/16 of them on
        // other ranks, each 8·(R + K + 1) bytes.
        let more =
            at(&TvSizes::nist(), TvCommunication::Gather) - at(&small, TvCommunication::Gather);
        let per_session = 8 * (400 + 80_200 + 1);
        assert!(
            more.abs_diff(54_000 * 15 / 16 * per_session) < per_session * 256,
            "{more}"
        );
    }
}
