//! The program that `tests/mpi/main.rs` launches under `mpirun -n 1..4` (and
//! without mpirun, for the threaded reference): a test driver, not a
//! user's task. Every rank prints one line per check, prefixed with its
//! rank, so the test can compare runs.
//!
//! The test builds it by itself (into `target/mpi-driver`); by hand:
//!
//! ```text
//! cargo build -p shardkit-mpi-driver --features mpi
//! mpirun -n 3 target/debug/mpi-driver sum
//! ```
#![deny(warnings)]

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use shardkit::{parallelize, Executor, Reduce};

/// Statistics of a set of values, merged field by field.
#[derive(Reduce, Debug, PartialEq)]
struct Moments {
    count: u64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    #[reduce(min)]
    lowest: f64,
    #[reduce(max)]
    highest: f64,
}

/// Values spanning many magnitudes, so the order of addition matters.
fn data(n: usize) -> Vec<f64> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let exponent = ((x >> 3) % 40) as i32 - 20;
            mantissa * 2f64.powi(exponent)
        })
        .collect()
}

#[parallelize(split = "xs", reduce = "sum")]
fn moments(xs: &[f64], dims: usize) -> Moments {
    let mut m = Moments {
        count: 0,
        sum: vec![0.0; dims],
        sum_sq: vec![0.0; dims],
        lowest: f64::INFINITY,
        highest: f64::NEG_INFINITY,
    };
    for (i, &x) in xs.iter().enumerate() {
        m.count += 1;
        m.sum[i % dims] += x;
        m.sum_sq[i % dims] += x * x;
        m.lowest = m.lowest.min(x);
        m.highest = m.highest.max(x);
    }
    m
}

#[parallelize(split = "xs", reduce = "sum", block_size = 10)]
fn plain_total(xs: &[f64]) -> f64 {
    xs.iter().sum()
}

#[parallelize(split = "ids", reduce = "max", block_size = 7)]
fn checked(ids: std::ops::Range<usize>, bad: usize) -> Result<Option<usize>, std::io::Error> {
    if ids.contains(&bad) {
        return Err(std::io::Error::other(format!("item {bad} is bad")));
    }
    Ok(ids.max())
}

/// An error that can travel between ranks (it has serde, and no
/// `From<RemoteError>`): every rank returns this value, the failing rank's.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct BadItem {
    item: usize,
    /// The first item of the failing block.
    first: usize,
}

impl std::fmt::Display for BadItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "item {} is bad (in the block from {})",
            self.item, self.first
        )
    }
}

#[parallelize(split = "ids", reduce = "max", block_size = 7)]
fn checked_typed(ids: std::ops::Range<usize>, bad: usize) -> Result<Option<usize>, BadItem> {
    if ids.contains(&bad) {
        let first = ids.start;
        return Err(BadItem { item: bad, first });
    }
    Ok(ids.max())
}

#[parallelize(split = "ids", reduce = "sum")]
fn explode(ids: std::ops::Range<usize>, bad: usize) -> u64 {
    if ids.contains(&bad) {
        panic!("item {bad} exploded");
    }
    ids.len() as u64
}

/// `concat` of owned vectors: every rank receives every block's values.
#[parallelize(split = "xs", reduce = "concat", block_size = 13)]
fn squares(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|x| x * x).collect()
}

/// `concat` of ndarray rows.
#[parallelize(split = "rows", reduce = "concat", block_size = 5)]
fn doubled(rows: ArrayView2<f64>) -> Array2<f64> {
    rows.mapv(|x| 2.0 * x)
}

/// A merge whose float result depends on the grouping: only a fold in
/// block order gives the threaded run's bits.
fn lopsided(a: f64, b: f64) -> f64 {
    a * 0.75 + b
}

#[parallelize(split = "xs", reduce = lopsided, block_size = 11)]
fn folded(xs: &[f64]) -> f64 {
    xs.iter().sum()
}

/// In-place outputs, a slice and array rows, with `reduce = "none"`.
#[parallelize(split = "xs, out, grid", reduce = "none", block_size = 9)]
fn fill(xs: &[f64], out: &mut [f64], mut grid: ArrayViewMut2<f64>) {
    for ((x, o), mut row) in xs.iter().zip(out.iter_mut()).zip(grid.rows_mut()) {
        *o = x.sqrt().abs() + 1.0;
        row.fill(*x * 3.0);
    }
}

/// In-place output beside a summed result, with an error type.
#[parallelize(split = "xs, out", reduce = "sum", block_size = 9)]
fn scale(xs: &[f64], out: &mut [f64], by: f64) -> Result<u64, std::io::Error> {
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        *o = x * by;
    }
    Ok(xs.len() as u64)
}

