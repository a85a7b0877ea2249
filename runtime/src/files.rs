//! Output files that a reader never sees half written and that two runs
//! never mix: [`write_atomic`] (a temporary file renamed into place) and
//! the claim behind [`claim_output`](crate::claim_output) (an output checked
//! and locked before the work that fills it).
//!
//! Temporary files are named `.<name>.<host>.<pid>.<counter>.tmp` beside
//! their target, so that the rename never crosses a file system and so that
//! the ones a killed run left behind can be told from a live run's: a
//! temporary of this host whose process no longer exists is removed by the
//! next claim of its target (of a folder: of any file in it). Only this
//! host's: on a cluster's shared file system another node's process ids mean
//! nothing here. (Writes themselves do not look: a folder of thousands of
//! feature files would be listed once per file.)

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `path` atomically: `write` fills a temporary file in the same
/// folder, which is then flushed, synced to disk and renamed over `path`.
///
/// - On success, `path` holds exactly what `write` wrote, and the rename has
///   been made durable (on Unix the folder is synced too, best effort).
/// - If `write` returns an error or panics, or any step fails, the temporary
///   file is removed and `path` is left as it was (absent, or its old
///   content): a reader never sees half a model. `write`'s error is returned
///   (its panic resumes) unchanged; errors of the other steps name `path`.
/// - A symbolic link at `path` stays a link: the file it points to is
///   replaced.
/// - A run killed mid-write leaves its temporary behind;
///   [`claim_output`](crate::claim_output) at the start of the next run
///   removes it (see the module documentation of `files.rs`).
///
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
    let named = |e: io::Error| E::from(named(path, e));
    let target = Target::of(path, false).map_err(named)?;
    let (file, temporary) = create_temporary(&target).map_err(named)?;
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
        std::fs::rename(&temporary, &target.real)
    })();
    finish.map_err(named)?;
    guard.0 = None;
    sync_dir(&target.dir);
    Ok(value)
}

/// An output that this run has claimed with
/// [`claim_output`](crate::claim_output): locked against other runs until
/// it is dropped.
#[derive(Debug)]
pub struct OutputClaim {
    /// The open lock file (its lock goes with it); `None` where nothing was
    /// locked (another rank's claim, or a file system without locks).
    lock: Option<File>,
}

impl OutputClaim {
    /// A claim that holds nothing: what ranks other than the root get.
    pub(crate) fn none() -> Self {
        OutputClaim { lock: None }
    }

    /// Whether this claim holds a lock (false on ranks other than the root,
    /// and on file systems that do not lock).
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }
}

/// The claim of [`claim_output`](crate::claim_output), made by this
/// process alone (see there): checks that `path` can be written, removes
/// stale temporaries, and locks it.
pub(crate) fn claim(path: impl AsRef<Path>) -> io::Result<OutputClaim> {
    let path = path.as_ref();
    let target = Target::of(path, true).map_err(|e| named(path, e))?;
    remove_stale(&target);
    let (file, temporary) = create_temporary(&target).map_err(|e| named(path, e))?;
    drop(file);
    // Best effort: a temporary that cannot be removed harms nothing and is
    // named as this process's, so it is removed by a later run.
    let _ = std::fs::remove_file(&temporary);
    let lock_path = target.dir.join(format!(".{}.lock", target.name));
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| named(path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            let holder = match holder.trim() {
                "" => "another run".to_string(),
                h => h.to_string(),
            };
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is being written by {holder} (lock {}); wait for that run to end, or choose another output",
                    path.display(),
                    lock_path.display()
                ),
            ));
        }
        Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
            return Ok(OutputClaim::none());
        }
        Err(TryLockError::Error(e)) => return Err(named(path, e)),
    }
    // Who holds it, for the error of the next claimant.
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "a shardkit program".to_string());
    let mut holder = &lock;
    let _ = holder.set_len(0).and_then(|()| {
        writeln!(
            holder,
            "{program} (process {} on {})",
            std::process::id(),
            host()
        )
    });
    Ok(OutputClaim { lock: Some(lock) })
}

/// An I/O error that names the path it concerns.
fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
}

/// Where a write to a path lands: the file a chain of symbolic links ends
/// at, its folder, and the name its temporaries and lock are named after.
struct Target {
    /// The file to replace (the path itself unless it is a link).
    real: PathBuf,
    /// The folder of the temporaries and the lock.
    dir: PathBuf,
    /// The target's file name (`shardkit` for a folder).
    name: String,
}

impl Target {
    /// Where a write to `path` lands; a folder is a target only where
    /// `folder` allows it (a claim), never for a write.
    fn of(path: &Path, folder: bool) -> io::Result<Target> {
        let real = follow_links(path)?;
        if real.is_dir() {
            if !folder {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "it is a folder, not a file",
                ));
            }
            return Ok(Target {
                dir: real.clone(),
                real,
                name: "shardkit".to_string(),
            });
        }
        let name = real
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?
            .to_string_lossy()
            .into_owned();
        let dir = match real.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Target { real, dir, name })
    }
}

/// `path`, or the path its chain of symbolic links ends at (which need not
/// exist yet); a chain longer than 40 links is an error, as for the system.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("more than 40 symbolic links in a chain"))
}

