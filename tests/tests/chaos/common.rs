//! What the chaos scenarios share: the real `dataplane` and `controlplane`
//! binaries on hosts of a [`Lab`], scripted pools bound inside pool hosts,
//! miners in the test's own namespace, and the ledger read with `ctl`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use switchyard_tests::cp::bin;
use switchyard_tests::http;
use switchyard_tests::netns::Lab;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Bound on anything that should happen "soon" (a start, a reconnect).
pub const T: Duration = Duration::from_secs(60);

/// The stratum port every pool host and data plane listens on.
pub const STRATUM: u16 = 3333;
/// The data plane's monitoring port.
pub const HTTP: u16 = 9100;
/// The control plane's gRPC port.
pub const GRPC: u16 = 50051;

/// A scripted SHA-256 pool bound at `ip:3333` inside host `host`.
pub fn pool_in(lab: &Lab, host: &str, ip: Ipv4Addr, config: PoolConfig) -> ScriptedPool {
    let listener = lab.listen(host, SocketAddr::from((ip, STRATUM)));
    ScriptedPool::start_listener(listener, config).expect("the scripted pool starts")
}

/// A `pools:` entry of a data-plane file.
pub fn pool_yaml(name: &str, ip: Ipv4Addr) -> String {
    format!(
        "  - {{ name: {name}, url: \"stratum+tcp://{ip}:{STRATUM}\", username: \"farm.{name}\", password: \"x\" }}\n"
    )
}

/// Upstream timeouts of the chaos data planes: `connect_timeout` 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A data-plane file: miners and monitoring on `ip`, the chaos suite's
/// upstream timeouts, then `rest` (pools:, controlplane:, ...).
pub fn dp_yaml(ip: Ipv4Addr, rest: &str) -> String {
    format!(
        r#"listeners:
  sha256: {{ bind: "{ip}:{STRATUM}" }}
limits:
  allow: ["198.18.0.0/15"]
upstream:
  connect_timeout: {}
  handshake_timeout: 5
  request_timeout: 20
  backoff_min: 0.2
  backoff_max: 2
http:
  listen: "{ip}:{HTTP}"
{rest}"#,
        CONNECT_TIMEOUT.as_secs()
    )
}

/// The `dataplane` binary running on a lab host.
pub struct Dp {
    pub child: Child,
    pub pid: i32,
    /// Where miners connect (`ip:3333`) and the monitoring address.
    pub miners: SocketAddr,
    pub http: SocketAddr,
    /// Its stderr (the log).
    pub log: PathBuf,
}

impl Dp {
    /// Starts `dataplane start --foreground --config CONFIG` on `host`
    /// (stderr to `log`), and waits for its miners' listener.
    pub async fn start(
        lab: &Lab,
        host: &str,
        config: &Path,
        log: &Path,
        envs: &[(&str, &str)],
    ) -> Dp {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the log file");
        let mut cmd = lab.command(host, bin("dataplane"));
        cmd.args(["start", "--foreground", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().expect("spawn dataplane");
        let pid = child.id().expect("a pid") as i32;
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let miners = tokio::time::timeout(T, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(a) = line.strip_prefix("dataplane listening for sha256 miners on ") {
                    return a.trim().parse::<SocketAddr>().expect("an address");
                }
            }
            panic!(
                "the dataplane exited before listening:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        })
        .await
        .expect("the dataplane listens");
        // Keep reading stdout so the child never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Dp {
            child,
            pid,
            miners,
            http: SocketAddr::new(miners.ip(), HTTP),
            log: log.to_path_buf(),
        }
    }

    /// `GET /status`, parsed.
    pub async fn status(&self) -> Value {
        let r = http::get(self.http, "/status", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let r = http::get(self.http, "/metrics", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// Its resident memory (VmRSS) in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("the data plane's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, and reaps it.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = tokio::time::timeout(T, self.child.wait()).await;
    }

    /// SIGTERM; asserts a clean exit.
    pub async fn stop(mut self) {
        signal(self.pid, rustix::process::Signal::TERM);
        let status = tokio::time::timeout(T, self.child.wait())
            .await
            .expect("the data plane stops")
            .expect("wait");
        assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    }
}

pub fn signal(pid: i32, sig: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).expect("a pid"), sig)
        .expect("signal");
}

/// The `controlplane` binary on a lab host, listening on `ip:50051`, its
/// files in `dir`.
pub struct Cp {
    pub child: Option<Child>,
    pub endpoint: String,
    pub dir: PathBuf,
    host: String,
    listen: SocketAddr,
    envs: Vec<(String, String)>,
}

impl Cp {
    /// Writes `yaml` as `dir/config.yaml` and starts it on `host`.
    pub async fn start(
        lab: &Lab,
        host: &str,
        ip: Ipv4Addr,
        dir: &Path,
        yaml: &str,
        envs: &[(&str, &str)],
    ) -> Cp {
        std::fs::write(dir.join("config.yaml"), yaml).expect("write config");
        let mut cp = Cp {
            child: None,
            endpoint: format!("http://{ip}:{GRPC}"),
            dir: dir.to_path_buf(),
            host: host.into(),
            listen: SocketAddr::from((ip, GRPC)),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        cp.restart(lab).await;
        cp
    }

    /// Starts it again on the same address and database.
    pub async fn restart(&mut self, lab: &Lab) {
        let d = &self.dir;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("cp.stderr"))
            .expect("stderr file");
        let mut cmd = lab.command(&self.host, bin("controlplane"));
        cmd.args(["start", "--foreground", "--no-dataplane", "--listen"])
            .arg(self.listen.to_string())
            .arg("--config")
            .arg(d.join("config.yaml"))
            .arg("--pid-file")
            .arg(d.join("cp.pid"))
            .arg("--log-file")
            .arg(d.join("cp.log"))
            .env("TZ", "UTC")
            .env_remove("RUST_LOG")
            .env_remove("SWITCHYARD_ENDPOINT")
            .env_remove("SWITCHYARD_TOKEN")
            .env_remove("XDG_RUNTIME_DIR")
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().expect("spawn controlplane");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        tokio::time::timeout(T, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("controlplane listening on ") {
                    return;
                }
            }
            panic!(
                "the controlplane exited before listening:\n{}",
                std::fs::read_to_string(d.join("cp.log")).unwrap_or_default()
            );
        })
        .await
        .expect("the controlplane listens");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// SIGKILL, and reaps it.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.start_kill().expect("SIGKILL");
        let _ = tokio::time::timeout(T, child.wait()).await;
    }

