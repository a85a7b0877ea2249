//! Times GMM (UBM) EM iterations, exact and pruned, next to the machine's
//! f32 GEMM peak.
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --example bench_gmm -- [options]
//!
//!   --list FILE          feature files, one per line (.npy or HTK; relative paths are
//!                        resolved against the list's folder), loaded into memory
//!   --generate N         instead of --list: write N MFCC-like f32 frames (seeded) as
//!                        .npy files plus list.txt into --out DIR, then use that list
//!   --dim D              dimension of the generated frames (default 60)
//!   --files F            number of generated files (default 20)
//!   --out DIR            folder for --generate (default: a folder in the system's
//!                        temporary directory named after N, D and the seed)
//!   --components M       components (default 512)
//!   --iters K            EM iterations to time (default 10)
//!   --threads T          threads (default: SHARDKIT_THREADS, else every core)
//!   --init FILE.npz      initial model (arrays `weights`, `means`, `variances`);
//!                        default: M distinct frames drawn with --seed as the means,
//!                        the data's global variance for every component, equal weights
//!   --seed S             seed of the generated data and the default init (default 0)
//!   --write-init FILE    save the initial model as .npz (with --generate: DIR/init.npz
//!                        unless given), for scripts/peers/gmm_numpy.py --init
//!   --write-model FILE   save the model after the last iteration as .npz
//!   --prune              pruned E-step (Kaldi-style Gaussian selection, gmm::Pruning)
//!   --compare            run the exact mode, then the pruned mode, from the same model,
//!                        and print the relative difference of their log-likelihoods
//!   --top-n N            pruning: components kept per frame (default 30)
//!   --min-post P         pruning: posteriors below P are left out (default 1e-4)
//!   --reselect-every R   pruning: re-select every R iterations, 0 = once (default 0, as Kaldi)
//!   --no-peak            skip the GEMM peak measurement
//! ```
//!
//! Prints the faer f32 GEMM peak (2048³, as `examples/gmm_estep.rs`
//! measures it), then one line per EM iteration (E-step and M-step):
//! seconds, frames per second, GFLOP/s counting one *exact* iteration as
//! `8·N·M·D` flops (for the pruned mode an equivalent rate, not flops
//! done) and its share of the peak, and the average log-likelihood per
//! frame (for the pruned mode, over each frame's selected components).
//! Pruned iterations that ran the selection pass are marked; the summary
//! gives the best selection iteration, the best iteration without
//! selection, and the average over all iterations (the amortised figure).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ndarray::{concatenate, Array1, Array2, ArrayView2, Axis};
use shardkit::Executor;
use shardkit_algorithms::features::{read_features, read_list, write_npy};
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::gmm::ubm::{em, EmConfig, EmIteration, UbmTrained};
use shardkit_algorithms::gmm::{DiagGmm, Pruning};
use shardkit_testkit::timing;

struct Args {
    list: Option<PathBuf>,
    generate: Option<usize>,
    dim: usize,
    files: usize,
    out: Option<PathBuf>,
    components: usize,
    iters: usize,
    threads: Option<usize>,
    init: Option<PathBuf>,
    seed: u64,
    write_init: Option<PathBuf>,
    write_model: Option<PathBuf>,
    prune: bool,
    compare: bool,
    pruning: Pruning,
    peak: bool,
}

const USAGE: &str = "usage: bench_gmm (--list FILE | --generate N [--dim D] [--files F] [--out DIR]) [--components M] [--iters K] [--threads T] [--init FILE.npz] [--seed S] [--write-init FILE.npz] [--write-model FILE.npz] [--prune | --compare] [--top-n N] [--min-post P] [--reselect-every R] [--no-peak]";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        list: None,
        generate: None,
        dim: 60,
        files: 20,
        out: None,
        components: 512,
        iters: 10,
        threads: None,
        init: None,
        seed: 0,
        write_init: None,
        write_model: None,
        prune: false,
        compare: false,
        pruning: Pruning::default(),
        peak: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        let positive = |v: String| match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{flag} {v}: expected a positive integer")),
        };
        match flag.as_str() {
            "--list" => a.list = Some(value()?.into()),
            "--generate" => a.generate = Some(positive(value()?)?),
            "--dim" => a.dim = positive(value()?)?,
            "--files" => a.files = positive(value()?)?,
            "--out" => a.out = Some(value()?.into()),
            "--components" => a.components = positive(value()?)?,
            "--iters" => a.iters = positive(value()?)?,
            "--threads" => a.threads = Some(positive(value()?)?),
            "--init" => a.init = Some(value()?.into()),
            "--seed" => a.seed = number(value()?)? as u64,
            "--write-init" => a.write_init = Some(value()?.into()),
            "--write-model" => a.write_model = Some(value()?.into()),
            "--prune" => a.prune = true,
            "--compare" => a.compare = true,
            "--top-n" => a.pruning.top_n = number(value()?)?,
            "--min-post" => {
                let v = value()?;
                a.pruning.min_posterior = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
            }
            "--reselect-every" => a.pruning.reselect_every = number(value()?)?,
            "--no-peak" => a.peak = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if a.list.is_some() == a.generate.is_some() {
        return Err(format!("give one of --list FILE and --generate N\n{USAGE}"));
    }
    Ok(a)
}

/// Writes `n` MFCC-like frames (the generator of the GMM tests and
/// `examples/gmm_estep.rs`) as `files` `.npy` files and a `list.txt`
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
    std::fs::create_dir_all(dir)?;
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
    std::fs::write(&path, list)?;
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
    let list = match (&a.list, a.generate) {
        (Some(list), _) => list.clone(),
        (None, Some(n)) => {
            let dir = a.out.clone().unwrap_or_else(|| {
                std::env::temp_dir()
                    .join(format!("shardkit-bench-gmm-{n}x{}-seed{}", a.dim, a.seed))
            });
            generate(n, a.dim, a.files, a.seed, &dir)?
        }
        (None, None) => unreachable!("checked by parse"),
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
        a.generate
            .map(|_| list.parent().unwrap_or(Path::new(".")).join("init.npz"))
    });
    if let Some(path) = &write_init {
        init.save(path)?;
        println!("wrote the initial model to {}", path.display());
    }

    let exec = match a.threads {
        Some(t) => Executor::threads(t)?,
        None => Executor::current(),
    };
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let flops = 8.0 * (n * m * d) as f64;
    println!(
        "EM: N = {n}, D = {d}, M = {m}, {} iterations, threads: {}; one exact iteration = 8·N·M·D = {:.1} GFLOP",
        a.iters,
        a.threads.map_or_else(|| "default".to_owned(), |t| t.to_string()),
        flops / 1e9
    );
    let peak = if a.peak {
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
        a.pruning.check(m)?;
        println!(
            "pruned mode: top_n = {}, min_posterior = {:e}, reselect_every = {}",
            a.pruning.top_n, a.pruning.min_posterior, a.pruning.reselect_every
        );
        modes.push(("pruned", Some(a.pruning)));
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
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
