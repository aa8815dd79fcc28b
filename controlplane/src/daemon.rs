//! Process management for `controlplane start|stop|status`: the pid file in
//! a user-writable runtime directory (never a fixed root-only path), a
//! background start that re-executes itself in the foreground detached from
//! the terminal with its output in a log file and reports the child's real
//! PID, and stop/status that need only the pid file, not the config.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal};

/// The default pid file: `$XDG_RUNTIME_DIR/switchyard/controlplane.pid`, else
/// `$TMPDIR/switchyard-<uid>/controlplane.pid`.
pub fn default_pid_file() -> PathBuf {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("switchyard"),
        _ => {
            std::env::temp_dir().join(format!("switchyard-{}", rustix::process::getuid().as_raw()))
        }
    };
    dir.join("controlplane.pid")
}

/// The pid in a pid file, if the file exists and holds one.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether a process runs (a zombie waiting to be reaped does not).
pub fn alive(pid: i32) -> bool {
    let exists = Pid::from_raw(pid).is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
    exists && !zombie(pid)
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
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

/// Writes our pid; refuses when another instance is running.
pub fn write_pid_file(path: &Path) -> anyhow::Result<PidFile> {
    if let Some(pid) = running(path)
        && pid != std::process::id() as i32
    {
        bail!(
            "the control plane is already running (pid {pid}, pid file {})",
            path.display()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write pid file {}", path.display()))?;
    Ok(PidFile(path.to_path_buf()))
}

/// Removes the pid file when the process ends normally.
pub struct PidFile(PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.0) == Some(std::process::id() as i32) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Starts `args` (a foreground start) as a detached child logging to
/// `log_file`, and waits until it has written its pid file (it does so once
/// it is listening) or has died; returns its pid.
pub fn spawn_background(args: &[String], pid_file: &Path, log_file: &Path) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
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
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: the terminal's Ctrl-C and hang-up do not reach it.
        .process_group(0)
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

/// Sends SIGTERM and waits for the process to exit.
pub fn stop(pid_file: &Path, wait: Duration) -> anyhow::Result<Option<i32>> {
    let Some(pid) = running(pid_file) else {
        return Ok(None);
    };
    let p = Pid::from_raw(pid).context("bad pid")?;
    rustix::process::kill_process(p, Signal::TERM)
        .with_context(|| format!("cannot signal pid {pid}"))?;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if !alive(pid) {
            let _ = std::fs::remove_file(pid_file);
            return Ok(Some(pid));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("pid {pid} did not stop within {} s", wait.as_secs())
}