    /// The site token file of `site`.
    pub fn site_token_file(&self, site: &str) -> PathBuf {
        switchyard_controlplane::site_token_file(&self.dir.join("switchyard.db"), site)
    }

    /// `ctl -o json ARGS`, run on the control plane's own host (so it works
    /// while the data plane's link is cut); `None` when it fails.
    pub async fn ctl_json(&self, lab: &Lab, args: &[&str]) -> Option<Value> {
        let token = self.dir.join("switchyard.db.admin-token");
        let mut cmd = lab.command(&self.host, bin("ctl"));
        cmd.args(["--endpoint", &self.endpoint, "--token-file"])
            .arg(&token)
            .args(["-o", "json"])
            .args(args)
            .env_remove("SWITCHYARD_ENDPOINT")
            .env_remove("SWITCHYARD_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = tokio::time::timeout(T, cmd.output()).await.ok()?.ok()?;
        if !out.status.success() {
            eprintln!(
                "ctl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Every share in the ledger (`ctl shares`).
    pub async fn shares(&self, lab: &Lab) -> Option<Vec<Value>> {
        let v = self
            .ctl_json(lab, &["shares", "--since", "30d", "--limit", "100000"])
            .await?;
        v.as_array().cloned()
    }
}

/// What a miner was told for one share: (worker, job id, accepted).
pub type Answer = (String, String, bool);

/// Counts of (worker, verdict) in a list of answers.
pub fn tally(answers: &[Answer]) -> BTreeMap<(String, bool), u64> {
    let mut m = BTreeMap::new();
    for (w, _, ok) in answers {
        *m.entry((w.clone(), *ok)).or_insert(0) += 1;
    }
    m
}

/// The same counts of the ledger's rows.
pub fn ledger_tally(rows: &[Value]) -> BTreeMap<(String, bool), u64> {
    let mut m = BTreeMap::new();
    for r in rows {
        let w = r["worker"].as_str().unwrap_or_default().to_string();
        let ok = r["verdict"].as_str() == Some("accepted");
        *m.entry((w, ok)).or_insert(0) += 1;
    }
    m
}

/// Mines and submits one share; what the miner was told.
pub async fn mine(m: &mut ScriptedMiner) -> anyhow::Result<Answer> {
    let share = m.find_share().await?;
    let r = m.submit(&share).await?;
    Ok((share.worker.clone(), share.job_id.clone(), r.is_ok()))
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `within`.
pub async fn until<F, Fut, R>(what: &str, within: Duration, mut f: F) -> R
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<R>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(r) = f().await {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Miners submitting in the background (one share per miner every 50 ms,
/// or back to back), recording what each was told, until
/// [`Workload::finish`] or their connection fails.
pub struct Workload {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub answers: std::sync::Arc<std::sync::Mutex<Vec<Answer>>>,
    tasks: Vec<tokio::task::JoinHandle<Option<ScriptedMiner>>>,
}

impl Workload {
    pub fn start(miners: Vec<ScriptedMiner>) -> Workload {
        Self::paced(miners, Some(Duration::from_millis(50)))
    }

    /// With `pace` `None` each miner submits its next share as soon as the
    /// last one is answered.
    pub fn paced(miners: Vec<ScriptedMiner>, pace: Option<Duration>) -> Workload {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = miners
            .into_iter()
            .map(|mut m| {
                let (stop, answers) = (stop.clone(), answers.clone());
                tokio::spawn(async move {
                    let mut pace = pace.map(tokio::time::interval);
                    m.set_timeout(Duration::from_secs(60));
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Some(p) = pace.as_mut() {
                            p.tick().await;
                        }
                        match mine(&mut m).await {
                            Ok(a) => answers.lock().unwrap().push(a),
                            Err(_) => return None,
                        }
                    }
                    Some(m)
                })
            })
            .collect();
        Workload {
            stop,
            answers,
            tasks,
        }
    }

    pub fn count(&self) -> usize {
        self.answers.lock().unwrap().len()
    }

    /// Waits (bounded) until at least `n` shares were answered in all.
    pub async fn wait_for(&self, n: usize, within: Duration) {
        until(&format!("{n} shares answered"), within, || async {
            (self.count() >= n).then_some(())
        })
        .await
    }

    /// Stops the miners after their current share; the answers and the
    /// miners still connected.
    pub async fn finish(self) -> (Vec<Answer>, Vec<ScriptedMiner>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut miners = Vec::new();
        for t in self.tasks {
            if let Ok(Ok(Some(m))) = tokio::time::timeout(T, t).await {
                miners.push(m);
            }
        }
        let answers = self.answers.lock().unwrap().clone();
        (answers, miners)
    }
}

/// Three miners `farm.rig0..2` ready on `addr`.
pub async fn miners(addr: SocketAddr) -> Vec<ScriptedMiner> {
    n_miners(addr, 3).await
}

/// `n` miners `farm.rig0..` ready on `addr`.
pub async fn n_miners(addr: SocketAddr, n: usize) -> Vec<ScriptedMiner> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            ScriptedMiner::ready(addr, "cgminer", &format!("farm.rig{i}"))
                .await
                .expect("a miner ready"),
        );
    }
    out
}

/// A data plane linked to a control plane: hosts `dp`, `cp` and one pool
/// host per name in `pools` (`p<name>`); links root-dp, dp-cp, dp-pool.
pub struct Linked {
    pub lab: Lab,
    pub dir: tempfile::TempDir,
    pub cp: Cp,
    pub dp: Option<Dp>,
    pub pools: Vec<ScriptedPool>,
    /// The data plane's config and environment (for restarts).
    pub dp_config: PathBuf,
    pub dp_env: Vec<(String, String)>,
    /// The control plane's address as the data plane sees it.
    pub cp_ip: Ipv4Addr,
}

impl Linked {
    /// `servers` makes the seed config's `servers.sha256` entries from the
    /// pool addresses; `controlplane` is that section's inline map body.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        lab: Lab,
        pool_names: &[&str],
        controlplane: &str,
        servers: impl Fn(&[Ipv4Addr]) -> String,
        state_dir: Option<PathBuf>,
        dp_extra: &str,
        env: &[(&str, &str)],
    ) -> Linked {
        let mut lab = lab;
        lab.host("dp");
        lab.host("cp");
        let lm = lab.link(crate::ROOT_HOST, "dp");
        let lc = lab.link("dp", "cp");
        let mut pools = Vec::new();
        let mut ips = Vec::new();
        for name in pool_names {
            let host = format!("p{name}");
            lab.host(&host);
            let l = lab.link("dp", &host);
            pools.push(pool_in(&lab, &host, l.b_ip, PoolConfig::default()));
            ips.push(l.b_ip);
        }
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "controlplane: {{ {controlplane} }}\nservers:\n  sha256:\n{}",
            servers(&ips)
        );
        let cp = Cp::start(&lab, "cp", lc.b_ip, dir.path(), &yaml, env).await;
        let state = state_dir.unwrap_or_else(|| dir.path().join("dp-state"));
        let dp_config = dir.path().join("dp.yaml");
        let link = format!(
            "controlplane:\n  endpoint: \"{}\"\n  token_file: \"{}\"\n  state_dir: \"{}\"\n{dp_extra}",
            cp.endpoint,
            cp.site_token_file("default").display(),
            state.display()
        );
        std::fs::write(&dp_config, dp_yaml(lm.b_ip, &link)).unwrap();
        let mut linked = Linked {
            lab,
            dir,
            cp,
            dp: None,
            pools,
            dp_config,
            dp_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cp_ip: lc.b_ip,
        };
        linked.start_dp().await;
        linked
    }

    /// Starts (again) the data plane, same config and state directory.
    pub async fn start_dp(&mut self) {
        let env: Vec<(&str, &str)> = self
            .dp_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let log = self.dir.path().join("dp.log");
        self.dp = Some(Dp::start(&self.lab, "dp", &self.dp_config, &log, &env).await);
    }

    pub fn dp(&self) -> &Dp {
        self.dp.as_ref().expect("the data plane runs")
    }

    /// Waits until the ledger holds exactly what the miners were answered
    /// (per worker and verdict; the totals equal, so no share twice).
    pub async fn wait_ledger_equals(&self, answers: &[Answer], within: Duration) -> Vec<Value> {
        let want = tally(answers);
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let rows = self.cp.shares(&self.lab).await.unwrap_or_default();
            let got = ledger_tally(&rows);
            assert!(
                rows.len() <= answers.len(),
                "{} shares in the ledger for {} answered: some twice\n{got:?}\n{want:?}",
                rows.len(),
                answers.len()
            );
            if got == want {
                return rows;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the ledger does not match what the miners were answered within {within:?}:\nledger   {got:?}\nanswered {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
