//! A RandomX pool in passthrough mode, what only xmrig miners have: a
//! login's rig id (`rigid`) names the worker as `WALLET.rig` does, and every
//! miner mines the pool's own job and target over the whole nonce range (no
//! NiceHash slot). A connection per miner under its worker name is the same
//! for every algorithm (`every_algorithm/passthrough.rs`).

use std::time::Duration;

use switchyard_dataplane::config::PoolMode;
use switchyard_stratum::randomx::reply_status;
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig, rx_login};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_rig_id_names_the_worker_and_miners_get_the_pools_own_target() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let cfg = rx_test_config(vec![rx_pool("xmr", pool.addr(), PoolMode::Passthrough)]);
    let (dp, addr) = start_rx(cfg).await.unwrap();

    let a = RxMiner::ready(addr, "WALLET.rigA").await.unwrap();
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

    let share = b.find_share().await.unwrap();
    let r = b.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    pool.wait_for_accepted(1, T).await.unwrap();
    let users: Vec<String> = pool
        .shares()
        .iter()
        .filter_map(|s| s.login.clone())
        .collect();
    assert_eq!(users, ["xmr-account.rigB"]);
    dp.shutdown(Duration::from_secs(2)).await;
}
