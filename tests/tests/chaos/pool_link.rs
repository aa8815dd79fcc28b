//! The link to the preferred pool is cut, by RST or by a blackhole (every
//! packet dropped, nothing answers): the data plane fails over to the next
//! pool within `connect_timeout` + 5 s, and the miners stay connected and
//! mine on there.

use std::time::{Duration, Instant};

use switchyard_tests::netns::{Lab, ROOT, lab_or_skip};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

use crate::common::*;

struct Setup {
    lab: Lab,
    _dir: tempfile::TempDir,
    dp: Dp,
    a: ScriptedPool,
    b: ScriptedPool,
    /// The data plane's address on its link to pool a.
    dp_to_a: std::net::Ipv4Addr,
    miners: Vec<ScriptedMiner>,
}

/// Hosts `dp`, `pa` and `pb`; the data plane prefers pool a, then b; three
/// miners (this namespace) mining on a.
async fn setup(test: &str) -> Option<Setup> {
    let mut lab = lab_or_skip(test)?;
    lab.host("dp");
    lab.host("pa");
    lab.host("pb");
    let lm = lab.link(ROOT, "dp");
    let la = lab.link("dp", "pa");
    let lb = lab.link("dp", "pb");
    let a = pool_in(&lab, "pa", la.b_ip, PoolConfig::default());
    let b = pool_in(&lab, "pb", lb.b_ip, PoolConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dp.yaml");
    let pools = format!(
        "pools:\n{}{}",
        pool_yaml("a", la.b_ip),
        pool_yaml("b", lb.b_ip)
    );
    std::fs::write(&config, dp_yaml(lm.b_ip, &pools)).unwrap();
    let dp = Dp::start(&lab, "dp", &config, &dir.path().join("dp.log"), &[]).await;
    let mut miners = Vec::new();
    for i in 0..3 {
        let mut m = ScriptedMiner::ready(dp.miners, "cgminer", &format!("farm.rig{i}"))
            .await
            .unwrap();
        let (_, _, ok) = mine(&mut m).await.unwrap();
        assert!(ok);
        miners.push(m);
    }
    a.wait_for_authorized(1, T).await.unwrap();
    assert_eq!(b.shares().len(), 0);
    Some(Setup {
        lab,
        _dir: dir,
        dp,
        a,
        b,
        dp_to_a: la.a_ip,
        miners,
    })
}

/// Cuts the link to pool a with `cut` while the miners submit (a share
/// each every 50 ms), waits for the first share on pool b (the failover),
/// and checks that every share was answered, no miner was disconnected and
/// each mines on, accepted, on b. Returns how long the failover took.
async fn failover(s: Setup, cut: impl FnOnce(&Lab)) -> Duration {
    let limit = CONNECT_TIMEOUT + Duration::from_secs(5);
    let Setup {
        lab,
        dp,
        a,
        b,
        miners: m,
        _dir,
        ..
    } = s;
    let n = m.len();
    let work = Workload::start(m);
    work.wait_for(10, T).await;
    let at = Instant::now();
    cut(&lab);
    // Bounded well past the limit, to measure even a late failover.
    let failed_over = b
        .wait_for_accepted(1, limit + Duration::from_secs(60))
        .await;
    let took = at.elapsed();
    let count = work.count();
    work.wait_for(count + 10, T).await;
    let (answers, mut miners) = work.finish().await;
    eprintln!(
        "failover to pool b took {:.2} s (limit {limit:?}); {} shares answered, {} accepted by a, {} by b",
        took.as_secs_f64(),
        answers.len(),
        a.accepted(),
        b.accepted()
    );
    failed_over.expect("no failover to pool b");
    assert!(
        took <= limit,
        "failover took {took:?}, more than connect_timeout + 5 s ({limit:?})"
    );
    assert_eq!(
        miners.len(),
        n,
        "a miner was disconnected or a share went unanswered"
    );
    let before = b.accepted();
    for m in miners.iter_mut() {
        let (_, _, ok) = mine(m).await.expect("the miner mines on");
        assert!(ok, "a share on pool b was rejected");
    }
    b.wait_for_accepted(before + n, T).await.unwrap();
    let mut dp = dp;
    assert!(dp.running(), "the data plane is up");
    dp.stop().await;
    took
}

#[tokio::test]
async fn pool_link_cut_with_rst_fails_over_within_connect_timeout() {
    let Some(s) = setup("pool_link_cut_with_rst").await else {
        return;
    };
    let dp_to_a = s.dp_to_a;
    failover(s, |lab| lab.reset("pa", dp_to_a)).await;
}

#[tokio::test]
async fn pool_link_blackholed_fails_over_within_connect_timeout() {
    let Some(s) = setup("pool_link_blackholed").await else {
        return;
    };
    let dp_to_a = s.dp_to_a;
    failover(s, |lab| lab.blackhole("pa", dp_to_a)).await;
}
