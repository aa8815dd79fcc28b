//! A scheduled switch end to end, with the clock of this process shifted so
//! that 12:00 UTC (btc -> bch in the schedule) is a few seconds ahead: a
//! control plane plans it, a data plane linked to it carries it out at the
//! instant; the miner keeps its extranonce, gets the new pool's job with
//! clean_jobs, a share for the old pool's job inside the grace period goes to
//! the old pool and is accepted there, and no share is refused.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);

fn yaml(btc: u16, bch: u16) -> String {
    format!(
        r#"
controlplane:
  timezone: "UTC"
  grace_period: 20
  switch_lead: 2
proxy:
  sha256:
    enabled: true
servers:
  sha256:
    - {{ name: btc, host: "127.0.0.1", port: {btc}, username: "farm.btc", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: bch, host: "127.0.0.1", port: {bch}, username: "farm.bch", password: "x", start: "12:00", end: "24:00" }}
"#
    )
}

#[tokio::test]
async fn a_scheduled_switch_happens_at_the_instant_with_no_share_refused() {
    // The clock offset is set once per process.
    switchyard_tests::own_process!();
    // Both clocks (control plane and data plane) run 5 s before noon.
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 55).unwrap();
    let offset = (target - Utc::now()).num_milliseconds();
    // One clock serves both the control plane and the data plane.
    assert!(switchyard_dataplane::clock::set_offset_ms(offset));
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();

    let a = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let b = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml(a.addr().port(), b.addr().port())).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "default").await;
    let addr = dp.sha256_addr().unwrap();

    let mut m = ScriptedMiner::ready(addr, "cgminer", "farm.rig1")
        .await
        .unwrap();
    let e1 = m.extranonce1.clone();
    assert_eq!(dp.active_pool().as_deref(), Some("btc"));
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    a.wait_for_accepted(1, T).await.unwrap();
    let old_job = m.latest_job.clone().unwrap();
    // A real miner may find a share for this job just before the switch and
    // submit it just after: keep the job to play that.
    let kept = m.jobs.get(&old_job).cloned().unwrap();

    // The switch: b's job arrives with clean_jobs, at noon and not before.
    let new = m.wait_for_new_job(&old_job).await.unwrap();
    let at = switchyard_dataplane::clock::now();
    assert!(new.clean_jobs, "the new pool's job replaces the old work");
    assert!(at >= noon, "not before the instant: {at}");
    assert!(at < noon + chrono::Duration::seconds(3), "on time: {at}");
    assert_eq!(dp.active_pool().as_deref(), Some("bch"));
    assert_eq!(m.extranonce1, e1, "extranonce1 stays the same across pools");
    assert_eq!(
        b.connections(),
        1,
        "one aggregated connection to the new pool"
    );

    // A share for the old pool's job, inside the grace period: to the old pool.
    m.jobs.insert(old_job.clone(), kept);
    let late = m.find_share_for(&old_job).await.unwrap();
    let r = m.submit(&late).await.unwrap();
    assert!(r.is_ok(), "no share refused because of a switch: {r:?}");
    a.wait_for_accepted(2, T).await.unwrap();
    assert_eq!(b.accepted(), 0);

    // And new work goes to the new pool.
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    b.wait_for_accepted(1, T).await.unwrap();

    // Every share is in the control plane's history, counted for the pool
    // whose job it was (the grace share for btc). No notification exists for
    // "stored", so poll the store, bounded.
    let deadline = tokio::time::Instant::now() + T;
    while cp.store().share_count().await.unwrap() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "share events reach the control plane"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = cp.store().stats(&Default::default(), 0).await.unwrap();
    let count = |pool: &str| {
        stats
            .iter()
            .find(|r| r.pool == pool)
            .map_or((0, 0), |r| (r.accepted, r.rejected))
    };
    assert_eq!(count("btc"), (2, 0), "{stats:?}");
    assert_eq!(count("bch"), (1, 0), "{stats:?}");
    let (rows, _) = cp
        .store()
        .query_shares(&Default::default(), 10)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.worker == "farm.rig1"
            && r.forwarded
            && r.pool_verdict.as_deref() == Some("accepted")),
        "{rows:?}"
    );

    // The quarter-hour report says the same as the pools, per pool.
    let reports = cp.report().await.unwrap();
    let r = reports
        .iter()
        .find(|r| r.site == "default" && r.algorithm == "sha256")
        .expect("a report for the default site");
    let lines = |pool: &str| {
        let v = r.servers.iter().find(|v| v.name == pool).unwrap();
        (v.accepted, v.rejected, v.active)
    };
    assert_eq!(lines("btc"), (a.accepted() as u64, 0, false), "{r:?}");
    assert_eq!(lines("bch"), (b.accepted() as u64, 0, true), "{r:?}");
    assert_eq!(r.active.as_ref().map(|(n, _)| n.as_str()), Some("bch"));
    assert!(r.last_switch.is_some(), "{r:?}");
    let text = switchyard_controlplane::report::render(r);
    assert!(
        text.contains("Shares: 2 accepted / 0 rejected") && text.contains("Active server: bch"),
        "{text}"
    );

    // The data plane acknowledged the plan it runs.
    let dps = cp.store().dataplanes(None).await.unwrap();
    assert_eq!(dps.len(), 1);
    assert!(dps[0].acked_plan_version >= 1);

    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
