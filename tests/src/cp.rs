//! End-to-end harness for the real `controlplane`, `dataplane` and `ctl` binaries.
//!
//! - [`bin`] finds a binary in `target/<profile>/` (the directory above the
//!   test executable's `deps/`). Once per test process it first runs
//!   `$CARGO build` of the three binaries (same profile, same target dir) so the tests never
//!   run a stale or missing binary: `cargo test -p switchyard-tests` does not
//!   build other packages' binaries by itself. When cargo is fresh this is a
//!   no-op of about a second. Set `SWITCHYARD_TESTS_NO_BUILD=1` to skip it
//!   (a missing binary is then still built).
//! - [`ControlPlane::start_with`] writes a config into a temporary
//!   directory and runs `controlplane start --foreground --listen
//!   127.0.0.1:0 ...` as a child (killed on drop), waiting (bounded) for its
//!   `controlplane listening on ADDR` line; [`ControlPlane::stop`] sends
//!   SIGTERM and waits for a clean exit.
//! - [`ControlPlane::ctl`] runs `ctl` against it with `SWITCHYARD_ENDPOINT`
//!   and `--token-file`, returning an [`Out`] (exit code, stdout, stderr).
//! - [`FakeDataPlane`] registers through tonic with a site token, holds the
//!   plan stream and reports shares and connect results, so `ctl shares`,
//!   `stats`, `breaker` and `dataplane` have something to show.
//!
//! Everything lives under a `tempfile::TempDir`; no fixed ports.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use switchyard_proto::v1 as pb;
use switchyard_proto::v1::data_plane_client::DataPlaneClient;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Bound on a control plane becoming ready and on any one command.
pub const CP_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables of the developer's shell that would change what the
/// binaries do; removed from every child.
const SCRUBBED_ENV: &[&str] = &[
    "SWITCHYARD_ENDPOINT",
    "SWITCHYARD_TOKEN",
    "SWITCHYARD_CA_FILE",
    "RUST_LOG",
    "XDG_RUNTIME_DIR",
];

/// The sample config `controlplane init` writes (site `default`, pools btc
/// 00:00-12:00 and bch 12:00-24:00, sha256 only).
pub fn sample_config() -> &'static str {
    switchyard_model::config::sample()
}

/// `target/<profile>/`: the directory above the test executable's `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("the test executable's directory");
    if dir.file_name() == Some(OsStr::new("deps")) {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

fn build_binaries(dir: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace).args([
        "build",
        "--quiet",
        "-p",
        "switchyard-ctl",
        "--bin",
        "ctl",
        "-p",
        "switchyard-controlplane",
        "--bin",
        "controlplane",
        "-p",
        "switchyard-dataplane",
        "--bin",
        "dataplane",
    ]);
    match dir.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo build of ctl, controlplane and dataplane failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The path of the `ctl`, `controlplane` or `dataplane` binary, built once per test
/// process (see the module docs).
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let dir = profile_dir();
        let missing = ["ctl", "controlplane", "dataplane"]
            .iter()
            .any(|b| !dir.join(b).is_file());
        if missing || std::env::var_os("SWITCHYARD_TESTS_NO_BUILD").is_none() {
            build_binaries(&dir)?;
        }
        Ok(dir)
    });
    match dir {
        Ok(dir) => {
            let path = dir.join(name);
            assert!(path.is_file(), "{} does not exist", path.display());
            path
        }
        Err(e) => panic!("{e}"),
    }
}

