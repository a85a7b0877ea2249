//! Work that one process does for all: printing, writing a model file,
//! showing progress. Under MPI that process is rank 0; without MPI it is the
//! only one, so the same code runs unchanged on threads and under `mpirun`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
///
/// It never panics: where the default executor cannot be built (a malformed
/// `SHARDKIT_THREADS`, which the program is about to report), the MPI
/// launcher's rank decides, so that the error is printed once.
pub fn is_root() -> bool {
    crate::launch::ambient_is_root()
}

/// Writes `path` atomically: `write` fills a temporary file in the same
/// folder, which is then flushed, synced to disk and renamed over `path`.
///
/// - On success, `path` holds exactly what `write` wrote, and the rename has
///   been made durable (on Unix the folder is synced too, best effort).
/// - If `write` returns an error or panics, or any step fails, the temporary
///   file is removed and `path` is left as it was (absent, or its old
///   content): a reader never sees half a model. `write`'s error is returned
///   (its panic resumes) unchanged; errors of the other steps name `path`.
///
/// The temporary file is `.<file name>.<process id>.<counter>.tmp`, created
/// fresh beside the target so that the rename never crosses a file system.
/// `write` gets a buffered writer and need not flush it. Its error type only
/// needs a conversion from [`io::Error`], so callers can use their own error
/// enum.
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
pub fn write_atomic<T, E, F>(path: impl AsRef<Path>, write: F) -> Result<T, E>
where
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
    E: From<io::Error>,
{
    let path = path.as_ref();
    let named = |e: io::Error| {
        E::from(io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", path.display()),
        ))
    };
    let (dir, name) = split_target(path).map_err(named)?;
    let (file, temporary) = create_temporary(dir, &name).map_err(named)?;
    // From here on, dropping `guard` (an early return or a panic) removes
    // the temporary file.
    let mut guard = Temporary(Some(temporary.clone()));
    let mut out = BufWriter::new(file);
    let value = write(&mut out)?;
    let finish = (|| {
        out.flush()?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    finish.map_err(named)?;
    guard.0 = None;
    sync_dir(dir);
    Ok(value)
}

/// The folder to create the temporary file in, and the target's file name.
fn split_target(path: &Path) -> io::Result<(&Path, String)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// Creates a fresh temporary file beside the target (never opens an
/// existing one).
fn create_temporary(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let mut last = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temporary = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
        {
            Ok(file) => return Ok((file, temporary)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Removes the temporary file it holds when dropped.
struct Temporary(Option<PathBuf>);

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the original error (or panic) matters more.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Makes a rename in `dir` durable. Some file systems refuse to sync a
/// folder; the data itself is already synced, so failures are ignored.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
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
        let err = write_atomic(&path, |w| -> io::Result<()> {
            w.write_all(b"half a model")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
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
        let err: io::Error =
            write_atomic("/nonexistent-shardkit/x/model.bin", |_| Ok(())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent-shardkit/x/model.bin"), "{text}");
        assert!(write_atomic::<(), io::Error, _>("/", |_| Ok(())).is_err());
    }
}
