//! A RandomX pool in passthrough mode: every miner gets its own upstream
//! connection, logged in as the pool account with the miner's worker name
//! appended, mines the pool's own job and target over the whole nonce range
//! (no NiceHash slot), and its connection closes after it leaves.

use std::time::Duration;

use switchyard_dataplane::config::PoolMode;
use switchyard_stratum::randomx::reply_status;
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig, rx_login};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn each_miner_gets_its_own_upstream_under_its_worker_name() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut cfg = rx_test_config(vec![rx_pool("xmr", pool.addr(), PoolMode::Passthrough)]);
    cfg.upstream.grace_period = 0.2;
    let (dp, addr) = start_rx(cfg).await.unwrap();

    let mut a = RxMiner::ready(addr, "WALLET.rigA").await.unwrap();
    let mut b = RxMiner::connect(addr).await.unwrap();
    let mut login = rx_login("WALLET");
    login.rigid = Some("rigB".into());
    b.login(&login).await.unwrap();
    for m in [&a, &b] {
        assert!(!m.nicehash(), "no nonce splitting in passthrough");
        let job = m.current_job().unwrap();
        assert_eq!(job.difficulty(), 1000, "the pool's own target");
    }
    let logins = pool.logins();
    for user in ["xmr-account.rigA", "xmr-account.rigB"] {
        assert!(logins.iter().any(|l| l == user), "{user} in {logins:?}");
    }

    for m in [&mut a, &mut b] {
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    }
    pool.wait_for_accepted(2, T).await.unwrap();
    let mut users: Vec<String> = pool
        .shares()
        .iter()
        .filter_map(|s| s.login.clone())
        .collect();
    users.sort();
    assert_eq!(users, ["xmr-account.rigA", "xmr-account.rigB"]);
    let conns: std::collections::HashSet<usize> = pool.shares().iter().map(|s| s.conn).collect();
    assert_eq!(conns.len(), 2, "one connection per miner");

    // A miner that leaves takes its connection with it (after the grace period).
    let open = pool.open_connections();
    drop(a);
    pool.wait_for_open_connections(open - 1, T).await.unwrap();
    let share = b.find_share().await.unwrap();
    let r = b.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    pool.wait_for_accepted(3, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}
