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
