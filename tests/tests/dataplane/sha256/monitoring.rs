//! A standalone data plane's monitoring endpoints (`http:` in its file):
//! readiness follows the pool, and a worker's state follows its shares
//! and its connection: online while it submits, idle once silent for
//! `workers.offline_after` while still connected, offline once gone, each
//! change counted, in `/metrics` and `/status`, with the opt-in
//! per-worker series.

use std::net::SocketAddr;
use std::time::Duration;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::PoolMode;
use switchyard_tests::dp::{mine_one, pool, start, test_config};
use switchyard_tests::http::{Reply, get, sample_sum};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);
const TOKEN: &str = "dp-token";

/// Polls `path` until `done` holds for its answer (bounded: the sweep that
/// changes states runs on its own timer, nothing to await).
async fn until(addr: SocketAddr, path: &str, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let r = get(addr, path, Some(TOKEN)).await;
        if done(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}; last answer:\n{}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn workers(text: &str, state: &str) -> f64 {
    sample_sum(text, "switchyard_workers", &[("state", state)])
}

async fn monitored(
    p: Option<&ScriptedPool>,
    dir: &tempfile::TempDir,
    closed: SocketAddr,
) -> (DataPlane, SocketAddr, SocketAddr) {
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let addr = p.map_or(closed, ScriptedPool::addr);
    let mut cfg = test_config(vec![pool("a", addr, PoolMode::Aggregate)]);
    cfg.http.listen = Some("127.0.0.1:0".into());
    cfg.http.token_file = Some(token.display().to_string());
    cfg.http.worker_metrics = true;
    cfg.workers.offline_after = 1;
    let (dp, miners) = start(cfg).await.unwrap();
    let http = dp.http_addr.expect("http.listen is set");
    (dp, miners, http)
}

#[tokio::test]
async fn readiness_names_the_pool_that_is_not_connected() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (dp, _, http) = monitored(None, &dir, closed).await;
    let r = until(http, "/readyz", "not ready", |r| {
        r.status == 503 && r.body.contains("pool a")
    })
    .await;
    assert!(r.body.contains("sha256"), "{}", r.body);
    assert_eq!(get(http, "/healthz", None).await.status, 200);
    let m = get(http, "/metrics", Some(TOKEN)).await;
    assert_eq!(
        sample_sum(&m.body, "switchyard_upstream_up", &[("pool", "a")]),
        0.0
    );
    assert!(
        sample_sum(
            &m.body,
            "switchyard_upstream_connect_attempts_total",
            &[("pool", "a"), ("result", "refused")]
        ) >= 1.0,
        "{}",
        m.body
    );
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_worker_goes_online_idle_and_offline_and_each_change_is_counted() {
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (dp, miners, http) = monitored(Some(&p), &dir, p.addr()).await;
    until(http, "/readyz", "ready", |r| r.status == 200).await;

    let mut m = ScriptedMiner::ready(miners, "cgminer", "w.rig1")
        .await
        .unwrap();
    mine_one(&p, &mut m).await;
    let r = get(http, "/metrics", Some(TOKEN)).await;
    assert_eq!(workers(&r.body, "online"), 1.0, "{}", r.body);
    let work = sample_sum(
        &r.body,
        "switchyard_worker_share_work_total",
        &[("worker", "w.rig1")],
    );
    assert!(work > 0.0, "the opt-in per-worker series: {}", r.body);
    assert_eq!(sample_sum(&r.body, "switchyard_miners_connected", &[]), 1.0);
    for dir in [
        "downstream_rx",
        "downstream_tx",
        "upstream_rx",
        "upstream_tx",
    ] {
        let n = sample_sum(
            &r.body,
            "switchyard_network_bytes_total",
            &[("direction", dir)],
        );
        assert!(n > 100.0, "{dir}: {n}");
    }

    // Silent but connected: idle, counted once.
    let r = until(http, "/metrics", "the silent worker is idle", |r| {
        workers(&r.body, "idle") == 1.0
    })
    .await;
    assert_eq!(workers(&r.body, "online"), 0.0);
    assert_eq!(
        sample_sum(&r.body, "switchyard_worker_offline_total", &[]),
        1.0
    );
    let s = get(http, "/status", Some(TOKEN)).await.json();
    assert_eq!(s["workers"]["idle"], 1, "{s}");
    let a = &s["algorithms"][0]["pools"][0];
    assert_eq!(a["up"], true, "{a}");
    assert!(a["since_ms"].as_i64().is_some_and(|t| t > 0), "{a}");
    assert_eq!(s["miners"]["list"][0]["worker"], "w.rig1", "{s}");
    assert_eq!(s["miners"]["list"][0]["accepted"], 1, "{s}");

    // Gone: offline.
    drop(m);
    let r = until(http, "/metrics", "the gone worker is offline", |r| {
        workers(&r.body, "offline") == 1.0
    })
    .await;
    assert_eq!(sample_sum(&r.body, "switchyard_miners_connected", &[]), 0.0);
    assert_eq!(
        sample_sum(
            &r.body,
            "switchyard_miner_disconnects_total",
            &[("cause", "client_closed")]
        ),
        1.0
    );
    assert_eq!(
        sample_sum(&r.body, "switchyard_worker_offline_total", &[]),
        1.0,
        "idle to offline is not a second loss"
    );
    dp.shutdown(Duration::from_secs(2)).await;
}

/// The opt-in per-worker series stop at `worker_metrics_cap` workers
/// (label cardinality stays bounded whatever names miners choose), and a
/// name with a quote and a backslash is escaped in its label.
#[tokio::test]
async fn worker_series_are_capped_and_their_labels_escaped() {
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), TOKEN).unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.http.listen = Some("127.0.0.1:0".into());
    cfg.http.token_file = Some(token.path().display().to_string());
    cfg.http.worker_metrics = true;
    cfg.http.worker_metrics_cap = 1;
    let (dp, miners) = start(cfg).await.unwrap();
    let http = dp.http_addr.expect("http.listen is set");
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("switchyard_worker_share_work_total{"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    let mut quoted = ScriptedMiner::ready(miners, "cgminer", r#"w.a"b\c"#)
        .await
        .unwrap();
    mine_one(&p, &mut quoted).await;
    let r = get(http, "/metrics", Some(TOKEN)).await;
    let s = series(&r.body);
    assert_eq!(s.len(), 1, "{}", r.body);
    assert!(s[0].contains(r#"worker="w.a\"b\\c""#), "escaped: {}", s[0]);

    let mut others = Vec::new();
    for name in ["w.rig2", "w.rig3"] {
        let mut m = ScriptedMiner::ready(miners, "cgminer", name).await.unwrap();
        mine_one(&p, &mut m).await;
        others.push(m);
    }
    let r = get(http, "/metrics", Some(TOKEN)).await;
    assert_eq!(series(&r.body).len(), 1, "capped at one: {}", r.body);
    // The workers gauge still counts all three.
    assert_eq!(workers(&r.body, "online"), 3.0, "{}", r.body);
    dp.shutdown(Duration::from_secs(2)).await;
}
