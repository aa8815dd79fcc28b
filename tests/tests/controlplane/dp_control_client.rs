//! The data plane's control-plane link (`switchyard_dataplane::control`)
//! against an in-process control plane on 127.0.0.1:0: registration, plan
//! persistence and acks, new versions, reconnection after a control-plane
//! restart on the same port, the persisted plan during an outage, share
//! batches, connect reports opening a breaker, and a refused token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchyard_controlplane::{ControlPlane, Options, admin_token_file, site_token_file};
use switchyard_dataplane::config::{Algorithm, ControlPlaneLink};
use switchyard_dataplane::control::{self, ControlLink, RoutingPlan, ShareEvent};
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::admin_client::AdminClient;
use tokio_util::sync::CancellationToken;

/// Bound on anything awaited.
const WAIT: Duration = Duration::from_secs(30);

async fn start_cp(dir: &Path, listen: SocketAddr) -> ControlPlane {
    switchyard_tests::lines::init_tracing();
    let import = switchyard_model::config::load(switchyard_model::config::sample(), chrono_tz::UTC)
        .expect("sample config");
    ControlPlane::start(Options {
        config: import,
        database: dir.join("switchyard.db"),
        listen: Some(listen),
        local_tz: chrono_tz::UTC,
        tls: None,
    })
    .await
    .expect("control plane starts")
}

fn token(dir: &Path, kind: &str) -> String {
    let db = dir.join("switchyard.db");
    let f = if kind == "admin" {
        admin_token_file(&db)
    } else {
        site_token_file(&db, kind)
    };
    std::fs::read_to_string(f).unwrap().trim().to_string()
}

fn link(addr: SocketAddr, token: &str, state: &Path) -> ControlPlaneLink {
    ControlPlaneLink {
        endpoint: Some(format!("http://{addr}")),
        token: Some(token.into()),
        state_dir: state.to_string_lossy().into_owned(),
        health_interval: 1.0,
        ..ControlPlaneLink::default()
    }
}

async fn start_link(cfg: &ControlPlaneLink) -> (ControlLink, CancellationToken) {
    let stop = CancellationToken::new();
    let l = control::start(cfg, "test-1.0", stop.clone())
        .await
        .expect("link starts");
    (l, stop)
}

/// Waits (bounded) for a plan matching `f`.
async fn plan_where(l: &ControlLink, f: impl Fn(&RoutingPlan) -> bool) -> Arc<RoutingPlan> {
    let mut rx = l.plans();
    let p = tokio::time::timeout(WAIT, rx.wait_for(|p| p.as_deref().is_some_and(&f)))
        .await
        .expect("plan in time")
        .expect("link alive");
    p.clone().unwrap()
}

async fn wait_connected(l: &ControlLink, up: bool) {
    let mut rx = l.connected();
    tokio::time::timeout(WAIT, rx.wait_for(|c| *c == up))
        .await
        .expect("connection state in time")
        .unwrap();
}

