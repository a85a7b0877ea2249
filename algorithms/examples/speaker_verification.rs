//! Speaker verification end to end: WAV files → MFCC → UBM → GMM-UBM and
//! i-vector systems → scores → EER, minDCF and a DET plot.
//!
//! ```text
//! # A generated corpus (8 speakers × 10 digits × 12 takes), 3–11 s on 2 cores:
//! cargo run --release -p shardkit-algorithms --example speaker_verification
//!
//! # The Free Spoken Digit Dataset (or any folder of {digit}_{speaker}_{index}.wav):
//! cargo run --release -p shardkit-algorithms --example speaker_verification -- \
//!     --data ../shared/data/fsdd/recordings
//!
//! # The same program on MPI ranks:
//! cargo build --release -p shardkit-algorithms --features mpi --example speaker_verification
//! mpirun -n 2 --bind-to none -x SHARDKIT_THREADS=1 target/release/examples/speaker_verification
//! ```
//!
//! # Protocol (the FSDD one)
//!
//! Recordings `{digit}_{speaker}_{index}.wav` with index 5 and above are
//! training data: they train the UBM, the total-variability matrix and the
//! LDA, WCCN and PLDA back ends, and each speaker is enrolled from their
//! own training recordings. Indices 0–4 are test recordings; every test
//! recording is tried against every speaker (on FSDD: 300 test files × 6
//! speakers = 1,800 trials, 300 target and 1,500 non-target).
//!
//! # Systems
//!
//! - **GMM-UBM**: MAP-adapted speaker GMMs (means, relevance 16), average
//!   frame log-likelihood ratio over the top 10 UBM components.
//! - **i-vector cosine**: length-normalised i-vectors, the enrolment
//!   i-vector is the mean of the speaker's training i-vectors.
//! - **i-vector LDA+WCCN cosine**: the same after LDA and WCCN trained on
//!   the training i-vectors.
//! - **i-vector PLDA**: two-covariance PLDA on length-normalised LDA
//!   i-vectors, multi-session enrolment.
//!
//! Prints the time of every stage and a table of EER and minDCF
//! (P_target = 0.01), and writes the DET curves as `det.png` and `det.svg`
//! in `--out` (default `target/speaker_verification`). Rank 0 prints,
//! draws the progress bars and writes; every rank computes the same
//! numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ndarray::{Array2, Axis};
use shardkit::Executor;
use shardkit_algorithms::backend::Recipe;
use shardkit_algorithms::features::ReadOptions;
use shardkit_algorithms::frames::Frames;
use shardkit_algorithms::frontend::{extract_features, Job, MfccConfig};
use shardkit_algorithms::gmm::map::{adapt_speakers, score_trials, MapConfig, Speaker, Trial};
use shardkit_algorithms::gmm::ubm::{train_ubm, EmConfig};
use shardkit_algorithms::ivector::{baum_welch, extract, train_tv, TvConfig};
use shardkit_algorithms::metrics::{DcfParams, DetCurve, DetPlot};
use shardkit_testkit::cli::{self, Layout};
use shardkit_testkit::speech;