/// What a finished command printed and its exit code.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Stdout, after asserting exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts the exit code and returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit code {code}: {self:#?}");
        &self.stderr
    }

    /// Stdout parsed as JSON, after asserting exit code 0.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let text = self.ok();
        serde_json::from_str(text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Stdout parsed as CSV with a header row: one map per record, after
    /// asserting exit code 0 and that every record has the header's width.
    #[track_caller]
    pub fn csv(&self) -> Vec<BTreeMap<String, String>> {
        let rows = parse_csv(self.ok());
        let (header, records) = rows
            .split_first()
            .unwrap_or_else(|| panic!("no CSV header: {self:#?}"));
        records
            .iter()
            .map(|r| {
                assert_eq!(
                    r.len(),
                    header.len(),
                    "CSV record width: {r:?} vs {header:?}"
                );
                header.iter().cloned().zip(r.iter().cloned()).collect()
            })
            .collect()
    }
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and newlines.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Runs a binary to completion (bounded by [`CP_TIMEOUT`]) with a scrubbed
/// environment plus `envs`, optionally feeding `stdin`.
pub async fn run(
    program: &Path,
    args: &[&OsStr],
    envs: &[(&str, &str)],
    stdin: Option<&str>,
) -> Out {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for k in SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    cmd.envs(envs.iter().copied());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(text.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(CP_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} {args:?} did not finish within {CP_TIMEOUT:?}",
                program.display()
            )
        })
        .expect("wait for the child");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn os<'a>(args: &[&'a str]) -> Vec<&'a OsStr> {
    args.iter().map(|a| OsStr::new(*a)).collect()
}

/// `ctl ARGS` with only `envs` (no endpoint or token unless given).
pub async fn ctl_raw(args: &[&str], envs: &[(&str, &str)]) -> Out {
    run(&bin("ctl"), &os(args), envs, None).await
}

/// `controlplane ARGS` with `TZ=UTC`.
pub async fn controlplane(args: &[&str]) -> Out {
    run(&bin("controlplane"), &os(args), &[("TZ", "UTC")], None).await
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Kills (SIGKILL) a process the test started in the background, on drop,
/// unless it is already gone: a failed test leaves no daemon behind.
pub struct PidGuard(pub i32);

impl Drop for PidGuard {
    #[cfg(unix)]
    fn drop(&mut self) {
        if alive(self.0)
            && let Some(pid) = rustix::process::Pid::from_raw(self.0)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }

    /// TerminateProcess through `taskkill /F` (fails harmlessly when gone).
    #[cfg(windows)]
    fn drop(&mut self) {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &self.0.to_string(), "/F"])
            .output();
    }
}

/// Adds `authorization: Bearer <token>` to every data-plane call.
#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", self.0)
            .parse()
            .map_err(|_| tonic::Status::invalid_argument("token is not a header value"))?;
        req.metadata_mut()
            .insert(switchyard_proto::AUTHORIZATION, value);
        Ok(req)
    }
}

pub type DpClient = DataPlaneClient<InterceptedService<Channel, Bearer>>;

/// A control plane running as a child process on a temporary database.
pub struct ControlPlane {
    /// Kept before `dir` so the child is killed before the directory goes.
    child: Option<Child>,
    _stdout: Option<tokio::io::Lines<BufReader<ChildStdout>>>,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub config: PathBuf,
    pub db: PathBuf,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
    /// The controlplane's stderr (errors before logging starts).
    pub stderr_file: PathBuf,
    pub pid: i32,
    pub dir: tempfile::TempDir,
}

impl ControlPlane {
    /// The sample config, the machine zone set to UTC.
    pub async fn start() -> ControlPlane {
        Self::start_with(sample_config(), "UTC").await
    }

    /// `yaml` as the config, `TZ=tz` for the child.
    pub async fn start_with(yaml: &str, tz: &str) -> ControlPlane {
        Self::start_with_env(yaml, tz, &[]).await
    }

