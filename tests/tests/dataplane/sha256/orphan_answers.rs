//! A share the pool judges after its miner has gone still reaches the share
//! history with the pool's verdict: the miner submits, the pool holds its
//! answer, the miner disconnects, and the answer that no session will read
//! completes the share's event in the upstream instead of being dropped.

use std::time::Duration;

use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{Fault, PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_share_answered_after_its_miner_left_is_stored_with_the_pools_verdict() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let yaml = format!(
        r#"
controlplane: {{ timezone: "UTC" }}
servers:
  sha256:
    - {{ name: btc, host: "127.0.0.1", port: {}, username: "farm.btc", password: "x", start: "00:00", end: "24:00" }}
"#,
        pool.addr().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml).await;
    let dp = linked_dataplane(dir.path(), cp.addr(), "default").await;
    let mut m = ScriptedMiner::ready(dp.sha256_addr().unwrap(), "cgminer", "farm.gone")
        .await
        .unwrap();

    // The pool holds its answers; the miner submits and leaves at once.
    pool.set_fault(Fault::SlowAnswers(Duration::from_millis(500)));
    let share = m.find_share().await.unwrap();
    m.send_request("mining.submit", share.to_params())
        .await
        .unwrap();
    pool.wait_for_shares(1, T).await.unwrap();
    m.shutdown().await.unwrap();
    drop(m);

    // The pool's answer arrives with nobody to read it; the event is stored.
    let deadline = tokio::time::Instant::now() + T;
    let row = loop {
        let (rows, _) = cp
            .store()
            .query_shares(&Default::default(), 10)
            .await
            .unwrap();
        if let Some(r) = rows.into_iter().find(|r| r.worker == "farm.gone") {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the share's event reaches the control plane"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(row.forwarded, "{row:?}");
    assert_eq!(row.pool, "btc");
    assert_eq!(row.pool_verdict.as_deref(), Some("accepted"), "{row:?}");
    assert!(row.pool_latency_us.unwrap_or(0) >= 400_000, "{row:?}");
    assert_eq!(pool.accepted(), 1);
    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
