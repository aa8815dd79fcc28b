//! The Windows side of `controlplane start|stop|status`, with neither unsafe
//! code (the workspace forbids it) nor an extra crate: the background start
//! is a detached process (no console, its own process group); the alive check
//! asks `tasklist` and also requires the image to be this program, because
//! Windows reuses pids quickly and a pid file in `%TEMP%` outlives a reboot;
//! stop writes a stop request the process watches (a clean shutdown: the data
//! plane drained, the store closed) and only if the process has not exited
//! within the wait terminates it with `taskkill /F` (TerminateProcess).
//!
//! A detached process has no console, so Ctrl-C/Ctrl-Break events
//! (GenerateConsoleCtrlEvent) cannot reach it; the stop request replaces
//! SIGTERM. A foreground start in a console also stops on Ctrl-C/Ctrl-Break.

use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::tasklist;

/// Win32 process creation flags (winbase.h).
const DETACHED_PROCESS: u32 = 0x0000_0008;
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// How often stop checks whether the process has exited (each check runs
/// `tasklist`).
pub(super) const POLL: Duration = Duration::from_millis(250);

/// How long stop waits after terminating the process.
const AFTER_TERMINATE: Duration = Duration::from_secs(10);

/// `%TEMP%\switchyard`: `%TEMP%` is already per user, in the user's profile,
/// whose ACLs keep other users out.
pub(super) fn private_temp_dir() -> PathBuf {
    std::env::temp_dir().join("switchyard")
}

/// `dir` as the home of the pid file: created when missing (the profile's
/// ACLs already keep other users out).
pub(super) fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// No console (so no console window or Ctrl-C from the starting terminal)
/// and its own process group. CREATE_NO_WINDOW only matters where
/// DETACHED_PROCESS is not honoured; with it Windows ignores the flag.
pub(super) fn detach(cmd: &mut Command) {
    cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
}

/// Whether `pid` runs this program. When `tasklist` cannot run, the answer
/// is yes: a pid file is never removed on a guess.
pub(super) fn alive(pid: i32) -> bool {
    match image_name(pid) {
        Ok(Some(name)) => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
            .is_none_or(|own| tasklist::same_image(&name, &own)),
        Ok(None) => false,
        Err(_) => true,
    }
}

fn image_name(pid: i32) -> std::io::Result<Option<String>> {
    let out = Command::new("tasklist")
        .args(["/FI", &format!("PID eq {pid}"), "/FO", "CSV", "/NH"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .creation_flags(CREATE_NO_WINDOW)
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!("tasklist: {}", out.status)));
    }
    Ok(tasklist::image_of(
        &String::from_utf8_lossy(&out.stdout),
        pid,
    ))
}

/// A stop request, then TerminateProcess if the process is still there after
/// `wait`; true when it had to be terminated.
pub(super) fn stop(pid: i32, pid_file: &Path, wait: Duration) -> anyhow::Result<bool> {
    if super::request_stop(pid_file, pid).is_ok() && super::wait_gone(pid, wait) {
        return Ok(false);
    }
    terminate(pid)?;
    if super::wait_gone(pid, AFTER_TERMINATE) {
        Ok(true)
    } else {
        bail!(
            "pid {pid} is still running {} s after it was terminated",
            AFTER_TERMINATE.as_secs()
        )
    }
}

/// `taskkill /F`: TerminateProcess, no clean shutdown.
fn terminate(pid: i32) -> anyhow::Result<()> {
    let out = Command::new("taskkill")
        .args(["/PID", &pid.to_string(), "/F"])
        .stdin(Stdio::null())
        .creation_flags(CREATE_NO_WINDOW)
        .output()
        .context("cannot run taskkill")?;
    if !out.status.success() {
        bail!(
            "cannot terminate pid {pid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
