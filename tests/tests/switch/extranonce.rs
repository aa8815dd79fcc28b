//! A scheduled switch to a pool with less extranonce space than the old
//! one, with two miners: one that sent `mining.extranonce.subscribe` and one
//! that did not. Both mine before the switch; after it the subscribed miner
//! is told its new extranonce2 size with `mining.set_extranonce` (and keeps
//! its extranonce1), the other is never sent that message (it would not
//! understand it) but is asked to reconnect, and both mine correctly on the
//! new pool. A share for the old pool's job inside the grace period still
//! goes to the old pool. No share is refused.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);

fn set_extranonce_count(m: &ScriptedMiner) -> usize {
    m.notifications()
        .iter()
        .filter(|n| n.method == "mining.set_extranonce")
        .count()
}

#[tokio::test]
async fn subscribed_and_plain_miners_both_mine_across_a_switch() {
    // The clock offset is set once per process.
    switchyard_tests::own_process!();
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 56).unwrap();
    let offset = (target - Utc::now()).num_milliseconds();
    assert!(switchyard_dataplane::clock::set_offset_ms(offset));

    // The old pool gives 8 bytes of extranonce2, the new one only 4: with
    // the data plane's 2-byte prefix a miner keeps 4 bytes, then only 2.
    let a = ScriptedPool::start(PoolConfig {
        extranonce2_size: 8,
        ..PoolConfig::default()
    })
    .await
    .unwrap();
    let b = ScriptedPool::start(PoolConfig {
        extranonce2_size: 4,
        ..PoolConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        r#"
controlplane: {{ timezone: "UTC", grace_period: 20, switch_lead: 2 }}
servers:
  sha256:
    - {{ name: wide, host: "127.0.0.1", port: {}, username: "farm.a", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: narrow, host: "127.0.0.1", port: {}, username: "farm.b", password: "x", start: "12:00", end: "24:00" }}
"#,
        a.addr().port(),
        b.addr().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "default").await;
    let addr = dp.sha256_addr().unwrap();

    let mut sub = ScriptedMiner::connect(addr).await.unwrap();
    sub.subscribe("cpuminer-opt/3.24").await.unwrap();
    let r = sub.extranonce_subscribe().await.unwrap();
    assert_eq!(r.result, serde_json::json!(true));
    assert!(sub.authorize("farm.sub", "x").await.unwrap());
    sub.wait_for_job().await.unwrap();
    let mut plain = ScriptedMiner::ready(addr, "cgminer/4.12", "farm.plain")
        .await
        .unwrap();
    assert_eq!((sub.extranonce2_size, plain.extranonce2_size), (4, 4));
    let e1 = sub.extranonce1.clone();

    // Both mine on the old pool.
    for m in [&mut sub, &mut plain] {
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
    }
    a.wait_for_accepted(2, T).await.unwrap();
    let old_job = sub.latest_job.clone().unwrap();
    let kept = sub.jobs.get(&old_job).cloned().unwrap();

    // The switch: the subscribed miner learns its smaller extranonce2 and
    // gets the new pool's job.
    sub.wait_for_new_job(&old_job).await.unwrap();
    assert_eq!(dp.active_pool().as_deref(), Some("narrow"));
    assert_eq!(set_extranonce_count(&sub), 1);
    assert_eq!(sub.extranonce1, e1, "extranonce1 stays");
    assert_eq!(sub.extranonce2_size, 2);
    let share = sub.find_share().await.unwrap();
    let r = sub.submit(&share).await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    b.wait_for_accepted(1, T).await.unwrap();

    // A share for the old pool's job found just before the switch: the old
    // pool takes it within the grace period, with its old extranonce2 size.
    sub.jobs.insert(old_job.clone(), kept);
    let late = sub.find_share_for(&old_job).await.unwrap();
    let r = sub.submit(&late).await.unwrap();
    assert!(r.is_ok(), "no share refused because of a switch: {r:?}");
    a.wait_for_accepted(3, T).await.unwrap();

    // The plain miner is never sent set_extranonce; it is asked to reconnect.
    plain
        .wait_for_notification("client.reconnect")
        .await
        .unwrap();
    plain.expect_closed(T).await.unwrap();
    assert_eq!(set_extranonce_count(&plain), 0);
    let mut again = ScriptedMiner::ready(addr, "cgminer/4.12", "farm.plain")
        .await
        .unwrap();
    assert_eq!(again.extranonce2_size, 2);
    let share = again.find_share().await.unwrap();
    let r = again.submit(&share).await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    b.wait_for_accepted(2, T).await.unwrap();

    // Neither pool refused anything: every share was built right.
    assert_eq!((a.rejected(), b.rejected()), (0, 0));
    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
