//! Admin ListWorkers through a real tonic client: share events and health
//! reports come from a registered data plane; states (online, idle from its
//! report, offline), filters, the windows' counts and hashrates, the idle
//! list forgotten when the data plane disconnects, and bad input.

mod common;

use common::*;
use switchyard_proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn event(at: i64, worker: &str, verdict: pb::Verdict) -> pb::ShareEvent {
    pb::ShareEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at_unix_ms: at,
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: "btc".into(),
        worker: worker.into(),
        job_id: "1a".into(),
        miner_difficulty: 1024.0,
        share_difficulty: 2048.0,
        local_verdict: verdict as i32,
        reason: if verdict == pb::Verdict::Rejected {
            pb::Reason::LowDifficulty as i32
        } else {
            0
        },
        ..Default::default()
    }
}

fn idle(worker: &str, last: i64) -> pb::IdleWorker {
    pb::IdleWorker {
        algorithm: pb::Algorithm::Sha256 as i32,
        worker: worker.into(),
        last_share_unix_ms: last,
    }
}

async fn list(c: &mut Cp, r: pb::ListWorkersRequest) -> pb::ListWorkersResponse {
    c.admin.list_workers(r).await.unwrap().into_inner()
}

fn names(r: &pb::ListWorkersResponse) -> Vec<(&str, pb::WorkerState)> {
    r.workers
        .iter()
        .map(|w| (w.worker.as_str(), w.state()))
        .collect()
}

