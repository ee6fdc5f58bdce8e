//! Locating `../shared/data` for tests and benchmarks that use the real data sets.

use std::path::PathBuf;

/// The shared data folder: `$FACEMARK_DATA` if set, else `../shared/data` beside the workspace
/// root. `None` (and a printed reason, for test logs) when it is absent, so tests can skip.
pub fn shared_data() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("FACEMARK_DATA") {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data"
        ))],
    };
    for c in candidates {
        if c.is_dir() {
            return Some(c);
        }
        eprintln!(
            "skipping: shared data not found at {} (set FACEMARK_DATA)",
            c.display()
        );
    }
    None
}
