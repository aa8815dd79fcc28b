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

/// `dir` as the home of the pid file: created 0700 when missing; refused
/// when it is not a directory of this user's closed to others (F7 in
/// SECURITY.md: another local user who created the shared temp dir's
/// `switchyard-<uid>` first would control the pid file and what `stop`
/// signals).
pub(super) fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let m =
        std::fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let hint = "set XDG_RUNTIME_DIR or give --pid-file";
    if !m.is_dir() {
        bail!(
            "{} is not a directory (a symlink?): refused for the pid file; {hint}",
            dir.display()
        );
    }
    let me = rustix::process::getuid().as_raw();
    if m.uid() != me {
        bail!(
            "{} belongs to uid {}, not to this user ({me}): refused for the pid file; {hint}",
            dir.display(),
            m.uid()
        );
    }
    if m.mode() & 0o077 != 0 {
        bail!(
            "{} is open to other users (mode {:o}): refused for the pid file; chmod 700 it or {hint}",
            dir.display(),
            m.mode() & 0o777
        );
    }
    Ok(())
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
