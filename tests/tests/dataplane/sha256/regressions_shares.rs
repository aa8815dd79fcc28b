//! Regression tests for the seeds' share and difficulty defects
//! (seed-behaviour.md): miners never above the pool's difficulty in
//! aggregation, shares below the pool's target kept local, duplicates and
//! stale shares refused locally, passthrough per worker, and extranonce kept
//! stable across a failover whether or not the miner subscribed to changes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Config, PoolMode};
use switchyard_stratum::codes;
use switchyard_tests::dp::{mine_one, pool, start, test_config, wait_for_pool_job, with_one_pool};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(20);
const AGENT: &str = "cgminer/4.11.1";

async fn setup(
    pool_config: PoolConfig,
    tweak: impl FnOnce(&mut Config),
) -> (ScriptedPool, DataPlane, SocketAddr) {
    with_one_pool(pool_config, tweak).await
}

fn difficulty(d: f64) -> PoolConfig {
    PoolConfig {
        difficulty: d,
        ..PoolConfig::default()
    }
}

fn code(r: &switchyard_stratum::Response) -> Option<i64> {
    r.error_parts().and_then(|(c, _)| c)
}

fn sent_difficulties(m: &ScriptedMiner) -> Vec<f64> {
    m.notifications()
        .iter()
        .filter(|n| n.method == "mining.set_difficulty")
        .filter_map(|n| n.params[0].as_f64())
        .collect()
}

