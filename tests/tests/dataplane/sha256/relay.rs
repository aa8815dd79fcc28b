//! End to end through the real data plane, what is Stratum V1's own:
//! pipelining, extranonce prefixes for hundreds of miners, more upstream
//! connections when one is full, peer quirks. Several miners' shares valid
//! at the pool on one upstream: `every_algorithm/relay.rs`.

use std::collections::HashSet;
use std::time::Duration;

use switchyard_dataplane::config::PoolMode;
use switchyard_tests::dp::{pool, start, test_config};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn pipelined_submits_with_the_same_id_all_get_their_own_answer() {
    // Seed defects: miner messages handled one at a time, and the miner's id
    // forwarded upstream so one answer resolved another request.
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (dp, addr) = start(test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]))
        .await
        .unwrap();
    let mut m = ScriptedMiner::ready(addr, "cpuminer/2.5.1", "wallet.cpu")
        .await
        .unwrap();
    let mut shares = Vec::new();
    for _ in 0..4 {
        shares.push(m.find_share().await.unwrap());
    }
    // The third is a duplicate of the first: exactly one answer must say so.
    shares.insert(2, shares[0].clone());
    let answers = m
        .submit_pipelined_same_id(&shares, serde_json::json!(4))
        .await
        .unwrap();
    assert_eq!(answers.len(), 5);
    let ok = answers.iter().filter(|r| r.is_ok()).count();
    let dup = answers
        .iter()
        .filter(|r| r.error_parts().is_some_and(|(c, _)| c == Some(22)))
        .count();
    assert_eq!((ok, dup), (4, 1), "{answers:?}");
    p.wait_for_accepted(4, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn three_hundred_miners_share_one_upstream_without_prefix_collision() {
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (dp, addr) = start(test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]))
        .await
        .unwrap();
    let mut miners = Vec::new();
    for i in 0..300 {
        miners.push(
            ScriptedMiner::ready(addr, "bmminer", &format!("w.{i}"))
                .await
                .unwrap(),
        );
    }
    let prefixes: HashSet<_> = miners.iter().map(|m| m.extranonce1.clone()).collect();
    assert_eq!(prefixes.len(), 300, "no two live miners share a prefix");
    assert!(
        miners.iter().all(|m| m.extranonce2_size == 4),
        "the pool's 8 bytes of extranonce2 less the 4-byte prefix"
    );
    assert_eq!(p.connections(), 1);
    // A share from the last miner is still valid at the pool.
    let last = miners.last_mut().unwrap();
    let share = last.find_share().await.unwrap();
    assert!(last.submit(&share).await.unwrap().is_ok());
    // Prefixes are reused after a miner leaves, never while it is live.
    let gone = miners.remove(0);
    let freed = gone.extranonce1.clone();
    drop(gone);
    let mut again = None;
    for _ in 0..50 {
        let m = ScriptedMiner::ready(addr, "bmminer", "w.new")
            .await
            .unwrap();
        let reused = m.extranonce1 == freed;
        assert!(
            !miners.iter().any(|o| o.extranonce1 == m.extranonce1),
            "collision with a live miner"
        );
        miners.push(m);
        if reused {
            again = Some(());
            break;
        }
    }
    assert!(again.is_some(), "a freed prefix is handed out again");
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn more_upstream_connections_open_when_one_is_full() {
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.aggregation.miners_per_upstream = 2;
    let (dp, addr) = start(cfg).await.unwrap();
    let mut miners = Vec::new();
    for i in 0..5 {
        miners.push(
            ScriptedMiner::ready(addr, "bmminer", &format!("w.{i}"))
                .await
                .unwrap(),
        );
    }
    assert_eq!(p.connections(), 3, "5 miners at 2 per connection");
    for m in &mut miners {
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
    }
    p.wait_for_accepted(5, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_miners_arriving_at_once_all_get_a_slot_when_connections_fill() {
    // Sessions racing for the last slots of a full connection must retry,
    // not stay unattached without a job.
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.aggregation.miners_per_upstream = 3;
    let (dp, addr) = start(cfg).await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..60 {
        set.spawn(async move { ScriptedMiner::ready(addr, "bmminer", &format!("w.{i}")).await });
    }
    let mut miners = Vec::new();
    while let Some(r) = set.join_next().await {
        miners.push(r.unwrap().expect("every miner gets its job"));
    }
    assert_eq!(miners.len(), 60);
    assert!(
        p.connections() >= 20,
        "60 miners at 3 per connection: {}",
        p.connections()
    );
    let m = miners.last_mut().unwrap();
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn peer_quirks_ckpool_upstream_and_string_ids_empty_params_and_id_zero_downstream() {
    // ckpool sends set_difficulty and notify before the authorize answer.
    let p = ScriptedPool::start(PoolConfig {
        send_difficulty_before_authorize_answer: true,
        ..PoolConfig::default()
    })
    .await
    .unwrap();
    let (dp, addr) = start(test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]))
        .await
        .unwrap();
    // stratum-client: string ids and a subscribe with empty params; id 0 too.
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    let id = serde_json::json!("mining.subscribe");
    m.send_request_with_id(id.clone(), "mining.subscribe", serde_json::json!([]))
        .await
        .unwrap();
    let sub = m.wait_response(&id).await.unwrap();
    assert_eq!(sub.id, id);
    let sub = switchyard_stratum::v1::SubscribeResult::from_result(&sub.result).unwrap();
    m.extranonce1 = sub.extranonce1;
    m.extranonce2_size = sub.extranonce2_size;
    let zero = serde_json::json!(0);
    m.send_request_with_id(
        zero.clone(),
        "mining.authorize",
        serde_json::json!(["w.quirky", "x"]),
    )
    .await
    .unwrap();
    assert!(m.wait_response(&zero).await.unwrap().is_ok());
    m.set_worker("w.quirky");
    m.wait_for_job().await.unwrap();
    let share = m.find_share().await.unwrap();
    let r = m
        .submit_with_id(&share, serde_json::json!("s-1"))
        .await
        .unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        r.id,
        serde_json::json!("s-1"),
        "the miner's own string id comes back"
    );
    p.wait_for_accepted(1, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}