#[tokio::test]
async fn workers_by_state_with_idle_ones_from_health_reports() {
    use pb::WorkerState::{Idle, Offline, Online};
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    dp.register(pb::RegisterRequest {
        dataplane_id: "dp-1".into(),
        version: "0.1.0".into(),
        hostname: "rig-a".into(),
        plan_version: 0,
        contract_version: switchyard_proto::CONTRACT_VERSION,
    })
    .await
    .unwrap();
    let mut plans = dp
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: "dp-1".into(),
            plan_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    plans.next().await.unwrap().unwrap();

    let now = now_ms();
    let events = vec![
        event(now - MIN, "rig-on", pb::Verdict::Accepted),
        event(now - MIN, "rig-on", pb::Verdict::Accepted),
        event(now - 2 * MIN, "rig-on", pb::Verdict::Rejected),
        event(now - 20 * MIN, "rig-quiet", pb::Verdict::Accepted),
        event(now - 30 * MIN, "rig-idle", pb::Verdict::Accepted),
        event(now - 30 * HOUR, "rig-old", pb::Verdict::Accepted),
    ];
    let ack = dp
        .report_shares(pb::ShareBatch {
            dataplane_id: "dp-1".into(),
            events,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.inserted, 6);
    dp.report_health(pb::HealthReport {
        dataplane_id: "dp-1".into(),
        idle_workers: vec![idle("rig-idle", now - 30 * MIN), idle("rig-new", 0)],
        ..Default::default()
    })
    .await
    .unwrap();

    let all = list(&mut c, Default::default()).await;
    assert_eq!(
        names(&all),
        [
            ("rig-idle", Idle),
            ("rig-new", Idle),
            ("rig-on", Online),
            ("rig-quiet", Offline),
        ],
        "sorted by site, algorithm, worker; rig-old is older than 24 h"
    );
    let on = &all.workers[2];
    assert_eq!(
        (on.site.as_str(), on.algorithm(), on.dataplane_id.as_str()),
        ("default", pb::Algorithm::Sha256, "dp-1")
    );
    assert_eq!((on.accepted, on.rejected, on.difficulty), (2, 1, 1024.0));
    assert_eq!(on.last_share_unix_ms, now - MIN);
    // 2 x 1024 x 2^32 hashes over the 15 minutes (rounded out to 5) that
    // end at the control plane's now.
    let t = all.now_unix_ms;
    let from = (t - 15 * MIN).div_euclid(5 * MIN) * 5 * MIN;
    let want = 2048.0 * 4_294_967_296.0 * 1000.0 / (t - from) as f64;
    assert!((on.hashrate_15m_hs / want - 1.0).abs() < 1e-9, "{on:?}");
    assert!(on.hashrate_24h_hs > 0.0 && on.hashrate_24h_hs < on.hashrate_15m_hs);
    let new = &all.workers[1];
    assert_eq!((new.last_share_unix_ms, new.accepted), (0, 0));
    assert_eq!(all.since_unix_ms, t - 24 * HOUR);

    for (state, want) in [
        (Online, vec![("rig-on", Online)]),
        (Idle, vec![("rig-idle", Idle), ("rig-new", Idle)]),
        (Offline, vec![("rig-quiet", Offline)]),
    ] {
        let r = pb::ListWorkersRequest {
            state: state as i32,
            ..Default::default()
        };
        assert_eq!(names(&list(&mut c, r).await), want, "{state:?}");
    }
    let r = pb::ListWorkersRequest {
        since_unix_ms: now_ms() - 47 * HOUR,
        state: Offline as i32,
        ..Default::default()
    };
    assert_eq!(
        names(&list(&mut c, r).await),
        [("rig-old", Offline), ("rig-quiet", Offline)]
    );
    let r = pb::ListWorkersRequest {
        algorithm: pb::Algorithm::Randomx as i32,
        ..Default::default()
    };
    assert!(list(&mut c, r).await.workers.is_empty());
    let r = pb::ListWorkersRequest {
        site: "default".into(),
        since_unix_ms: now_ms() - 10 * MIN,
        ..Default::default()
    };
    let recent = list(&mut c, r).await;
    assert_eq!(
        names(&recent),
        [("rig-idle", Idle), ("rig-new", Idle), ("rig-on", Online)]
    );
    assert_eq!(recent.workers[2].accepted, 2, "counts from 10 minutes back");

    // Gone: its idle workers are no longer connected.
    drop(plans);
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let d = c
                .admin
                .list_data_planes(pb::ListDataPlanesRequest::default())
                .await
                .unwrap()
                .into_inner();
            if d.dataplanes.iter().all(|d| !d.connected) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the data plane shows disconnected");
    let all = list(&mut c, Default::default()).await;
    assert_eq!(
        names(&all),
        [
            ("rig-idle", Offline),
            ("rig-on", Online),
            ("rig-quiet", Offline)
        ]
    );
    c.cp.shutdown().await;
}

#[tokio::test]
async fn bad_filters_and_idle_reports_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    for (r, code, want) in [
        (
            pb::ListWorkersRequest {
                since_unix_ms: now_ms() + HOUR,
                ..Default::default()
            },
            Code::InvalidArgument,
            "since: is in the future",
        ),
        (
            pb::ListWorkersRequest {
                since_unix_ms: now_ms() - 72 * HOUR,
                ..Default::default()
            },
            Code::InvalidArgument,
            "since: 72 h ago is too far back",
        ),
        (
            pb::ListWorkersRequest {
                algorithm: 9,
                ..Default::default()
            },
            Code::InvalidArgument,
            "algorithm: 9 is not a value",
        ),
        (
            pb::ListWorkersRequest {
                state: 7,
                ..Default::default()
            },
            Code::InvalidArgument,
            "state: 7 is not a value",
        ),
        (
            pb::ListWorkersRequest {
                site: "nowhere".into(),
                ..Default::default()
            },
            Code::NotFound,
            "site \"nowhere\" not found",
        ),
    ] {
        let e = c.admin.list_workers(r).await.unwrap_err();
        assert_eq!(e.code(), code, "{e:?}");
        assert!(e.message().starts_with(want), "{}", e.message());
    }

    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    dp.register(pb::RegisterRequest {
        dataplane_id: "dp-1".into(),
        version: "0.1.0".into(),
        hostname: "h".into(),
        plan_version: 0,
        contract_version: switchyard_proto::CONTRACT_VERSION,
    })
    .await
    .unwrap();
    let mut no_algo = idle("rig", 0);
    no_algo.algorithm = 0;
    for (list, want) in [
        (
            vec![idle("a", 0), no_algo],
            "idle_workers[1].algorithm: must be",
        ),
        (
            vec![idle("", 0)],
            "idle_workers[0].worker: must be 1 to 256 bytes",
        ),
    ] {
        let e = dp
            .report_health(pb::HealthReport {
                dataplane_id: "dp-1".into(),
                idle_workers: list,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with(want), "{}", e.message());
    }
    // A report without a plan stream open: its idle list is not "connected".
    dp.report_health(pb::HealthReport {
        dataplane_id: "dp-1".into(),
        idle_workers: vec![idle("rig", 0)],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(list_all(&mut c).await.workers.is_empty());
    c.cp.shutdown().await;
}

async fn list_all(c: &mut Cp) -> pb::ListWorkersResponse {
    list(c, Default::default()).await
}
