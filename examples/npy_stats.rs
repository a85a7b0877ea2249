//! Per-dimension statistics over a list of `.npy` feature files, the way
//! SIDEKIT accumulates them: each shard reads its files one after the other
//! and keeps running sums; the shards' partial sums are added in file order.
//! Files are shared out by size (`weights = shardkit::weights::file_size`),
//! so one long recording does not hold up a pool of short ones.
//!
//! ```text
//! cargo run --release --example npy_stats                     # generated data, self-checked
//! cargo run --release --example npy_stats -- --list files.txt # one .npy path per line
//! ```
//!
//! Each file holds a 2-D array of `f32` (`'<f4'`) or `f64` (`'<f8'`), one row
//! per frame and one column per dimension; every file must have the same
//! number of columns. In a list, blank lines and lines starting with `#` are
//! skipped.
//!
//! Under MPI (built with `--features mpi`), the same program shares the files
//! out between ranks and prints once, from rank 0:
//!
//! ```text
//! cargo build --release --features mpi --example npy_stats
//! mpirun -n 2 target/release/examples/npy_stats
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use ndarray::{Array2, ArrayView2, Axis};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use shardkit::{parallelize, Executor, Reduce};

/// Per-dimension statistics (mean, standard deviation, minimum, maximum)
/// over a list of `.npy` feature files, each shard reading its files one
/// after the other, files shared out by size. Without `--list`, writes 20
/// files of generated data, checks the result against a direct computation
/// and across executors, and checks that a bad file is reported by name.
#[derive(Parser)]
struct Args {
    /// A file listing `.npy` paths, one per line (blank lines and lines
    /// starting with `#` skipped); each file a 2-D array of '<f4' or '<f8'
    /// [default: generated data, self-checked]
    #[arg(long, value_name = "FILE")]
    list: Option<PathBuf>,
}

/// Running statistics of a set of frames. `#[derive(Reduce)]` adds two
/// partial results field by field, taking the minimum or maximum of the
/// fields marked so.
#[derive(Reduce, Debug, Clone, PartialEq)]
struct Stats {
    files: u64,
    frames: u64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    #[reduce(min)]
    min: Vec<f64>,
    #[reduce(max)]
    max: Vec<f64>,
}

impl Stats {
    fn empty(dims: usize) -> Self {
        Stats {
            files: 0,
            frames: 0,
            sum: vec![0.0; dims],
            sum_sq: vec![0.0; dims],
            min: vec![f64::INFINITY; dims],
            max: vec![f64::NEG_INFINITY; dims],
        }
    }

    fn add_frames<A: Copy + Into<f64>>(&mut self, frames: ArrayView2<'_, A>) {
        for frame in frames.rows() {
            for (d, &x) in frame.iter().enumerate() {
                let x: f64 = x.into();
                self.sum[d] += x;
                self.sum_sq[d] += x * x;
                self.min[d] = self.min[d].min(x);
                self.max[d] = self.max[d].max(x);
            }
        }
        self.frames += frames.nrows() as u64;
        self.files += 1;
    }

    fn mean(&self) -> Vec<f64> {
        let n = self.frames as f64;
        self.sum.iter().map(|s| s / n).collect()
    }

    /// Population standard deviation, `sqrt(E[x²] - E[x]²)`.
    fn std(&self) -> Vec<f64> {
        let n = self.frames as f64;
        self.sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, q)| (q / n - (s / n) * (s / n)).max(0.0).sqrt())
            .collect()
    }
}

