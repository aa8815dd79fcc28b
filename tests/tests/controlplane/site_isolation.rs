//! What a holder of one site's data-plane token can and cannot do
//! (SECURITY.md, "A site token"): against a control plane with two sites,
//! a and b, a client carrying site a's token cannot register as, act as,
//! read the plan of or write the data of site b, and no site token opens
//! the admin API, and a pool granted to other sites never reaches its plan
//! (F1).

use std::path::Path;

use switchyard_controlplane::ControlPlane;
use switchyard_controlplane::site_token_file;
use switchyard_controlplane::store::ShareFilter;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::admin_client::AdminClient;
use switchyard_proto::v1::data_plane_client::DataPlaneClient;
use switchyard_tests::cp::{Bearer, DpClient, now_ms, share};
use switchyard_tests::linked::control_plane;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub(crate) const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Two sites on one control plane, each with a pool only it schedules.
pub(crate) const TWO_SITES: &str = r#"
servers:
  sha256:
    - { name: apool, host: "127.0.0.1", port: 1, username: "a.user", password: "a-pool-secret", start: "00:00", end: "12:00" }
    - { name: bpool, host: "127.0.0.1", port: 2, username: "b.user", password: "b-pool-secret", start: "12:00", end: "24:00" }
sites:
  - name: a
    timezone: "Europe/Berlin"
    schedule:
      sha256:
        - { server: apool, start: "00:00", end: "24:00" }
  - name: b
    timezone: "America/New_York"
    schedule:
      sha256:
        - { server: bpool, start: "00:00", end: "24:00" }
"#;

pub(crate) fn token(dir: &Path, site: &str) -> String {
    std::fs::read_to_string(site_token_file(&dir.join("switchyard.db"), site))
        .expect("the site's token file")
        .trim()
        .to_string()
}

async fn channel(cp: &ControlPlane) -> Channel {
    Channel::from_shared(format!("http://{}", cp.addr()))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the control plane")
}

pub(crate) async fn client(cp: &ControlPlane, token: &str) -> DpClient {
    DataPlaneClient::with_interceptor(channel(cp).await, Bearer(token.to_string()))
}

pub(crate) fn register_request(id: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        dataplane_id: id.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        hostname: format!("host-{id}"),
        plan_version: 0,
        contract_version: switchyard_proto::CONTRACT_VERSION,
    }
}

/// Registers `id` with `c`'s token and returns the first plan of its stream
/// (the stream is returned too, to be held open).
pub(crate) async fn register_and_watch(
    c: &mut DpClient,
    id: &str,
) -> (
    pb::RegisterResponse,
    pb::RoutingPlan,
    tonic::Streaming<pb::RoutingPlan>,
) {
    let reg = c
        .register(register_request(id))
        .await
        .expect("register")
        .into_inner();
    let mut stream = c
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: id.into(),
            plan_version: 0,
        })
        .await
        .expect("watch plans")
        .into_inner();
    let plan = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("the first plan in time")
        .expect("a plan")
        .expect("a plan, not an error");
    (reg, plan, stream)
}

fn health(id: &str, pool: &str, ok: bool) -> pb::HealthReport {
    pb::HealthReport {
        dataplane_id: id.into(),
        results: vec![pb::ConnectResult {
            algorithm: pb::Algorithm::Sha256 as i32,
            pool: pool.into(),
            at_unix_ms: 0,
            ok,
            error: if ok { String::new() } else { "refused".into() },
        }],
        idle_workers: vec![pb::IdleWorker {
            algorithm: pb::Algorithm::Sha256 as i32,
            worker: "a-idle-rig".into(),
            last_share_unix_ms: 0,
        }],
        ..Default::default()
    }
}