    /// As [`ControlPlane::start_with`], with more environment for the child
    /// (e.g. `SWITCHYARD_CLOCK_OFFSET_MS`).
    pub async fn start_with_env(yaml: &str, tz: &str, envs: &[(&str, &str)]) -> ControlPlane {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, yaml).expect("write config");
        let db = dir.path().join("switchyard.db");
        let pid_file = dir.path().join("cp.pid");
        let log_file = dir.path().join("cp.log");
        let stderr_file = dir.path().join("cp.stderr");
        let stderr = std::fs::File::create(&stderr_file).expect("stderr file");
        let mut cmd = Command::new(bin("controlplane"));
        cmd.arg("start")
            .arg("--foreground")
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(&db)
            .args(["--listen", "127.0.0.1:0", "--no-dataplane"])
            .arg("--pid-file")
            .arg(&pid_file)
            .arg("--log-file")
            .arg(&log_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        cmd.env("TZ", tz);
        cmd.envs(envs.iter().copied());
        let mut child = cmd.spawn().expect("spawn controlplane");
        let pid = child.id().expect("controlplane pid") as i32;
        let mut lines = BufReader::new(child.stdout.take().expect("stdout pipe")).lines();
        let ready = tokio::time::timeout(CP_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.ok().flatten() {
                if let Some(addr) = line.strip_prefix("controlplane listening on ") {
                    return Some(addr.trim().parse::<SocketAddr>().expect("listen address"));
                }
            }
            None
        })
        .await;
        let addr = match ready {
            Ok(Some(addr)) => addr,
            Ok(None) => {
                let status = child.wait().await;
                panic!(
                    "controlplane exited before listening ({status:?}):\n{}\n{}",
                    std::fs::read_to_string(&stderr_file).unwrap_or_default(),
                    std::fs::read_to_string(&log_file).unwrap_or_default()
                );
            }
            Err(_) => panic!(
                "controlplane did not listen within {CP_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&log_file).unwrap_or_default()
            ),
        };
        ControlPlane {
            child: Some(child),
            _stdout: Some(lines),
            addr,
            endpoint: format!("http://{addr}"),
            config,
            db,
            pid_file,
            log_file,
            stderr_file,
            pid,
            dir,
        }
    }

    /// `<db>.admin-token`.
    pub fn admin_token_file(&self) -> PathBuf {
        switchyard_controlplane::admin_token_file(&self.db)
    }

    pub fn admin_token(&self) -> String {
        read_token(&self.admin_token_file())
    }

    /// The data-plane token written for a site imported from the config.
    pub fn site_token(&self, site: &str) -> String {
        read_token(&switchyard_controlplane::site_token_file(&self.db, site))
    }

    /// A path in the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to a file in the temporary directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// `ctl --token-file <admin token> ARGS` with `SWITCHYARD_ENDPOINT`.
    pub async fn ctl(&self, args: &[&str]) -> Out {
        let token = self.admin_token_file();
        let mut all = vec![OsStr::new("--token-file"), token.as_os_str()];
        all.extend(args.iter().map(OsStr::new));
        run(
            &bin("ctl"),
            &all,
            &[("SWITCHYARD_ENDPOINT", self.endpoint.as_str())],
            None,
        )
        .await
    }

    /// `ctl ARGS` with `SWITCHYARD_ENDPOINT` and `envs` but no token flag.
    pub async fn ctl_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Out {
        let mut all = vec![("SWITCHYARD_ENDPOINT", self.endpoint.as_str())];
        all.extend_from_slice(envs);
        run(&bin("ctl"), &os(args), &all, None).await
    }

    /// Like [`ControlPlane::ctl`], with `stdin`.
    pub async fn ctl_stdin(&self, args: &[&str], stdin: &str) -> Out {
        let token = self.admin_token();
        run(
            &bin("ctl"),
            &os(args),
            &[
                ("SWITCHYARD_ENDPOINT", self.endpoint.as_str()),
                ("SWITCHYARD_TOKEN", token.as_str()),
            ],
            Some(stdin),
        )
        .await
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the control plane")
    }

    /// A data-plane client carrying `token`.
    pub async fn dataplane_client(&self, token: &str) -> DpClient {
        DataPlaneClient::with_interceptor(self.channel().await, Bearer(token.to_string()))
    }

    /// Registers a data plane `id` with a site token and acknowledges the
    /// first plan of its stream.
    pub async fn fake_dataplane(&self, token: &str, id: &str) -> FakeDataPlane {
        let mut client = self.dataplane_client(token).await;
        let reg = client
            .register(pb::RegisterRequest {
                dataplane_id: id.into(),
                version: "9.8.7".into(),
                hostname: format!("host-{id}"),
                plan_version: 0,
                contract_version: switchyard_proto::CONTRACT_VERSION,
            })
            .await
            .expect("register")
            .into_inner();
        let mut plans = client
            .watch_plans(pb::WatchPlansRequest {
                dataplane_id: id.into(),
                plan_version: 0,
            })
            .await
            .expect("watch plans")
            .into_inner();
        let plan = tokio::time::timeout(CP_TIMEOUT, plans.next())
            .await
            .expect("the first plan in time")
            .expect("a plan")
            .expect("a plan, not an error");
        let mut dp = FakeDataPlane {
            id: id.into(),
            site: reg.site,
            client,
            plans,
            plan,
        };
        dp.ack(dp.plan.version).await;
        dp
    }

    /// SIGTERM (on Windows the stop request `controlplane stop` writes),
    /// then waits (bounded) for the exit; the directory stays.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the control plane is running");
        #[cfg(unix)]
        {
            let pid = rustix::process::Pid::from_raw(self.pid).expect("pid");
            rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        }
        #[cfg(windows)]
        switchyard_controlplane::daemon::request_stop(&self.pid_file, self.pid)
            .expect("stop request");
        tokio::time::timeout(CP_TIMEOUT, child.wait())
            .await
            .expect("the control plane stops within the timeout")
            .expect("wait")
    }

    /// The log file's text.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }
}

