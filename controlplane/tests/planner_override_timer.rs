//! Under an override, a schedule boundary is not a switch, but the plan's
//! `scheduled_pool` must still change at that instant (a new version by
//! timer, no admin call). The process clock puts 12:00 UTC two seconds ahead.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use switchyard_proto::v1 as pb;
use tokio_stream::StreamExt;

#[tokio::test]
async fn a_boundary_under_an_override_updates_the_scheduled_pool_on_time() {
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 58).unwrap();
    assert!(switchyard_controlplane::clock::set_offset_ms(
        (target - Utc::now()).num_milliseconds()
    ));
    let yaml = switchyard_model::config::sample().replace(
        "site_name: \"default\"",
        "site_name: \"default\"\n  timezone: \"UTC\"",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut c = start_with(dir.path(), &yaml).await;
    let one_pm = Utc.with_ymd_and_hms(2026, 11, 23, 13, 0, 0).unwrap();
    c.admin
        .set_override(pb::SetOverrideRequest {
            site: "default".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
            pool: "btc".into(),
            until_unix_ms: one_pm.timestamp_millis(),
        })
        .await
        .unwrap();
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
    assert_eq!(
        (
            before.algorithms[0].current_pool.as_str(),
            before.algorithms[0].scheduled_pool.as_str()
        ),
        ("btc", "btc")
    );
    assert_eq!(
        before.algorithms[0].switches[0].at_unix_ms,
        one_pm.timestamp_millis(),
        "the override's end is the first switch"
    );

    // Bounded: without the timer at the boundary the next plan would only
    // come at 13:00 (an hour of shifted clock away).
    let after = tokio::time::timeout(std::time::Duration::from_secs(30), plans.next())
        .await
        .expect("a new plan at the 12:00 boundary")
        .unwrap()
        .unwrap();
    assert!(
        switchyard_controlplane::clock::now() < one_pm,
        "not the override's end"
    );
    let a = &after.algorithms[0];
    assert_eq!(
        (a.current_pool.as_str(), a.scheduled_pool.as_str()),
        ("btc", "bch")
    );
    assert!(after.version > before.version);
    drop(plans);
    c.cp.shutdown().await;
}
