//! WAV files to MFCC feature files (`.npy`), in parallel, and how fast.
//!
//! ```text
//! cargo run --release -p shardkit-algorithms --example extract_mfcc
//! cargo run --release -p shardkit-algorithms --example extract_mfcc -- \
//!     --data ../shared/data/fsdd/recordings --limit 500 --threads 1,2 --out /tmp/fsdd-mfcc
//! cargo run --release -p shardkit-algorithms --example extract_mfcc -- --list wavs.lst --keep-going
//! ```
//!
//! Inputs: every `.wav` in `--data DIR` (sorted by name), or the WAV files
//! of `--list FILE` (one path per line, relative to the list's folder), at
//! most `--limit N` of them; without either, 200 generated one-second
//! 8 kHz WAVs (tone bursts and faint hiss) in a temporary folder. Each
//! input `x.wav` becomes `OUT/x.npy` (frames kept × 42, float32) with
//! `MfccConfig::default()`; `--out DIR` (created if missing) defaults to a
//! temporary folder, removed at the end.
//!
//! The extraction runs once per thread count of `--threads` (default 1,2),
//! each time rewriting every output, and prints files/s, frames/s (frames
//! analysed, before voice activity detection) and the frames kept. With
//! `--keep-going`, files that fail are listed and the others are written;
//! without it the first failure (in list order) stops the run. The exit
//! status is 1 when any file failed.
//!
//! Under `mpirun` (built with the `mpi` feature) the files are shared out
//! between the ranks, each with `--threads` threads, and rank 0 prints:
//!
//! ```text
//! cargo build --release -p shardkit-algorithms --features mpi --example extract_mfcc
//! mpirun -n 2 --bind-to none target/release/examples/extract_mfcc \
//!     --data ../shared/data/fsdd/recordings --threads 1 --out /tmp/fsdd-mfcc
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use shardkit::Executor;
use shardkit_algorithms::features::read_list;
use shardkit_algorithms::frontend::{extract_features, Job, MfccConfig};
use shardkit_testkit::cli::{self, Layout};

/// Extracts MFCC features (+Δ, ΔΔ, energy VAD, CMVN; 42 columns) from WAV
/// files into one .npy file per input, on each thread count in turn, and
/// prints how fast (files/s, frames/s). Inputs: every .wav of --data, or the files of --list, or else 200
/// generated one-second WAVs. Exits with 1 when any file failed.
#[derive(Parser, Debug)]
#[command(name = "extract_mfcc")]
struct Args {
    /// Every `.wav` file of this folder (sorted by name).
    #[arg(long, value_name = "DIR", conflicts_with = "list")]
    data: Option<PathBuf>,
    /// WAV files, one path per line (relative to the list's folder).
    #[arg(long, value_name = "FILE")]
    list: Option<PathBuf>,
    /// Where `x.wav` becomes `x.npy` (created if missing) [default: a
    /// temporary folder, removed at the end].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Thread counts to run the extraction on, comma-separated (each run
    /// rewrites every output).
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = cli::threads())]
    threads: Vec<usize>,
    /// At most this many input files [default: all].
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// List the files that fail and write the others (without it, the
    /// first failure in list order stops the run).
    #[arg(long)]
    keep_going: bool,
}

/// The `.wav` files of `dir`, sorted by name.
fn wavs_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut wavs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
        .collect();
    wavs.sort();
    Ok(wavs)
}

/// 200 one-second 8 kHz 16-bit WAVs: tone bursts of varying pitch with
/// faint hiss between them.
fn generate(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wavs = vec![];
    for i in 0..200 {
        let path = dir.join(format!("tone_{i:03}.wav"));
        let mut w = hound::WavWriter::create(&path, spec)?;
        let hz = 200.0 + 15.0 * i as f64;
        for n in 0..8000 {
            let t = n as f64 / 8000.0;
            let loud = (t * 4.0).fract() < 0.6;
            let s = if loud {
                0.3 * (2.0 * std::f64::consts::PI * hz * t).sin()
                    + 0.1 * (2.0 * std::f64::consts::PI * 2.7 * hz * t).sin()
            } else {
                3e-4 * (n as f64 * 12.9898 + i as f64).sin()
            };
            w.write_sample((s * 32767.0) as i16)?;
        }
        w.finalize()?;
        wavs.push(path);
    }
    Ok(wavs)
}

fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let scratch =
        std::env::temp_dir().join(format!("shardkit-extract-mfcc-{}", std::process::id()));
    let (mut wavs, source) = match (&args.data, &args.list) {
        (Some(dir), _) => (wavs_in(dir)?, dir.display().to_string()),
        (_, Some(list)) => (read_list(list)?, list.display().to_string()),
        (None, None) => {
            let dir = scratch.join("wav");
            shardkit_testkit::cli::create_dir(&dir)?;
            (generate(&dir)?, "generated tone bursts".to_string())
        }
    };
    if wavs.is_empty() {
        return Err(format!("{source}: no .wav files to extract").into());
    }
    if let Some(limit) = args.limit {
        wavs.truncate(limit);
    }
    let out = args.out.clone().unwrap_or_else(|| scratch.join("npy"));
    fs::create_dir_all(&out).map_err(|e| format!("cannot create --out {}: {e}", out.display()))?;
    // Checked and locked before the work, so that two runs never mix their
    // files in one folder.
    let _claim = shardkit::claim_output(&out)?;
    let jobs: Vec<Job> = wavs.iter().map(|w| Job::into_dir(w, &out)).collect();
    // Under mpirun, rank 0 speaks for all.
    macro_rules! say {
        ($($t:tt)*) => {
            if shardkit::is_root() {
                println!($($t)*);
            }
        };
    }
    let bytes: u64 = wavs
        .iter()
        .map(|w| fs::metadata(w).map(|m| m.len()).unwrap_or(0))
        .sum();
    say!(
        "{} WAV files ({:.1} MB) from {source} -> {}",
        jobs.len(),
        bytes as f64 / 1e6,
        out.display()
    );
    let config = MfccConfig::default();
    let mut ok = true;
    for &threads in &args.threads {
        // Threads, or MPI ranks × threads when mpirun launched us.
        let pool = Executor::from_env_with_threads(Some(threads))?;
        let start = Instant::now();
        let result = pool.install(|| extract_features(&jobs, &config, args.keep_going));
        let seconds = start.elapsed().as_secs_f64();
        match result {
            Ok(report) => {
                say!(
                    "{}: {} files in {seconds:.3} s: {:.0} files/s, {:.0} frames/s \
                     ({} frames, {} kept by the VAD, {} columns)",
                    Layout::of(&pool),
                    report.written.len(),
                    report.written.len() as f64 / seconds,
                    report.frames() as f64 / seconds,
                    report.frames(),
                    report.kept(),
                    config.dim()
                );
                for failed in &report.failed {
                    say!("  failed: {}", failed.error);
                }
                ok &= report.failed.is_empty();
            }
            Err(e) => {
                if shardkit::is_root() {
                    eprintln!("error: {e}");
                }
                ok = false;
                break;
            }
        }
    }
    // Generated WAVs and the default output folder live here; a given
    // `--out` is elsewhere and stays.
    let _ = fs::remove_dir_all(&scratch);
    Ok(ok)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
