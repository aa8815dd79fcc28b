//! Tests that change process-wide state (the data plane's clock offset, the
//! global tracing subscriber) need a process of their own. nextest gives one
//! to every test; under `cargo test` the tests of a binary share one, so
//! [`own_process!`](crate::own_process!) re-runs the calling test alone in a
//! child process of the same binary and reports its outcome.

use std::process::Command;

/// Set in the child process to the name of the test it runs.
pub const CHILD_ENV: &str = "SWITCHYARD_TESTS_OWN_PROCESS";

/// Put first in a test that needs a process of its own: under nextest, or in
/// the child, the test goes on here; otherwise the test runs in a child
/// process, fails if that one fails, and returns.
#[macro_export]
macro_rules! own_process {
    () => {{
        fn here() {}
        if !$crate::own_process::run_here(::std::any::type_name_of_val(&here)) {
            return;
        }
    }};
}

/// True when the test whose item path is `here` runs in a process of its
/// own. Otherwise runs it alone in a child process, panics if it does not
/// pass there, and returns false.
pub fn run_here(here: &str) -> bool {
    let test = test_name(here);
    let per_test = std::env::var("NEXTEST_EXECUTION_MODE").as_deref() == Ok("process-per-test");
    if per_test || std::env::var(CHILD_ENV).as_deref() == Ok(test.as_str()) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([test.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, &test)
        .output()
        .expect("starting the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test}, run in a process of its own: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    false
}

/// The test's name as the test binary knows it: the item path of a function
/// declared in it (`binary::module::test::{{closure}}::here`) without the
/// crate, the closures of an async body and the function.
fn test_name(here: &str) -> String {
    let path = here.strip_suffix("::here").unwrap_or(here);
    let path = path.replace("::{{closure}}", "");
    match path.split_once("::") {
        Some((_crate, test)) => test.to_owned(),
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::test_name;

    #[test]
    fn the_name_is_the_path_inside_the_binary() {
        assert_eq!(
            test_name("switch::sha256::a_switch::{{closure}}::here"),
            "sha256::a_switch"
        );
        assert_eq!(test_name("dataplane::a::b::c::here"), "a::b::c");
    }
}
