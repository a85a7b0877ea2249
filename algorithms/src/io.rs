//! File output that never leaves a half-written file behind.
//!
//! Everything the algorithms crate writes (feature files, models, statistics)
//! goes through [`atomic_write`]: a reader either sees the old file or the
//! complete new one, never a prefix, even if the writer fails, panics, or the
//! machine loses power in the middle.
#![warn(missing_docs)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes the file at `path` atomically: `write` fills a temporary file in the
/// same folder, which is then flushed, synced to disk and renamed over `path`.
///
/// - On success, `path` holds exactly what `write` wrote, and the rename has
///   been made durable (on Unix the folder is synced too, best effort).
/// - If `write` returns an error or panics, or any step fails, the temporary
///   file is removed and `path` is left as it was (absent, or its old
///   content). The error is returned (the panic resumes) unchanged.
///
/// The temporary file is named `.<file name>.<process id>.<counter>.tmp`, in
/// the target's folder so that the final rename never crosses a file system.
/// A target that is a symbolic link is replaced by a regular file; the file it
/// pointed to is not touched. The new file gets the default permissions of a
/// newly created file, not those of the file it replaces.
///
/// `write` gets a buffered writer; it should not flush it (that is done here).
/// Its error type only needs a conversion from [`io::Error`], so callers can
/// use their own error enum, or `io::Error` itself and attach the path after.
///
/// # Errors
///
/// The error of `write`, or an [`io::Error`] (converted into `E`) if the
/// folder is not writable, the disk is full, the path has no file name, etc.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("model.txt");
/// shardkit_algorithms::io::atomic_write(&path, |w| -> std::io::Result<()> {
///     writeln!(w, "components 512")
/// })?;
/// assert_eq!(std::fs::read_to_string(&path)?, "components 512\n");
/// # Ok(())
/// # }
/// ```
pub fn atomic_write<T, E, F>(path: impl AsRef<Path>, write: F) -> Result<T, E>
where
    F: FnOnce(&mut dyn Write) -> Result<T, E>,
    E: From<io::Error>,
{
    let path = path.as_ref();
    let (dir, file_name) = split_target(path)?;
    let (file, temp) = create_temp(dir, &file_name)?;
    // From here on, dropping `guard` (early return or panic) removes the
    // temporary file.
    let mut guard = TempGuard(Some(temp.clone()));
    let mut out = BufWriter::new(file);
    let value = write(&mut out)?;
    out.flush()?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, path)?;
    guard.0 = None;
    sync_dir(dir);
    Ok(value)
}

/// The folder to create the temporary file in, and the target's file name.
fn split_target(path: &Path) -> io::Result<(&Path, String)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name to write to", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// Creates a fresh temporary file beside the target (never opens an existing one).
fn create_temp(dir: &Path, file_name: &str) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let mut last_error = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{file_name}.{pid}.{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("could not create a temporary file name")))
}

/// Removes the temporary file it holds when dropped.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(temp) = self.0.take() {
            // Best effort: the original error (or panic) matters more.
            let _ = fs::remove_file(temp);
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
