//! Starting a real data plane in-process for end-to-end tests: a config
//! pointing at scripted pools, bound to 127.0.0.1:0.

use std::net::SocketAddr;

use switchyard_dataplane::DataPlane;

use crate::{PoolConfig, ScriptedMiner, ScriptedPool};
use switchyard_dataplane::config::{Config, Pool, PoolMode};

/// A pool entry for `test_config`.
pub fn pool(name: &str, addr: SocketAddr, mode: PoolMode) -> Pool {
    Pool {
        name: name.into(),
        url: format!("stratum+tcp://{addr}"),
        username: format!("{name}-account"),
        password: "secret".into(),
        mode,
        enabled: true,
        buffer_percent: None,
        min_difficulty: None,
        max_difficulty: None,
        algorithm: switchyard_dataplane::config::Algorithm::Sha256,
        dialect: None,
    }
}

/// A data-plane config for tests: loopback port 0, short timeouts.
pub fn test_config(pools: Vec<Pool>) -> Config {
    let mut c = Config::default();
    if let Some(l) = c.listeners.sha256.first_mut() {
        l.bind = "127.0.0.1:0".into();
    }
    c.limits.allow = vec!["127.0.0.0/8".into()];
    c.upstream.backoff_min = 0.05;
    c.upstream.backoff_max = 0.5;
    c.upstream.request_timeout = 5.0;
    c.upstream.connect_timeout = 2.0;
    c.upstream.handshake_timeout = 5.0;
    c.aggregation.subscribe_wait = 10.0;
    c.pools = pools;
    c
}

/// A RandomX pool entry (the xmrig dialect) for `rx_test_config`.
pub fn rx_pool(name: &str, addr: SocketAddr, mode: PoolMode) -> Pool {
    Pool {
        algorithm: switchyard_dataplane::config::Algorithm::Randomx,
        ..pool(name, addr, mode)
    }
}

/// `test_config` serving RandomX miners only, on 127.0.0.1:0.
pub fn rx_test_config(pools: Vec<Pool>) -> Config {
    let mut c = test_config(pools);
    c.listeners.sha256 = Vec::new();
    c.listeners.randomx = vec![switchyard_dataplane::config::Listener {
        bind: "127.0.0.1:0".into(),
        ..Default::default()
    }];
    c
}

/// Starts a data plane and returns it with its RandomX stratum address.
pub async fn start_rx(config: Config) -> anyhow::Result<(DataPlane, SocketAddr)> {
    let dp = DataPlane::start(config).await?;
    let addr = dp
        .randomx_addr()
        .ok_or_else(|| anyhow::anyhow!("no randomx listener"))?;
    Ok((dp, addr))
}

/// An ALEO pool entry (algorithm zksnark, passthrough) for `aleo_test_config`;
/// `dialect` as the pool's config names it (`None`: detected).
pub fn aleo_pool(
    name: &str,
    addr: SocketAddr,
    dialect: Option<switchyard_stratum::aleo::Dialect>,
) -> Pool {
    Pool {
        algorithm: switchyard_dataplane::config::Algorithm::Zksnark,
        dialect,
        ..pool(name, addr, PoolMode::Passthrough)
    }
}

/// `test_config` serving ALEO miners only, on 127.0.0.1:0.
pub fn aleo_test_config(pools: Vec<Pool>) -> Config {
    let mut c = test_config(pools);
    c.listeners.sha256 = Vec::new();
    c.listeners.zksnark = vec![switchyard_dataplane::config::Listener {
        bind: "127.0.0.1:0".into(),
        ..Default::default()
    }];
    c
}

/// Starts a data plane and returns it with its ALEO stratum address.
pub async fn start_aleo(config: Config) -> anyhow::Result<(DataPlane, SocketAddr)> {
    let dp = DataPlane::start(config).await?;
    let addr = dp
        .zksnark_addr()
        .ok_or_else(|| anyhow::anyhow!("no zksnark listener"))?;
    Ok((dp, addr))
}

/// Starts a data plane and returns it with its SHA-256 stratum address.
pub async fn start(config: Config) -> anyhow::Result<(DataPlane, SocketAddr)> {
    let dp = DataPlane::start(config).await?;
    let addr = dp
        .sha256_addr()
        .ok_or_else(|| anyhow::anyhow!("no sha256 listener"))?;
    Ok((dp, addr))
}

/// Mines one share on the miner's latest job and checks the pool accepts it.
pub async fn mine_one(p: &ScriptedPool, m: &mut ScriptedMiner) {
    let before = p.accepted();
    let share = m.find_share().await.expect("a share is found");
    let r = m.submit(&share).await.expect("the share is answered");
    assert!(r.is_ok(), "pool verdict: {r:?}");
    p.wait_for_accepted(before + 1, crate::DEFAULT_TIMEOUT * 2)
        .await
        .expect("the pool accepts it");
}

/// Reads until the miner's latest job is the pool's current one.
pub async fn wait_for_pool_job(p: &ScriptedPool, m: &mut ScriptedMiner) {
    let prevhash = p.current_job().prevhash;
    m.wait_until("the pool's current job", |m| {
        m.current_job()
            .is_some_and(|j| j.notify.prevhash == prevhash)
    })
    .await
    .expect("the miner gets the pool's current job");
}

/// A scripted pool and a data plane aggregating onto it (pool "a"), with
/// `tweak` applied to the data-plane config: the start of most tests.
pub async fn with_one_pool(
    pool_config: PoolConfig,
    tweak: impl FnOnce(&mut Config),
) -> (ScriptedPool, DataPlane, SocketAddr) {
    let p = ScriptedPool::start(pool_config)
        .await
        .expect("scripted pool starts");
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    tweak(&mut cfg);
    let (dp, addr) = start(cfg).await.expect("data plane starts");
    (p, dp, addr)
}
