//! Times GMM (UBM) EM iterations, exact and pruned, next to the machine's
//! f32 GEMM peak.
//!
//! ```text
//! cargo bench -p shardkit-algorithms --bench measure_gmm_em -- \
//!     --generate 200000 --components 512 --iters 10 --compare
//! cargo bench -p shardkit-algorithms --bench measure_gmm_em -- --list feats.lst --prune
//! cargo bench -p shardkit-algorithms --bench measure_gmm_em -- --help     # every option
//! ```
//!
//! The frames come from `--list FILE` (feature files, one per line, loaded
//! into memory) or are generated (`--generate N`, default 200,000:
//! MFCC-like f32 frames, seeded, written as `.npy` files plus `list.txt`
//! into `--out DIR`). The
//! initial model is `--init FILE.npz`, or `M` distinct frames drawn with
//! `--seed` as the means, the data's global variance for every component,
//! equal weights. `--write-init` saves it for `scripts/peers/gmm_numpy.py
//! --init`; `--write-model` saves the model after the last iteration.
//!
//! Prints the faer f32 GEMM peak (2048³, as `measure_gmm_estep` measures
//! it), then one line per EM iteration (E-step and M-step): seconds, frames
//! per second, GFLOP/s counting one *exact* iteration as `8·N·M·D` flops
//! (for the pruned mode an equivalent rate, not flops done) and its share
//! of the peak, and the average log-likelihood per frame (for the pruned
//! mode, over each frame's selected components). Pruned iterations that ran
//! the selection pass are marked; the summary gives the best selection
//! iteration, the best iteration without selection, and the average over
//! all iterations (the amortised figure).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ndarray::{concatenate, Array1, Array2, ArrayView2, Axis};
use shardkit::Executor;
use shardkit_algorithms::features::{read_features, read_list, write_npy};
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::gmm::ubm::{em, EmConfig, EmIteration, UbmTrained};
use shardkit_algorithms::gmm::{DiagGmm, Pruning};
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::timing;

/// Times GMM (UBM) EM iterations, exact and pruned (Kaldi-style Gaussian
/// selection), on feature files or generated MFCC-like frames, next to
/// faer's f32 GEMM peak.
#[derive(Parser, Debug)]
#[command(name = "measure_gmm_em", bin_name = "measure_gmm_em")]
struct Args {
    /// Feature files, one per line (.npy or HTK; relative paths are resolved
    /// against the list's folder), loaded into memory.
    #[arg(long, conflicts_with = "generate")]
    list: Option<PathBuf>,
    /// Without --list: write N MFCC-like f32 frames (seeded) as .npy files
    /// plus list.txt into --out, then use that list.
    #[arg(long, value_name = "N", default_value_t = 200_000, value_parser = cli::count(1, 1_000_000_000))]
    generate: usize,
    /// Dimension of the generated frames.
    #[arg(long, default_value_t = 60, value_parser = cli::count(1, 4096))]
    dim: usize,
    /// Number of generated files.
    #[arg(long, default_value_t = 20, value_parser = cli::count(1, 1_000_000))]
    files: usize,
    /// Folder for --generate [default: a folder in the system's temporary
    /// directory named after N, D and the seed].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Components M.
    #[arg(long, default_value_t = 512, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// EM iterations to time.
    #[arg(long, default_value_t = 10, value_parser = cli::count(1, 100_000))]
    iters: usize,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// Initial model (.npz: weights, means, variances) [default: M distinct
    /// frames drawn with --seed as the means, the data's global variance
    /// for every component, equal weights].
    #[arg(long)]
    init: Option<PathBuf>,
    /// Seed of the generated data and of the default initial model.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Save the initial model as .npz, for scripts/peers/gmm_numpy.py
    /// --init [default with --generate: DIR/init.npz].
    #[arg(long, value_name = "FILE")]
    write_init: Option<PathBuf>,
    /// Save the model after the last iteration as .npz.
    #[arg(long, value_name = "FILE")]
    write_model: Option<PathBuf>,
    /// The pruned E-step (Kaldi-style Gaussian selection, gmm::Pruning)
    /// instead of the exact one.
    #[arg(long)]
    prune: bool,
    /// Run the exact mode, then the pruned mode, from the same model, and
    /// print the relative difference of their log-likelihoods.
    #[arg(long)]
    compare: bool,
    /// Pruning: components kept per frame.
    #[arg(long, default_value_t = Pruning::default().top_n)]
    top_n: usize,
    /// Pruning: posteriors below this are left out.
    #[arg(long, default_value_t = Pruning::default().min_posterior)]
    min_post: f64,
    /// Pruning: re-select every R iterations, 0 = once (as Kaldi).
    #[arg(long, value_name = "R", default_value_t = Pruning::default().reselect_every)]
    reselect_every: usize,
    /// Skip the GEMM peak measurement.
    #[arg(long)]
    no_peak: bool,
    #[command(flatten)]
    cargo: cli::CargoBench,
}

