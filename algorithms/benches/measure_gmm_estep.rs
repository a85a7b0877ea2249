//! How fast is the GMM E-step, next to the machine's f32 GEMM peak?
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench measure_gmm_estep
//! cargo bench -p shardkit-algorithms --bench measure_gmm_estep -- --frames 200000 --reps 5 --write /tmp/gmm
//! cargo bench -p shardkit-algorithms --bench measure_gmm_estep -- --help
//! ```
//!
//! Generates MFCC-like frames (`--frames N`, default 200,000; `--dim D`,
//! default 60) and a UBM-like model (`--components M`, default 512) with a
//! fixed seed, then reports, for 1 and 2 threads (`--threads 1,2`):
//!
//! - the f32 GEMM peak of faer (the GEMM crate the E-step uses) on
//!   2048×2048×2048 products: one product (`Par::Seq` on one thread,
//!   `Par::rayon(n)` on n), and n single-threaded products at once (how
//!   the E-step uses n threads); the larger is the peak;
//! - the E-step (`gmm::accumulate`, 8·N·M·D flops), with the default
//!   refinement and without it, in GFLOP/s and as a share of that peak.
//!
//! The kernels run at the CPU's vector level (`SHARDKIT_SIMD=avx2` or
//! `=portable` lowers it; the `kernels:` line says which).
//!
//! Every time is the best of `--reps` runs (default 5) after one warm-up
//! run, with the spread (worst / best − 1). `--write DIR` saves the frames and
//! the model as `.npy` files for `scripts/peers/gmm_numpy.py`, and the
//! average log-likelihood per frame is printed to compare with it; it also
//! saves the one-thread E-step's statistics (`refined_*.npy`,
//! `plain_*.npy`), to compare levels and builds bit for bit with `cmp`.
//!
//! The criterion bench `gmm_estep` times the block kernel alone, in finer
//! detail (chunk and block sizes).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ndarray_npy::WriteNpyExt;
use shardkit::Executor;
use shardkit_algorithms::__bench;
use shardkit_algorithms::gmm::{self, GmmStats, Prepared};
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::timing;

/// Times the GMM E-step (`gmm::accumulate`) on generated MFCC-like frames
/// and a UBM-like model, for each thread count, next to faer's f32 GEMM
/// peak; prints the average log-likelihood to compare with
/// scripts/peers/gmm_numpy.py.
#[derive(Parser, Debug)]
#[command(name = "measure_gmm_estep", bin_name = "measure_gmm_estep")]
struct Args {
    /// Frames N.
    #[arg(long, default_value_t = 200_000, value_parser = cli::count(1, 1_000_000_000))]
    frames: usize,
    /// Dimension D.
    #[arg(long, default_value_t = 60, value_parser = cli::count(1, 4096))]
    dim: usize,
    /// Components M.
    #[arg(long, default_value_t = 512, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// Timed runs of each measurement (the best is printed).
    #[arg(long, default_value_t = 5, value_parser = cli::count(1, 100_000))]
    reps: usize,
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = cli::threads())]
    threads: Vec<usize>,
    /// Save the frames and the model (frames.npy, weights.npy, means.npy,
    /// variances.npy) here, for scripts/peers/gmm_numpy.py.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
    #[command(flatten)]
    cargo: cli::CargoBench,
}

