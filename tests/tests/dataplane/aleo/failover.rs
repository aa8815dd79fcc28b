//! Failover for ALEO miners, as for the other algorithms: when the preferred
//! pool goes down every miner gets a connection of its own to the next pool
//! and that pool's job at once, and mines there; when the preferred pool is
//! back the hashrate returns, and the connections to the other pool close
//! once the grace period is over. The pools fix no part of the nonce (an
//! AleoStratum3 null server nonce), so miners stay connected throughout;
//! `nonce_space.rs` covers pools that do.

use std::time::Duration;

use switchyard_dataplane::config::Algorithm;
use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_tests::aleo_miner::pool_job_id;
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(30);

fn config(prefix: &str) -> AleoPoolConfig {
    AleoPoolConfig {
        job_id_prefix: prefix.into(),
        ..AleoPoolConfig::aleo_stratum3()
    }
}

async fn mine_all(miners: &mut [AleoMiner]) {
    for m in miners {
        let share = m.next_share().unwrap();
        let r = m.submit(&share).await.unwrap();
        assert_eq!(submit_result(&r), Ok(()), "{r:?}");
    }
}

async fn wait_for_job_of(miners: &mut [AleoMiner], pool: &AleoPool) {
    let job = pool.current_job().job_id().to_owned();
    for m in miners {
        m.wait_until(&format!("job {job}"), |m| {
            m.latest_job.as_deref().map(pool_job_id) == Some(job.as_str())
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn aleo_miners_fail_over_to_the_next_pool_and_come_back() {
    let a = AleoPool::start(config("a")).await.unwrap();
    let b = AleoPool::start(config("b")).await.unwrap();
    let mut cfg = aleo_test_config(vec![
        aleo_pool("a", a.addr(), Some(Dialect::AleoStratum3)),
        aleo_pool("b", b.addr(), Some(Dialect::AleoStratum3)),
    ]);
    cfg.upstream.grace_period = 0.5;
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut miners = Vec::new();
    for i in 0..2 {
        let worker = format!("farm.rig{i}");
        miners.push(
            AleoMiner::ready(addr, Dialect::AleoStratum3, &worker)
                .await
                .unwrap(),
        );
    }
    assert_eq!(dp.active_pool_of(Algorithm::Zksnark).as_deref(), Some("a"));
    mine_all(&mut miners).await;
    a.wait_for_accepted(2, T).await.unwrap();

    // a goes down: b's job reaches every miner, and b gets the shares.
    let a_addr = a.addr();
    a.stop().await.unwrap();
    wait_for_job_of(&mut miners, &b).await;
    assert_eq!(dp.active_pool_of(Algorithm::Zksnark).as_deref(), Some("b"));
    mine_all(&mut miners).await;
    b.wait_for_accepted(2, T).await.unwrap();
    for i in 0..2 {
        let user = format!("b-account.rig{i}");
        assert!(b.authorized_users().contains(&user), "{user}");
    }

    // a is back: the hashrate returns to it.
    let a = AleoPool::start_on(a_addr, config("a2")).await.unwrap();
    wait_for_job_of(&mut miners, &a).await;
    mine_all(&mut miners).await;
    a.wait_for_accepted(2, T).await.unwrap();
    assert_eq!(b.accepted(), 2);
    // Grace over: nothing is left open on b (the miners' connections and
    // the router's own).
    b.wait_for_open_connections(0, T).await.unwrap();
    assert_eq!(a.violations(), []);
    assert_eq!(b.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
}
