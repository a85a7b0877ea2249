//! What a training run would cost each MPI rank, before running it: flops,
//! bytes received, memory and iteration time per rank for UBM EM and
//! total-variability EM (gathering and reducing), beside SIDEKIT's MPI
//! total-variability EM, for 1 to 256 ranks.
//!
//! ```text
//! # NIST SRE size (the defaults): C = 2048, D = 60, R = 400, 60,000
//! # sessions, 10^9 frames, on a 100 Gb/s InfiniBand cluster of 1.5 TFLOP/s nodes
//! cargo run --release -p shardkit-algorithms --example scale_model
//! cargo run --release -p shardkit-algorithms --example scale_model -- \
//!     --components 1024 --rank 400 --sessions 2000 --frames 20000000 --gflops 50 --bandwidth 10
//! ```
//!
//! The model is `shardkit_algorithms::scale` (its docs say what it counts);
//! `docs/scaling.md` discusses the table at NIST size.

use std::process::ExitCode;

use clap::Parser;
use shardkit_algorithms::ivector::TvCommunication;
use shardkit_algorithms::scale::{
    sidekit_tv_iteration, tv_iteration, ubm_iteration, Cluster, RankCost, TvSizes,
};
use shardkit_testkit::cli;

/// Predicts, per MPI rank and per EM iteration, the flops, the bytes
/// received, the memory held and the time of UBM EM and total-variability
/// EM (shardkit gathering and reducing, and SIDEKIT's MPI design) for 1 to
/// --max-ranks ranks. (The sizes' bounds keep every byte count within
/// 64 bits.)
#[derive(Parser, Debug)]
#[command(name = "scale_model")]
struct Args {
    /// UBM components C.
    #[arg(long, default_value_t = 2048, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// Feature dimension D.
    #[arg(long, default_value_t = 60, value_parser = cli::count(1, 4096))]
    dim: usize,
    /// Rank R of T.
    #[arg(long, default_value_t = 400, value_parser = cli::count(1, 4096))]
    rank: usize,
    /// Training sessions S.
    #[arg(long, default_value_t = 60_000, value_parser = cli::count(1, 1 << 27))]
    sessions: usize,
    /// Training frames of the UBM.
    #[arg(long, default_value_t = 1_000_000_000, value_parser = cli::count(1, 1 << 40))]
    frames: usize,
    /// Largest number of ranks (powers of two up to it).
    #[arg(long, default_value_t = 256, value_parser = cli::count(1, 1 << 20))]
    max_ranks: usize,
    /// Workers (threads) per rank.
    #[arg(long, default_value_t = 32, value_parser = cli::count(1, 4096))]
    workers: usize,
    /// f64 GEMM rate of one rank, GFLOP/s.
    #[arg(long, default_value_t = 1500.0)]
    gflops: f64,
    /// Network bandwidth per rank, GB/s.
    #[arg(long, default_value_t = 12.5)]
    bandwidth: f64,
    /// Latency of one message, µs.
    #[arg(long, default_value_t = 2.0)]
    latency: f64,
    /// Bytes per rank for TV EM's posteriors and the reduction's
    /// per-worker sums (TvConfig::memory), e.g. 64G.
    #[arg(long, default_value = "64G", value_parser = cli::bytes())]
    memory: usize,
    /// Bytes per number of an exact sum between ranks (8: one word, the
    /// common case; up to 16 with the remainders; 48 for spans too wide).
    #[arg(long, default_value_t = 8, value_parser = cli::count(1, 64))]
    exact_bytes: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    for (name, value) in [
        ("--gflops", args.gflops),
        ("--bandwidth", args.bandwidth),
        ("--latency", args.latency),
    ] {
        if !(value.is_finite() && value > 0.0 && value < 1e12) {
            eprintln!("error: {name} {value}: give a positive number");
            return ExitCode::from(2);
        }
    }
    let cluster = Cluster {
        rank_gflops: args.gflops,
        bandwidth_gbs: args.bandwidth,
        latency_us: args.latency,
    };
    let sizes = TvSizes {
        sessions: args.sessions,
        components: args.components,
        dim: args.dim,
        rank: args.rank,
    };
    println!(
        "C = {}, D = {}, R = {}, S = {}, {} UBM frames; ranks of {} workers at {} GFLOP/s, {} GB/s, {} µs",
        args.components,
        args.dim,
        args.rank,
        args.sessions,
        args.frames,
        args.workers,
        args.gflops,
        args.bandwidth,
        args.latency
    );
    println!("per rank and iteration: GFLOP, GB received, GB held, seconds (a floor)");
    println!(
        "{:>5} | {:^31} | {:^31} | {:^31} | {:^31}",
        "ranks", "UBM EM", "TV EM, gather", "TV EM, reduce", "SIDEKIT MPI TV EM"
    );
    let exact = args.exact_bytes as u64;
    let mut p = 1;
    while p <= args.max_ranks {
        let ubm = ubm_iteration(
            args.frames as u64,
            args.components,
            args.dim,
            p,
            true,
            exact,
            &cluster,
        );
        let tv = |how| tv_iteration(&sizes, p, args.workers, how, args.memory, exact, &cluster);
        let gather = tv(TvCommunication::Gather);
        let reduce = tv(TvCommunication::Reduce);
        let sidekit = sidekit_tv_iteration(&sizes, p, &cluster);
        println!(
            "{p:>5} | {} | {} | {} | {}",
            cells(&ubm),
            cells(&gather),
            cells(&reduce),
            cells(&sidekit)
        );
        p *= 2;
    }
    ExitCode::SUCCESS
}

/// One pass's four figures.
fn cells(cost: &RankCost) -> String {
    format!(
        "{:>7.0} {:>7.2} {:>6.1} {:>7.2}",
        cost.flops / 1e9,
        cost.bytes as f64 / 1e9,
        cost.memory as f64 / 1e9,
        cost.seconds
    )
}
