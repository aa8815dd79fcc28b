//! A scheduled switch between two RandomX pools end to end, with the clock of
//! this process shifted so that 12:00 UTC (xmr-a -> xmr-b) is a few seconds
//! ahead: a control plane plans it, a data plane linked to it carries it out
//! at the instant. The miner gets the new pool's job at once (in its nonce
//! slot), a share for the old pool's job inside the grace period goes to the
//! old pool and is accepted there, no share is refused because of the
//! switch, and every share event reaches the control plane per pool with
//! algorithm randomx.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_dataplane::config::{Algorithm, Listener};
use switchyard_stratum::randomx::{NICEHASH_OFFSET, reply_status};
use switchyard_tests::linked::{control_plane, linked_dataplane_with};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};

const T: Duration = Duration::from_secs(30);

fn yaml(a: u16, b: u16) -> String {
    format!(
        r#"
controlplane:
  timezone: "UTC"
  grace_period: 20
  switch_lead: 2
proxy:
  sha256: {{ enabled: false, bind_host: "127.0.0.1", bind_port: 3333 }}
  randomx: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 3334 }}
servers:
  randomx:
    - {{ name: xmr-a, host: "127.0.0.1", port: {a}, username: "farm.a", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: xmr-b, host: "127.0.0.1", port: {b}, username: "farm.b", password: "x", start: "12:00", end: "24:00" }}
"#
    )
}

#[tokio::test]
async fn a_scheduled_randomx_switch_moves_miners_at_the_instant_with_grace_shares_to_the_old_pool()
{
    // The clock offset is set once per process.
    switchyard_tests::own_process!();
    // Both clocks (control plane and data plane) run 5 s before noon.
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 55).unwrap();
    let offset = (target - Utc::now()).num_milliseconds();
    assert!(switchyard_dataplane::clock::set_offset_ms(offset));
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();

    let a = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let b = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml(a.addr().port(), b.addr().port())).await;
    let dp = linked_dataplane_with(dir.path(), cp.addr(), "default", |c| {
        c.listeners.sha256 = Vec::new();
        c.listeners.randomx = vec![Listener {
            bind: "127.0.0.1:0".into(),
            ..Default::default()
        }];
    })
    .await;
    let addr = dp.randomx_addr().unwrap();
    assert_eq!(dp.sha256_addr(), None);

    let mut m = RxMiner::ready(addr, "farm.rig1").await.unwrap();
    assert_eq!(
        dp.active_pool_of(Algorithm::Randomx).as_deref(),
        Some("xmr-a")
    );
    assert_eq!(a.logins(), ["farm.a"]);
    let share = m.find_share().await.unwrap();
    assert_eq!(
        reply_status(&m.submit(&share).await.unwrap()),
        Ok(Some("OK".into()))
    );
    a.wait_for_accepted(1, T).await.unwrap();
    let old_job = m.latest_job.clone().unwrap();

    // The switch: b's job arrives at noon and not before, in the miner's slot.
    let new = m.wait_for_new_job(&old_job).await.unwrap();
    let at = switchyard_dataplane::clock::now();
    assert!(at >= noon, "not before the instant: {at}");
    assert!(at < noon + chrono::Duration::seconds(3), "on time: {at}");
    assert_eq!(
        new.seed_hash,
        b.current_job().seed_hash,
        "the new pool's job"
    );
    assert!(
        new.job_id
            .ends_with(&format!(".{}", b.current_job().job_id))
    );
    assert_eq!(
        dp.active_pool_of(Algorithm::Randomx).as_deref(),
        Some("xmr-b")
    );
    assert_eq!(
        b.connections(),
        1,
        "one aggregated connection to the new pool"
    );

    // A share for the old pool's job, inside the grace period: to the old pool.
    let late = m.find_share_for(&old_job).await.unwrap();
    let r = m.submit(&late).await.unwrap();
    assert_eq!(
        reply_status(&r),
        Ok(Some("OK".into())),
        "no share refused because of a switch: {r:?}"
    );
    a.wait_for_accepted(2, T).await.unwrap();
    assert_eq!(b.shares().len(), 0);

    // New work goes to the new pool; a duplicate of it is refused locally.
    let share = m.find_share().await.unwrap();
    assert_eq!(
        share.nonce[3], new.blob[NICEHASH_OFFSET],
        "in its slot on b"
    );
    assert_eq!(
        reply_status(&m.submit(&share).await.unwrap()),
        Ok(Some("OK".into()))
    );
    b.wait_for_accepted(1, T).await.unwrap();
    assert!(reply_status(&m.submit(&share).await.unwrap()).is_err());

    // Every share is in the control plane's history, counted for the pool
    // whose job it was. No notification exists for "stored": poll, bounded.
    let deadline = tokio::time::Instant::now() + T;
    while cp.store().share_count().await.unwrap() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "share events reach the control plane"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = cp.store().stats(&Default::default(), 0).await.unwrap();
    assert!(stats.iter().all(|r| r.algorithm == "randomx"), "{stats:?}");
    let count = |pool: &str| {
        stats
            .iter()
            .find(|r| r.pool == pool)
            .map_or((0, 0), |r| (r.accepted, r.rejected))
    };
    assert_eq!(count("xmr-a"), (2, 0), "{stats:?}");
    assert_eq!(count("xmr-b"), (1, 1), "{stats:?}");
    let (rows, _) = cp
        .store()
        .query_shares(&Default::default(), 10)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.worker == "farm.rig1" && r.algorithm == "randomx"),
        "{rows:?}"
    );
    let dup = rows.iter().find(|r| !r.forwarded).expect("the duplicate");
    assert_eq!(dup.reason.as_deref(), Some("duplicate share"));

    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
