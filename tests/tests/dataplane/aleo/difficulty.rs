//! The seed's difficulty buffer for ALEO miners (design decision 2: the
//! proxy cannot check an ALEO share, so a miner gets the pool's difficulty
//! plus an adaptive buffer, never less than the pool's): relayed in the
//! form the pool uses (`mining.set_target`, `mining.set_difficulty`, an
//! IceRiver notify's target), raised at once when the pool raises its
//! difficulty, and raised above a difficulty a pool names in a
//! low-difficulty rejection.

use std::time::Duration;

use switchyard_stratum::aleo::{Dialect, Notify, difficulty_to_target, submit_result};
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig, Fault};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn aleostratum3_targets_follow_the_pool_with_the_buffer_on_top() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), None)]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.d1")
        .await
        .unwrap();
    assert_eq!(m.target, Some(1050));

    // The pool raises its difficulty: the miner is raised at once.
    pool.set_difficulty(2000);
    m.wait_until("a target above the pool's 2000", |m| {
        m.target.is_some_and(|t| t >= 2000)
    })
    .await
    .unwrap();
    assert_eq!(m.target, Some(2100));

    // A low-difficulty rejection naming 3000: above it at once.
    pool.set_fault(Fault::RejectAll("Low difficulty share (3000)".into()));
    let share = m.next_share().unwrap();
    let r = m.submit(&share).await.unwrap();
    assert!(submit_result(&r).is_err(), "{r:?}");
    m.wait_until("a target above 3000", |m| {
        m.target.is_some_and(|t| t > 3000)
    })
    .await
    .unwrap();
    assert_eq!(m.target, Some(3150), "3000 x (1 + 5%)");
    let targets: Vec<u64> = m
        .notifications()
        .iter()
        .filter(|r| r.method == "mining.set_target")
        .filter_map(|r| r.params[0].as_u64())
        .collect();
    assert!(
        targets.iter().all(|t| *t >= 1000),
        "never below the pool: {targets:?}"
    );
    assert_eq!(pool.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn iceriver_difficulty_and_notify_targets_carry_the_buffer() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), Some(Dialect::IceRiver))]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.d2")
        .await
        .unwrap();
    assert_eq!(m.difficulty, Some(1050.0));

    // set_difficulty, then a job with the new target.
    let before = m.latest_job.clone().unwrap();
    pool.set_difficulty(4000);
    let job = m.wait_for_new_job(&before).await.unwrap();
    let Notify::IceRiver(n) = job else {
        panic!("{job:?}")
    };
    assert_eq!(m.difficulty, Some(4200.0), "set_difficulty came first");
    assert_eq!(n.target, difficulty_to_target(4200));
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    pool.wait_for_accepted(1, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}
