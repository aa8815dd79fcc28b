//! A scheduled switch to a pool that cannot be reached: the hashrate stays
//! on the current pool (miners keep mining, shares accepted), the data plane
//! keeps retrying the new pool and reports each failure, which the control
//! plane's breaker counts.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_hashrate_stays_on_the_current_pool_while_the_new_one_is_down() {
    // The clock offset is set once per process.
    switchyard_tests::own_process!();
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 57).unwrap();
    let offset = (target - Utc::now()).num_milliseconds();
    // One clock serves both the control plane and the data plane.
    assert!(switchyard_dataplane::clock::set_offset_ms(offset));
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();

    let a = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    // A port with nothing listening: the new pool is down.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        r#"
controlplane: {{ timezone: "UTC", switch_lead: 1 }}
servers:
  sha256:
    - {{ name: btc, host: "127.0.0.1", port: {}, username: "farm.btc", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: bch, host: "127.0.0.1", port: {down}, username: "farm.bch", password: "x", start: "12:00", end: "24:00" }}
"#,
        a.addr().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "default").await;
    let mut m = ScriptedMiner::ready(dp.sha256_addr().unwrap(), "cgminer", "farm.rig")
        .await
        .unwrap();
    assert_eq!(dp.active_pool().as_deref(), Some("btc"));

    // Let the switch instant pass (the schedule's time is what is tested).
    tokio::time::sleep(switchyard_dataplane::clock::until(
        noon + chrono::Duration::seconds(2),
    ))
    .await;
    assert_eq!(
        dp.active_pool().as_deref(),
        Some("btc"),
        "no pool to go to: stay"
    );
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert!(r.is_ok(), "mining goes on: {r:?}");
    a.wait_for_accepted(1, T).await.unwrap();

    // Each failed attempt reached the control plane's breaker for bch.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let rows = cp.store().breakers(None).await.unwrap();
        if rows
            .iter()
            .any(|b| b.pool == "bch" && b.consecutive_failures >= 2)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "failures reported: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
