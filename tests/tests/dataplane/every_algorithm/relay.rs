//! Relaying, the same for every algorithm and both ALEO dialects: several
//! miners mine through the data plane in the algorithm's usual mode, each
//! with a nonce space of its own where it is given one; every share is
//! valid at the pool and counted as forwarded and accepted; aggregated
//! miners share one upstream connection as the pool's account, passthrough
//! miners each have one as the account with their rig name; a new job
//! reaches every miner and is mined on.

use std::collections::HashSet;
use std::time::Duration;

use switchyard_tests::Pool;
use switchyard_tests::algo::{Algo, start, test_config};

const T: Duration = Duration::from_secs(20);
const MINERS: usize = 3;

async fn several_miners_mine_through_the_data_plane_and_every_share_counts<A: Algo>() {
    let pool = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let (dp, addr) = start::<A>(test_config::<A>(vec![A::pool_entry("p", pool.addr())])).await;
    let mut miners = Vec::new();
    for i in 0..MINERS {
        miners.push(A::ready(addr, &format!("farm.rig{i}")).await.unwrap());
    }
    let spaces: Vec<Vec<u8>> = miners.iter().filter_map(A::nonce_space).collect();
    let distinct: HashSet<&Vec<u8>> = spaces.iter().collect();
    assert_eq!(distinct.len(), spaces.len(), "nonce spaces: {spaces:?}");
    if A::AGGREGATES {
        assert_eq!(spaces.len(), MINERS, "every aggregated miner has its own");
    }
    for m in &mut miners {
        A::mine(m).await;
    }
    pool.wait_for_accepted(MINERS, T).await.unwrap();
    assert_eq!(pool.rejected(), 0);
    if A::AGGREGATES {
        assert_eq!(pool.connections(), 1, "the miners share one upstream");
        assert_eq!(pool.authorized_users(), ["p-account"]);
    } else {
        for i in 0..MINERS {
            let user = A::upstream_user("p-account", &format!("farm.rig{i}"));
            assert!(pool.authorized_users().contains(&user), "{user}");
        }
    }
    let s = dp.pool_stats("p").unwrap();
    assert_eq!((s.forwarded, s.pool_accepted), (3, 3), "{s:?}");

    // A new job reaches every miner and is mined on.
    A::push_job(&pool, false);
    for m in &mut miners {
        A::wait_for_job_of(m, &pool).await;
        A::mine(m).await;
    }
    pool.wait_for_accepted(2 * MINERS, T).await.unwrap();
    assert_eq!(pool.rejected(), 0);
    A::check_pool(&pool);
    dp.shutdown(Duration::from_secs(2)).await;
}

switchyard_tests::for_each_algorithm!(
    several_miners_mine_through_the_data_plane_and_every_share_counts,
    iceriver
);