/// This host's name, as the temporaries carry it (`localhost` where it
/// cannot be read); only characters that are safe in a file name.
fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// The name of a temporary of `target` made by process `pid`, without its
/// counter: `.<name>.<host>.<pid>.`.
fn temporary_prefix(target: &Target, pid: u32) -> String {
    format!(".{}.{}.{pid}.", target.name, host())
}

/// The process that made the temporary file `file` on this host, if it is
/// one: `.<name>.<host>.<pid>.<counter>.tmp`, with `<name>` the target's
/// (any name where the target is a folder).
fn temporary_owner(target: &Target, host: &str, file: &str) -> Option<u32> {
    let rest = file.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let _counter: u64 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let name = parts.next()?.strip_suffix(host)?.strip_suffix('.')?;
    let is_folder = target.real == target.dir;
    (is_folder || name == target.name).then_some(pid)
}

/// Creates a fresh temporary file beside the target (never opens an
/// existing one).
fn create_temporary(target: &Target) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = temporary_prefix(target, std::process::id());
    let mut last = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temporary = target.dir.join(format!("{prefix}{n}.tmp"));
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

/// Removes the temporaries of `target` (of any file in it, for a folder)
/// that processes of this host which no longer run left behind. Best
/// effort: what cannot be read or removed is left alone.
fn remove_stale(target: &Target) {
    let Ok(entries) = std::fs::read_dir(&target.dir) else {
        return;
    };
    let (host, own) = (host(), std::process::id());
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| temporary_owner(target, &host, n))
        else {
            continue;
        };
        if pid != own && !is_running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` of this host runs; `true` where that cannot be
/// told (no `/proc`), so that nothing is removed on a guess.
fn is_running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("shardkit-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
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
        assert_eq!(names(&dir), ["model.bin"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_folder_is_named() {
        let err: io::Error =
            write_atomic("/nonexistent-shardkit/x/model.bin", |_| Ok(())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent-shardkit/x/model.bin"), "{text}");
        assert!(write_atomic::<(), io::Error, _>("/", |_| Ok(())).is_err());
        let text = claim("/nonexistent-shardkit/x/model.bin")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("cannot write /nonexistent-shardkit/x/model.bin"),
            "{text}"
        );
    }

    #[test]
    fn a_file_where_a_folder_should_be_is_refused_before_the_work() {
        let dir = scratch("notdir");
        std::fs::write(dir.join("file"), b"x").unwrap();
        let path = dir.join("file").join("model.bin");
        let text = claim(&path).unwrap_err().to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_stays_a_link_and_its_target_is_written() {
        let dir = scratch("link");
        std::fs::create_dir(dir.join("models")).unwrap();
        let real = dir.join("models").join("ubm-v1.npz");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.join("ubm.npz");
        std::os::unix::fs::symlink("models/ubm-v1.npz", &link).unwrap();
        write_atomic(&link, |w| w.write_all(b"new")).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link gets its target created.
        let dangling = dir.join("tv.npz");
        std::os::unix::fs::symlink("models/tv-v1.npz", &dangling).unwrap();
        write_atomic(&dangling, |w| w.write_all(b"tv")).unwrap();
        assert_eq!(std::fs::read(dir.join("models/tv-v1.npz")).unwrap(), b"tv");
        assert_eq!(names(&dir.join("models")), ["tv-v1.npz", "ubm-v1.npz"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporaries_of_dead_processes_are_removed_and_others_kept() {
        let dir = scratch("stale");
        let path = dir.join("model.bin");
        let target = Target::of(&path, false).unwrap();
        // No process has id 4,000,000,000 (Linux allows at most 2^22).
        let dead = format!("{}0.tmp", temporary_prefix(&target, 4_000_000_000));
        let live = format!("{}77.tmp", temporary_prefix(&target, std::process::id()));
        let other_host = ".model.bin.some-other-node.4000000000.0.tmp".to_string();
        let other_file = format!(".other.bin.{}.4000000000.0.tmp", host());
        let not_ours = ".model.bin.tmp".to_string();
        for name in [&dead, &live, &other_host, &other_file, &not_ours] {
            std::fs::write(dir.join(name), b"half").unwrap();
        }
        let claimed = claim(&path).unwrap();
        let left = names(&dir);
        assert!(!left.contains(&dead), "{left:?}");
        for kept in [&live, &other_host, &other_file, &not_ours] {
            assert!(left.contains(kept), "{kept} removed: {left:?}");
        }
        drop(claimed);
        // A folder's claim removes the dead temporaries of any file in it.
        let folder = claim(&dir).unwrap();
        let left = names(&dir);
        assert!(!left.contains(&other_file), "{left:?}");
        assert!(
            left.contains(&live) && left.contains(&other_host),
            "{left:?}"
        );
        drop(folder);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_claimed_output_is_refused_to_a_second_claim_naming_the_holder() {
        let dir = scratch("claim");
        let path = dir.join("model.bin");
        let first = claim(&path).unwrap();
        assert!(first.is_locked());
        // The check left no temporary behind.
        assert_eq!(names(&dir), [".model.bin.lock"]);
        let err = claim(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let again = claim(&path).unwrap();
        assert!(again.is_locked());
        // A folder is claimed as a whole.
        let folder = claim(&dir).unwrap();
        assert!(folder.is_locked());
        assert!(claim(&dir).is_err());
        assert!(names(&dir).contains(&".shardkit.lock".to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
