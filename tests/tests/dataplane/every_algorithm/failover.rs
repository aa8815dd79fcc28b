//! Failover, the same for every algorithm: when the preferred pool goes
//! down every miner gets the next pool's job without reconnecting and mines
//! there (as the next pool's account sees it); when the preferred pool is
//! back the hashrate returns to it, and once the grace period is over
//! nothing is left open on the other pool. What a miner was given that must
//! not change (SHA-256's extranonce1) stays the same throughout, and a miner
//! that moves gives its nonce slot back (RandomX).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use switchyard_tests::Pool;
use switchyard_tests::algo::{Algo, start, test_config};

const T: Duration = Duration::from_secs(30);
const MINERS: usize = 3;

async fn mine_all<A: Algo>(miners: &mut [A::Miner]) {
    for m in miners {
        A::mine(m).await;
    }
}

async fn wait_for_job_of<A: Algo>(miners: &mut [A::Miner], pool: &Pool<A::State>) {
    for m in miners {
        A::wait_for_job_of(m, pool).await;
    }
}

async fn miners_fail_over_to_the_next_pool_and_come_back<A: Algo>() {
    let a = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let b = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let mut cfg = test_config::<A>(vec![
        A::pool_entry("a", a.addr()),
        A::pool_entry("b", b.addr()),
    ]);
    cfg.upstream.grace_period = 0.5;
    let (dp, addr) = start::<A>(cfg).await;
    let mut miners = Vec::new();
    for i in 0..MINERS {
        miners.push(A::ready(addr, &format!("farm.rig{i}")).await.unwrap());
    }
    let kept: Vec<_> = miners.iter().map(A::kept_across_pools).collect();
    assert_eq!(dp.active_pool_of(A::ALGORITHM).as_deref(), Some("a"));
    mine_all::<A>(&mut miners).await;
    a.wait_for_accepted(MINERS, T).await.unwrap();

    // a goes down: b's job reaches every miner, and b gets the shares.
    let a_addr = a.addr();
    a.stop().await.unwrap();
    wait_for_job_of::<A>(&mut miners, &b).await;
    assert_eq!(dp.active_pool_of(A::ALGORITHM).as_deref(), Some("b"));
    // The switch reached every miner: its fan-out time is observed once.
    let registry = switchyard_dataplane::http::registry_of(dp.view.clone());
    let text = switchyard_dataplane::http::metrics_text(&registry).unwrap();
    let switched = switchyard_tests::http::sample_sum(
        &text,
        "switchyard_switch_fanout_seconds_count",
        &[("algo", A::ALGORITHM.as_str())],
    );
    assert_eq!(switched, 1.0, "{text}");
    mine_all::<A>(&mut miners).await;
    b.wait_for_accepted(MINERS, T).await.unwrap();
    for i in 0..MINERS {
        let user = A::upstream_user("b-account", &format!("farm.rig{i}"));
        assert!(b.authorized_users().contains(&user), "{user}");
    }
    let now: Vec<_> = miners.iter().map(A::kept_across_pools).collect();
    assert_eq!(
        now, kept,
        "the miners' own terms stay the same across pools"
    );

    // a is back: the hashrate returns to it.
    let a = Pool::<A::State>::start_on(a_addr, A::pool_config())
        .await
        .unwrap();
    wait_for_job_of::<A>(&mut miners, &a).await;
    mine_all::<A>(&mut miners).await;
    a.wait_for_accepted(MINERS, T).await.unwrap();
    assert_eq!(b.accepted(), MINERS);
    assert_eq!(dp.active_pool_of(A::ALGORITHM).as_deref(), Some("a"));
    let plane = dp.plane(A::ALGORITHM).unwrap();
    assert_eq!(plane.stats.active.load(Relaxed), MINERS as u64);
    A::check_slots(&dp, "a", MINERS);
    // Grace over: nothing is left open on b.
    b.wait_for_open_connections(0, T).await.unwrap();
    A::check_pool(&a);
    A::check_pool(&b);
    dp.shutdown(Duration::from_secs(2)).await;
}

switchyard_tests::for_each_algorithm!(miners_fail_over_to_the_next_pool_and_come_back);