/// Rank-local data: each rank passes its own values; only the sum is global.
#[parallelize(split = "xs", reduce = "sum", block_size = 7, data = "local")]
fn local_total(xs: &[f64]) -> (u64, f64) {
    (xs.len() as u64, xs.iter().sum())
}

/// The same body on data every rank passes whole.
#[parallelize(split = "xs", reduce = "sum", block_size = 7)]
fn shared_total(xs: &[f64]) -> (u64, f64) {
    (xs.len() as u64, xs.iter().sum())
}

#[parallelize(split = "xs", reduce = "concat", block_size = 7, data = "local")]
fn local_squares(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|x| x * x).collect()
}

#[parallelize(split = "xs, out", reduce = "none", block_size = 7, data = "local")]
fn local_fill(xs: &[f64], out: &mut [f64]) {
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        *o = -x;
    }
}

/// A stand-in for a long shard that a rank is killed in.
#[parallelize(split = "ids", reduce = "sum")]
fn killed(ids: std::ops::Range<usize>, victim: usize) -> u64 {
    if ids.contains(&victim) {
        std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status()
            .ok();
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    ids.len() as u64
}

fn name_len(name: &&str) -> u64 {
    name.len() as u64
}

/// File names weighed by their length, as file lists are by file size.
#[parallelize(split = "names", reduce = "sum", weights = name_len)]
fn name_bytes(names: &[&str]) -> usize {
    names.iter().map(|n| n.len()).sum()
}

#[parallelize(split = "names", reduce = "sum")]
fn name_count(names: &[PathBuf]) -> usize {
    names.len()
}

/// A shard that stalls on the rank that holds item `slow`.
#[parallelize(split = "ids", reduce = "sum")]
fn stall(ids: std::ops::Range<usize>, slow: usize) -> u64 {
    if ids.contains(&slow) {
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    ids.len() as u64
}

/// A result type without serde: it cannot travel between ranks.
#[derive(Debug)]
struct Opaque(#[allow(dead_code)] usize);

#[parallelize(split = "ids", reduce = "concat")]
fn opaque(ids: std::ops::Range<usize>) -> Vec<Opaque> {
    ids.map(Opaque).collect()
}

/// Part `i` of the `kmeans` scenario's data: 384 points (a whole number of
/// k-means's blocks of rows) in 4 dimensions, around 3 centres.
fn kmeans_part(i: usize) -> Array2<f32> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
    Array2::from_shape_fn((384, 4), |(row, col)| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let centre = [0.0, 8.0, -5.0][(row + i) % 3] + col as f32;
        centre + ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
    })
}

/// The `kmeans` scenario: 4 parts, rank r holding a contiguous share of
/// them (all of them off MPI), as files and as rows; every rank prints the
/// bits of each fit, and checks them against the fit over all parts on
/// one process.
fn kmeans(rank: usize, size: usize, say: &dyn Fn(String)) {
    use shardkit_algorithms::features::write_npy;
    use shardkit_algorithms::frames::Frames;
    use shardkit_algorithms::kmeans::{Init, KMeans, KMeansModel};

    let parts: Vec<Array2<f32>> = (0..4).map(kmeans_part).collect();
    let dir = std::env::temp_dir().join(format!("shardkit-mpi-kmeans-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let files: Vec<PathBuf> = parts
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let path = dir.join(format!("file{i}.npy"));
            write_npy(&path, x).expect("written");
            path
        })
        .collect();
    let share = rank * 4 / size..(rank + 1) * 4 / size;
    let views: Vec<ArrayView2<f32>> = parts.iter().map(|x| x.view()).collect();
    let all = ndarray::concatenate(ndarray::Axis(0), &views).expect("same width");
    let mine = ndarray::concatenate(ndarray::Axis(0), &views[share.clone()])
        .unwrap_or_else(|_| Array2::zeros((0, 4)));
    let line = |m: &KMeansModel| {
        format!(
            "{} {} {}",
            digest(m.centroids()),
            digest(&m.inertia()),
            m.iterations()
        )
    };
    for (name, init) in [("pp", Init::PlusPlus), ("par", Init::parallel())] {
        let params = KMeans::new(5).init(init).seed(7).max_iter(5).tol(0.0);
        let local = params
            .fit(&Frames::files(&files[share.clone()]).local())
            .expect("a fit of local files");
        let reference = Executor::serial()
            .install(|| params.fit(&Frames::files(&files)))
            .expect("a fit of every file");
        assert_eq!(line(&local), line(&reference), "{name}: local files");
        say(format!("kmeans-files {name} {}", line(&local)));
        let local = params
            .fit(&Frames::rows(mine.view()).local())
            .expect("a fit of local rows");
        let reference = Executor::serial()
            .install(|| params.fit(&Frames::rows(all.view())))
            .expect("a fit of every row");
        assert_eq!(line(&local), line(&reference), "{name}: local rows");
        say(format!("kmeans-rows {name} {}", line(&local)));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// FNV-1a over the bits of `values`: one short line per result.
fn digest<'a>(values: impl IntoIterator<Item = &'a f64>) -> String {
    let (mut h, mut n) = (0xcbf2_9ce4_8422_2325u64, 0usize);
    for v in values {
        h = (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3);
        n += 1;
    }
    format!("{n}:{h:016x}")
}

/// The values rank `rank` holds in the rank-local scenario: 7·(rank + 1)·10
/// of them, a whole number of blocks of 7.
fn local_data(rank: usize) -> Vec<f64> {
    data(70 * (rank + 2)).split_off(70)
}

/// Runs one scenario of shardkit's MPI test on the ambient executor (the
/// MPI world under mpirun, else a thread pool); every rank prints its
/// results as `rank N: ...` lines.
#[derive(Parser)]
struct Args {
    /// What to run.
    #[arg(value_enum, default_value_t = Scenario::Sum)]
    scenario: Scenario,
    /// The file that `write` writes (no default: `write` needs it).
    path: Option<PathBuf>,
}

/// The scenarios, each checked by one test of `tests/mpi/main.rs`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Exact sums (a derived struct, a plain f64 total): their bits.
    Sum,
    /// A shard fails on one rank: every rank returns an error.
    Error,
    /// A shard panics on one rank: the job ends.
    Panic,
    /// `concat` results, a merge function, in-place outputs: their bits.
    Gather,
    /// Rank-local data (`data = "local"`): one global reduction.
    Local,
    /// Two halves of the world, each an executor of its own.
    Split,
    /// Rank 0 writes PATH; every rank learns the outcome.
    Write,
    /// A result type without serde: refused on every rank.
    Opaque,
    /// A rank is killed in a shard: the job ends.
    Sigkill,
    /// Different inputs on different ranks: refused on every rank.
    Mismatch,
    /// Split inputs of the same length but different items (weighed).
    SameLength,
    /// Split inputs of the same length but different items (unweighed).
    SameLengthUnweighted,
    /// Rank r makes 3 + r calls, then ends its program.
    FewerCalls,
    /// Rank 0 makes 3 calls, then stays in its own code; the others make 4.
    Stalled,
    /// A shard on rank 0 stalls inside the call.
    StalledInCall,
    /// Rank 0 calls one function, the others another, at the same step.
    Different,
    /// k-means on rank-local files and rows (`Frames::local`): the bits of
    /// the fit over all of them on one process.
    Kmeans,
    /// An exact sum and a gather, then this rank's communication counters.
    Counters,
}

fn main() {
    let args = Args::parse();
    let exec = Executor::current();
    let (rank, size) = exec.rank();
    let say = |line: String| println!("rank {rank}: {line}");
    match args.scenario {
        Scenario::Sum => {
            let xs = data(20_000);
            let m = moments(&xs, 3);
            let bits: Vec<String> = m
                .sum
                .iter()
                .chain(&m.sum_sq)
                .chain([&m.lowest, &m.highest])
                .map(|x| format!("{:016x}", x.to_bits()))
                .collect();
            say(format!("moments {} {}", m.count, bits.join(" ")));
            let t = plain_total(&xs);
            say(format!("total {:016x}", t.to_bits()));
            // The same call on this rank's threads alone gives the same bits.
            let alone = Executor::serial().install(|| moments(&xs, 3));
            assert_eq!(alone, m, "ranks and one thread disagree");
        }
        Scenario::Error => {
            match checked(0..1000, 500) {
                Ok(v) => say(format!("ok {v:?}")),
                Err(e) => say(format!("error {e}")),
            }
            match checked_typed(0..1000, 500) {
                Ok(v) => say(format!("ok {v:?}")),
                Err(e) => say(format!("typed {e:?}")),
            }
        }
        Scenario::Panic => {
            let n = explode(0..1000, 990);
            say(format!("no panic {n}"));
        }
        Scenario::Gather => {
            let xs = data(1000);
            say(format!("squares {}", digest(&squares(&xs))));
            let rows = Array2::from_shape_fn((97, 3), |(i, j)| xs[i * 3 + j]);
            say(format!("doubled {}", digest(&doubled(rows.view()))));
            // Fortran order: rows that are not contiguous in memory.
            let fortran = Array2::from_shape_fn((97, 3).f(), |(i, j)| xs[i * 3 + j]);
            say(format!("doubled-f {}", digest(&doubled(fortran.view()))));
            say(format!("folded {}", digest([&folded(&xs)])));
            let mut out = vec![0.0; xs.len()];
            let mut grid = Array2::zeros((xs.len(), 2));
            fill(&xs, &mut out, grid.view_mut());
            say(format!("fill {} {}", digest(&out), digest(&grid)));
            let mut columns = Array2::<f64>::zeros((2, xs.len()));
            fill(&xs, &mut out, columns.view_mut().reversed_axes());
            say(format!("fill-t {}", digest(&columns)));
            let mut scaled = vec![0.0; xs.len()];
            let n = scale(&xs, &mut scaled, 0.5).expect("no error");
            say(format!("scale {n} {}", digest(&scaled)));
        }
        Scenario::Local => {
            let mine = local_data(rank);
            let (n, total) = local_total(&mine);
            say(format!("local-total {n} {:016x}", total.to_bits()));
            let everything: Vec<f64> = (0..size).flat_map(local_data).collect();
            let (n_all, total_all) = Executor::serial().install(|| shared_total(&everything));
            assert_eq!((n, total.to_bits()), (n_all, total_all.to_bits()));
            let squared = local_squares(&mine);
            let all_squared: Vec<f64> = everything.iter().map(|x| x * x).collect();
            assert_eq!(digest(&squared), digest(&all_squared));
            say(format!("local-squares {}", digest(&squared)));
            let mut out = vec![0.0; mine.len()];
            local_fill(&mine, &mut out);
            let negated: Vec<f64> = mine.iter().map(|x| -x).collect();
            assert_eq!(out, negated, "a rank-local output stays the rank's own");
            say("local-fill ok".to_string());
        }
        Scenario::Split => {
            // A program that manages MPI itself: two halves of the world,
            // each its own executor; different data in each half.
            use shardkit::mpi::topology::{Color, Communicator};
            let world = shardkit::mpi::topology::SimpleCommunicator::world();
            let half = rank % 2;
            let comm = world
                .split_by_color(Color::with_value(half as i32))
                .expect("every rank has a color");
            let sub = Executor::mpi(comm, Executor::serial()).expect("an executor");
            let (r, n) = sub.rank();
            let xs = data(1000 + 17 * half);
            let total = sub.install(|| plain_total(&xs));
            let alone = Executor::serial().install(|| plain_total(&xs));
            assert_eq!(total.to_bits(), alone.to_bits());
            say(format!("half {half} rank {r} of {n} ok"));
        }
        Scenario::Write => {
            let path = args.path.expect("`write` needs a PATH");
            match shardkit::write_on_root(&path, |w| writeln!(w, "written by rank {rank}")) {
                Ok(()) => say("write ok".to_string()),
                Err(e) => say(format!("write error: {e}")),
            }
        }
        Scenario::Opaque => {
            say(format!("{}", opaque(0..10).len()));
        }
        Scenario::Sigkill => {
            let n = killed(0..64, 60);
            say(format!("not killed {n}"));
        }
        Scenario::Mismatch => {
            let xs = data(100 + rank);
            say(format!("{}", plain_total(&xs)));
        }
        Scenario::SameLength => {
            // Two items each, weighed by their length: rank 1's differ.
            let names = if rank == 0 {
                ["a.wav", "bb.wav"]
            } else {
                ["a.wav", "ccc.wav"]
            };
            say(format!("{}", name_bytes(&names)));
        }
        Scenario::SameLengthUnweighted => {
            // Two file names each, of the same lengths: only their
            // contents differ.
            let names: Vec<PathBuf> = if rank == 0 {
                vec!["a.wav".into(), "b.wav".into()]
            } else {
                vec!["a.wav".into(), "c.wav".into()]
            };
            say(format!("{}", name_count(&names)));
        }
        Scenario::FewerCalls | Scenario::Stalled => {
            let xs = data(100);
            let calls = match (args.scenario, rank) {
                (Scenario::FewerCalls, _) => 3 + rank,
                (_, 0) => 3,
                _ => 4,
            };
            for _ in 0..calls {
                plain_total(&xs);
            }
            if args.scenario == Scenario::Stalled && rank == 0 {
                std::thread::sleep(std::time::Duration::from_secs(30));
            }
            say(format!("made {calls} calls"));
        }
        Scenario::StalledInCall => {
            say(format!("{}", stall(0..100, 0)));
        }
        Scenario::Kmeans => kmeans(rank, size, &say),
        Scenario::Counters => {
            let xs = data(5000);
            say(format!("total {}", plain_total(&xs).to_bits()));
            say(format!("squares {}", digest(&squares(&xs))));
            for c in shardkit::comm_counts() {
                say(format!(
                    "count {} {} {} {} {} {}",
                    if c.call.is_empty() { "(end)" } else { c.call },
                    c.op,
                    c.count,
                    c.sent,
                    c.received,
                    c.peak_bytes
                ));
            }
        }
        Scenario::Different => {
            let xs = data(100);
            if rank == 0 {
                say(format!("{}", plain_total(&xs)));
            } else {
                say(format!("{}", squares(&xs).len()));
            }
        }
    }
    if matches!(args.scenario, Scenario::Sum | Scenario::Gather) {
        say(format!("of {size}"));
    }
}