#[tokio::test]
async fn miner_difficulty_is_never_above_the_pool_difficulty_in_aggregation() {
    let (p, dp, addr) = setup(difficulty(4e-6), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.rig")
        .await
        .unwrap();
    assert!(m.difficulty.unwrap() <= 4e-6, "{:?}", m.difficulty);
    p.set_difficulty(1e-6);
    p.new_job(false);
    m.wait_until("the difficulty to follow the pool down", |m| {
        m.difficulty.is_some_and(|d| d <= 1e-6)
    })
    .await
    .unwrap();
    wait_for_pool_job(&p, &mut m).await;
    for _ in 0..10 {
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    p.wait_for_accepted(10, T).await.unwrap();
    assert_eq!(p.rejected(), 0);
    let sent = sent_difficulties(&m);
    assert!(sent.iter().all(|d| *d <= 4e-6), "{sent:?}");
    assert!(*sent.last().unwrap() <= 1e-6, "{sent:?}");
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn shares_below_the_pool_target_are_not_forwarded() {
    let pool_difficulty = 1e-6;
    let miner_difficulty = 5e-8;
    let (p, dp, addr) = setup(difficulty(pool_difficulty), |c| {
        c.difficulty.vardiff.min_difficulty = miner_difficulty;
        c.difficulty.vardiff.initial_difficulty = Some(miner_difficulty);
    })
    .await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.rig")
        .await
        .unwrap();
    assert_eq!(m.difficulty, Some(miner_difficulty));
    // Mine until some shares were good enough for the pool and more were not.
    let (mut above, mut below) = (0usize, 0usize);
    for _ in 0..2000 {
        if above >= 2 && below >= 10 {
            break;
        }
        let share = m.find_share().await.unwrap();
        let d = m.share_difficulty(&share).unwrap();
        let r = m.submit(&share).await.unwrap();
        assert!(
            r.is_ok(),
            "a share at {d} for the miner's {miner_difficulty}: {r:?}"
        );
        if d >= pool_difficulty {
            above += 1;
        } else {
            below += 1;
        }
    }
    assert!(above >= 2 && below >= 10, "{above} above, {below} below");
    assert_eq!(
        p.shares().len(),
        above,
        "only shares above the pool's target"
    );
    assert_eq!(p.rejected(), 0);
    assert!(p.shares().iter().all(|s| s.difficulty >= pool_difficulty));
    let s = dp.pool_stats("a").unwrap();
    assert_eq!(s.forwarded, above as u64, "{s:?}");
    assert_eq!(s.pool_accepted, above as u64, "{s:?}");
    assert_eq!(s.local_accepted, below as u64, "{s:?}");
    assert_eq!(s.local_rejected, 0, "{s:?}");
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn duplicate_shares_are_rejected_locally_and_not_forwarded() {
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.rig")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    p.wait_for_shares(1, T).await.unwrap();
    for _ in 0..2 {
        let r = m.submit(&share).await.unwrap();
        assert_eq!(code(&r), Some(codes::DUPLICATE), "{r:?}");
    }
    assert_eq!(p.shares().len(), 1, "the pool saw it once");
    let s = dp.pool_stats("a").unwrap();
    assert_eq!((s.forwarded, s.local_rejected), (1, 2), "{s:?}");
    assert!(
        s.local_reasons
            .iter()
            .any(|(r, n)| r == "duplicate share" && *n == 2),
        "{:?}",
        s.local_reasons
    );
    mine_one(&p, &mut m).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn clean_jobs_make_old_jobs_stale() {
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.rig")
        .await
        .unwrap();
    let old_share = m.find_share().await.unwrap();
    // A job that is not clean leaves the old one valid...
    p.new_job(false);
    wait_for_pool_job(&p, &mut m).await;
    let still_valid = m.find_share_for(&old_share.job_id).await.unwrap();
    assert!(m.submit(&still_valid).await.unwrap().is_ok());
    // ...a clean one makes it stale.
    p.new_job(true);
    wait_for_pool_job(&p, &mut m).await;
    let before = p.shares().len();
    let r = m.submit(&old_share).await.unwrap();
    assert_eq!(code(&r), Some(codes::JOB_NOT_FOUND), "{r:?}");
    assert_eq!(p.shares().len(), before, "answered locally, not forwarded");
    let s = dp.pool_stats("a").unwrap();
    assert!(
        s.local_reasons
            .iter()
            .any(|(r, n)| r == "stale job" && *n == 1),
        "{:?}",
        s.local_reasons
    );
    mine_one(&p, &mut m).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn passthrough_mode_opens_one_upstream_per_miner_with_the_worker_name() {
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut entry = pool("a", p.addr(), PoolMode::Passthrough);
    entry.username = "acct.{worker}".into();
    let (dp, addr) = start(test_config(vec![entry])).await.unwrap();
    let mut a = ScriptedMiner::ready(addr, AGENT, "wallet.rigA")
        .await
        .unwrap();
    let mut b = ScriptedMiner::ready(addr, AGENT, "wallet.rigB")
        .await
        .unwrap();
    for m in [&mut a, &mut b] {
        for _ in 0..2 {
            mine_one(&p, m).await;
        }
    }
    let users: HashSet<String> = p.authorized_users().into_iter().collect();
    assert!(
        users.contains("acct.rigA") && users.contains("acct.rigB"),
        "{users:?}"
    );
    let allowed: HashSet<String> = ["acct.rigA", "acct.rigB", "acct.proxy"]
        .map(String::from)
        .into();
    assert!(users.is_subset(&allowed), "{users:?}");
    // One connection per miner (plus the router's health probe).
    let per_user = |u: &str| {
        p.connection_infos()
            .iter()
            .filter(|c| c.authorized.iter().any(|name| name == u))
            .count()
    };
    assert_eq!((per_user("acct.rigA"), per_user("acct.rigB")), (1, 1));
    let workers: HashSet<String> = p.shares().into_iter().map(|s| s.worker).collect();
    assert_eq!(workers, ["acct.rigA", "acct.rigB"].map(String::from).into());
    assert_eq!(p.rejected(), 0);
    let pool_difficulty = p.state().difficulty;
    for m in [&a, &b] {
        let sent = sent_difficulties(m);
        assert!(
            !sent.is_empty() && sent.iter().all(|d| *d >= pool_difficulty),
            "passthrough difficulty is at least the pool's {pool_difficulty}: {sent:?}"
        );
    }
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn miners_with_and_without_extranonce_subscribe_both_mine_after_failover() {
    let a = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let b = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (dp, addr) = start(test_config(vec![
        pool("a", a.addr(), PoolMode::Aggregate),
        pool("b", b.addr(), PoolMode::Aggregate),
    ]))
    .await
    .unwrap();
    let mut subscribed = ScriptedMiner::connect(addr).await.unwrap();
    let r = subscribed.extranonce_subscribe().await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    subscribed.subscribe("cpuminer-opt/3.23").await.unwrap();
    assert!(subscribed.authorize("wallet.opt", "x").await.unwrap());
    subscribed.wait_for_job().await.unwrap();
    let mut plain = ScriptedMiner::ready(addr, "cpuminer/2.5.1", "wallet.plain")
        .await
        .unwrap();
    let before = [subscribed.extranonce1.clone(), plain.extranonce1.clone()];
    mine_one(&a, &mut subscribed).await;
    mine_one(&a, &mut plain).await;

    a.stop().await.unwrap();
    for m in [&mut subscribed, &mut plain] {
        wait_for_pool_job(&b, m).await;
        mine_one(&b, m).await;
    }
    assert_eq!(dp.active_pool().as_deref(), Some("b"));
    assert_eq!(b.rejected(), 0);
    assert_eq!(
        [subscribed.extranonce1.clone(), plain.extranonce1.clone()],
        before,
        "extranonce1 stays stable across pools"
    );
    for m in [&subscribed, &plain] {
        assert!(
            m.notifications()
                .iter()
                .all(|n| n.method != "mining.set_extranonce"),
            "no set_extranonce when the extranonce is stable"
        );
        assert!(!m.is_closed());
    }
    dp.shutdown(Duration::from_secs(2)).await;
}