/// Writes `n` MFCC-like frames (the generator of the GMM tests and
/// `measure_gmm_estep`) as `files` `.npy` files and a `list.txt`
/// naming them (relative paths) into `dir`; returns the list's path.
fn generate(
    n: usize,
    d: usize,
    files: usize,
    seed: u64,
    dir: &Path,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let frames = shardkit_testkit::mfcc_like(n, d, 64, seed + 1);
    shardkit_testkit::cli::create_dir(dir)?;
    let files = files.min(n);
    let mut list = String::new();
    for i in 0..files {
        let (a, b) = (i * n / files, (i + 1) * n / files);
        let name = format!("part-{i:04}.npy");
        write_npy(dir.join(&name), &frames.slice(ndarray::s![a..b, ..]))?;
        list.push_str(&name);
        list.push('\n');
    }
    let path = dir.join("list.txt");
    std::fs::write(&path, list).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "generated {n} × {d} MFCC-like f32 frames (seed {seed}) as {files} .npy files in {:.2} s: {}",
        start.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(path)
}

/// The default initial model: `m` distinct frames drawn with `seed` as
/// the means, the data's global variance for every component, equal
/// weights (as Kaldi's `gmm-global-init-from-feats` starts).
fn default_init(x: ArrayView2<f32>, m: usize, seed: u64) -> Result<DiagGmm, String> {
    let n = x.nrows();
    if m > n {
        return Err(format!(
            "{m} components need at least {m} frames for the default init, but there are {n}"
        ));
    }
    let mut rng = shardkit_testkit::Rng::new(seed ^ 0x6a09_e667_f3bc_c908);
    // Partial Fisher-Yates: the first m of a seeded permutation.
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let j = i + rng.below(n - i);
        order.swap(i, j);
    }
    let x64 = x.mapv(f64::from);
    let var = x64.var_axis(Axis(0), 0.0).mapv(|v| v.max(1e-10));
    let means = Array2::from_shape_fn((m, x.ncols()), |(i, j)| x64[[order[i], j]]);
    let variances = Array2::from_shape_fn((m, x.ncols()), |(_, j)| var[j]);
    DiagGmm::new(Array1::from_elem(m, 1.0 / m as f64), means, variances).map_err(|e| e.to_string())
}

/// Summary of one mode's iterations.
fn summarise(name: &str, history: &[EmIteration], flops: f64, frames: f64, peak: Option<f64>) {
    let rate = |s: f64| {
        let g = flops / s / 1e9;
        match peak {
            Some(p) => format!(
                "{:.3e} frames/s, {g:.1} GFLOP/s exact-equivalent ({:.0}% of peak)",
                frames / s,
                100.0 * g / p
            ),
            None => format!(
                "{:.3e} frames/s, {g:.1} GFLOP/s exact-equivalent",
                frames / s
            ),
        }
    };
    let best = |f: &dyn Fn(&EmIteration) -> bool| {
        history
            .iter()
            .filter(|it| f(it))
            .map(|it| it.seconds)
            .min_by(f64::total_cmp)
    };
    let total: f64 = history.iter().map(|it| it.seconds).sum();
    let mean = total / history.len() as f64;
    if history.iter().any(|it| it.pruned) {
        if let Some(s) = best(&|it| it.selection_pass) {
            println!(
                "{name}: best iteration with the selection pass: {s:.4} s ({})",
                rate(s)
            );
        }
        if let Some(s) = best(&|it| !it.selection_pass) {
            println!(
                "{name}: best iteration without selection:     {s:.4} s ({})",
                rate(s)
            );
        }
        println!(
            "{name}: amortised over {} iterations ({} with selection): {mean:.4} s per iteration ({})",
            history.len(),
            history.iter().filter(|it| it.selection_pass).count(),
            rate(mean)
        );
    } else if let Some(s) = best(&|_| true) {
        println!(
            "{name}: best iteration {s:.4} s ({}); mean {mean:.4} s",
            rate(s)
        );
    }
}

fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let pruning = Pruning {
        top_n: a.top_n,
        min_posterior: a.min_post,
        reselect_every: a.reselect_every,
    };
    let list = match &a.list {
        Some(list) => list.clone(),
        None => {
            let n = a.generate;
            // The frames, generated then loaded: twice their size at least.
            cli::fits_in_memory("the generated frames", 2.0 * 4.0 * n as f64 * a.dim as f64)?;
            let dir = a.out.clone().unwrap_or_else(|| {
                std::env::temp_dir()
                    .join(format!("shardkit-bench-gmm-{n}x{}-seed{}", a.dim, a.seed))
            });
            generate(n, a.dim, a.files, a.seed, &dir)?
        }
    };
    let files = read_list(&list)?;
    if files.is_empty() {
        return Err(format!("{} names no files", list.display()).into());
    }
    let parts = files
        .iter()
        .map(read_features)
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<ArrayView2<f32>> = parts.iter().map(|p| p.view()).collect();
    let x = concatenate(Axis(0), &views)?;
    drop(parts);
    let (n, d, m) = (x.nrows(), x.ncols(), a.components);
    println!(
        "data: {} files of {}, {n} frames × {d} columns, in memory",
        files.len(),
        list.display()
    );

    let init = match &a.init {
        Some(path) => {
            let gmm = DiagGmm::load(path)?;
            if gmm.n_components() != m || gmm.dim() != d {
                return Err(format!(
                    "{} holds {} components in {} dimensions, but --components is {m} and the data has {d} columns",
                    path.display(),
                    gmm.n_components(),
                    gmm.dim()
                )
                .into());
            }
            println!("init: {}", path.display());
            gmm
        }
        None => {
            let gmm = default_init(x.view(), m, a.seed)?;
            println!("init: {m} distinct random frames (seed {}) as means, the global variance, equal weights", a.seed);
            gmm
        }
    };
    let write_init = a.write_init.clone().or_else(|| {
        a.list
            .is_none()
            .then(|| list.parent().unwrap_or(Path::new(".")).join("init.npz"))
    });
    if let Some(path) = &write_init {
        init.save(path)?;
        println!("wrote the initial model to {}", path.display());
    }

    let exec = Executor::from_env_with_threads(a.threads)?;
    let layout = Layout::of(&exec);
    let threads = layout.threads;
    let flops = 8.0 * (n * m * d) as f64;
    println!(
        "EM: N = {n}, D = {d}, M = {m}, {} iterations, {layout}; one exact iteration = 8·N·M·D = {:.1} GFLOP",
        a.iters,
        flops / 1e9
    );
    let peak = if !a.no_peak {
        let ((one, _), (each, _)) = timing::gemm_peak::<f32>(2048, threads, 3);
        let peak = one.max(each);
        println!(
            "faer f32 GEMM peak, 2048³, {threads} thread(s): {one:.1} GFLOP/s as one product, {each:.1} GFLOP/s as {threads} single-threaded products at once; peak = {peak:.1} GFLOP/s (best of 3)"
        );
        Some(peak)
    } else {
        None
    };

    let mut modes: Vec<(&str, Option<Pruning>)> = Vec::new();
    if a.compare || !a.prune {
        modes.push(("exact", None));
    }
    if a.compare || a.prune {
        pruning.check(m)?;
        println!(
            "pruned mode: top_n = {}, min_posterior = {:e}, reselect_every = {}",
            pruning.top_n, pruning.min_posterior, pruning.reselect_every
        );
        modes.push(("pruned", Some(pruning)));
    }
    let data = Frames::rows(x.view());
    let mut results: Vec<(&str, UbmTrained)> = Vec::new();
    for (name, pruning) in modes {
        let config = EmConfig::new().pruning(pruning);
        let mut i = 0;
        let mut report = |it: &EmIteration| {
            i += 1;
            let g = flops / it.seconds / 1e9;
            let share = peak.map_or(String::new(), |p| {
                format!(" ({:3.0}% of peak)", 100.0 * g / p)
            });
            println!(
                "{name:>6} iter {i:>3}: {:.4} s  {:.3e} frames/s  {g:6.1} GFLOP/s{share}  avg llk {:.9}{}",
                it.seconds,
                n as f64 / it.seconds,
                it.average_log_likelihood,
                if it.selection_pass { "  [selection pass]" } else { "" }
            );
        };
        let trained = exec.install(|| em(&data, init.clone(), a.iters, &config, &mut report))?;
        summarise(name, &trained.history, flops, n as f64, peak);
        results.push((name, trained));
    }
    if let [(_, exact), (_, pruned)] = &results[..] {
        let mut worst: f64 = 0.0;
        for (i, (e, p)) in exact.history.iter().zip(&pruned.history).enumerate() {
            let rel = (p.average_log_likelihood - e.average_log_likelihood).abs()
                / e.average_log_likelihood.abs();
            worst = worst.max(rel);
            println!(
                "iter {:>3}: avg llk exact {:.9}, pruned {:.9}, relative difference {rel:.2e}",
                i + 1,
                e.average_log_likelihood,
                p.average_log_likelihood
            );
        }
        println!("largest relative difference of the average log-likelihood: {worst:.2e}");
    }
    if let (Some(path), Some((_, last))) = (&a.write_model, results.last()) {
        last.model.save(path)?;
        println!("wrote the final model to {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cargo = args.cargo.clone();
    cargo.run("measure_gmm_em", || run(args))
}
