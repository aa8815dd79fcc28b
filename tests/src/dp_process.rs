//! The `dataplane` binary as a child process for end-to-end tests: started
//! in the foreground on a config file, its SHA-256 miners' address read from
//! its stdout; stopped with SIGTERM (clean) or SIGKILL (a crash).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cp::bin;

const T: Duration = Duration::from_secs(60);

/// Starts the `dataplane` binary on `config` with extra environment `envs`;
/// returns it and its SHA-256 miners' address.
pub async fn spawn(config: &Path, envs: &[(&str, &str)]) -> (Child, SocketAddr) {
    let mut child = Command::new(bin("dataplane"))
        .args(["start", "--foreground", "--config"])
        .arg(config)
        .envs(envs.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dataplane");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let addr = tokio::time::timeout(T, async {
        while let Some(line) = lines.next_line().await.expect("dataplane stdout") {
            if let Some(a) = line.strip_prefix("dataplane listening for sha256 miners on ") {
                return a.trim().parse().expect("an address");
            }
        }
        panic!("the dataplane exited before listening");
    })
    .await
    .expect("the dataplane listens");
    (child, addr)
}

/// SIGTERM, then the exit, which must be clean.
#[cfg(unix)]
pub async fn stop(child: &mut Child) {
    let pid = child.id().expect("running") as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).expect("a pid"),
        rustix::process::Signal::TERM,
    )
    .expect("SIGTERM");
    let status = tokio::time::timeout(T, child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

/// SIGKILL (no cleanup at all), then reap it.
pub async fn kill(child: &mut Child) {
    child.start_kill().expect("SIGKILL");
    tokio::time::timeout(T, child.wait())
        .await
        .expect("dies after SIGKILL")
        .expect("wait");
}
