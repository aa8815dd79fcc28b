//! The monitoring endpoints end to end, through the real binary in
//! single-machine mode (issue 12 item 7): they answer as documented; after
//! a miner's shares the counters in `/metrics` and the per-worker counts in
//! `/status` equal what the pool saw; the hashrate estimate is within 30%
//! of the true rate; the scrape passes `promtool check metrics` and has
//! every series the shipped alert rules and dashboard name; bad requests
//! get 404, 401 and 400 quickly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchyard_tests::http::{family_names, get, sample_sum};
use switchyard_tests::single::{SingleMachine, sha256_yaml};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

use crate::deploy::{names_used, tool};

const T: Duration = Duration::from_secs(60);
const TOKEN: &str = "monitoring-secret-token";
/// Shares the miner submits, one every [`EVERY`].
const N: usize = 20;
const EVERY: Duration = Duration::from_millis(150);

fn yaml(pool_port: u16) -> String {
    sha256_yaml(
        pool_port,
        "  http_listen: \"127.0.0.1:0\"\n  http_token_file: \"http.token\"\n",
    )
}

/// `promtool check metrics` on `text`; `None` when promtool is missing
/// outside CI (the `tool` helper says so, and fails under CI).
fn promtool_check(text: &str) -> Option<(bool, String)> {
    let promtool = tool("promtool", "prometheus")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success() && said.trim().is_empty(), said))
}

#[tokio::test]
async fn the_endpoints_show_what_the_pool_saw() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("http.token"), format!("{TOKEN}\n")).unwrap();
    let sm = SingleMachine::start(dir.path(), &yaml(pool.addr().port()), &["sha256"]).await;
    let http = sm.http.expect("the HTTP endpoints' address is printed");

    // Open endpoints, no token needed.
    let h = get(http, "/healthz", None).await;
    assert_eq!((h.status, h.body.trim()), (200, "ok"));
    let r = get(http, "/readyz", None).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Bad requests: quick, clear refusals.
    let started = Instant::now();
    assert_eq!(get(http, "/metrics", None).await.status, 401);
    assert_eq!(get(http, "/status", Some("wrong")).await.status, 401);
    assert_eq!(get(http, "/nope", Some(TOKEN)).await.status, 404);
    let huge = format!("/status?worker={}", "x".repeat(5000));
    assert_eq!(get(http, &huge, Some(TOKEN)).await.status, 400);
    let bad = get(http, "/status?limit=many", Some(TOKEN)).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("limit"), "{}", bad.body);
    assert!(started.elapsed() < T, "refusals do not hang");

    // A miner submits N shares at a steady pace.
    let connected = Instant::now();
    let mut m = ScriptedMiner::ready(sm.miners("sha256"), "cgminer", "farm.rig7")
        .await
        .unwrap();
    let mut next = tokio::time::Instant::now();
    for _ in 0..N {
        tokio::time::sleep_until(next).await;
        next += EVERY;
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
    }
    // At once (the estimate is over the time since the connection): the
    // miner's status, its answers all in.
    let elapsed = connected.elapsed().as_secs_f64();
    let status = get(http, "/status?worker=rig7", Some(TOKEN)).await;
    pool.wait_for_accepted(N, T).await.unwrap();
    let difficulty = m
        .difficulty
        .expect("the pool's difficulty reached the miner");

    // /metrics: the shares counter equals what the pool accepted.
    let metrics = get(http, "/metrics", Some(TOKEN)).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.body;
    let accepted = sample_sum(
        &text,
        "switchyard_shares_total",
        &[
            ("pool", "main"),
            ("verdict", "accepted"),
            ("source", "pool"),
        ],
    );
    assert_eq!(accepted, N as f64, "{text}");
    assert_eq!(
        sample_sum(&text, "switchyard_shares_total", &[("verdict", "rejected")]),
        0.0
    );
    let work = sample_sum(
        &text,
        "switchyard_share_work_total",
        &[("direction", "upstream"), ("verdict", "accepted")],
    );
    assert!(
        (work - N as f64 * difficulty).abs() < 1e-9 * work.max(1.0),
        "{work}"
    );
    assert_eq!(
        sample_sum(&text, "switchyard_miners_connected", &[("algo", "sha256")]),
        1.0
    );
    assert_eq!(
        sample_sum(&text, "switchyard_route_info", &[("pool", "main")]),
        1.0
    );
    assert_eq!(
        sample_sum(&text, "switchyard_upstream_up", &[("pool", "main")]),
        1.0
    );
    assert_eq!(
        sample_sum(
            &text,
            "switchyard_build_info",
            &[("component", "controlplane")]
        ),
        1.0
    );
    assert_eq!(
        sample_sum(
            &text,
            "switchyard_build_info",
            &[("component", "dataplane")]
        ),
        1.0
    );

    // Every series the shipped alert rules and dashboard use is exported.
    let exported = family_names(&text);
    let missing: Vec<_> = names_used()
        .into_iter()
        .filter(|n| !exported.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "named in deploy/ but not exported: {missing:?}"
    );
    if let Some((ok, said)) = promtool_check(&text) {
        assert!(ok, "promtool check metrics:\n{said}");
    }

    // /status: the miner with its counts and a hashrate near the true one.
    assert_eq!(status.status, 200, "{}", status.body);
    let s = status.json();
    let miners = &s["dataplane"]["miners"];
    assert_eq!(miners["total"], 1, "{s}");
    let me = &miners["list"][0];
    assert_eq!(me["worker"], "farm.rig7");
    assert_eq!(me["accepted"], N, "{me}");
    assert_eq!(me["rejected"], 0);
    let truth = N as f64 * difficulty * 4_294_967_296.0 / elapsed;
    let estimate = me["hashrate_hs"].as_f64().unwrap();
    assert!(
        (estimate - truth).abs() <= 0.3 * truth,
        "hashrate {estimate} vs true {truth}"
    );
    let algo = &s["dataplane"]["algorithms"][0];
    assert_eq!(algo["route"]["pool"], "main", "{algo}");
    assert_eq!(algo["pools"][0]["shares"]["accepted"], N, "{algo}");
    assert_eq!(s["dataplane"]["workers"]["online"], 1, "{s}");
    assert_eq!(s["ready"], true, "{s}");
    assert!(
        s["dataplanes"].as_array().is_some_and(|d| d.len() == 1),
        "{s}"
    );
    let none = get(http, "/status?worker=nobody", Some(TOKEN)).await.json();
    assert_eq!(none["dataplane"]["miners"]["total"], 0);

    // The control plane's series: every share stored once, the data
    // plane's gRPC calls counted.
    let deadline = tokio::time::Instant::now() + T;
    let text = loop {
        let text = get(http, "/metrics", Some(TOKEN)).await.body;
        let stored = sample_sum(&text, "switchyard_cp_share_events_ingested_total", &[]);
        if stored == N as f64 {
            break text;
        }
        assert!(stored < N as f64, "more stored than submitted: {stored}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the shares reach the control plane: {stored}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let calls = sample_sum(
        &text,
        "switchyard_cp_grpc_requests_total",
        &[
            ("service", "switchyard.v1.DataPlane"),
            ("method", "ReportShares"),
            ("code", "OK"),
        ],
    );
    assert!(calls >= 1.0, "{text}");
    assert_eq!(
        sample_sum(&text, "switchyard_cp_dataplanes_connected", &[]),
        1.0
    );

    sm.stop().await;
}