/// The one-thread E-step statistics as `.npy` files (`{name}_zero.npy`,
/// `_first`, `_second`, and `_loglik` with the total log-likelihood), to
/// compare the vector levels and builds bit for bit (`cmp`).
fn write_stats(
    dir: &std::path::Path,
    all: &[(&str, &GmmStats)],
) -> Result<(), Box<dyn std::error::Error>> {
    let file = |name: String| std::fs::File::create(dir.join(name));
    for (name, s) in all {
        s.zero.write_npy(file(format!("{name}_zero.npy"))?)?;
        s.first.write_npy(file(format!("{name}_first.npy"))?)?;
        s.second.write_npy(file(format!("{name}_second.npy"))?)?;
        ndarray::arr1(&[s.log_likelihood]).write_npy(file(format!("{name}_loglik.npy"))?)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.cargo.run("measure_gmm_estep", || run(&args))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (n, d, m) = (args.frames, args.dim, args.components);
    // The frames in f32, and once more in f64 while the model is fitted.
    cli::fits_in_memory("the generated frames", 12.0 * n as f64 * d as f64)?;
    let frames = shardkit_testkit::mfcc_like(n, d, 64, 1);
    let ubm = shardkit_testkit::ubm_like(&frames, m, 2);
    if let Some(dir) = &args.write {
        let write = || -> Result<(), Box<dyn std::error::Error>> {
            std::fs::create_dir_all(dir)?;
            let file = |name: &str| std::fs::File::create(dir.join(name));
            frames.write_npy(file("frames.npy")?)?;
            ubm.weights().write_npy(file("weights.npy")?)?;
            ubm.means().write_npy(file("means.npy")?)?;
            ubm.variances().write_npy(file("variances.npy")?)?;
            Ok(())
        };
        write().map_err(|e| format!("cannot write to {}: {e}", dir.display()))?;
        println!(
            "wrote frames.npy, weights.npy, means.npy, variances.npy to {}",
            dir.display()
        );
    }
    let flops = 8.0 * (n * m * d) as f64;
    println!(
        "E-step: N = {n} frames, D = {d}, M = {m}: {:.1} GFLOP per iteration; best of {} runs (spread = worst/best - 1)",
        flops / 1e9,
        args.reps
    );
    println!(
        "kernels: {} (the CPU's: {}; {}=avx2 or =portable lowers it)",
        __bench::level().name(),
        __bench::detected().name(),
        __bench::ENV
    );
    let refined = ubm.prepare();
    let plain = ubm.prepare().with_refine_margin(None);
    for &threads in &args.threads {
        let pool = Executor::threads(threads)?;
        let ((one, one_spread), (each, each_spread)) =
            timing::gemm_peak::<f32>(2048, threads, args.reps);
        let peak = one.max(each);
        let layout = Layout::of(&pool);
        println!("{layout}: faer f32 GEMM, 2048^3: {one:6.1} GFLOP/s as one product (spread {one_spread:.0}%), {each:6.1} GFLOP/s as {threads} single-threaded products at once (spread {each_spread:.0}%); peak = the larger");
        let run = |what: &str, model: &Prepared<f32>| -> GmmStats {
            let (best, worst, stats) =
                pool.install(|| timing::time(args.reps, || gmm::accumulate(frames.view(), model)));
            let rate = flops / best.as_secs_f64() / 1e9;
            println!(
                "  E-step, {what:<22} {:8.3} s  {rate:6.1} GFLOP/s  {:5.1}% of peak  (spread {:.0}%)",
                best.as_secs_f64(),
                100.0 * rate / peak,
                timing::spread(best, worst)
            );
            stats
        };
        let stats = run("refined (default):", &refined);
        let fast = run("not refined:", &plain);
        if let (Some(dir), 1) = (&args.write, threads) {
            write_stats(dir, &[("refined", &stats), ("plain", &fast)])
                .map_err(|e| format!("cannot write to {}: {e}", dir.display()))?;
        }
        if threads == 1 {
            // The same blocks through the block kernel alone, without
            // shardkit: the difference is the runtime's share (planning,
            // exact fixed-point sums of each block's statistics).
            let (best, worst, ()) = timing::time(args.reps, || {
                for block in frames.axis_chunks_iter(ndarray::Axis(0), gmm::BLOCK_FRAMES) {
                    std::hint::black_box(gmm::accumulate_block(block, &refined));
                }
            });
            let rate = flops / best.as_secs_f64() / 1e9;
            println!(
                "  block kernel in a loop, refined, no shardkit: {:8.3} s  {rate:6.1} GFLOP/s  {:5.1}% of peak  (spread {:.0}%)",
                best.as_secs_f64(),
                100.0 * rate / peak,
                timing::spread(best, worst)
            );
        }
        println!(
            "  average log-likelihood per frame: {:.9} (refined), {:.9} (not refined)",
            stats.average_log_likelihood(),
            fast.average_log_likelihood()
        );
    }
    Ok(())
}
