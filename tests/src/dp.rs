//! Starting a real data plane in-process for end-to-end tests: a config
//! pointing at scripted pools, bound to 127.0.0.1:0.

use std::net::SocketAddr;

use switchyard_dataplane::DataPlane;
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
    }
}

/// A data-plane config for tests: loopback port 0, short timeouts.
pub fn test_config(pools: Vec<Pool>) -> Config {
    let mut c = Config::default();
    if let Some(l) = c.listeners.sha256.as_mut() {
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

/// Starts a data plane and returns it with its SHA-256 stratum address.
pub async fn start(config: Config) -> anyhow::Result<(DataPlane, SocketAddr)> {
    let dp = DataPlane::start(config).await?;
    let addr = dp
        .sha256_addr()
        .ok_or_else(|| anyhow::anyhow!("no sha256 listener"))?;
    Ok((dp, addr))
}
