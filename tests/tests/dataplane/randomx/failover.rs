//! Failover for RandomX miners, as for SHA-256: when the preferred pool
//! goes down every miner gets the next pool's job at once and mines there;
//! when it is back the hashrate returns. A miner that moves gives its nonce
//! slot back: on its return it takes one slot again, not a second one.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use switchyard_dataplane::config::{Algorithm, PoolMode};
use switchyard_stratum::randomx::reply_status;
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};

const T: Duration = Duration::from_secs(30);

async fn mine_all(miners: &mut [RxMiner]) {
    for m in miners {
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    }
}

#[tokio::test]
async fn miners_fail_over_to_the_next_pool_and_come_back_with_one_slot_each() {
    let a = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let b = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let cfg = rx_test_config(vec![
        rx_pool("a", a.addr(), PoolMode::Aggregate),
        rx_pool("b", b.addr(), PoolMode::Aggregate),
    ]);
    let (dp, addr) = start_rx(cfg).await.unwrap();
    let mut miners = Vec::new();
    for i in 0..3 {
        miners.push(
            RxMiner::ready(addr, &format!("WALLET.rig{i}"))
                .await
                .unwrap(),
        );
    }
    assert_eq!(dp.active_pool_of(Algorithm::Randomx).as_deref(), Some("a"));
    mine_all(&mut miners).await;
    a.wait_for_accepted(3, T).await.unwrap();

    // a goes down: b's job reaches every miner, and b gets the shares.
    let a_addr = a.addr();
    a.stop().await.unwrap();
    b.wait_for_logins(1, T).await.unwrap();
    let b_seed = b.current_job().seed_hash;
    for m in &mut miners {
        m.wait_until("b's job", |m| {
            m.current_job().is_some_and(|j| j.seed_hash == b_seed)
        })
        .await
        .unwrap();
    }
    assert_eq!(dp.active_pool_of(Algorithm::Randomx).as_deref(), Some("b"));
    mine_all(&mut miners).await;
    b.wait_for_accepted(3, T).await.unwrap();

    // a is back: the hashrate returns to it.
    let a = RxPool::start_on(a_addr, RxPoolConfig::default())
        .await
        .unwrap();
    a.wait_for_logins(1, T).await.unwrap();
    let a_seed = a.current_job().seed_hash;
    for m in &mut miners {
        m.wait_until("a's job again", |m| {
            m.current_job().is_some_and(|j| j.seed_hash == a_seed)
        })
        .await
        .unwrap();
    }
    mine_all(&mut miners).await;
    a.wait_for_accepted(3, T).await.unwrap();
    assert_eq!(b.accepted(), 3);

    // One slot per live miner on a's connection: the slots taken before
    // the failover were given back when the miners moved.
    let plane = dp.plane(Algorithm::Randomx).unwrap();
    let route = plane.router.route.borrow().clone();
    let pool = route.pool.as_ref().unwrap();
    assert_eq!(&*pool.info.name, "a");
    let taken: usize = pool.upstreams.load().iter().map(|u| u.slots.taken()).sum();
    assert_eq!(taken, 3);
    assert_eq!(plane.stats.active.load(Relaxed), 3);
    dp.shutdown(Duration::from_secs(2)).await;
}