/// What went wrong, always with the file it went wrong in.
#[derive(Debug, thiserror::Error)]
enum StatsError {
    #[error("{}: cannot read the file", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a 2-D .npy array of '<f4' or '<f8'", path.display())]
    Npy {
        path: PathBuf,
        #[source]
        source: ReadNpyError,
    },
    #[error("{}: frames have {found} dimensions, but {expected} were expected (from the first file)", path.display())]
    Dims {
        path: PathBuf,
        found: usize,
        expected: usize,
    },
    #[error("{}: the header claims {claimed} bytes of data, but the file holds {present}", path.display())]
    Truncated {
        path: PathBuf,
        claimed: u128,
        present: usize,
    },
    #[error("{}: the list of files is empty", path.display())]
    EmptyList { path: PathBuf },
    /// Under MPI: a file failed on another rank.
    #[error(transparent)]
    Remote(#[from] shardkit::RemoteError),
}

/// A 2-D feature array in either precision.
enum Features {
    F32(Array2<f32>),
    F64(Array2<f64>),
}

impl Features {
    fn dims(&self) -> usize {
        match self {
            Features::F32(a) => a.ncols(),
            Features::F64(a) => a.ncols(),
        }
    }
}

/// Reads one `.npy` file as `f32`, or as `f64` if that is what it holds.
fn read_features(path: &Path) -> Result<Features, StatsError> {
    let bytes = fs::read(path).map_err(|source| StatsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let npy = |source| StatsError::Npy {
        path: path.to_owned(),
        source,
    };
    if let Some((claimed, present)) = claimed_data(&bytes).filter(|(c, p)| *c > *p as u128) {
        return Err(StatsError::Truncated {
            path: path.to_owned(),
            claimed,
            present,
        });
    }
    match Array2::<f32>::read_npy(&bytes[..]) {
        Ok(a) => Ok(Features::F32(a)),
        Err(ReadNpyError::WrongDescriptor(_)) => Array2::<f64>::read_npy(&bytes[..])
            .map(Features::F64)
            .map_err(npy),
        Err(e) => Err(npy(e)),
    }
}

/// The data bytes a `.npy` header claims (its shape's product times the
/// item size) and the bytes the file holds after the header, where the
/// header can be read; `None` leaves the judgement to `ndarray-npy`.
///
/// Written by hand because `ndarray-npy` allocates what the header claims
/// before it reads: a 200-byte file claiming 10^11 elements would abort the
/// process instead of returning an error. (The algorithms crate has a full
/// header reader; this example depends only on shardkit.)
fn claimed_data(bytes: &[u8]) -> Option<(u128, usize)> {
    let (len_bytes, start) = match bytes.get(6)? {
        1 => (2, 10),
        _ => (4, 12),
    };
    let mut len = [0u8; 4];
    len[..len_bytes].copy_from_slice(bytes.get(8..8 + len_bytes)?);
    let end = start + u32::from_le_bytes(len) as usize;
    let header = std::str::from_utf8(bytes.get(start..end)?).ok()?;
    let item: u128 = if header.contains("f8") { 8 } else { 4 };
    let shape = header.split("'shape':").nth(1)?;
    let shape = shape.split('(').nth(1)?.split(')').next()?;
    let mut elements: u128 = 1;
    for dim in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        elements = elements.checked_mul(dim.parse().ok()?)?;
    }
    Some((elements.checked_mul(item)?, bytes.len() - end))
}

/// One shard: the statistics of a run of files, read one after the other.
/// `files` is cut into blocks of about equal total size in bytes; `dims` is
/// shared by every shard.
#[parallelize(split = "files", reduce = "sum", weights = shardkit::weights::file_size)]
fn accumulate(files: &[PathBuf], dims: usize) -> Result<Stats, StatsError> {
    let mut stats = Stats::empty(dims);
    for path in files {
        let features = read_features(path)?;
        if features.dims() != dims {
            return Err(StatsError::Dims {
                path: path.clone(),
                found: features.dims(),
                expected: dims,
            });
        }
        match &features {
            Features::F32(a) => stats.add_frames(a.view()),
            Features::F64(a) => stats.add_frames(a.view()),
        }
    }
    Ok(stats)
}

/// The statistics of `files`, whose frames all have the dimension of the
/// first file's.
fn stats_of(files: &[PathBuf]) -> Result<Stats, StatsError> {
    let dims = match files.first() {
        Some(first) => read_features(first)?.dims(),
        None => 0,
    };
    accumulate(files, dims)
}

fn print_stats(stats: &Stats) {
    if !shardkit::is_root() {
        return;
    }
    println!(
        "{} files, {} frames of {} dimensions",
        stats.files,
        stats.frames,
        stats.sum.len()
    );
    println!(
        "{:>4} {:>12} {:>12} {:>12} {:>12}",
        "dim", "mean", "std", "min", "max"
    );
    let (mean, std) = (stats.mean(), stats.std());
    for d in 0..stats.sum.len() {
        println!(
            "{d:>4} {:>12.6} {:>12.6} {:>12.6} {:>12.6}",
            mean[d], std[d], stats.min[d], stats.max[d]
        );
    }
}

/// A directory of its own under the system's temporary directory, removed
/// by rank 0 when dropped (also when a check fails). Under mpirun every
/// rank names the same one (after their common parent, the launcher's
/// daemon), because the ranks must pass the same file list: shardkit
/// compares the paths, not only their number.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<Self> {
        let (_, ranks) = Executor::current().rank();
        let name = if ranks > 1 {
            format!(
                "shardkit-npy-stats-job{}",
                std::os::unix::process::parent_id()
            )
        } else {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            format!("shardkit-npy-stats-{}-{nanos}", std::process::id())
        };
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if shardkit::is_root() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// A tiny 64-bit linear congruential generator (Knuth's MMIX constants):
/// the same data on every run and every platform.
struct Lcg(u64);

impl Lcg {
    /// A uniform number in `[0, 1)` from the top 24 bits.
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Writes `count` files of `f32` features, `dims` columns each, with between
/// 100 and 2,000 frames, and returns their paths.
fn write_files(
    dir: &Path,
    count: usize,
    dims: usize,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut rng = Lcg(42);
    let mut paths = Vec::with_capacity(count);
    for i in 0..count {
        let frames = 100 + (i * 379) % 1_901;
        // Dimension d is centred on d/2 with a spread growing with d.
        let a = Array2::from_shape_fn((frames, dims), |(_, d)| {
            d as f32 * 0.5 + (rng.next_f32() - 0.5) * (1.0 + d as f32 * 0.1)
        });
        let path = dir.join(format!("utt{i:03}.npy"));
        // Every rank makes the same bytes; rank 0 writes them, and the
        // others wait for its verdict, so the file is there for all.
        let mut bytes = Vec::new();
        a.write_npy(&mut bytes)?;
        shardkit::write_on_root(&path, |w| w.write_all(&bytes))?;
        paths.push(path);
    }
    Ok(paths)
}

/// The statistics straight from all frames of all files stacked together.
fn direct(files: &[PathBuf]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let arrays: Vec<Array2<f64>> = files
        .iter()
        .map(|p| match read_features(p).expect("readable") {
            Features::F32(a) => a.mapv(f64::from),
            Features::F64(a) => a,
        })
        .collect();
    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
    let all = ndarray::concatenate(Axis(0), &views).expect("equal dimensions");
    let mean = all.mean_axis(Axis(0)).expect("frames").to_vec();
    let std = all.std_axis(Axis(0), 0.0).to_vec();
    let min = all
        .fold_axis(Axis(0), f64::INFINITY, |m, &x| m.min(x))
        .to_vec();
    let max = all
        .fold_axis(Axis(0), f64::NEG_INFINITY, |m, &x| m.max(x))
        .to_vec();
    (mean, std, min, max)
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (d, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{what}[{d}]: accumulated {g}, direct {w}"
        );
    }
}

/// Generated data: compute, compare with the direct computation and across
/// executors, and check that errors name their file.
fn demo() -> Result<(), Box<dyn std::error::Error>> {
    const FILES: usize = 20;
    const DIMS: usize = 13;
    let dir = TempDir::new()?;
    let files = write_files(&dir.0, FILES, DIMS)?;
    let say = |line: String| {
        if shardkit::is_root() {
            println!("{line}");
        }
    };
    say(format!("wrote {FILES} files to {}", dir.0.display()));

    let stats = stats_of(&files)?;
    print_stats(&stats);

    let (mean, std, min, max) = direct(&files);
    assert_eq!(stats.files, FILES as u64);
    assert_close("mean", &stats.mean(), &mean);
    assert_close("std", &stats.std(), &std);
    assert_eq!(stats.min, min, "min");
    assert_eq!(stats.max, max, "max");

    let serial = Executor::serial().install(|| stats_of(&files))?;
    assert_eq!(stats, serial, "default executor vs serial");
    for n in [1, 2, 3] {
        let on_pool = Executor::threads(n)?.install(|| stats_of(&files))?;
        assert_eq!(on_pool, serial, "threads({n}) vs serial");
    }
    say("matches the direct computation; serial and 1, 2, 3 threads agree bit for bit".into());

    // Errors name the file they happened in: the first failing file in
    // list order, whichever shard saw it first.
    // (Written once, by rank 0, atomically: were every rank to write it,
    // one rank's rewrite could truncate the file while another measures
    // its size, the weight of its block, and the ranks' plans would
    // differ.)
    let garbage = dir.0.join("garbage.npy");
    shardkit::write_on_root(&garbage, |w| w.write_all(b"not an npy file"))?;
    let missing = dir.0.join("missing.npy");
    let mut bad = files.clone();
    bad.insert(7, garbage.clone());
    bad.insert(15, missing);
    let err = accumulate(&bad, DIMS).expect_err("a garbage file");
    match &err {
        StatsError::Npy { path, .. } => assert_eq!(*path, garbage),
        // Under MPI, the rank that read the file says which it was.
        StatsError::Remote(remote) => assert!(remote.message.contains("garbage.npy"), "{remote}"),
        other => panic!("{other:?}"),
    }
    say(format!("a bad file is reported by name: {}", chain(&err)));

    // A header that claims more data than the file holds (here 10^11
    // doubles in a 145-byte file) is refused before anything is allocated.
    let huge = dir.0.join("huge.npy");
    let mut header =
        b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 1), }".to_vec();
    header.resize(117, b' ');
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&[0; 16]);
    shardkit::write_on_root(&huge, |w| w.write_all(&bytes))?;
    match accumulate(&[files[0].clone(), huge.clone()], DIMS) {
        Err(StatsError::Truncated {
            path,
            claimed,
            present,
        }) => {
            assert_eq!((path, claimed, present), (huge, 800_000_000_000, 16));
        }
        Err(StatsError::Remote(remote)) => assert!(remote.message.contains("huge.npy"), "{remote}"),
        other => panic!("{other:?}"),
    }
    say("a header that claims more than the file holds is refused by name".into());
    Ok(())
}

/// An error and its causes on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        // Some errors print their cause in their own message too.
        if !text.ends_with(&c_text) {
            text += &format!(": {c_text}");
        }
        cause = c.source();
    }
    text
}

/// The paths listed in `list`, one per line.
fn read_list(list: &Path) -> Result<Vec<PathBuf>, StatsError> {
    let text = fs::read_to_string(list).map_err(|source| StatsError::Io {
        path: list.to_owned(),
        source,
    })?;
    let files: Vec<PathBuf> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        return Err(StatsError::EmptyList {
            path: list.to_owned(),
        });
    }
    Ok(files)
}

fn main() -> ExitCode {
    let result = match Args::parse().list {
        None => demo(),
        Some(list) => read_list(&list)
            .and_then(|files| stats_of(&files))
            .map(|stats| print_stats(&stats))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain(&*e));
            ExitCode::FAILURE
        }
    }
}