fn site_shares(site: &str) -> ShareFilter {
    ShareFilter {
        site: Some(site.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_site_token_cannot_register_as_or_act_for_another_sites_data_plane() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let mut b = client(&cp, &token(dir.path(), "b")).await;
    let (_, b_plan, _b_stream) = register_and_watch(&mut b, "b-dp").await;
    b.ack_plan(pb::PlanAck {
        dataplane_id: "b-dp".into(),
        plan_version: b_plan.version,
        error: String::new(),
    })
    .await
    .expect("b acks its plan");
    let before = cp.store().dataplanes(None).await.unwrap();

    let mut a = client(&cp, &token(dir.path(), "a")).await;
    // Registering b's data-plane id with a's token is refused.
    let err = a.register(register_request("b-dp")).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("registered to another site"),
        "{err:?}"
    );
    // Every call naming b's data plane is refused with a's token.
    let err = a
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: "b-dp".into(),
            plan_version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = a
        .ack_plan(pb::PlanAck {
            dataplane_id: "b-dp".into(),
            plan_version: 999,
            error: "poisoned".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let ev = share(now_ms(), "bpool", "a-rig", true, "accepted", "accepted", "");
    let err = a
        .report_shares(pb::ShareBatch {
            dataplane_id: "b-dp".into(),
            events: vec![ev],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    for _ in 0..10 {
        let err = a
            .report_health(health("b-dp", "bpool", false))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    }

    // Nothing of b changed: its data plane's row (site, version, host,
    // acknowledged plan), its shares, its breakers.
    let after = cp.store().dataplanes(None).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 1, "{after:?}");
    let (x, y) = (&before[0], &after[0]);
    assert_eq!(
        (
            &y.id,
            &y.site,
            &y.version,
            &y.hostname,
            y.acked_plan_version,
            &y.ack_error
        ),
        (
            &x.id,
            &x.site,
            &x.version,
            &x.hostname,
            x.acked_plan_version,
            &x.ack_error
        ),
    );
    assert_eq!(y.site, "b");
    let (shares, _) = cp
        .store()
        .query_shares(&site_shares("b"), 100)
        .await
        .unwrap();
    assert!(shares.is_empty(), "{shares:?}");
    assert_eq!(cp.store().share_count().await.unwrap(), 0);
    let breakers = cp.store().breakers(None).await.unwrap();
    assert!(breakers.iter().all(|r| r.state == "closed"), "{breakers:?}");
    cp.shutdown().await;
}

#[tokio::test]
async fn a_site_token_writes_only_its_own_sites_shares_breakers_and_workers() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let mut b = client(&cp, &token(dir.path(), "b")).await;
    let (_, _, _b_stream) = register_and_watch(&mut b, "b-dp").await;
    let b_event = share(now_ms(), "bpool", "b-rig", true, "accepted", "accepted", "");
    let ack = b
        .report_shares(pb::ShareBatch {
            dataplane_id: "b-dp".into(),
            events: vec![b_event.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.inserted, 1);
    let (b_before, _) = cp
        .store()
        .query_shares(&site_shares("b"), 10)
        .await
        .unwrap();

    let mut a = client(&cp, &token(dir.path(), "a")).await;
    let (reg, _, mut a_stream) = register_and_watch(&mut a, "a-dp").await;
    assert_eq!(reg.site, "a", "the token decides the site");
    // a's events name b's pool and reuse the id of b's event: the new one
    // is stored under site a, the reused id overwrites nothing.
    let mine = share(now_ms(), "bpool", "a-rig", true, "accepted", "accepted", "");
    let mut replay = share(
        now_ms(),
        "bpool",
        "a-forged",
        true,
        "rejected",
        "rejected",
        "stale",
    );
    replay.id = b_event.id.clone();
    let ack = a
        .report_shares(pb::ShareBatch {
            dataplane_id: "a-dp".into(),
            events: vec![mine.clone(), replay],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((ack.inserted, ack.duplicates), (1, 1), "{ack:?}");
    let (b_after, _) = cp
        .store()
        .query_shares(&site_shares("b"), 10)
        .await
        .unwrap();
    assert_eq!(b_after, b_before, "b's history is unchanged");
    assert_eq!(b_after[0].worker, "b-rig");
    let (a_rows, _) = cp
        .store()
        .query_shares(&site_shares("a"), 10)
        .await
        .unwrap();
    assert_eq!(a_rows.len(), 1, "{a_rows:?}");
    assert_eq!(
        (
            a_rows[0].id.as_str(),
            a_rows[0].site.as_str(),
            a_rows[0].dataplane_id.as_str()
        ),
        (mine.id.as_str(), "a", "a-dp")
    );

    // Failed connects to b's pool reported with a's token open a's breaker
    // for it, never b's: b's plan does not change.
    let b_version = cp.store().sites().await.unwrap();
    for _ in 0..10 {
        a.report_health(health("a-dp", "bpool", false))
            .await
            .unwrap();
    }
    let breakers = cp.store().breakers(None).await.unwrap();
    assert!(
        breakers
            .iter()
            .any(|r| r.site == "a" && r.pool == "bpool" && r.state == "open"),
        "{breakers:?}"
    );
    assert!(
        breakers.iter().all(|r| r.site == "a"),
        "no breaker of b: {breakers:?}"
    );
    // a's own plan sees its open breaker; b's plan version is unchanged.
    let plan = tokio::time::timeout(WAIT, async {
        loop {
            let p = a_stream.next().await.expect("stream open").expect("plan");
            if p.algorithms
                .iter()
                .any(|x| x.open_breakers.contains(&"bpool".to_string()))
            {
                return p;
            }
        }
    })
    .await
    .expect("a's plan shows its open breaker");
    assert_eq!(plan.site, "a");
    let b_site = |rows: &[switchyard_controlplane::store::SiteRow]| {
        rows.iter().find(|s| s.name == "b").map(|s| s.plan_version)
    };
    assert_eq!(
        b_site(&cp.store().sites().await.unwrap()),
        b_site(&b_version),
        "b's plan has no new version"
    );

    // The idle workers a reported are a's: the admin API lists none for b.
    let admin = std::fs::read_to_string(switchyard_controlplane::admin_token_file(
        &dir.path().join("switchyard.db"),
    ))
    .unwrap();
    let mut adm = admin_client(&cp, admin.trim()).await;
    let workers = |site: &str| pb::ListWorkersRequest {
        site: site.into(),
        ..Default::default()
    };
    let b_workers = adm
        .list_workers(workers("b"))
        .await
        .expect("admin lists b's workers")
        .into_inner();
    assert!(
        b_workers
            .workers
            .iter()
            .all(|w| w.worker != "a-idle-rig" && w.worker != "a-rig"),
        "{b_workers:?}"
    );
    let a_workers = adm.list_workers(workers("a")).await.unwrap().into_inner();
    assert!(
        a_workers.workers.iter().any(|w| w.worker == "a-idle-rig"),
        "{a_workers:?}"
    );
    drop(a_stream);
    cp.shutdown().await;
}

#[tokio::test]
async fn a_site_token_receives_only_its_own_sites_plan() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let mut a = client(&cp, &token(dir.path(), "a")).await;
    let (reg, plan, _stream) = register_and_watch(&mut a, "a-dp").await;
    assert_eq!(reg.site, "a");
    assert_eq!(plan.site, "a");
    assert_eq!(plan.timezone, "Europe/Berlin");
    let sha = &plan.algorithms[0];
    assert_eq!(sha.current_pool, "apool");
    assert_eq!(sha.scheduled_pool, "apool");
    assert!(sha.switches.is_empty(), "a's day is apool only: {sha:?}");
    // No field of a's plan names site b or its zone.
    let debug = format!("{plan:?}");
    assert!(!debug.contains("America/New_York"), "{debug}");

    // An unknown, empty or admin token gets no plan and registers nothing.
    let admin = std::fs::read_to_string(switchyard_controlplane::admin_token_file(
        &dir.path().join("switchyard.db"),
    ))
    .unwrap();
    let b_token = token(dir.path(), "b");
    let forged = format!("{}x", &b_token[..b_token.len() - 1]);
    for bad in [admin.trim(), forged.as_str(), "sysite_0000"] {
        let mut c = client(&cp, bad).await;
        let err = c.register(register_request("x-dp")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{bad}: {err:?}");
        let err = c
            .watch_plans(pb::WatchPlansRequest {
                dataplane_id: "a-dp".into(),
                plan_version: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{bad}: {err:?}");
    }
    let mut none = DataPlaneClient::new(channel(&cp).await);
    let err = none.register(register_request("x-dp")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let rows = cp.store().dataplanes(None).await.unwrap();
    assert_eq!(rows.len(), 1, "only a-dp registered: {rows:?}");
    cp.shutdown().await;
}

/// F1 (fixed; SECURITY.md): a pool granted to some sites never reaches
/// another site's plan, password included. Pools without grants are shared
/// (every site's failover), as in TWO_SITES; `pool_grants.rs` covers the
/// admin side.
#[tokio::test]
async fn a_pool_granted_to_b_never_reaches_as_plan() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = TWO_SITES.replace(
        r#"password: "b-pool-secret","#,
        r#"password: "b-pool-secret", sites: [b],"#,
    );
    assert_ne!(yaml, TWO_SITES);
    let cp = control_plane(dir.path(), &yaml).await;
    let mut a = client(&cp, &token(dir.path(), "a")).await;
    let (_, plan, _stream) = register_and_watch(&mut a, "a-dp").await;
    assert!(
        plan.pools
            .iter()
            .all(|p| p.name != "bpool" && p.password != "b-pool-secret"),
        "{plan:?}"
    );
    assert!(!plan.algorithms[0].failover.contains(&"bpool".to_string()));
    let mut b = client(&cp, &token(dir.path(), "b")).await;
    let (_, plan, _stream) = register_and_watch(&mut b, "b-dp").await;
    let bpool = plan
        .pools
        .iter()
        .find(|p| p.name == "bpool")
        .expect("b's own pool");
    assert_eq!(bpool.password, "b-pool-secret");
    // apool is shared: b may fail over to it.
    assert!(plan.pools.iter().any(|p| p.name == "apool"));
    cp.shutdown().await;
}

pub(crate) type Admin = AdminClient<InterceptedService<Channel, AdminMeta>>;

/// `authorization` and the contract version, as `ctl` sends them.
#[derive(Clone)]
pub(crate) struct AdminMeta(String);

impl tonic::service::Interceptor for AdminMeta {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let m = req.metadata_mut();
        m.insert(
            switchyard_proto::AUTHORIZATION,
            format!("Bearer {}", self.0).parse().unwrap(),
        );
        m.insert(
            switchyard_proto::CONTRACT_METADATA,
            switchyard_proto::CONTRACT_VERSION.into(),
        );
        Ok(req)
    }
}

pub(crate) async fn admin_client(cp: &ControlPlane, token: &str) -> Admin {
    AdminClient::with_interceptor(channel(cp).await, AdminMeta(token.to_string()))
}

#[tokio::test]
async fn no_site_token_opens_any_admin_call() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), TWO_SITES).await;
    let mut a = admin_client(&cp, &token(dir.path(), "a")).await;
    let mut codes = Vec::new();
    macro_rules! call {
        ($($method:ident($req:expr)),* $(,)?) => {
            $(
                let r = a.$method($req).await;
                codes.push((stringify!($method), r.err().map(|e| e.code())));
            )*
        };
    }
    call!(
        status(pb::StatusRequest::default()),
        add_site(pb::AddSiteRequest {
            name: "evil".into(),
            timezone: "UTC".into(),
        }),
        list_sites(pb::ListSitesRequest::default()),
        remove_site(pb::RemoveSiteRequest { name: "b".into() }),
        add_pool(pb::PoolSettings::default()),
        update_pool(pb::UpdatePoolRequest::default()),
        remove_pool(pb::PoolName {
            name: "bpool".into()
        }),
        set_pool_enabled(pb::SetPoolEnabledRequest::default()),
        list_pools(pb::ListPoolsRequest::default()),
        set_schedule(pb::SetScheduleRequest::default()),
        show_schedule(pb::ShowScheduleRequest::default()),
        preview_schedule(pb::PreviewScheduleRequest::default()),
        set_failover(pb::SetFailoverRequest::default()),
        set_override(pb::SetOverrideRequest::default()),
        clear_override(pb::ClearOverrideRequest::default()),
        list_breakers(pb::ListBreakersRequest::default()),
        reset_breaker(pb::BreakerTarget::default()),
        open_breaker(pb::BreakerTarget::default()),
        list_data_planes(pb::ListDataPlanesRequest::default()),
        query_shares(pb::QuerySharesRequest::default()),
        stats(pb::StatsRequest::default()),
        list_workers(pb::ListWorkersRequest::default()),
        import_config(pb::ImportConfigRequest::default()),
        export_config(pb::ExportConfigRequest::default()),
        validate_config(pb::ValidateConfigRequest::default()),
        list_switches(pb::ListSwitchesRequest::default()),
        rotate_site_token(pb::RotateSiteTokenRequest { name: "b".into() }),
    );
    assert_eq!(codes.len(), 27, "every Admin method of admin.proto");
    for (method, code) in &codes {
        assert_eq!(*code, Some(Code::Unauthenticated), "{method}");
    }
    let sites = cp.store().sites().await.unwrap();
    assert_eq!(
        sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(cp.store().pools(None).await.unwrap().len(), 2);
    cp.shutdown().await;
}
