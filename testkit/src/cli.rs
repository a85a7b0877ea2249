//! What the example and measurement programs share on their command lines:
//! clap value parsers that refuse zero and absurd sizes with a one-line
//! error, a memory check for generated data, what `cargo bench` passes
//! ([`CargoBench`]), and how to say where a program runs ([`Layout`]).

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

use shardkit::Executor;

/// The most threads per process a program accepts (`--threads`).
pub const MAX_THREADS: usize = 1024;

/// `std::fs::create_dir_all(dir)` with an error that names `dir` (the
/// system's own says only "File exists" or "Read-only file system").
///
/// ```
/// let dir = std::env::temp_dir().join(format!("testkit-doc-{}", std::process::id()));
/// shardkit_testkit::cli::create_dir(&dir)?;
/// let file = dir.join("file");
/// std::fs::write(&file, b"x")?;
/// let err = shardkit_testkit::cli::create_dir(&file.join("below")).unwrap_err();
/// assert!(err.to_string().contains("below"), "{err}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot create the folder {}: {e}", dir.display()),
        )
    })
}

/// A clap value parser for a whole number in `min..=max`; anything else is
/// refused with "expected a whole number from `min` to `max`".
///
/// ```
/// let components = shardkit_testkit::cli::count(1, 4096);
/// assert_eq!(components("64"), Ok(64));
/// assert!(components("0").is_err());
/// assert!(components("many").is_err());
/// ```
///
/// In a clap derive: `#[arg(long, default_value_t = 64, value_parser = cli::count(1, 4096))]`.
pub fn count(
    min: usize,
    max: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// The value parser of `--threads`: [`count`]`(1, MAX_THREADS)`.
pub fn threads() -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    count(1, MAX_THREADS)
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`), where
/// it can be read.
pub fn machine_memory() -> Option<f64> {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024.0)
    })
}

/// The budget of a `--memory` option: the bytes given, else a quarter of
/// this machine's memory (none where that cannot be read).
pub fn memory_budget(given: Option<usize>) -> usize {
    given.unwrap_or_else(|| machine_memory().map_or(0, |m| (m / 4.0) as usize))
}

/// The value parser of a size in bytes such as `--memory`: a whole number
/// with an optional suffix `K`, `M`, `G` or `T` (powers of 1024), e.g.
/// `512M`, `4G`, `0`.
///
/// ```
/// let parse = shardkit_testkit::cli::bytes();
/// assert_eq!(parse("4G"), Ok(4 << 30));
/// assert_eq!(parse("512m"), Ok(512 << 20));
/// assert_eq!(parse("0"), Ok(0));
/// assert!(parse("1.5G").is_err() && parse("-1").is_err() && parse("99999999T").is_err());
/// ```
pub fn bytes() -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    |s: &str| {
        let s = s.trim();
        let (digits, shift) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
            Some('K') => (&s[..s.len() - 1], 10),
            Some('M') => (&s[..s.len() - 1], 20),
            Some('G') => (&s[..s.len() - 1], 30),
            Some('T') => (&s[..s.len() - 1], 40),
            _ => (s, 0),
        };
        digits
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_mul(1usize << shift))
            .ok_or_else(|| {
                "expected a size in bytes: a whole number, optionally with K, M, G or T (e.g. 4G)"
                    .to_owned()
            })
    }
}

/// `Err` naming `what` when `bytes` exceed the machine's memory (the
/// `MemTotal` of `/proc/meminfo`; no check where that cannot be read), so
/// that an absurd size is refused before anything is allocated.
pub fn fits_in_memory(what: &str, bytes: f64) -> Result<(), String> {
    let total = machine_memory();
    match total {
        Some(total) if bytes > total => Err(format!(
            "{what} would need {:.1} GB, more than this machine's {:.1} GB of memory",
            bytes / 1e9,
            total / 1e9
        )),
        _ => Ok(()),
    }
}

