//! A pool in passthrough mode, the same for every algorithm and both ALEO
//! dialects: every miner gets a pool connection of its own, authorized as
//! the pool account with the miner's rig name appended, which carries its
//! shares (valid and counted); a miner that leaves takes its connection
//! with it after the grace period, and the others mine on.

use std::time::Duration;

use switchyard_tests::Pool;
use switchyard_tests::algo::{Algo, start, test_config};
use switchyard_tests::scripted_io::{ScriptedConnection, ScriptedShare};

const T: Duration = Duration::from_secs(20);

async fn each_miner_gets_its_own_upstream_under_its_worker_name<A: Algo>() {
    let pool = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let mut cfg = test_config::<A>(vec![A::passthrough_entry("p", pool.addr())]);
    cfg.upstream.grace_period = 0.2;
    let (dp, addr) = start::<A>(cfg).await;
    let mut a = A::ready(addr, "farm.rigA").await.unwrap();
    let mut b = A::ready(addr, "farm.rigB").await.unwrap();
    for m in [&mut a, &mut b] {
        for _ in 0..2 {
            A::mine(m).await;
        }
    }
    pool.wait_for_accepted(4, T).await.unwrap();
    assert_eq!(pool.rejected(), 0);

    // One connection per miner, as the account with its rig name, carrying
    // that miner's shares.
    for user in ["p-account.rigA", "p-account.rigB"] {
        let conns: Vec<usize> = pool
            .connection_infos()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.users().iter().any(|u| u == user))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(conns.len(), 1, "one connection for {user}");
        assert_eq!(pool.shares_on(conns[0]).len(), 2, "{user}'s shares");
    }
    let on: std::collections::HashSet<usize> = pool.shares().iter().map(|s| s.conn()).collect();
    assert_eq!(on.len(), 2, "one connection per miner");
    let s = dp.pool_stats("p").unwrap();
    assert_eq!((s.forwarded, s.pool_accepted), (4, 4), "{s:?}");

    // A miner that leaves takes its connection with it (after the grace
    // period); the other mines on.
    let open = pool.open_connections();
    drop(a);
    pool.wait_for_open_connections(open - 1, T).await.unwrap();
    A::mine(&mut b).await;
    pool.wait_for_accepted(5, T).await.unwrap();
    A::check_pool(&pool);
    dp.shutdown(Duration::from_secs(2)).await;
}

switchyard_tests::for_each_algorithm!(
    each_miner_gets_its_own_upstream_under_its_worker_name,
    iceriver
);
