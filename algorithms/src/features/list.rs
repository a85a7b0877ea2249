//! List files: one feature file path per line.

use std::fs;
use std::path::{Path, PathBuf};

use super::errors::FeatureError;

/// Reads a list file: one path per line.
///
/// - Leading and trailing whitespace (including a Windows `\r`) is trimmed;
///   whitespace inside a path is kept.
/// - Blank lines are skipped.
/// - `#` starts a comment when it begins the line (after optional
///   whitespace) or follows whitespace: `a.npy  # session 2` gives `a.npy`,
///   while `take#2.npy` is a path with a `#` in it. A path cannot contain
///   whitespace followed by `#`.
/// - Relative paths are resolved against the folder holding the list file
///   (`lists/train.lst` naming `../feat/a.npy` gives `lists/../feat/a.npy`);
///   absolute paths are kept. Paths are not normalised, and whether the files
///   exist is not checked.
/// - A UTF-8 byte order mark at the start of the file is ignored.
///
/// An empty list (only blank lines and comments) gives an empty `Vec`.
///
/// # Errors
///
/// [`FeatureError::Io`] if the list file cannot be read;
/// [`FeatureError::ListLine`], naming the list file and the line (from 1),
/// for a line that is not valid UTF-8 or contains a NUL character.
pub fn read_list(path: impl AsRef<Path>) -> Result<Vec<PathBuf>, FeatureError> {
    let list = path.as_ref();
    let bytes = fs::read(list).map_err(|e| FeatureError::io(list, "read", e))?;
    let base = list.parent().unwrap_or_else(|| Path::new(""));
    let mut paths = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let line_error = |reason: String| FeatureError::ListLine {
            list: list.to_path_buf(),
            line: number,
            reason,
        };
        let text = std::str::from_utf8(line).map_err(|e| {
            line_error(format!(
                "not valid UTF-8 (bad byte at column {})",
                e.valid_up_to() + 1
            ))
        })?;
        let text = if number == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let entry = strip_comment(text).trim();
        if entry.is_empty() {
            continue;
        }
        if entry.contains('\0') {
            return Err(line_error("the path contains a NUL character".into()));
        }
        let entry = Path::new(entry);
        paths.push(if entry.is_absolute() {
            entry.to_path_buf()
        } else {
            base.join(entry)
        });
    }
    Ok(paths)
}

/// The line without its comment: from a `#` at the start of the line or
/// after whitespace.
fn strip_comment(line: &str) -> &str {
    let mut after_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && after_space {
            return &line[..i];
        }
        after_space = c.is_whitespace();
    }
    line
}