/// What `cargo bench` passes to a `harness = false` bench besides the
/// program's own options: `--bench`, and the filter of `cargo bench --
/// FILTER`. Flatten it into a measurement program's arguments
/// (`#[command(flatten)] cargo: CargoBench`) and run it with
/// [`run`](CargoBench::run), so that `cargo bench` runs it, and
/// `cargo bench -- chunk` (a criterion filter) skips it.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CargoBench {
    /// Passed by `cargo bench`; ignored.
    #[arg(long = "bench", hide = true)]
    bench: bool,
    /// `cargo bench -- FILTER`: the program runs only if its name contains
    /// FILTER.
    #[arg(hide = true, value_name = "FILTER")]
    filter: Option<String>,
}

impl CargoBench {
    /// Whether the program `name` should run: no filter, or one that `name`
    /// contains (as criterion selects benchmarks).
    ///
    /// ```
    /// use clap::Parser;
    /// use shardkit_testkit::cli::CargoBench;
    ///
    /// #[derive(Parser)]
    /// struct Args {
    ///     #[command(flatten)]
    ///     cargo: CargoBench,
    /// }
    /// let run = |argv: &[&str]| Args::parse_from(argv).cargo.selects("measure_tv");
    /// assert!(run(&["measure_tv", "--bench"]));
    /// assert!(run(&["measure_tv", "tv", "--bench"]));
    /// assert!(!run(&["measure_tv", "chunk", "--bench"]));
    /// ```
    pub fn selects(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    /// A measurement program's `main`: runs `work` if the program `name`
    /// is [selected](CargoBench::selects), and turns its result into the
    /// exit status (an error is printed as `name: error`, status 1).
    pub fn run(
        &self,
        name: &str,
        work: impl FnOnce() -> Result<(), Box<dyn std::error::Error>>,
    ) -> ExitCode {
        if !self.selects(name) {
            return ExitCode::SUCCESS;
        }
        match work() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Where a program's `#[parallelize]` calls run: how many MPI ranks (1 off
/// MPI) and how many threads each.
///
/// ```
/// use shardkit_testkit::cli::Layout;
///
/// let pool = shardkit::Executor::threads(2).unwrap();
/// assert_eq!(Layout::of(&pool).to_string(), "2 threads");
/// let mpi = Layout { ranks: 2, threads: 1 };
/// assert_eq!(mpi.to_string(), "2 ranks × 1 thread");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// MPI ranks: 1 outside `mpirun`.
    pub ranks: usize,
    /// Threads per rank.
    pub threads: usize,
}

impl Layout {
    /// The layout of `exec`.
    pub fn of(exec: &Executor) -> Layout {
        let (_, ranks) = exec.rank();
        let ranks = ranks.max(1);
        Layout {
            ranks,
            threads: exec.workers() / ranks,
        }
    }
}

impl fmt::Display for Layout {
    /// "2 threads" on one process, "2 ranks × 1 thread" on MPI ranks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, what: &str| {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        };
        if self.ranks > 1 {
            write!(
                f,
                "{} × {}",
                plural(self.ranks, "rank"),
                plural(self.threads, "thread")
            )
        } else {
            f.write_str(&plural(self.threads, "thread"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outside_their_range_are_refused() {
        let p = count(1, 8);
        assert_eq!(p("1"), Ok(1));
        assert_eq!(p(" 8 "), Ok(8));
        for bad in ["0", "9", "-1", "", "1.5", "99999999999999999999999"] {
            assert_eq!(
                p(bad),
                Err("expected a whole number from 1 to 8".to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn absurd_sizes_do_not_fit() {
        assert!(fits_in_memory("a few bytes", 1e3).is_ok());
        if std::path::Path::new("/proc/meminfo").exists() {
            let e = fits_in_memory("the frames", 1e18).unwrap_err();
            assert!(
                e.starts_with("the frames would need 1000000000.0 GB"),
                "{e}"
            );
        }
    }

    #[test]
    fn layouts_read_as_ranks_times_threads() {
        let one = Layout {
            ranks: 1,
            threads: 1,
        };
        assert_eq!(one.to_string(), "1 thread");
        let hybrid = Layout {
            ranks: 3,
            threads: 2,
        };
        assert_eq!(hybrid.to_string(), "3 ranks × 2 threads");
        assert_eq!(Layout::of(&Executor::serial()), one);
    }
}
