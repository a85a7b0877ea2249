//! Ready-made weight functions for the attribute's `weights` key.

use std::path::Path;

/// The size of a file in bytes, as the cost of processing it; a file that
/// cannot be read weighs 1 (the shard will report the error).
///
/// ```
/// use std::path::PathBuf;
/// use shardkit::parallelize;
///
/// #[parallelize(split = "files", reduce = "sum", weights = shardkit::weights::file_size)]
/// fn count(files: &[PathBuf]) -> usize {
///     files.len()
/// }
///
/// let files = vec![PathBuf::from("Cargo.toml"), PathBuf::from("no/such/file")];
/// assert_eq!(count(&files), 2);
/// ```
pub fn file_size<P: AsRef<Path>>(path: &P) -> u64 {
    std::fs::metadata(path).map(|m| m.len().max(1)).unwrap_or(1)
}
