//! The Python that the cross-checks against the NumPy peers
//! (`scripts/peers/`) run, when there is one.

/// `$SHARDKIT_TEST_PYTHON` (default `python3`) when it runs and imports
/// NumPy, else `None` (the caller skips its check and says so).
pub fn python_with_numpy() -> Option<String> {
    let python = std::env::var("SHARDKIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

/// Runs `code` (`python -c code`) with the Python of
/// [`python_with_numpy`], provided it also imports every module of
/// `modules` (e.g. `["h5py"]`), and returns its standard output; `None`,
/// after a notice on standard error, when there is no such Python (the
/// caller skips its check).
///
/// # Panics
///
/// When the code fails: the test fails with Python's standard error.
pub fn run_python(code: &str, modules: &[&str]) -> Option<String> {
    let wanted = modules.join(", ");
    let python = python_with_numpy().filter(|python| {
        modules.is_empty()
            || std::process::Command::new(python)
                .args(["-c", &format!("import {wanted}")])
                .output()
                .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        let what = if modules.is_empty() {
            "numpy".to_owned()
        } else {
            format!("numpy and {wanted}")
        };
        eprintln!("skipped: no python3 with {what} (install it, or set SHARDKIT_TEST_PYTHON to one that has it)");
        return None;
    };
    let out = std::process::Command::new(python)
        .args(["-c", code])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `path` as a Python string literal (for code given to [`run_python`]).
///
/// # Panics
///
/// When the path is not UTF-8.
pub fn py_str(path: &std::path::Path) -> String {
    format!("{:?}", path.to_str().expect("a UTF-8 path"))
}
