//! ALEO pools that fix part of every nonce per connection (IceRiver's
//! extranonce1, AleoStratum3's server nonce): a miner learns it only from
//! its subscribe (ALEO has no `set_extranonce`), so when the hashrate moves
//! to a connection with another one, the data plane disconnects the miner,
//! which subscribes again and mines with the new pool's nonce space. Without
//! that, every share would be refused by the new pool (the scripted pools
//! check the nonce space). Where the new connection fixes nothing, the miner
//! stays connected.

use std::time::Duration;

use switchyard_stratum::aleo::{Dialect, SubscribeResult, submit_result};
use switchyard_tests::aleo_miner::pool_job_id;
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig, AleoVerdict};

const T: Duration = Duration::from_secs(30);

fn server_nonce(m: &AleoMiner) -> Option<String> {
    match &m.subscribe_result {
        Some(SubscribeResult::AleoStratum3 { server_nonce, .. }) => server_nonce.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_iceriver_miner_is_reconnected_into_the_next_pools_extranonce() {
    let a = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let b = AleoPool::start(AleoPoolConfig {
        extranonce1_base: 0xb0b0_0000,
        ..AleoPoolConfig::iceriver()
    })
    .await
    .unwrap();
    let cfg = aleo_test_config(vec![
        aleo_pool("a", a.addr(), Some(Dialect::IceRiver)),
        aleo_pool("b", b.addr(), Some(Dialect::IceRiver)),
    ]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.ice1")
        .await
        .unwrap();
    let on_a = m.extranonce1();
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    a.wait_for_accepted(1, T).await.unwrap();

    // a goes down: b gives the miner's new connection another extranonce1,
    // so the miner is disconnected rather than sent b's job.
    a.stop().await.unwrap();
    m.expect_closed(T).await.unwrap();

    // It comes back, subscribes again and mines on b with b's extranonce1.
    let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.ice1")
        .await
        .unwrap();
    assert_ne!(m.extranonce1(), on_a);
    assert_eq!(
        pool_job_id(m.latest_job.as_deref().unwrap()),
        b.current_job().job_id()
    );
    for _ in 0..2 {
        let share = m.next_share().unwrap();
        assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    }
    b.wait_for_accepted(2, T).await.unwrap();
    assert!(
        b.shares()
            .iter()
            .all(|s| s.verdict == AleoVerdict::Accepted),
        "{:?}",
        b.shares()
    );
    assert_eq!(b.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_aleostratum3_miner_stays_where_the_next_pool_fixes_no_server_nonce_and_not_otherwise() {
    let with_nonce = |n: Option<&str>| AleoPoolConfig {
        server_nonce: n.map(Into::into),
        ..AleoPoolConfig::aleo_stratum3()
    };
    let a = AleoPool::start(with_nonce(Some("aa01"))).await.unwrap();
    let free = AleoPool::start(with_nonce(None)).await.unwrap();
    let other = AleoPool::start(with_nonce(Some("bb02"))).await.unwrap();
    let cfg = aleo_test_config(vec![
        aleo_pool("a", a.addr(), Some(Dialect::AleoStratum3)),
        aleo_pool("free", free.addr(), Some(Dialect::AleoStratum3)),
        aleo_pool("other", other.addr(), Some(Dialect::AleoStratum3)),
    ]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.s1")
        .await
        .unwrap();
    assert_eq!(server_nonce(&m).as_deref(), Some("aa01"));
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    a.wait_for_accepted(1, T).await.unwrap();

    // a goes down; "free" fixes nothing: the miner keeps its connection and
    // its counters (still with aa01 on top), which "free" accepts.
    a.stop().await.unwrap();
    let job = m.latest_job.clone().unwrap();
    let new = m.wait_for_new_job(&job).await.unwrap();
    assert_eq!(pool_job_id(new.job_id()), free.current_job().job_id());
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    free.wait_for_accepted(1, T).await.unwrap();

    // "free" goes down too; "other" fixes bb02: the miner is disconnected,
    // and after subscribing again its shares carry bb02.
    free.stop().await.unwrap();
    m.expect_closed(T).await.unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.s1")
        .await
        .unwrap();
    assert_eq!(server_nonce(&m).as_deref(), Some("bb02"));
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    other.wait_for_accepted(1, T).await.unwrap();
    assert_eq!(other.rejected(), 0);
    dp.shutdown(Duration::from_secs(2)).await;
}
