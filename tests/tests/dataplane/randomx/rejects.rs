//! Shares the data plane refuses by itself that only RandomX has, each with
//! a clear xmrig-style error (`{"code":-1,"message":..}`) and never sent to
//! the pool: a nonce outside the miner's NiceHash slot, a claimed hash below
//! the miner's target. A pool's own rejection of a job it expired (a new
//! height) comes back to the miner in the same shape. Duplicates and stale
//! jobs are refused the same way for every algorithm
//! (`every_algorithm/rejects.rs`).

use std::time::Duration;

use switchyard_dataplane::config::PoolMode;
use switchyard_stratum::Response;
use switchyard_stratum::randomx::{NICEHASH_OFFSET, RpcError, reply_status};
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};

const T: Duration = Duration::from_secs(20);

/// The error of an answer; panics on an accepted share.
fn refusal(r: &Response) -> RpcError {
    assert!(r.jsonrpc, "replies speak JSON-RPC 2.0: {r:?}");
    reply_status(r).expect_err("a refusal")
}

#[tokio::test]
async fn foreign_nonces_and_low_hashes_are_refused_locally_and_expired_jobs_by_the_pool() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let cfg = rx_test_config(vec![rx_pool("xmr", pool.addr(), PoolMode::Aggregate)]);
    let (dp, addr) = start_rx(cfg).await.unwrap();
    let mut m = RxMiner::ready(addr, "WALLET.rig").await.unwrap();
    let slot = m.current_job().unwrap().blob[NICEHASH_OFFSET];

    let share = m.find_share().await.unwrap();
    assert_eq!(
        reply_status(&m.submit(&share).await.unwrap()),
        Ok(Some("OK".into()))
    );
    pool.wait_for_accepted(1, T).await.unwrap();

    // A nonce whose top byte is not the miner's slot (whatever its hash).
    let mut foreign = m.find_share().await.unwrap();
    foreign.nonce[3] = slot.wrapping_add(1);
    let e = refusal(&m.submit(&foreign).await.unwrap());
    assert_eq!(e.code, -1);
    assert!(
        e.message.contains("nicehash slot") && e.message.contains(&format!("{slot:02x}")),
        "{e}"
    );

    // A claimed hash that does not meet the miner's target.
    let mut low = m.find_share().await.unwrap();
    low.result = [0xff; 32];
    let e = refusal(&m.submit(&low).await.unwrap());
    assert_eq!(e.message, "Low difficulty share");

    // None of those reached the pool.
    assert_eq!(pool.shares().len(), 1, "{:?}", pool.shares());
    let s = dp.pool_stats("xmr").unwrap();
    assert_eq!(s.forwarded, 1);
    assert_eq!(s.local_rejected, 2, "{s:?}");

    // A pool's own refusal (a job it expired) comes back as the pool said it.
    let kept = m.latest_job.clone().unwrap();
    pool.new_job();
    m.wait_for_new_job(&kept).await.unwrap();
    let expired = m.find_share_for(&kept).await.unwrap();
    let e = refusal(&m.submit(&expired).await.unwrap());
    assert_eq!((e.code, e.message.as_str()), (-1, "Block expired"));
    pool.wait_for_shares(2, T).await.unwrap();
    assert_eq!(pool.rejected(), 1);
    dp.shutdown(Duration::from_secs(2)).await;
}
