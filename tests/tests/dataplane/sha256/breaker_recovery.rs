//! A breaker's whole cycle end to end: the scheduled pool dies, the data
//! plane fails over at once to the site's failover pool and reports each
//! failed connect; the control plane's breaker opens and the next plan says
//! so (the data plane stops hammering the dead pool); after the recovery
//! timeout the breaker half-opens, the data plane makes its trial, the pool
//! answers, the breaker closes and the hashrate returns to the scheduled pool.

use std::time::Duration;

use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

/// Covers the 10 s recovery timeout (the least the config allows) and more.
const T: Duration = Duration::from_secs(40);

async fn wait_for<F>(what: &str, mut f: F)
where
    F: AsyncFnMut() -> bool,
{
    // No notification exists for "the store says so": poll it, bounded.
    let deadline = tokio::time::Instant::now() + T;
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn open_half_open_closed_and_back_to_the_scheduled_pool() {
    let main = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let main_addr = main.addr();
    let backup = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let yaml = format!(
        r#"
controlplane: {{ timezone: "UTC" }}
proxy:
  circuit_breaker: {{ failure_threshold: 2, recovery_timeout: 10, success_threshold: 1 }}
servers:
  sha256:
    - {{ name: main, host: "127.0.0.1", port: {}, username: "farm.main", password: "x", start: "00:00", end: "24:00" }}
    - {{ name: backup, host: "127.0.0.1", port: {}, username: "farm.backup", password: "x" }}
sites:
  - name: farm
    timezone: "UTC"
    proxy:
      circuit_breaker: {{ failure_threshold: 2, recovery_timeout: 10, success_threshold: 1 }}
    schedule:
      sha256:
        - {{ server: main, start: "00:00", end: "24:00" }}
    failover:
      sha256: ["backup"]
"#,
        main_addr.port(),
        backup.addr().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "farm").await;
    let mut m = ScriptedMiner::ready(dp.sha256_addr().unwrap(), "cgminer", "farm.rig")
        .await
        .unwrap();
    assert_eq!(dp.active_pool().as_deref(), Some("main"));
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    main.wait_for_accepted(1, T).await.unwrap();

    // The scheduled pool dies: failover at once, mining goes on.
    let job = m.latest_job.clone().unwrap();
    main.stop().await.unwrap();
    m.wait_for_new_job(&job).await.unwrap();
    assert_eq!(dp.active_pool().as_deref(), Some("backup"));
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    backup.wait_for_accepted(1, T).await.unwrap();

    // The failures reach the breaker; it opens and is persisted.
    let store = cp.store();
    wait_for("the breaker of main opens", async || {
        let rows = store.breakers(None).await.unwrap();
        rows.iter()
            .any(|b| b.site == "farm" && b.pool == "main" && b.state == "open")
    })
    .await;

    // The pool comes back on its port; the breaker half-opens after the
    // recovery timeout, the data plane's trial succeeds and it closes.
    let main = ScriptedPool::start_on(main_addr, PoolConfig::default())
        .await
        .unwrap();
    wait_for("the breaker of main closes again", async || {
        let rows = store.breakers(None).await.unwrap();
        rows.iter()
            .any(|b| b.site == "farm" && b.pool == "main" && b.state == "closed")
    })
    .await;
    let states: Vec<String> = store
        .breaker_events("farm", "main")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, from, to, _)| format!("{from}->{to}"))
        .collect();
    assert_eq!(
        states,
        ["closed->open", "open->half-open", "half-open->closed"],
        "every transition is recorded"
    );

    // The hashrate is back on the scheduled pool and shares go there.
    let job = m.latest_job.clone().unwrap();
    m.wait_for_new_job(&job).await.unwrap();
    assert_eq!(dp.active_pool().as_deref(), Some("main"));
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    main.wait_for_accepted(1, T).await.unwrap();
    // While open, the data plane did not keep reconnecting to the dead pool:
    // its trial is the one connection the restarted pool saw (it may be the
    // data plane's only connection there).
    assert_eq!(main.connections(), 1, "one trial connection, no hammering");

    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
