//! Work that one process does for all: printing, writing a model file,
//! showing progress. Under MPI that process is rank 0; without MPI it is the
//! only one, so the same code runs unchanged on threads and under `mpirun`.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::executor::Executor;

/// Whether this process is the one that prints and writes: rank 0 of the
/// ambient executor's MPI world, or the only process without MPI.
///
/// ```
/// if shardkit::is_root() {
///     println!("printed once, however many ranks run");
/// }
/// ```
pub fn is_root() -> bool {
    Executor::current().is_root()
}

/// Writes `path` atomically: `write` fills a temporary file beside it,
/// which is flushed to disk and renamed over `path` only when `write`
/// succeeds. On any error the temporary file is removed and `path` is left
/// as it was, so a reader never sees half a model.
///
/// ```
/// use std::io::Write;
/// let dir = std::env::temp_dir().join(format!("shardkit-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("model.txt");
/// shardkit::write_atomic(&path, |w| writeln!(w, "weights 0.5 0.5"))?;
/// assert_eq!(std::fs::read_to_string(&path)?, "weights 0.5 0.5\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let path = path.as_ref();
    let temporary = temporary_name(path)?;
    let result = (|| {
        let file = File::create(&temporary)?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", path.display()),
        ));
    }
    Ok(())
}

/// `.<name>.<pid>.tmp` in the same folder, so that the rename stays on one
/// file system.
fn temporary_name(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write {}: the path names no file", path.display()),
        )
    })?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temporary))
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
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let exec = Executor::current();
    let mine = if exec.is_root() {
        write_atomic(path.as_ref(), write)
    } else {
        Ok(())
    };
    #[cfg(feature = "mpi")]
    if let Some(ranks) = exec.ranks() {
        let verdict = ranks.broadcast_verdict(mine.as_ref().map_err(|e| e.to_string()).copied());
        return match (mine, verdict) {
            (Err(e), _) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(message)) => Err(io::Error::other(format!("on MPI rank 0: {message}"))),
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
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shardkit-root-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = scratch("failed");
        let path = dir.join("model.bin");
        std::fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half a model")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("model.bin"), "{err}");
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_successful_write_replaces_the_file() {
        let dir = scratch("ok");
        let path = dir.join("model.bin");
        std::fs::write(&path, b"old").unwrap();
        write_on_root(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_folder_is_named() {
        let err = write_atomic("/nonexistent-shardkit/x/model.bin", |_| Ok(())).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent-shardkit/x/model.bin"),
            "{err}"
        );
        assert!(write_atomic("/", |_| Ok(())).is_err());
    }
}