/// Speaker verification end to end: WAV files → MFCC → UBM → GMM-UBM and
/// i-vector systems (cosine, LDA+WCCN, PLDA) → EER, minDCF and a DET plot.
/// Runs the FSDD protocol (recordings with index 5 and above train, 0–4
/// test against every speaker) on a generated corpus, or on a folder of
/// {digit}_{speaker}_{index}.wav files with --data. Writes the features,
/// ubm.npz, tv.npz, det.png and det.svg in --out. Runs on threads, or on
/// MPI ranks under mpirun (built with the `mpi` feature).
#[derive(Parser, Debug)]
#[command(name = "speaker_verification")]
struct Args {
    /// A folder of `{digit}_{speaker}_{index}.wav` files (e.g.
    /// ../shared/data/fsdd/recordings). Without it, a corpus is generated.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where the features, models, scores and plots go.
    #[arg(long, default_value = "target/speaker_verification")]
    out: PathBuf,
    /// Threads per process [default: SHARDKIT_THREADS, else every core].
    #[arg(long, value_parser = cli::threads())]
    threads: Option<usize>,
    /// UBM components (a power of two).
    #[arg(long, default_value_t = 64, value_parser = cli::count(1, 1 << 16))]
    components: usize,
    /// I-vector dimension.
    #[arg(long, default_value_t = 100, value_parser = cli::count(1, 4096))]
    rank: usize,
    /// Total-variability EM iterations.
    #[arg(long, default_value_t = 10, value_parser = cli::count(1, 100_000))]
    tv_iters: usize,
    /// Generated corpus: speakers.
    #[arg(long, default_value_t = 8, value_parser = cli::count(2, 1000))]
    speakers: usize,
    /// Generated corpus: takes per digit and speaker (0–4 test, the rest
    /// training).
    #[arg(long, default_value_t = 12, value_parser = cli::count(6, 1000))]
    takes: usize,
    /// Seed of the generated corpus and of the initial T.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// A recording of the corpus.
#[derive(Debug, Clone)]
struct Recording {
    wav: PathBuf,
    npy: PathBuf,
    speaker: usize,
    train: bool,
}

/// Prints on rank 0 only.
macro_rules! say {
    ($($t:tt)*) => {
        if shardkit::is_root() {
            println!($($t)*);
        }
    };
}

fn main() -> ExitCode {
    let args = Args::parse();
    let exec = match Executor::from_env_with_threads(args.threads) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("speaker_verification: {e}");
            return ExitCode::FAILURE;
        }
    };
    match exec.install(|| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if shardkit::is_root() {
                eprintln!("speaker_verification: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Times a stage and prints its line.
struct Stages {
    started: Instant,
    lines: Vec<(String, f64)>,
}

impl Stages {
    fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let out = f()?;
        let secs = t.elapsed().as_secs_f64();
        say!("  {name:<42} {secs:8.2} s");
        self.lines.push((name.to_string(), secs));
        Ok(out)
    }
}

fn run(args: &Args) -> Result<()> {
    let mut stages = Stages {
        started: Instant::now(),
        lines: Vec::new(),
    };
    say!(
        "speaker verification on {}",
        Layout::of(&Executor::current())
    );
    let wav_dir = match &args.data {
        Some(dir) => dir.clone(),
        None => {
            let dir = args.out.join("wav");
            stages.run("generate the corpus", || {
                // Every rank writes the same bytes (each file atomically).
                speech::write_corpus(&dir, args.speakers, args.takes, args.seed)?;
                Ok(())
            })?;
            dir
        }
    };
    let feature_dir = args.out.join("features");
    std::fs::create_dir_all(&feature_dir)?;
    let (recordings, speakers) = scan(&wav_dir, &feature_dir)?;
    let train: Vec<&Recording> = recordings.iter().filter(|r| r.train).collect();
    let test: Vec<&Recording> = recordings.iter().filter(|r| !r.train).collect();
    say!(
        "{} recordings of {} speakers in {}: {} training, {} test; {} trials",
        recordings.len(),
        speakers.len(),
        wav_dir.display(),
        train.len(),
        test.len(),
        test.len() * speakers.len()
    );

    // Features.
    let config = MfccConfig::default();
    stages.run("MFCC features (+Δ, ΔΔ, VAD, CMVN)", || {
        let jobs: Vec<Job> = recordings
            .iter()
            .map(|r| Job {
                wav: r.wav.clone(),
                npy: r.npy.clone(),
            })
            .collect();
        let bar = shardkit::progress(jobs.len() as u64, "features");
        for chunk in jobs.chunks(64) {
            extract_features(chunk, &config, false)?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(())
    })?;
    let options = ReadOptions::new().expect_dim(config.dim());
    let train_files: Vec<PathBuf> = train.iter().map(|r| r.npy.clone()).collect();

    // UBM.
    let ubm = stages.run(&format!("UBM ({} components)", args.components), || {
        let em = EmConfig::new();
        let bar = shardkit::progress(em.total_iterations(args.components) as u64, "UBM EM");
        let trained = train_ubm(
            &Frames::files(&train_files).options(options),
            args.components,
            &em,
            &mut |_| bar.inc(1),
        )?;
        bar.finish_and_clear();
        if shardkit::is_root() {
            trained.model.save(args.out.join("ubm.npz"))?;
        }
        Ok(trained.model)
    })?;

    // GMM-UBM.
    let gmm_trials = stages.run("GMM-UBM: MAP adaptation and scoring", || {
        let enrol_files: Vec<Vec<PathBuf>> = (0..speakers.len())
            .map(|k| {
                train
                    .iter()
                    .filter(|r| r.speaker == k)
                    .map(|r| r.npy.clone())
                    .collect()
            })
            .collect();
        let enrol: Vec<Speaker> = speakers
            .iter()
            .zip(&enrol_files)
            .map(|(name, files)| Speaker {
                name: name.clone(),
                frames: Frames::files(files).options(options),
            })
            .collect();
        let models = adapt_speakers(&enrol, &ubm, &MapConfig::new())?;
        // Every test file against every speaker, and which trials are
        // targets.
        let test_files: Vec<PathBuf> = test.iter().map(|r| r.npy.clone()).collect();
        let (trials, is_target): (Vec<Trial>, Vec<bool>) = test
            .iter()
            .enumerate()
            .flat_map(|(segment, r)| {
                (0..speakers.len()).map(move |model| (Trial { model, segment }, model == r.speaker))
            })
            .unzip();
        let test_frames = Frames::files(&test_files).options(options);
        let bar = shardkit::progress(trials.len() as u64, "GMM-UBM scoring");
        let mut scores = Vec::with_capacity(trials.len());
        for chunk in trials.chunks(256) {
            scores.extend(score_trials(chunk, &models, &ubm, &test_frames, 10)?);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok((scores, is_target))
    })?;

    // I-vectors.
    let stats = stages.run("Baum-Welch statistics", || {
        let files: Vec<PathBuf> = recordings.iter().map(|r| r.npy.clone()).collect();
        Ok(baum_welch(&Frames::files(&files).options(options), &ubm)?)
    })?;
    let train_rows: Vec<usize> = (0..recordings.len())
        .filter(|&i| recordings[i].train)
        .collect();
    let tv = stages.run(
        &format!(
            "total variability (R = {}, {} iterations)",
            args.rank, args.tv_iters
        ),
        || {
            let config = TvConfig::new(args.rank)
                .iterations(args.tv_iters)
                .seed(args.seed);
            let bar = shardkit::progress(args.tv_iters as u64, "TV EM");
            let trained = train_tv(&stats.select(&train_rows), &ubm, &config, &mut |_| {
                bar.inc(1)
            })?;
            bar.finish_and_clear();
            if shardkit::is_root() {
                trained.model.save(args.out.join("tv.npz"))?;
            }
            Ok(trained.model)
        },
    )?;
    let ivectors = stages.run("i-vector extraction", || Ok(extract(&stats, &tv)?))?;

    let systems = backends(&recordings, &ivectors, &gmm_trials, &mut stages)?;
    report(args, &recordings, speakers.len(), &systems, &mut stages)?;
    say!("total {:.1} s", stages.started.elapsed().as_secs_f64());
    Ok(())
}

/// One system's scores, as a DET curve.
struct System {
    name: &'static str,
    curve: DetCurve,
}

/// The i-vector back ends, and the GMM-UBM scores as a curve.
fn backends(
    recordings: &[Recording],
    ivectors: &Array2<f64>,
    gmm_trials: &(Vec<f64>, Vec<bool>),
    stages: &mut Stages,
) -> Result<Vec<System>> {
    let train_rows: Vec<usize> = (0..recordings.len())
        .filter(|&i| recordings[i].train)
        .collect();
    let test_rows: Vec<usize> = (0..recordings.len())
        .filter(|&i| !recordings[i].train)
        .collect();
    let train_labels: Vec<usize> = train_rows.iter().map(|&i| recordings[i].speaker).collect();
    let test_labels: Vec<usize> = test_rows.iter().map(|&i| recordings[i].speaker).collect();
    let train = ivectors.select(Axis(0), &train_rows);
    let test = ivectors.select(Axis(0), &test_rows);

    let (gmm_scores, is_target) = gmm_trials;
    let mut systems = vec![System {
        name: "GMM-UBM",
        curve: DetCurve::from_trials(gmm_scores, is_target)?,
    }];

    stages.run("back ends: cosine, LDA+WCCN, PLDA", || {
        // Length-normalised i-vectors (centred on the training mean), then
        // cosine, LDA (speakers − 1 directions, up to 150) + WCCN + cosine,
        // or LDA + length norm + two-covariance PLDA; enrolment from all of
        // a speaker's training i-vectors.
        let recipes = [
            ("i-vector cosine", Recipe::Cosine),
            (
                "i-vector LDA+WCCN cosine",
                Recipe::LdaWccnCosine { lda_dim: None },
            ),
            (
                "i-vector PLDA",
                Recipe::Plda {
                    lda_dim: None,
                    iterations: 10,
                },
            ),
        ];
        for (name, recipe) in recipes {
            let backend = recipe.fit(train.view(), &train_labels)?;
            let models = backend.enrol(train.view(), &train_labels)?;
            let scores = backend.score(&models, test.view())?;
            systems.push(System {
                name,
                curve: DetCurve::from_score_matrix(scores.view(), models.labels(), &test_labels)?,
            });
        }
        Ok(())
    })?;
    Ok(systems)
}

/// Prints the table and writes the DET plot (rank 0).
fn report(
    args: &Args,
    recordings: &[Recording],
    n_speakers: usize,
    systems: &[System],
    stages: &mut Stages,
) -> Result<()> {
    let params = DcfParams::default();
    let tests = recordings.iter().filter(|r| !r.train).count();
    say!(
        "\n{} trials ({} target, {} non-target); minDCF at P_target = {}",
        tests * n_speakers,
        tests,
        tests * (n_speakers - 1),
        params.p_target
    );
    say!("  {:<26} {:>8} {:>8}", "system", "EER %", "minDCF");
    for s in systems {
        say!(
            "  {:<26} {:>8.2} {:>8.4}",
            s.name,
            100.0 * s.curve.eer().eer,
            s.curve.min_dcf(&params)?.min_dcf
        );
    }
    stages.run("DET plot (PNG, SVG)", || {
        if shardkit::is_root() {
            let mut plot = DetPlot::new("Speaker verification: DET curves");
            for s in systems {
                plot = plot.system(s.name, &s.curve);
            }
            plot.write_png(args.out.join("det.png"))?;
            plot.write_svg(args.out.join("det.svg"))?;
        }
        Ok(())
    })?;
    say!(
        "wrote {} and {}",
        args.out.join("det.png").display(),
        args.out.join("det.svg").display()
    );
    Ok(())
}

/// The recordings of `dir` (`{digit}_{speaker}_{index}.wav`, sorted by
/// name) and the speakers' names (sorted).
fn scan(dir: &Path, feature_dir: &Path) -> Result<(Vec<Recording>, Vec<String>)> {
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wav") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: the name is not UTF-8", path.display()))?;
        let parts: Vec<&str> = stem.split('_').collect();
        let parsed = match parts.as_slice() {
            [digit, speaker, index] => digit
                .parse::<u32>()
                .ok()
                .zip(index.parse::<u32>().ok())
                .map(|(_, index)| (speaker.to_string(), index)),
            _ => None,
        };
        let (speaker, index) = parsed.ok_or_else(|| {
            format!(
                "{}: expected a name like 3_theo_17.wav ({{digit}}_{{speaker}}_{{index}})",
                path.display()
            )
        })?;
        found.push((path, speaker, index));
    }
    found.sort();
    // Speakers numbered in name order.
    let names: BTreeMap<String, usize> = found
        .iter()
        .map(|(_, s, _)| s.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, i))
        .collect();
    if names.len() < 2 {
        return Err(format!(
            "{}: need recordings of at least two speakers",
            dir.display()
        )
        .into());
    }
    let recordings: Vec<Recording> = found
        .into_iter()
        .map(|(wav, speaker, index)| Recording {
            npy: feature_dir
                .join(wav.file_stem().expect("a file"))
                .with_extension("npy"),
            wav,
            speaker: names[&speaker],
            train: index >= 5,
        })
        .collect();
    for (name, &k) in &names {
        let has = |train: bool| {
            recordings
                .iter()
                .any(|r| r.speaker == k && r.train == train)
        };
        if !has(true) || !has(false) {
            return Err(format!(
                "{}: speaker {name} needs training (index >= 5) and test (index 0-4) recordings",
                dir.display()
            )
            .into());
        }
    }
    Ok((recordings, names.into_keys().collect()))
}
