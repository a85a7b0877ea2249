//! [`extract_features`]: WAV files to `.npy` feature files, one
//! `#[parallelize]` pass over the file list.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use shardkit::parallelize;

use super::errors::FrontendError;
use super::hyperparams::MfccConfig;
use super::mfcc::Mfcc;
use super::wav::read_wav;
use crate::features::write_npy;

/// One file to process: a WAV file and the `.npy` file its features go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    /// The input WAV file.
    pub wav: PathBuf,
    /// The output `.npy` file (frames × [`MfccConfig::dim`], float32).
    pub npy: PathBuf,
}

impl Job {
    /// A job writing `out_dir/<stem of wav>.npy`.
    ///
    /// ```
    /// use shardkit_algorithms::frontend::Job;
    /// let job = Job::into_dir("recordings/3_theo_7.wav", "features");
    /// assert_eq!(job.npy, std::path::Path::new("features/3_theo_7.npy"));
    /// ```
    pub fn into_dir(wav: impl Into<PathBuf>, out_dir: impl AsRef<Path>) -> Job {
        let wav = wav.into();
        let stem = wav.file_stem().unwrap_or(wav.as_os_str());
        let npy = out_dir.as_ref().join(stem).with_extension("npy");
        Job { wav, npy }
    }
}

/// A file whose features were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The WAV file.
    pub wav: PathBuf,
    /// The `.npy` file written.
    pub npy: PathBuf,
    /// Samples read.
    pub samples: usize,
    /// Frames analysed (before voice activity detection).
    pub frames: usize,
    /// Frames kept by voice activity detection: the rows of the `.npy` file.
    pub kept: usize,
}

/// A file that failed, with `keep_going`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The WAV file.
    pub wav: PathBuf,
    /// The `.npy` file that was not written.
    pub npy: PathBuf,
    /// The error's message (a [`FrontendError`] rendered as text: it names
    /// the file and says what is wrong). Text, because under MPI it may
    /// come from another rank.
    pub error: String,
}

/// What [`extract_features`] did, file by file, in the order of the list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtractReport {
    /// The files written.
    pub written: Vec<Written>,
    /// The files that failed (only with `keep_going`; empty otherwise).
    pub failed: Vec<Failed>,
}

impl ExtractReport {
    /// Total frames analysed, over the files written.
    pub fn frames(&self) -> usize {
        self.written.iter().map(|w| w.frames).sum()
    }

    /// Total frames kept (rows written), over the files written.
    pub fn kept(&self) -> usize {
        self.written.iter().map(|w| w.kept).sum()
    }
}

/// What happened to one job, written in place by the parallel pass; it
/// travels between MPI ranks, so it is plain data.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
enum Outcome {
    /// Not processed (only seen if the pass failed).
    #[default]
    Pending,
    Written {
        samples: usize,
        frames: usize,
        kept: usize,
    },
    Failed {
        error: String,
    },
}

