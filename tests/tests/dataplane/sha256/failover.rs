//! Upstream trouble through the real data plane: a miner that connects
//! while every pool is down is still read and answered, stalled pools,
//! upstream reconnects and `mining.set_extranonce`. Failover itself is in
//! `every_algorithm/failover.rs`.

use std::time::Duration;

use switchyard_dataplane::config::PoolMode;
use switchyard_tests::dp::{pool, start, test_config};
use switchyard_tests::{Fault, PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_miner_connecting_while_the_pool_is_down_is_answered_once_it_is_up() {
    // Seed defect: the miner was not read until the upstream connected.
    let reserve = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pool_addr = reserve.local_addr().unwrap();
    drop(reserve);
    let (dp, addr) = start(test_config(vec![pool("a", pool_addr, PoolMode::Aggregate)]))
        .await
        .unwrap();
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    // Read and answered at once, before any pool exists.
    let r = m
        .request(
            "mining.configure",
            serde_json::json!([["version-rolling"], {"version-rolling.mask": "1fffe000"}]),
        )
        .await
        .unwrap();
    assert_eq!(
        r.result["version-rolling"],
        serde_json::json!(true),
        "{r:?}"
    );
    let sub_id = m
        .send_request("mining.subscribe", serde_json::json!(["cgminer"]))
        .await
        .unwrap();
    let p = ScriptedPool::start_on(pool_addr, PoolConfig::default())
        .await
        .unwrap();
    let answer = m.wait_response(&sub_id).await.unwrap();
    assert!(answer.is_ok(), "{answer:?}");
    let sub = switchyard_stratum::v1::SubscribeResult::from_result(&answer.result).unwrap();
    m.extranonce1 = sub.extranonce1;
    m.extranonce2_size = sub.extranonce2_size;
    assert!(m.authorize("w.late", "x").await.unwrap());
    m.wait_for_job().await.unwrap();
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        m.version_mask,
        Some(0),
        "the pool refused version rolling: the miner is told {:?}",
        m.notifications()
            .iter()
            .map(|n| n.method.clone())
            .collect::<Vec<_>>()
    );
    p.wait_for_accepted(1, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn subscribe_is_refused_with_a_clear_error_when_no_pool_comes_up() {
    let reserve = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pool_addr = reserve.local_addr().unwrap();
    drop(reserve);
    let mut cfg = test_config(vec![pool("a", pool_addr, PoolMode::Aggregate)]);
    cfg.aggregation.subscribe_wait = 0.3;
    let (dp, addr) = start(cfg).await.unwrap();
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    let r = m
        .request("mining.subscribe", serde_json::json!(["cgminer"]))
        .await
        .unwrap();
    let (code, text) = r.error_parts().expect("an error answer");
    assert_eq!(code, Some(20));
    assert!(text.contains("No pool"), "{text}");
    m.expect_closed(T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_stalled_pool_answers_submits_with_a_timeout_instead_of_never() {
    // Karoo defect: pending requests that never time out.
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.upstream.request_timeout = 1.0;
    let (dp, addr) = start(cfg).await.unwrap();
    let mut m = ScriptedMiner::ready(addr, "cgminer", "w.1").await.unwrap();
    let share = m.find_share().await.unwrap();
    p.set_fault(Fault::Stall);
    let r = m.submit(&share).await.unwrap();
    let (code, text) = r.error_parts().expect("an error answer");
    assert_eq!(code, Some(20));
    assert!(text.contains("did not answer"), "{text}");
    let s = dp.pool_stats("a").unwrap();
    assert_eq!(s.pool_rejected, 1);
    assert!(
        s.pool_reasons
            .iter()
            .any(|(r, n)| r == "timeout" && *n == 1),
        "{:?}",
        s.pool_reasons
    );
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_upstream_reconnect_does_not_leave_miners_on_a_stale_extranonce() {
    // Karoo defect: after the pool connection was re-established, miners kept
    // the old extranonce1 and every share was invalid. Here the pool's
    // extranonce1 is folded into coinb1, so the next job carries the new one.
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (dp, addr) = start(test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]))
        .await
        .unwrap();
    let mut m = ScriptedMiner::ready(addr, "cgminer", "w.1").await.unwrap();
    let e1 = m.extranonce1.clone();
    let old = m.latest_job.clone().unwrap();
    p.close_all();
    p.wait_for_connections(2, T).await.unwrap();
    m.wait_for_new_job(&old).await.unwrap();
    assert_eq!(m.extranonce1, e1, "the miner keeps its extranonce1");
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    p.wait_for_accepted(1, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn set_extranonce_from_the_pool_updates_the_proxy_state() {
    // Seed defect: set_extranonce forwarded without updating the proxy's own state.
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (dp, addr) = start(test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]))
        .await
        .unwrap();
    let mut m = ScriptedMiner::ready(addr, "cgminer", "w.1").await.unwrap();
    let conn = p.connection_infos()[0].id;
    p.send_set_extranonce(conn, &[0xde, 0xad, 0xbe, 0xef], 8);
    let old = m.latest_job.clone().unwrap();
    p.new_job(true);
    m.wait_for_new_job(&old).await.unwrap();
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert!(r.is_ok(), "share after set_extranonce: {r:?}");
    p.wait_for_accepted(1, T).await.unwrap();
    assert!(
        m.notifications()
            .iter()
            .all(|n| n.method != "mining.set_extranonce"),
        "a miner that did not subscribe to it never gets set_extranonce"
    );
    dp.shutdown(Duration::from_secs(2)).await;
}
