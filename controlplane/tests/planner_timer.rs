//! The planner recomputes at a schedule boundary by timer, with no admin
//! call: the process clock is shifted so that 12:00 UTC (btc -> bch in the
//! sample config) is two seconds ahead.

mod common;

use chrono::{Duration, TimeZone, Timelike, Utc};
use common::*;
use switchyard_proto::v1 as pb;
use tokio_stream::StreamExt;

#[tokio::test]
async fn a_boundary_passing_publishes_a_new_plan_by_itself() {
    let real = Utc::now();
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 58).unwrap();
    assert!(switchyard_controlplane::clock::set_offset_ms(
        (target - real).num_milliseconds()
    ));
    let yaml = switchyard_model::config::sample().replace(
        "site_name: \"default\"",
        "site_name: \"default\"\n  timezone: \"UTC\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let c = start_with(dir.path(), &yaml).await;
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    dp.register(pb::RegisterRequest {
        dataplane_id: "dp".into(),
        contract_version: switchyard_proto::CONTRACT_VERSION,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut plans = dp
        .watch_plans(pb::WatchPlansRequest {
            dataplane_id: "dp".into(),
            plan_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let before = plans.next().await.unwrap().unwrap();
    let a = &before.algorithms[0];
    assert_eq!(a.current_pool, "btc");
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    assert_eq!(a.switches[0].at_unix_ms, noon.timestamp_millis());
    assert_eq!(a.switches[0].pool, "bch");

    let after = plans.next().await.unwrap().unwrap();
    let now = switchyard_controlplane::clock::now();
    assert!(
        now >= noon && now < noon + Duration::seconds(5),
        "recomputed at the boundary, not later: {now}"
    );
    assert_eq!(now.hour(), 12);
    assert!(after.version > before.version);
    let a = &after.algorithms[0];
    assert_eq!(a.current_pool, "bch");
    assert_eq!(a.switches[0].pool, "btc", "next: back to btc at midnight");
    let switches =
        c.cp.store()
            .switch_events("default", "sha256", 5)
            .await
            .unwrap();
    assert_eq!(
        (
            switches[0].from_pool.as_str(),
            switches[0].to_pool.as_str(),
            switches[0].reason.as_str()
        ),
        ("btc", "bch", "schedule")
    );
    drop(plans);
    c.cp.shutdown().await;
}
