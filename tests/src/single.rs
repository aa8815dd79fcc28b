//! Single-machine mode through the real `controlplane` binary (the README's
//! run command): [`SingleMachine::start`] writes a seed-format config, runs
//! `controlplane start --foreground` on 127.0.0.1:0 and reads the addresses
//! it prints (the control plane's and each enabled listener's); the helpers
//! query it with `ctl` and stop it with SIGTERM (on Windows with the stop
//! request `controlplane stop` writes).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cp::{bin, ctl_raw};

/// Bound on startup, on a share reaching the history and on the stop.
const T: Duration = Duration::from_secs(60);

/// A single-machine config: SHA-256 miners on 127.0.0.1:0 mining all day
/// on one pool `main` at `pool_port`; `controlplane_extra` is more of the
/// `controlplane:` section (lines indented by two spaces).
pub fn sha256_yaml(pool_port: u16, controlplane_extra: &str) -> String {
    format!(
        r#"
controlplane:
  timezone: "UTC"
{controlplane_extra}proxy:
  sha256: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 0 }}
servers:
  sha256:
    - {{ name: main, host: "127.0.0.1", port: {pool_port}, username: "farm.main", password: "x", start: "00:00", end: "24:00" }}
"#
    )
}

/// A running single-machine control plane.
pub struct SingleMachine {
    child: Child,
    #[cfg_attr(not(windows), allow(dead_code))]
    pid_file: PathBuf,
    endpoint: String,
    token_file: String,
    /// `algorithm -> miners' address`, from `dataplane listening for ALGO miners on ADDR`.
    pub miners: HashMap<String, SocketAddr>,
    /// Every stdout line read while starting.
    pub startup_lines: Vec<String>,
    /// The monitoring endpoints, with `controlplane.http_listen` set.
    pub http: Option<SocketAddr>,
}

impl SingleMachine {
    /// Starts it on `yaml` in `dir` (database, pid and log files there) and
    /// waits until the control plane and the listeners of `algorithms` print
    /// their addresses.
    pub async fn start(dir: &Path, yaml: &str, algorithms: &[&str]) -> SingleMachine {
        let config = dir.join("config.yaml");
        std::fs::write(&config, yaml).expect("write config");
        let pid_file = dir.join("cp.pid");
        let mut child = Command::new(bin("controlplane"))
            .args([
                "start",
                "--foreground",
                "--listen",
                "127.0.0.1:0",
                "--config",
            ])
            .arg(&config)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg("--log-file")
            .arg(dir.join("cp.log"))
            .env("TZ", "UTC")
            .env_remove("SWITCHYARD_CLOCK_OFFSET_MS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn controlplane");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut cp = None;
        let mut miners = HashMap::new();
        let mut startup_lines = Vec::new();
        let mut http = None;
        while cp.is_none() || algorithms.iter().any(|a| !miners.contains_key(*a)) {
            let line = tokio::time::timeout(T, lines.next_line())
                .await
                .expect("startup lines")
                .expect("read stdout")
                .expect("a line before exit");
            if let Some(a) = line.strip_prefix("controlplane http listening on ") {
                http = Some(a.trim().parse().expect("an address"));
            }
            if let Some(a) = line.strip_prefix("controlplane listening on ") {
                cp = Some(a.trim().to_string());
            }
            if let Some(rest) = line.strip_prefix("dataplane listening for ")
                && let Some((alg, addr)) = rest.split_once(" miners on ")
            {
                miners.insert(alg.to_string(), addr.trim().parse().expect("an address"));
            }
            startup_lines.push(line);
        }
        SingleMachine {
            child,
            pid_file,
            endpoint: format!("http://{}", cp.expect("checked")),
            token_file: dir.join("switchyard.db.admin-token").display().to_string(),
            miners,
            startup_lines,
            http,
        }
    }

    /// The admin token (`init` wrote it beside the database).
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(&self.token_file)
            .expect("the admin token file")
            .trim()
            .to_owned()
    }

    /// The control plane's gRPC endpoint, `http://ADDR`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The miners' address of `algorithm`.
    pub fn miners(&self, algorithm: &str) -> SocketAddr {
        self.miners[algorithm]
    }

    /// `ctl -o json ARGS` against it, parsed.
    pub async fn ctl_json(&self, args: &[&str]) -> Value {
        let mut all = vec![
            "--endpoint",
            self.endpoint.as_str(),
            "--token-file",
            self.token_file.as_str(),
            "-o",
            "json",
        ];
        all.extend_from_slice(args);
        ctl_raw(&all, &[]).await.json()
    }

    /// `ctl shares` once it lists something: a share travels data plane ->
    /// spool -> control plane, with no notification to await (poll, bounded).
    pub async fn wait_for_shares(&self) -> Value {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let rows = self.ctl_json(&["shares"]).await;
            if rows.as_array().is_some_and(|r| !r.is_empty()) {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the share reaches the history"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM (on Windows a stop request), then asserts a clean exit.
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("running") as i32;
        #[cfg(unix)]
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).expect("pid"),
            rustix::process::Signal::TERM,
        )
        .expect("SIGTERM");
        #[cfg(windows)]
        switchyard_controlplane::daemon::request_stop(&self.pid_file, pid).expect("stop request");
        let status = tokio::time::timeout(T, self.child.wait())
            .await
            .expect("it stops")
            .expect("wait");
        assert!(status.success(), "{status}");
    }
}