/// Sets an override of the default site's sha256 to `pool` (a new plan version).
async fn override_to(cp: &ControlPlane, admin_token: &str, pool: &str) {
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", cp.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut a = AdminClient::new(ch);
    let mut req = tonic::Request::new(pb::SetOverrideRequest {
        site: "default".into(),
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: pool.into(),
        until_unix_ms: now_ms() + 3_600_000,
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {admin_token}").parse().unwrap(),
    );
    req.metadata_mut().insert(
        switchyard_proto::CONTRACT_METADATA,
        switchyard_proto::CONTRACT_VERSION.into(),
    );
    a.set_override(req).await.expect("override set");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn state(dir: &Path) -> PathBuf {
    dir.join("dp-state")
}

#[tokio::test]
async fn registers_acks_and_keeps_its_id_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start_cp(dir.path(), any_port()).await;
    let cfg = link(cp.addr(), &token(dir.path(), "default"), &state(dir.path()));
    let (l, stop) = start_link(&cfg).await;
    let persisted_id = std::fs::read_to_string(state(dir.path()).join("dataplane-id")).unwrap();
    assert_eq!(l.dataplane_id(), persisted_id.trim());
    assert_eq!(
        uuid::Uuid::parse_str(l.dataplane_id())
            .unwrap()
            .get_version_num(),
        7
    );

    let plan = plan_where(&l, |_| true).await;
    assert_eq!(plan.site, "default");
    assert!(plan.version > 0);
    wait_connected(&l, true).await;
    l.ack(plan.version, String::new());
    let row = tokio::time::timeout(WAIT, async {
        loop {
            let rows = cp.store().dataplanes(None).await.unwrap();
            if let Some(r) = rows.into_iter().find(|r| r.id == l.dataplane_id())
                && r.acked_plan_version == plan.version as i64
            {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("ack recorded");
    assert_eq!(row.version, "test-1.0");
    assert!(row.ack_error.is_empty());
    // The plan was persisted before it was published.
    let on_disk = std::fs::read(state(dir.path()).join("plan.pb")).unwrap();
    assert_eq!(
        <RoutingPlan as prost::Message>::decode(on_disk.as_slice()).unwrap(),
        *plan
    );

    stop.cancel();
    tokio::time::timeout(WAIT, l.closed()).await.unwrap();
    assert!(!*l.connected().borrow());
    let (again, stop2) = start_link(&cfg).await;
    assert_eq!(again.dataplane_id(), l.dataplane_id());
    assert_eq!(again.plans().borrow().as_deref(), Some(&*plan));
    wait_connected(&again, true).await;
    assert_eq!(cp.store().dataplanes(None).await.unwrap().len(), 1);
    stop2.cancel();
    cp.shutdown().await;
}

#[tokio::test]
async fn an_admin_change_arrives_as_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start_cp(dir.path(), any_port()).await;
    let cfg = link(cp.addr(), &token(dir.path(), "default"), &state(dir.path()));
    let (l, stop) = start_link(&cfg).await;
    let first = plan_where(&l, |_| true).await;
    override_to(&cp, &token(dir.path(), "admin"), "bch").await;
    let next = plan_where(&l, |p| p.version > first.version).await;
    let sha = next
        .algorithms
        .iter()
        .find(|a| a.algorithm() == pb::Algorithm::Sha256)
        .unwrap();
    assert_eq!(sha.current_pool, "bch");
    assert!(sha.override_until_unix_ms > 0);
    stop.cancel();
    cp.shutdown().await;
}

#[tokio::test]
async fn reconnects_to_a_restarted_control_plane_and_keeps_the_plan_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start_cp(dir.path(), any_port()).await;
    let addr = cp.addr();
    let cfg = link(addr, &token(dir.path(), "default"), &state(dir.path()));
    let (l, stop) = start_link(&cfg).await;
    let plan = plan_where(&l, |_| true).await;
    wait_connected(&l, true).await;

    cp.shutdown().await;
    wait_connected(&l, false).await;
    assert_eq!(l.plans().borrow().as_deref(), Some(&*plan));
    assert!(l.report_shares(Vec::new()).await.is_err());

    let cp2 = start_cp(dir.path(), addr).await;
    wait_connected(&l, true).await;
    let current = cp2.store().dataplanes(None).await.unwrap()[0].site_plan_version as u64;
    let held = plan_where(&l, |p| p.version >= current).await;
    assert_eq!(held.version, current);
    // The new stream carries new versions.
    override_to(&cp2, &token(dir.path(), "admin"), "bch").await;
    plan_where(&l, |p| p.version > current).await;
    stop.cancel();
    cp2.shutdown().await;
}

#[tokio::test]
async fn a_persisted_plan_is_published_at_once_while_the_control_plane_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start_cp(dir.path(), any_port()).await;
    let addr = cp.addr();
    let cfg = link(addr, &token(dir.path(), "default"), &state(dir.path()));
    let (l, stop) = start_link(&cfg).await;
    let plan = plan_where(&l, |_| true).await;
    stop.cancel();
    tokio::time::timeout(WAIT, l.closed()).await.unwrap();
    cp.shutdown().await;

    let (l2, stop2) = start_link(&cfg).await;
    assert_eq!(l2.plans().borrow().as_deref(), Some(&*plan));
    assert!(!*l2.connected().borrow());
    stop2.cancel();
    tokio::time::timeout(WAIT, l2.closed()).await.unwrap();
}

fn event(id: &str) -> ShareEvent {
    ShareEvent {
        id: id.to_string(),
        at_unix_ms: now_ms(),
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: "btc".into(),
        worker: "rig1".into(),
        job_id: "j1".into(),
        miner_difficulty: 1024.0,
        share_difficulty: 2048.0,
        local_verdict: pb::Verdict::Accepted as i32,
        forwarded: true,
        pool_verdict: pb::Verdict::Accepted as i32,
        pool_latency_us: 500,
        ..Default::default()
    }
}

#[tokio::test]
async fn shares_round_trip_and_connect_failures_open_the_breaker() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start_cp(dir.path(), any_port()).await;
    let cfg = link(cp.addr(), &token(dir.path(), "default"), &state(dir.path()));
    let (l, stop) = start_link(&cfg).await;
    plan_where(&l, |_| true).await;
    wait_connected(&l, true).await;

    let ids: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let events = ids.iter().map(|i| event(i)).collect::<Vec<_>>();
    assert_eq!(l.report_shares(events.clone()).await.unwrap(), ids);
    // A replay is acknowledged too, and stored once.
    assert_eq!(l.report_shares(events).await.unwrap(), ids);
    assert_eq!(cp.store().share_count().await.unwrap(), 3);

    // An invalid event is refused alone, acknowledged and counted as lost.
    let stats = Arc::new(switchyard_dataplane::events::EventStats::default());
    stats
        .dropped_full
        .store(7, std::sync::atomic::Ordering::Relaxed);
    stats
        .spool_events
        .store(42, std::sync::atomic::Ordering::Relaxed);
    stats
        .spool_bytes
        .store(4096, std::sync::atomic::Ordering::Relaxed);
    l.attach_event_stats(stats.clone());
    let good = event(&uuid::Uuid::now_v7().to_string());
    let mut bad = event(&uuid::Uuid::now_v7().to_string());
    bad.local_verdict = 7; // a value no version knows
    let both = vec![good.id.clone(), bad.id.clone()];
    assert_eq!(l.report_shares(vec![good, bad]).await.unwrap(), both);
    assert_eq!(cp.store().share_count().await.unwrap(), 4);
    assert_eq!(
        stats
            .dropped_invalid
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    l.set_status(vec![(Algorithm::Sha256, "btc".into())], 2, 5, 3);
    for _ in 0..5 {
        l.report_connect(Algorithm::Sha256, "btc", false, "connection refused");
    }
    let plan = plan_where(&l, |p| {
        p.algorithms
            .iter()
            .any(|a| a.open_breakers.iter().any(|b| b == "btc"))
    })
    .await;
    let sha = plan
        .algorithms
        .iter()
        .find(|a| a.algorithm() == pb::Algorithm::Sha256)
        .unwrap();
    assert_ne!(sha.current_pool, "btc");
    assert_eq!(l.connect_results_dropped(), 0);

    // The health report carried the spool and the losses: ctl shows them.
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", cp.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut req = tonic::Request::new(pb::ListDataPlanesRequest::default());
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token(dir.path(), "admin"))
            .parse()
            .unwrap(),
    );
    req.metadata_mut().insert(
        switchyard_proto::CONTRACT_METADATA,
        switchyard_proto::CONTRACT_VERSION.into(),
    );
    let list = AdminClient::new(ch)
        .list_data_planes(req)
        .await
        .unwrap()
        .into_inner();
    let d = &list.dataplanes[0];
    assert_eq!(
        (d.miners, d.spool_events, d.spool_bytes, d.events_dropped),
        (2, 42, 4096, 8)
    );
    stop.cancel();
    cp.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_never_connects() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start_cp(dir.path(), any_port()).await;
    let cfg = link(cp.addr(), "sydp_not-the-token", &state(dir.path()));
    let (l, stop) = start_link(&cfg).await;
    let mut rx = l.connected();
    // Absence can only be shown with a bound: the first attempt answers at once.
    let r = tokio::time::timeout(Duration::from_secs(2), rx.wait_for(|c| *c)).await;
    assert!(r.is_err(), "connected with a wrong token");
    assert!(l.plans().borrow().is_none());
    assert!(cp.store().dataplanes(None).await.unwrap().is_empty());
    assert!(
        l.report_shares(vec![event(&uuid::Uuid::now_v7().to_string())])
            .await
            .is_err()
    );
    stop.cancel();
    tokio::time::timeout(WAIT, l.closed()).await.unwrap();
    cp.shutdown().await;
}