/// Extracts the features of every job's WAV file ([`read_wav`], then
/// [`Mfcc::compute`] with `config`) and writes them to the job's `.npy`
/// file ([`write_npy`](crate::features::write_npy): atomically, so a reader
/// never sees a partial file and a failed file leaves nothing behind).
/// Output folders must exist.
///
/// Files are shared out between the workers of the ambient executor
/// (threads, or MPI ranks each writing its own part of the list), weighted
/// by file size; each file's features depend on that file and `config`
/// only, so the bits written do not depend on the number of workers.
///
/// With `keep_going`, a file that fails (unreadable, refused format, too
/// short, cannot be written) is recorded in [`ExtractReport::failed`] and
/// every other file is still processed. Without it, the call returns the
/// first failure in list order; files in blocks that had already finished
/// or started keep their `.npy`, the rest are not processed.
///
/// # Errors
///
/// Before any file is written: [`FrontendError::Config`] for an invalid
/// `config`, [`FrontendError::DuplicateOutput`] when two jobs name the
/// same `.npy`, [`FrontendError::MixedRates`] when the WAV files' headers
/// give more than one sample rate and `config` leaves the filterbank's
/// upper edge at each file's Nyquist frequency. Then, without
/// `keep_going`, the first file's error: [`FrontendError::Io`], [`FrontendError::NotWav`],
/// [`FrontendError::Unsupported`], [`FrontendError::Truncated`],
/// [`FrontendError::NonFinite`], [`FrontendError::Mfcc`] (too short, or a
/// configuration that does not fit the file's sample rate) or
/// [`FrontendError::Features`] (writing), and under MPI
/// [`FrontendError::Remote`] for a failure on another rank.
///
/// ## Parallelisation
///
/// One `#[parallelize(split = "jobs, outcomes", reduce = "none", weights =
/// job_weight)]` pass: each shard reads, computes and writes its files and
/// records what happened in its slice of an in-place `&mut [Outcome]`
/// output; the report is built from that slice after the pass.
///
/// # Examples
///
/// ```
/// use shardkit_algorithms::frontend::{extract_features, Job, MfccConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let spec = hound::WavSpec {
///     channels: 1,
///     sample_rate: 8000,
///     bits_per_sample: 16,
///     sample_format: hound::SampleFormat::Int,
/// };
/// let wav = dir.path().join("tone.wav");
/// let mut w = hound::WavWriter::create(&wav, spec)?;
/// for n in 0..4000 {
///     w.write_sample((8000.0 * (n as f64 * 0.3).sin()) as i16)?;
/// }
/// w.finalize()?;
/// let missing = dir.path().join("missing.wav");
///
/// let jobs = vec![Job::into_dir(&wav, dir.path()), Job::into_dir(&missing, dir.path())];
/// let report = extract_features(&jobs, &MfccConfig::default(), true)?;
/// assert_eq!(report.written.len(), 1);
/// assert_eq!(report.written[0].frames, 48);
/// assert!(report.failed[0].error.contains("missing.wav: cannot read"));
/// assert!(dir.path().join("tone.npy").exists());
///
/// // Without keep_going the first failure is the result.
/// let err = extract_features(&jobs, &MfccConfig::default(), false).unwrap_err();
/// assert!(err.to_string().contains("missing.wav"));
/// # Ok(())
/// # }
/// ```
pub fn extract_features(
    jobs: &[Job],
    config: &MfccConfig,
    keep_going: bool,
) -> Result<ExtractReport, FrontendError> {
    config.check().map_err(FrontendError::Config)?;
    let mut seen: HashMap<&Path, &Path> = HashMap::with_capacity(jobs.len());
    for job in jobs {
        if let Some(first) = seen.insert(&job.npy, &job.wav) {
            return Err(FrontendError::DuplicateOutput {
                npy: job.npy.clone(),
                first: first.to_path_buf(),
                second: job.wav.clone(),
            });
        }
    }
    if config.high_hz.is_none() {
        same_rates(jobs)?;
    }
    let mut outcomes = vec![Outcome::Pending; jobs.len()];
    extract_pass(jobs, &mut outcomes, config, keep_going)?;
    let mut report = ExtractReport::default();
    for (job, outcome) in jobs.iter().zip(outcomes) {
        match outcome {
            Outcome::Written {
                samples,
                frames,
                kept,
            } => report.written.push(Written {
                wav: job.wav.clone(),
                npy: job.npy.clone(),
                samples,
                frames,
                kept,
            }),
            Outcome::Failed { error } => report.failed.push(Failed {
                wav: job.wav.clone(),
                npy: job.npy.clone(),
                error,
            }),
            // The pass succeeded, so every job ran.
            Outcome::Pending => unreachable!("a job of a successful pass was not processed"),
        }
    }
    Ok(report)
}

/// Refuses jobs whose WAV files have different sample rates, from their
/// headers alone (a file whose header cannot be read is left to the pass,
/// which names it).
fn same_rates(jobs: &[Job]) -> Result<(), FrontendError> {
    let mut rates: Vec<(u32, usize, PathBuf)> = Vec::new();
    for job in jobs {
        let Ok(reader) = hound::WavReader::open(&job.wav) else {
            continue;
        };
        let rate = reader.spec().sample_rate;
        match rates.iter_mut().find(|r| r.0 == rate) {
            Some(seen) => seen.1 += 1,
            None => rates.push((rate, 1, job.wav.clone())),
        }
    }
    if rates.len() > 1 {
        rates.sort_by_key(|r| r.0);
        return Err(FrontendError::MixedRates { rates });
    }
    Ok(())
}

/// The cost of a job: the size of its WAV file.
fn job_weight(job: &Job) -> u64 {
    shardkit::weights::file_size(&job.wav)
}

/// The data pass: one shard's jobs, one after the other; an [`Mfcc`] is
/// prepared once per sample rate met.
#[parallelize(split = "jobs, outcomes", reduce = "none", weights = job_weight)]
fn extract_pass(
    jobs: &[Job],
    outcomes: &mut [Outcome],
    config: &MfccConfig,
    keep_going: bool,
) -> Result<(), FrontendError> {
    let mut prepared: HashMap<u32, Mfcc> = HashMap::new();
    for (job, outcome) in jobs.iter().zip(outcomes.iter_mut()) {
        *outcome = match extract_one(job, config, &mut prepared) {
            Ok(done) => done,
            Err(e) if keep_going => Outcome::Failed {
                error: e.to_string(),
            },
            Err(e) => return Err(e),
        };
    }
    Ok(())
}

fn extract_one(
    job: &Job,
    config: &MfccConfig,
    prepared: &mut HashMap<u32, Mfcc>,
) -> Result<Outcome, FrontendError> {
    let wav = read_wav(&job.wav)?;
    let in_file = |error| FrontendError::Mfcc {
        path: job.wav.clone(),
        error,
    };
    let mfcc = match prepared.entry(wav.rate) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Mfcc::new(config, wav.rate).map_err(in_file)?)
        }
    };
    let features = mfcc.compute(&wav.samples).map_err(in_file)?;
    write_npy(&job.npy, &features)?;
    Ok(Outcome::Written {
        samples: wav.samples.len(),
        frames: mfcc.n_frames(wav.samples.len()),
        kept: features.nrows(),
    })
}
