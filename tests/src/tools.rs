//! Outside programs a test needs (promtool, systemd-analyze, Chromium,
//! ChromeDriver): found on `PATH`, or the test says it is skipped, and
//! under `SWITCHYARD_CI` (set by `.ci/run`) fails instead: CI installs them.

use std::path::PathBuf;

/// The tool's path on `PATH`; `None` (after a `SKIPPED:` line) when it is
/// missing outside CI. Under `SWITCHYARD_CI` a missing tool fails the test.
pub fn tool(name: &str, apt_package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("SWITCHYARD_CI").is_some() {
            panic!(
                "{name} is not installed (apt-get install {apt_package}); SWITCHYARD_CI is set, so the test fails"
            );
        }
        eprintln!("SKIPPED: {name} not installed (apt-get install {apt_package})");
    }
    found
}