/// `ctl workers` rows for `worker` (the state of each).
async fn states(sm: &SingleMachine, worker: &str) -> Vec<String> {
    let rows = sm.ctl_json(&["workers"]).await;
    rows.as_array()
        .map(|r| {
            r.iter()
                .filter(|w| w["worker"] == worker)
                .map(|w| w["state"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `ctl workers` until `worker` is in `state` (bounded: the data
/// plane's sweep and health reports run on their own timers).
async fn until_state(sm: &SingleMachine, worker: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let now = states(sm, worker).await;
        if now.iter().any(|s| s == state) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{worker} never {state} in ctl workers (last: {now:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_worker_that_stops_is_idle_then_offline_in_ctl_workers_and_the_metrics() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("http.token"), TOKEN).unwrap();
    let yaml =
        yaml(pool.addr().port()).replace("proxy:\n", "proxy:\n  global: { offline_after: 2 }\n");
    let sm = SingleMachine::start(dir.path(), &yaml, &["sha256"]).await;
    let http = sm.http.expect("http");

    let mut m = ScriptedMiner::ready(sm.miners("sha256"), "cgminer", "farm.rig9")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    until_state(&sm, "farm.rig9", "online").await;

    // It stops submitting but stays connected: idle (its data plane says so).
    until_state(&sm, "farm.rig9", "idle").await;
    let text = get(http, "/metrics", Some(TOKEN)).await.body;
    assert_eq!(
        sample_sum(&text, "switchyard_workers", &[("state", "idle")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample_sum(&text, "switchyard_worker_offline_total", &[]),
        1.0,
        "{text}"
    );

    // Gone: offline.
    drop(m);
    until_state(&sm, "farm.rig9", "offline").await;
    let text = get(http, "/metrics", Some(TOKEN)).await.body;
    assert_eq!(
        sample_sum(&text, "switchyard_workers", &[("state", "offline")]),
        1.0,
        "{text}"
    );
    sm.stop().await;
}
