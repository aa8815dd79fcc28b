//! RandomX miners through the real data plane, aggregated on one upstream
//! connection with NiceHash nonce slots: the login result in the xmrig
//! dialect, every miner's own slot written into its blob and its shares and
//! new jobs in it, shares below the pool's target accepted locally and not
//! forwarded, and `keepalived` / `getjob` answered by the proxy itself. One
//! upstream as the pool's account, shares counted: `every_algorithm/relay.rs`.

use std::collections::HashSet;
use std::time::Duration;

use switchyard_dataplane::config::PoolMode;
use switchyard_stratum::randomx::{NICEHASH_OFFSET, STATUS_OK, reply_status};
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn miners_share_one_upstream_each_in_its_own_nonce_slot() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let (dp, addr) = start_rx(rx_test_config(vec![rx_pool(
        "xmr",
        pool.addr(),
        PoolMode::Aggregate,
    )]))
    .await
    .unwrap();
    let mut miners = Vec::new();
    for i in 0..3 {
        miners.push(
            RxMiner::ready(addr, &format!("WALLET.rig{i}"))
                .await
                .unwrap(),
        );
    }
    let pool_job = pool.current_job();
    let mut slots = HashSet::new();
    let mut sessions = HashSet::new();
    for m in &miners {
        let result = m.login_result.clone().unwrap();
        assert_eq!(result.status.as_deref(), Some(STATUS_OK));
        assert!(m.nicehash(), "aggregation advertises nicehash: {result:?}");
        assert!(sessions.insert(result.id.clone()), "a session id per miner");
        let job = m.current_job().unwrap();
        // The miner's copy: the pool's blob but for its slot at byte 42.
        assert_eq!(job.blob.len(), pool_job.blob.len());
        assert_eq!(job.seed_hash, pool_job.seed_hash);
        assert_eq!(job.height, pool_job.height);
        let (upstream, pool_job_id) = job.job_id.split_once('.').unwrap();
        assert!(u64::from_str_radix(upstream, 16).is_ok(), "{}", job.job_id);
        assert_eq!(pool_job_id, pool_job.job_id);
        assert!(
            job.difficulty() <= 1000,
            "never above the pool's difficulty"
        );
        assert!(slots.insert(job.blob[NICEHASH_OFFSET]), "slots are unique");
    }
    for m in &mut miners {
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert!(r.jsonrpc, "replies speak JSON-RPC 2.0: {r:?}");
        assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    }
    pool.wait_for_accepted(3, T).await.unwrap();
    assert_eq!(pool.rejected(), 0);
    let pool_slots: HashSet<u8> = pool.shares().iter().map(|s| s.slot()).collect();
    assert_eq!(pool_slots, slots, "each share came from its miner's slot");

    // A new job reaches every miner, in its own slot, and is mined on.
    let id = pool.new_job();
    for m in &mut miners {
        let old = m.latest_job.clone().unwrap();
        let job = m.wait_for_new_job(&old).await.unwrap();
        assert!(job.job_id.ends_with(&format!(".{id}")), "{}", job.job_id);
        assert!(slots.contains(&job.blob[NICEHASH_OFFSET]));
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    }
    pool.wait_for_accepted(6, T).await.unwrap();
    assert_eq!(pool.rejected(), 0);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn shares_below_the_pool_target_are_accepted_locally_and_not_forwarded() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut cfg = rx_test_config(vec![rx_pool("xmr", pool.addr(), PoolMode::Aggregate)]);
    // The miner starts well below the pool's 1000 (VarDiff aims lower).
    cfg.difficulty.vardiff.initial_difficulty = Some(50.0);
    let (dp, addr) = start_rx(cfg).await.unwrap();
    let mut m = RxMiner::ready(addr, "WALLET.small").await.unwrap();
    let job = m.current_job().unwrap().clone();
    assert_eq!(job.difficulty(), 50, "the miner's own target");
    let pool_target = pool.current_job().target;
    let (mut local, mut forwarded) = (0, 0);
    while local < 3 || forwarded < 1 {
        assert!(local < 2000, "no share met the pool's target");
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
        if pool_target.is_met_by(&share.result) {
            forwarded += 1;
        } else {
            local += 1;
        }
    }
    pool.wait_for_accepted(forwarded, T).await.unwrap();
    assert_eq!(
        pool.shares().len(),
        forwarded,
        "only shares that meet the pool's target go to the pool"
    );
    let s = dp.pool_stats("xmr").unwrap();
    assert_eq!(s.forwarded as usize, forwarded);
    assert_eq!(s.local_accepted as usize, local);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn keepalived_and_getjob_are_answered_by_the_proxy() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let (dp, addr) = start_rx(rx_test_config(vec![rx_pool(
        "xmr",
        pool.addr(),
        PoolMode::Aggregate,
    )]))
    .await
    .unwrap();
    let mut m = RxMiner::ready(addr, "WALLET.rig").await.unwrap();
    for _ in 0..3 {
        let status = m.keepalived().await.unwrap();
        assert_eq!(status, Ok(Some("KEEPALIVED".into())));
    }
    let before = m.current_job().unwrap().clone();
    let r = m.getjob().await.unwrap();
    assert!(r.jsonrpc && r.error.is_null(), "{r:?}");
    let got = m.current_job().unwrap();
    assert_eq!(got, &before, "getjob answers the miner's own current job");
    assert_eq!(got.blob[NICEHASH_OFFSET], before.blob[NICEHASH_OFFSET]);
    let c = pool.connection(0).unwrap();
    assert_eq!(
        (c.keepalives, c.getjobs),
        (0, 0),
        "answered locally, not relayed"
    );
    // The session is still good for shares.
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    pool.wait_for_accepted(1, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}
