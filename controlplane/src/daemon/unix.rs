//! The unix side of `controlplane start|stop|status`: the background start in
//! its own process group, the alive check by signal 0 (zombies excluded
//! through /proc), and stop by SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal};

/// How often stop checks whether the process has exited.
pub(super) const POLL: Duration = Duration::from_millis(50);

/// `$TMPDIR/switchyard-<uid>`: per user, as /tmp is shared.
pub(super) fn private_temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("switchyard-{}", rustix::process::getuid().as_raw()))
}

pub(super) fn alive(pid: i32) -> bool {
    let exists = Pid::from_raw(pid).is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
    exists && !zombie(pid)
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Its own process group: the terminal's Ctrl-C and hang-up do not reach it.
pub(super) fn detach(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

/// Sends SIGTERM and waits for the process to exit; never escalates (the
/// result is always "not terminated").
pub(super) fn stop(pid: i32, _pid_file: &Path, wait: Duration) -> anyhow::Result<bool> {
    let p = Pid::from_raw(pid).context("bad pid")?;
    rustix::process::kill_process(p, Signal::TERM)
        .with_context(|| format!("cannot signal pid {pid}"))?;
    if super::wait_gone(pid, wait) {
        Ok(false)
    } else {
        bail!("pid {pid} did not stop within {} s", wait.as_secs())
    }
}
