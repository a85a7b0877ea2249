//! Work that one process does for all: printing, writing a model file,
//! showing progress. Under MPI that process is rank 0; without MPI it is the
//! only one, so the same code runs unchanged on threads and under `mpirun`.

use std::io::{self, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::executor::Executor;
use crate::files::{claim, write_atomic, OutputClaim};

/// Whether this process is the one that prints and writes: rank 0 of the
/// ambient executor's MPI world, or the only process without MPI.
///
/// ```
/// if shardkit::is_root() {
///     println!("printed once, however many ranks run");
/// }
/// ```
///
/// It never panics: where the default executor cannot be built (a malformed
/// `SHARDKIT_THREADS`, which the program is about to report), the MPI
/// launcher's rank decides, so that the error is printed once.
pub fn is_root() -> bool {
    crate::launch::ambient_is_root()
}

/// [`write_atomic`] on the root process only, with the same outcome on
/// every process: under MPI, rank 0 writes and then tells every rank
/// whether it succeeded, so all ranks return `Ok` or all return `Err`
/// (rank 0 its own error, the others one that quotes it) and none is left
/// waiting. Every rank must call it, like a collective.
///
/// ```
/// use std::io::Write;
/// let path = std::env::temp_dir().join(format!("shardkit-root-{}.txt", std::process::id()));
/// shardkit::write_on_root(&path, |w| writeln!(w, "written once"))?;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_on_root(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let exec = Executor::current();
    let mine = if exec.is_root() {
        write_atomic(path.as_ref(), write)
    } else {
        Ok(())
    };
    #[cfg(feature = "mpi")]
    if let Some(ranks) = exec.ranks() {
        let verdict = ranks.broadcast_verdict(
            "write_on_root",
            mine.as_ref().map_err(|e| e.to_string()).copied(),
        );
        return match (mine, verdict) {
            (Err(e), _) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(message)) => Err(io::Error::other(format!("on MPI rank 0: {message}"))),
        };
    }
    mine
}

/// Claims the output `path` for this run, before the work that will fill
/// it. Rank 0 (the only process without MPI):
///
/// 1. checks that `path` can be written, by creating (and removing) a
///    temporary file where [`write_atomic`] will create its own — a missing
///    or read-only folder is reported now, not after hours of training;
/// 2. removes the temporaries that killed runs on this host left there;
/// 3. locks it against other runs (an advisory lock on `.<name>.lock`
///    beside it, which records who holds it) until the returned claim is
///    dropped. A second run that claims the same output gets an error
///    naming the process that holds it, instead of mixing its files with
///    the first's.
///
/// `path` is a file to be written, or an existing folder that a program
/// fills with several files (then checked and locked as a whole, through
/// `.shardkit.lock` inside it). On file systems without locks (some
/// network file systems) step 3 is skipped. Every rank gets rank 0's
/// verdict, as with [`write_on_root`]; every rank must call it, like a
/// collective.
///
/// ```
/// use std::io::Write;
/// let path = std::env::temp_dir().join(format!("shardkit-claim-{}.npz", std::process::id()));
/// let claim = shardkit::claim_output(&path)?;
/// // ... hours of training, then:
/// shardkit::write_on_root(&path, |w| w.write_all(b"model"))?;
/// drop(claim);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// An error naming `path` when it cannot be written, or when another run
/// holds it (kind [`io::ErrorKind::WouldBlock`]); on every rank (ranks other
/// than 0 get one that quotes rank 0's).
pub fn claim_output(path: impl AsRef<Path>) -> io::Result<OutputClaim> {
    let exec = Executor::current();
    let mine = if exec.is_root() {
        claim(path.as_ref())
    } else {
        Ok(OutputClaim::none())
    };
    #[cfg(feature = "mpi")]
    if let Some(ranks) = exec.ranks() {
        let verdict = ranks.broadcast_verdict(
            "claim_output",
            mine.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        );
        return match (mine, verdict) {
            (Err(e), _) => Err(e),
            (Ok(claim), Ok(())) => Ok(claim),
            (Ok(_), Err(message)) => Err(io::Error::other(format!("on MPI rank 0: {message}"))),
        };
    }
    mine
}

/// A progress bar drawn by the root process only: on other MPI ranks (and
/// when standard error is not a terminal) it is hidden, so the same code
/// draws one bar per job. `stage` labels it.
///
/// Pass it to an annotated function as a broadcast parameter and call
/// `inc` from the shards; under MPI the bar counts rank 0's share of the
/// work.
///
/// ```
/// let bar = shardkit::progress(100, "accumulate");
/// for _ in 0..100 {
///     bar.inc(1);
/// }
/// bar.finish_and_clear();
/// ```
pub fn progress(len: u64, stage: &str) -> ProgressBar {
    if !is_root() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(stage.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successful_write_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("shardkit-root-{}-ok", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.bin");
        std::fs::write(&path, b"old").unwrap();
        let claim = claim_output(&path).unwrap();
        assert!(claim.is_locked());
        write_on_root(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        drop(claim);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
