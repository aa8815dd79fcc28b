//! The data-plane service through a real tonic client: registration, the
//! plan stream, acknowledgements, idempotent share batches, health reports
//! driving breakers into the plans, and bad input.

mod common;

use common::*;
use switchyard_proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

fn event(id: &str, verdict: pb::Verdict) -> pb::ShareEvent {
    pb::ShareEvent {
        id: id.into(),
        at_unix_ms: 1_700_000_000_000,
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: "btc".into(),
        worker: "rig1".into(),
        job_id: "1a".into(),
        miner_difficulty: 1024.0,
        share_difficulty: 2048.0,
        local_verdict: pb::Verdict::Accepted as i32,
        forwarded: true,
        pool_verdict: verdict as i32,
        reason: if verdict == pb::Verdict::Rejected {
            pb::Reason::Stale as i32
        } else {
            0
        },
        pool_latency_us: 350,
        ..Default::default()
    }
}

async fn register(dp: &mut Dp, id: &str) -> pb::RegisterResponse {
    dp.register(pb::RegisterRequest {
        dataplane_id: id.into(),
        version: "0.1.0".into(),
        hostname: "rig-a".into(),
        plan_version: 0,
        contract_version: switchyard_proto::CONTRACT_VERSION,
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn a_data_plane_registers_watches_versioned_plans_and_acknowledges_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    let reg = register(&mut dp, "dp-1").await;
    assert_eq!(reg.site, "default");
    assert!(reg.plan_version >= 1);

    let mut plans = dp
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: "dp-1".into(),
            plan_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let first = plans.next().await.unwrap().unwrap();
    assert_eq!(first.version, reg.plan_version);
    let sha = first
        .algorithms
        .iter()
        .find(|a| a.algorithm() == pb::Algorithm::Sha256)
        .unwrap();
    assert!(["btc", "bch"].contains(&sha.current_pool.as_str()));
    assert!(
        sha.switches.len() >= 2,
        "48 hours of a two-pool day: {:?}",
        sha.switches
    );
    assert!(
        first
            .pools
            .iter()
            .any(|p| p.name == "btc" && p.port == 3401)
    );
    assert_eq!(first.grace_period_s, 30);
    // A plan without a split is written in the oldest contract that carries it.
    assert_eq!(
        first.contract_version,
        switchyard_proto::contract::OLDEST_COMPATIBLE
    );
    assert!(first.settings.unwrap().connections.is_some());

    dp.ack_plan(pb::PlanAck {
        dataplane_id: "dp-1".into(),
        plan_version: first.version,
        error: String::new(),
    })
    .await
    .unwrap();
    let list = c
        .admin
        .list_data_planes(pb::ListDataPlanesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.dataplanes.len(), 1);
    let d = &list.dataplanes[0];
    assert_eq!(
        (d.id.as_str(), d.acked_plan_version, d.connected),
        ("dp-1", first.version, true)
    );

    // An admin change gives a new version on the stream at once.
    c.admin
        .set_schedule(pb::SetScheduleRequest {
            site: "default".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
            entries: vec![pb::ScheduleEntry {
                pool: "bch".into(),
                start: "00:00".into(),
                end: "24:00".into(),
                weight: 0,
            }],
        })
        .await
        .unwrap();
    let next = plans.next().await.unwrap().unwrap();
    assert!(next.version > first.version);
    let sha = next
        .algorithms
        .iter()
        .find(|a| a.algorithm() == pb::Algorithm::Sha256)
        .unwrap();
    assert_eq!(sha.current_pool, "bch");
    assert!(sha.switches.is_empty());
    c.cp.shutdown().await;
}

#[tokio::test]
async fn share_batches_are_idempotent_and_bad_events_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    register(&mut dp, "dp-1").await;
    let ids: Vec<String> = (0..50).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let events: Vec<pb::ShareEvent> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            event(
                id,
                if i % 10 == 0 {
                    pb::Verdict::Rejected
                } else {
                    pb::Verdict::Accepted
                },
            )
        })
        .collect();
    let batch = pb::ShareBatch {
        dataplane_id: "dp-1".into(),
        events,
    };
    let ack = dp.report_shares(batch.clone()).await.unwrap().into_inner();
    assert_eq!((ack.inserted, ack.duplicates), (50, 0));
    assert_eq!(ack.acked_ids, ids);
    let again = dp.report_shares(batch).await.unwrap().into_inner();
    assert_eq!((again.inserted, again.duplicates), (0, 50));

    let stats = c
        .admin
        .stats(pb::StatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let btc = stats.pools.iter().find(|p| p.pool == "btc").unwrap();
    assert_eq!((btc.accepted, btc.rejected), (45, 5));
    assert_eq!(btc.reasons[0].reason(), pb::Reason::Stale);
    let rows = c
        .admin
        .query_shares(pb::QuerySharesRequest {
            filter: Some(pb::ShareFilter {
                verdict: pb::Verdict::Rejected as i32,
                ..Default::default()
            }),
            limit: 100,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rows.shares.len(), 5);
    assert!(
        rows.shares
            .iter()
            .all(|s| s.site == "default" && s.dataplane_id == "dp-1")
    );

    // A bad event is refused alone, named with its field; the good ones of
    // the same batch are stored, and every id is acknowledged (a refused
    // event could never be stored by resending it).
    let good = uuid::Uuid::now_v7().to_string();
    let mut wrong = event(&uuid::Uuid::now_v7().to_string(), pb::Verdict::Accepted);
    wrong.pool_verdict = 7; // a value no version knows
    let wrong_id = wrong.id.clone();
    let batch = vec![
        event(&good, pb::Verdict::Accepted),
        event("not-a-uuid", pb::Verdict::Accepted),
        wrong,
    ];
    let ack = dp
        .report_shares(pb::ShareBatch {
            dataplane_id: "dp-1".into(),
            events: batch,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.inserted, 1);
    assert_eq!(
        ack.acked_ids,
        [good.as_str(), "not-a-uuid", wrong_id.as_str()]
    );
    assert_eq!(ack.rejected.len(), 2, "{:?}", ack.rejected);
    assert_eq!(ack.rejected[0].id, "not-a-uuid");
    assert!(
        ack.rejected[0].reason.contains("events[1].id"),
        "{}",
        ack.rejected[0].reason
    );
    assert_eq!(ack.rejected[1].id, wrong_id);
    assert!(
        ack.rejected[1].reason.contains("events[2].pool_verdict"),
        "{}",
        ack.rejected[1].reason
    );
    // Only the good event of that batch is stored.
    assert_eq!(
        c.admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .share_events,
        51
    );
    c.cp.shutdown().await;
}

#[tokio::test]
async fn tokens_are_checked_and_a_data_plane_must_register_first() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    let mut bad = dp_client(&c.cp, "sysite_wrong").await;
    let err = bad
        .register(pb::RegisterRequest {
            dataplane_id: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    let err = dp
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: "never".into(),
            plan_version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = dp
        .register(pb::RegisterRequest::default())
        .await
        .unwrap_err();
    assert!(err.message().contains("dataplane_id"), "{}", err.message());
    // The admin token is not a site token, and a site token is not an admin token.
    let mut as_dp = dp_client(&c.cp, &c.admin_token).await;
    assert_eq!(
        as_dp
            .register(pb::RegisterRequest {
                dataplane_id: "x".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let mut as_admin = admin_client(&c.cp, Some(default_site_token(dir.path()))).await;
    assert_eq!(
        as_admin
            .status(pb::StatusRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let mut anon = admin_client(&c.cp, None).await;
    assert_eq!(
        anon.list_pools(pb::ListPoolsRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    c.cp.shutdown().await;
}

#[tokio::test]
async fn failed_connects_open_the_breaker_the_plan_avoids_the_pool_and_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    register(&mut dp, "dp-1").await;
    let mut plans = dp
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: "dp-1".into(),
            plan_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let first = plans.next().await.unwrap().unwrap();
    let current = first.algorithms[0].current_pool.clone();
    let other = if current == "btc" { "bch" } else { "btc" };

    for i in 0..5 {
        let r = pb::ConnectResult {
            algorithm: pb::Algorithm::Sha256 as i32,
            pool: current.clone(),
            at_unix_ms: 0,
            ok: false,
            error: format!("connection refused #{i}"),
        };
        dp.report_health(pb::HealthReport {
            dataplane_id: "dp-1".into(),
            results: vec![r],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let next = plans.next().await.unwrap().unwrap();
    let a = &next.algorithms[0];
    assert_eq!(a.open_breakers, vec![current.clone()]);
    assert_eq!(a.current_pool, other, "hashrate goes to the next candidate");
    assert_eq!(a.scheduled_pool, current);
    let list = c
        .admin
        .list_breakers(pb::ListBreakersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.breakers.len(), 1);
    assert_eq!(list.breakers[0].state, "open");
    assert_eq!(list.breakers[0].consecutive_failures, 5);
    assert!(list.breakers[0].last_error.contains("#4"));
    drop(plans);
    c.cp.shutdown().await;

    // A restart finds the breaker open.
    let mut c = start(dir.path()).await;
    let list = c
        .admin
        .list_breakers(pb::ListBreakersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.breakers[0].state, "open");
    let reset = c
        .admin
        .reset_breaker(pb::BreakerTarget {
            site: "default".into(),
            pool: current.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.state, "closed");
    let opened = c
        .admin
        .open_breaker(pb::BreakerTarget {
            site: "default".into(),
            pool: other.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(opened.state, "open");
    let status = c
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.plans[0].active[0].current_pool, current);
    c.cp.shutdown().await;
}
