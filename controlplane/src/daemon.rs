//! Process management for `controlplane start|stop|status`: the pid file in
//! a user-writable runtime directory (never a fixed root-only path), a
//! background start that re-executes itself in the foreground detached from
//! the terminal with its output in a log file and reports the child's real
//! PID, and stop/status that need only the pid file, not the config. What
//! differs by platform (detaching, the alive check, how stop makes the
//! process end) is in `daemon/unix.rs` and `daemon/windows.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[cfg(any(windows, test))]
mod tasklist;
#[cfg(test)]
mod tests;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// The default pid file: `$XDG_RUNTIME_DIR/switchyard/controlplane.pid`, else
/// `$TMPDIR/switchyard-<uid>/controlplane.pid` on unix and
/// `%TEMP%\switchyard\controlplane.pid` (in the user's profile) on Windows.
pub fn default_pid_file() -> PathBuf {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("switchyard"),
        _ => platform::private_temp_dir(),
    };
    dir.join("controlplane.pid")
}

/// The pid file's directory, created if missing; the default fallback in
/// the shared temp dir must be this user's and closed to others.
fn pid_dir(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    if dir == platform::private_temp_dir() {
        return platform::private_dir(dir);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// The pid in a pid file, if the file exists and holds one.
pub fn read_pid(path: &Path) -> Option<i32> {
    parse_pid(&std::fs::read_to_string(path).ok()?)
}

/// A pid file's text as a pid: a positive number. 0 and negative numbers are
/// refused: to kill(2) they mean a process group or every process the user
/// may signal, never the one process a damaged pid file meant.
fn parse_pid(text: &str) -> Option<i32> {
    text.trim().parse().ok().filter(|&pid: &i32| pid > 0)
}

/// Whether a process runs (a zombie waiting to be reaped does not; on
/// Windows it must also be this program, as pids are reused quickly there).
pub fn alive(pid: i32) -> bool {
    pid > 0 && platform::alive(pid)
}

/// The running instance's pid, removing a stale pid file.
pub fn running(path: &Path) -> Option<i32> {
    let pid = read_pid(path)?;
    if alive(pid) {
        Some(pid)
    } else {
        let _ = std::fs::remove_file(path);
        None
    }
}

/// Writes our pid; refuses when another instance is running. A stop request
/// left from an earlier instance is removed first.
pub fn write_pid_file(path: &Path) -> anyhow::Result<PidFile> {
    if let Some(pid) = running(path)
        && pid != std::process::id() as i32
    {
        bail!(
            "the control plane is already running (pid {pid}, pid file {})",
            path.display()
        );
    }
    pid_dir(path)?;
    let _ = std::fs::remove_file(stop_request_file(path));
    std::fs::write(path, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write pid file {}", path.display()))?;
    Ok(PidFile(path.to_path_buf()))
}

/// Removes the pid file (and a stop request for us) when the process ends
/// normally.
pub struct PidFile(PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.0) == Some(std::process::id() as i32) {
            let _ = std::fs::remove_file(&self.0);
        }
        if stop_requested(&self.0) {
            let _ = std::fs::remove_file(stop_request_file(&self.0));
        }
    }
}

/// Where `stop` asks the process to end by itself on platforms without
/// SIGTERM (Windows): `<pid file>.stop`, holding the pid it is meant for, so
/// a request left behind never stops a later instance.
pub fn stop_request_file(pid_file: &Path) -> PathBuf {
    let mut s = pid_file.as_os_str().to_owned();
    s.push(".stop");
    PathBuf::from(s)
}

/// Asks process `pid`, running with `pid_file`, to stop.
pub fn request_stop(pid_file: &Path, pid: i32) -> std::io::Result<()> {
    std::fs::write(stop_request_file(pid_file), format!("{pid}\n"))
}

/// Whether a stop request for this process waits beside `pid_file`.
pub fn stop_requested(pid_file: &Path) -> bool {
    read_pid(&stop_request_file(pid_file)) == Some(std::process::id() as i32)
}

/// Returns once a stop request for this process appears beside `pid_file`
/// (checked four times a second).
pub async fn stop_request(pid_file: &Path) {
    while !stop_requested(pid_file) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts `args` (a foreground start) as a detached child logging to
/// `log_file`, and waits until it has written its pid file (it does so once
/// it is listening) or has died; returns its pid.
pub fn spawn_background(args: &[String], pid_file: &Path, log_file: &Path) -> anyhow::Result<u32> {
    if let Some(pid) = running(pid_file) {
        bail!(
            "the control plane is already running (pid {pid}, pid file {})",
            pid_file.display()
        );
    }
    if let Some(dir) = log_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .with_context(|| format!("cannot open log file {}", log_file.display()))?;
    let exe = std::env::current_exe().context("cannot find the controlplane executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    platform::detach(&mut cmd);
    let mut child = cmd
        .spawn()
        .context("cannot start the background control plane")?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the control plane exited at start ({status}); see {}",
                log_file.display()
            );
        }
        if read_pid(pid_file) == Some(pid as i32) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "the control plane (pid {pid}) did not become ready within 60 s; see {}",
        log_file.display()
    )
}

/// A process `stop` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub pid: i32,
    /// It did not end by itself within the wait and was terminated (only on
    /// Windows; on unix stop fails instead).
    pub terminated: bool,
}

/// Makes the running instance exit and waits for it: SIGTERM on unix; on
/// Windows a stop request, then termination if it has not exited within
/// `wait`. `None` when nothing runs.
pub fn stop(pid_file: &Path, wait: Duration) -> anyhow::Result<Option<Stopped>> {
    if pid_file.parent().is_some_and(Path::exists) {
        pid_dir(pid_file)?;
    }
    let Some(pid) = running(pid_file) else {
        return Ok(None);
    };
    let terminated = platform::stop(pid, pid_file, wait)?;
    let _ = std::fs::remove_file(pid_file);
    let _ = std::fs::remove_file(stop_request_file(pid_file));
    Ok(Some(Stopped { pid, terminated }))
}

/// Polls until `pid` is gone (true) or `wait` has passed (false).
fn wait_gone(pid: i32, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if !alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(platform::POLL);
    }
}