fn read_token(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A registered data plane driven by the test through tonic.
pub struct FakeDataPlane {
    pub id: String,
    pub site: String,
    pub client: DpClient,
    /// The plan stream, held open so the data plane counts as connected.
    pub plans: tonic::Streaming<pb::RoutingPlan>,
    /// The latest plan received.
    pub plan: pb::RoutingPlan,
}

impl FakeDataPlane {
    pub async fn ack(&mut self, version: u64) {
        self.client
            .ack_plan(pb::PlanAck {
                dataplane_id: self.id.clone(),
                plan_version: version,
                error: String::new(),
            })
            .await
            .expect("ack plan");
    }

    /// Waits (bounded) for the next plan on the stream.
    pub async fn next_plan(&mut self) -> pb::RoutingPlan {
        let plan = tokio::time::timeout(CP_TIMEOUT, self.plans.next())
            .await
            .expect("a new plan in time")
            .expect("the stream is open")
            .expect("a plan, not an error");
        self.plan = plan.clone();
        plan
    }

    pub async fn report_shares(&mut self, events: Vec<pb::ShareEvent>) -> pb::ShareBatchAck {
        self.client
            .report_shares(pb::ShareBatch {
                dataplane_id: self.id.clone(),
                events,
            })
            .await
            .expect("report shares")
            .into_inner()
    }

    /// Reports one connect result for `pool`.
    pub async fn connect_result(&mut self, algorithm: &str, pool: &str, ok: bool, error: &str) {
        self.client
            .report_health(pb::HealthReport {
                dataplane_id: self.id.clone(),
                results: vec![pb::ConnectResult {
                    algorithm: pb::Algorithm::from_label(algorithm).map_or(0, |a| a as i32),
                    pool: pool.into(),
                    at_unix_ms: 0,
                    ok,
                    error: error.into(),
                }],
                ..Default::default()
            })
            .await
            .expect("report health");
    }
}

/// A share event with a fresh UUIDv7 id; verdicts and reason by their
/// stored labels (a reason outside the categories is sent as its text).
pub fn share(
    at_unix_ms: i64,
    pool: &str,
    worker: &str,
    forwarded: bool,
    local_verdict: &str,
    pool_verdict: &str,
    reason: &str,
) -> pb::ShareEvent {
    let verdict = |v: &str| pb::Verdict::from_label(v).map_or(0, |v| v as i32);
    let (category, text) = match pb::Reason::from_label(reason) {
        Some(r) => (r, String::new()),
        None if reason.is_empty() => (pb::Reason::Unspecified, String::new()),
        None => (pb::Reason::Other, reason.to_string()),
    };
    pb::ShareEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at_unix_ms,
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: pool.into(),
        worker: worker.into(),
        job_id: "1a".into(),
        miner_difficulty: 1024.0,
        share_difficulty: 4096.0,
        local_verdict: verdict(local_verdict),
        forwarded,
        pool_verdict: verdict(pool_verdict),
        reason: category as i32,
        reason_text: text,
        pool_latency_us: if forwarded { 1500 } else { 0 },
        ..Default::default()
    }
}

/// Now in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::parse_csv;

    #[test]
    fn csv_fields_may_be_quoted() {
        let rows = parse_csv("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\n1,\"two\nlines\",3\n");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", ""],
                vec!["1", "two\nlines", "3"],
            ]
        );
    }
}
