//! A scheduled switch between two ALEO pools end to end, with the clock of
//! this process shifted so that 12:00 UTC (aleo-a -> aleo-b) is a few
//! seconds ahead: a control plane plans it, a data plane linked to it
//! carries it out at the instant. The miner gets the new pool's job at once
//! (clean, through a new connection of its own), a share for the old pool's
//! job inside the grace period goes to the old pool on the old connection
//! and is accepted there, the old connection closes when grace ends, no
//! share is refused because of the switch, and every share event reaches
//! the control plane per pool with algorithm zksnark. Both pools use the
//! same job ids, so the grace share finds its pool only because the data
//! plane names each job after its upstream connection.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_dataplane::config::{Algorithm, Listener};
use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_tests::aleo_miner::pool_job_id;
use switchyard_tests::linked::{control_plane, linked_dataplane_with};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(30);

fn yaml(a: u16, b: u16) -> String {
    format!(
        r#"
controlplane:
  timezone: "UTC"
  grace_period: 4
  switch_lead: 2
proxy:
  sha256: {{ enabled: false, bind_host: "127.0.0.1", bind_port: 3333 }}
  zksnark: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 3335 }}
servers:
  zksnark:
    - {{ name: aleo-a, host: "127.0.0.1", port: {a}, username: "farm.a", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: aleo-b, host: "127.0.0.1", port: {b}, username: "farm.b", password: "x", start: "12:00", end: "24:00" }}
"#
    )
}

fn pool_config(prefix: &str) -> AleoPoolConfig {
    AleoPoolConfig {
        job_id_prefix: prefix.into(),
        ..AleoPoolConfig::aleo_stratum3()
    }
}

#[tokio::test]
async fn a_scheduled_aleo_switch_moves_miners_at_the_instant_with_grace_shares_to_the_old_pool() {
    // The clock offset is set once per process.
    switchyard_tests::own_process!();
    // Both clocks (control plane and data plane) run 5 s before noon.
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 55).unwrap();
    let offset = (target - Utc::now()).num_milliseconds();
    assert!(switchyard_dataplane::clock::set_offset_ms(offset));
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();

    // The same job ids on both pools: the grace share must still find a's.
    let a = AleoPool::start(pool_config("j")).await.unwrap();
    let b = AleoPool::start(pool_config("j")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml(a.addr().port(), b.addr().port())).await;
    let dp = linked_dataplane_with(dir.path(), cp.addr(), "default", |c| {
        c.listeners.sha256 = Vec::new();
        c.listeners.zksnark = vec![Listener {
            bind: "127.0.0.1:0".into(),
            ..Default::default()
        }];
    })
    .await;
    let addr = dp.zksnark_addr().unwrap();
    assert_eq!(dp.sha256_addr(), None);

    let mut m = AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.rig1")
        .await
        .unwrap();
    assert_eq!(
        dp.active_pool_of(Algorithm::Zksnark).as_deref(),
        Some("aleo-a")
    );
    let mine_on_a = a
        .connection_infos()
        .into_iter()
        .find(|c| c.authorized == ["farm.a.rig1"])
        .expect("the miner's own connection to aleo-a")
        .id;
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    a.wait_for_accepted(1, T).await.unwrap();
    let old_job = m.latest_job.clone().unwrap();

    // The switch: b's job arrives at noon and not before, clean.
    let new = m.wait_for_new_job(&old_job).await.unwrap();
    let at = switchyard_dataplane::clock::now();
    assert!(at >= noon, "not before the instant: {at}");
    assert!(at < noon + chrono::Duration::seconds(3), "on time: {at}");
    assert_eq!(
        pool_job_id(new.job_id()),
        b.current_job().job_id(),
        "the new pool's job"
    );
    assert!(new.clean_jobs(), "the miner drops the old pool's work");
    assert_eq!(
        dp.active_pool_of(Algorithm::Zksnark).as_deref(),
        Some("aleo-b")
    );
    assert!(b.authorized_users().iter().any(|u| u == "farm.b.rig1"));

    // A share for the old pool's job, inside the grace period: to the old
    // pool, on the miner's old connection.
    assert_eq!(
        pool_job_id(&old_job),
        b.current_job().job_id(),
        "the two pools use the same job id"
    );
    assert_ne!(old_job, new.job_id(), "miners see them apart");
    let late = m.share_for(&old_job).unwrap();
    let r = m.submit(&late).await.unwrap();
    assert_eq!(
        submit_result(&r),
        Ok(()),
        "no share refused because of a switch"
    );
    a.wait_for_accepted(2, T).await.unwrap();
    assert!(a.shares().iter().all(|s| s.conn == mine_on_a));
    assert_eq!(b.shares().len(), 0);

    // New work goes to the new pool; a duplicate of it is refused locally.
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    b.wait_for_accepted(1, T).await.unwrap();
    assert!(submit_result(&m.submit(&share).await.unwrap()).is_err());

    // Grace ends: the old connection closes (nothing was pending on it).
    a.wait_until("the miner's old connection closes", T, |s| {
        !s.connections[mine_on_a].open
    })
    .await
    .unwrap();

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
    assert!(stats.iter().all(|r| r.algorithm == "zksnark"), "{stats:?}");
    let count = |pool: &str| {
        stats
            .iter()
            .find(|r| r.pool == pool)
            .map_or((0, 0), |r| (r.accepted, r.rejected))
    };
    assert_eq!(count("aleo-a"), (2, 0), "{stats:?}");
    assert_eq!(count("aleo-b"), (1, 1), "{stats:?}");
    let (rows, _) = cp
        .store()
        .query_shares(&Default::default(), 10)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.worker == "farm.rig1" && r.algorithm == "zksnark"),
        "{rows:?}"
    );
    let dup = rows.iter().find(|r| !r.forwarded).expect("the duplicate");
    assert_eq!(dup.reason.as_deref(), Some("duplicate share"));
    assert_eq!(a.violations(), []);
    assert_eq!(b.violations(), []);

    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
