//! A weighted window end to end (issue 14): a control plane with a 70/30
//! window between two scripted pools, a linked data plane, ten miners.
//! The data plane keeps a connection to each pool, places the miners by
//! the weights, every share is answered by the pool its job came from, and
//! `ctl stats` shows the target and the achieved split from the ledger.
//! When one pool goes down its miners move to the other at a job boundary
//! and keep mining; no share is refused or lost.

use std::time::Duration;

use switchyard_dataplane::config::Algorithm;
use switchyard_tests::cp::ctl_raw;
use switchyard_tests::dp::wait_for_pool_job;
use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);
const MINERS: usize = 10;

#[tokio::test]
async fn a_70_30_window_splits_the_miners_work_and_survives_a_pool_going_down() {
    let btc = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let bch = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let yaml = format!(
        r#"
controlplane: {{ timezone: "UTC" }}
servers:
  sha256:
    - {{ name: btc, host: "127.0.0.1", port: {}, username: "farm.btc", password: "x", start: "00:00", end: "24:00", weight: 70 }}
    - {{ name: bch, host: "127.0.0.1", port: {}, username: "farm.bch", password: "x", start: "00:00", end: "24:00", weight: 30 }}
"#,
        btc.addr().port(),
        bch.addr().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "default").await;
    // One shared connection to each pool of the window.
    btc.wait_for_authorized(1, T).await.unwrap();
    bch.wait_for_authorized(1, T).await.unwrap();
    let split = wait_for(|| dp.view.telemetry.splits.get(Algorithm::Sha256)).await;
    wait_for(|| split.status(0).iter().all(|p| p.up).then_some(())).await;

    let mut miners = Vec::new();
    for i in 0..MINERS {
        let user = format!("farm.rig{i}");
        let m = ScriptedMiner::ready(dp.sha256_addr().unwrap(), "cgminer", &user)
            .await
            .unwrap();
        miners.push(m);
    }
    let on: Vec<usize> = split.status(0).iter().map(|p| p.miners).collect();
    assert_eq!(on, [7, 3], "miners placed by the weights");

    // Two shares each: every one accepted by the pool its job came from.
    for m in &mut miners {
        for _ in 0..2 {
            let share = m.find_share().await.unwrap();
            let r = m.submit(&share).await.unwrap();
            assert!(r.is_ok(), "{r:?}");
        }
    }
    assert_eq!(btc.accepted() + bch.accepted(), 2 * MINERS);
    assert_eq!((btc.accepted(), bch.accepted()), (14, 6));

    // The ledger has every share; ctl stats shows the split by work.
    wait_for_ledger(&cp, 2 * MINERS).await;
    let token = switchyard_controlplane::admin_token_file(&dir.path().join("switchyard.db"));
    let endpoint = format!("http://{}", cp.addr());
    let out = ctl_raw(
        &[
            "--endpoint",
            &endpoint,
            "--token-file",
            token.to_str().unwrap(),
            "-o",
            "json",
            "stats",
        ],
        &[],
    )
    .await;
    let rows = out.json();
    let row = |pool: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["pool"] == pool)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {pool}: {rows}"))
    };
    assert_eq!(row("btc")["split_target_percent"].as_f64(), Some(70.0));
    let achieved = row("btc")["split_achieved_percent"].as_f64().unwrap();
    assert!((achieved - 70.0).abs() < 2.0, "{rows}");
    assert_eq!(row("bch")["split_target_percent"].as_f64(), Some(30.0));

    // bch goes down: its miners move to btc with a clean job and keep mining.
    let switches_before = switches(&dp);
    drop(bch);
    wait_for(|| (split.status(0)[1].miners == 0).then_some(())).await;
    assert_eq!(split.status(0)[1].target, 0.0, "its part goes to btc");
    let before = btc.accepted();
    for m in &mut miners {
        wait_for_pool_job(&btc, m).await;
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(btc.accepted(), before + MINERS);
    assert!(split.moves_total() >= 3, "the moves are counted");
    assert_eq!(
        switches_before,
        switches(&dp),
        "moves are not pool switches"
    );
    wait_for_ledger(&cp, 3 * MINERS).await;

    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}

/// Pool switches the data plane counted so far (every reason).
fn switches(dp: &switchyard_dataplane::DataPlane) -> u64 {
    dp.view
        .telemetry
        .switches
        .snapshot()
        .iter()
        .map(|(_, n)| n)
        .sum()
}

/// Polls `f` until it gives a value (bounded by `T`).
async fn wait_for<R>(mut f: impl FnMut() -> Option<R>) -> R {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        if let Some(r) = f() {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the control plane stored `n` shares, all accepted.
async fn wait_for_ledger(cp: &switchyard_controlplane::ControlPlane, n: usize) {
    let filter = switchyard_controlplane::store::ShareFilter::default();
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (rows, _) = cp.store().query_shares(&filter, 1000).await.unwrap();
        if rows.len() >= n {
            assert_eq!(rows.len(), n, "exactly once");
            assert!(rows.iter().all(|r| r.verdict == "accepted"), "{rows:?}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} stored",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
