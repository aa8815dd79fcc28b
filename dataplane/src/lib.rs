//! The Switchyard data plane: stratum listeners, miner sessions, shared
//! upstream pool connections with extranonce aggregation, per-miner
//! difficulty and share validation. `DataPlane::start` binds every port
//! first, then spawns; `shutdown` cancels the whole task tree.

pub mod backoff;
pub mod clock;
pub mod config;
pub mod control;
pub mod difficulty;
pub mod dupcache;
pub mod events;
pub mod job;
pub mod limits;
pub mod linked;
pub mod listener;
pub mod net;
pub mod planrun;
pub mod prefix;
pub mod reason;
pub mod router;
pub mod rx;
pub mod session;
pub mod stats;
pub mod upstream;
pub mod validate;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use config::{Config, Timing, parse_pool_url};
use stats::{ListenerStats, PoolSnapshot};
use upstream::{PoolInfo, UpstreamParams};

/// The agent string sent to pools.
pub const AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// A running data plane.
pub struct DataPlane {
    sha256_addr: Option<SocketAddr>,
    pools: Vec<Arc<PoolInfo>>,
    /// The link to the control plane (control-plane mode).
    pub link: Option<Arc<control::ControlLink>>,
    pub router: router::RouterHandle,
    pub listener_stats: Arc<ListenerStats>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl DataPlane {
    /// Validates the config, binds the listener, starts the router and the accept loop.
    pub async fn start(config: Config) -> anyhow::Result<DataPlane> {
        config.validate()?;
        let shutdown = CancellationToken::new();
        let (config, link) = match &config.controlplane.endpoint {
            Some(_) => {
                let link = linked::connect(&config.controlplane, shutdown.child_token()).await?;
                let config = linked::site_settings(&link, config).await;
                (config, Some(link))
            }
            None => (config, None),
        };
        let config = Arc::new(config);
        let timing = Arc::new(Timing::from_config(&config));
        let version_mask =
            switchyard_stratum::hexutil::parse_hex_u32(&config.aggregation.version_mask)
                .context("aggregation.version_mask")?;
        let mut pools = Vec::new();
        for p in config.pools.iter().filter(|p| p.enabled) {
            let addr =
                parse_pool_url(&p.url).map_err(|e| anyhow::anyhow!("pool {}: {e}", p.name))?;
            pools.push(Arc::new(PoolInfo {
                name: p.name.as_str().into(),
                index: pools.len(),
                addr,
                username: p.username.clone(),
                password: p.password.clone(),
                mode: p.mode,
                config: p.clone(),
                stats: Default::default(),
            }));
        }
        let tracker = TaskTracker::new();
        let params = UpstreamParams {
            timing: timing.clone(),
            version_mask,
            username: String::new(),
            capacity: config.aggregation.miners_per_upstream,
            events: None,
            agent: AGENT.to_owned(),
        };
        let listener_stats = Arc::new(ListenerStats::default());
        let Some(l) = config.listeners.sha256.clone() else {
            anyhow::bail!("listeners.sha256: no listener configured");
        };
        let socket = TcpListener::bind(&l.bind)
            .await
            .with_context(|| format!("cannot listen on {}", l.bind))?;
        let sha256_addr = Some(socket.local_addr()?);
        let observer = link.as_ref().map(|l| linked::observer(l, "sha256"));
        let router = router::start(pools.clone(), params, observer, shutdown.child_token());
        if let Some(l) = &link {
            let interval = Duration::from_secs_f64(config.controlplane.health_interval);
            linked::run(
                l,
                "sha256",
                router.clone(),
                listener_stats.clone(),
                interval,
                shutdown.child_token(),
                &tracker,
            );
            linked::watch_settings(l, shutdown.child_token(), &tracker);
        }
        let events = match &link {
            Some(link) => {
                let l = link.clone();
                let send = move |batch: Vec<events::ShareEvent>| -> events::SendFuture {
                    let l = l.clone();
                    Box::pin(async move {
                        // Wait for the link rather than fail into the
                        // shipper's backoff: shipping resumes at once on
                        // (re)connection.
                        let mut up = l.connected();
                        let _ = tokio::time::timeout(Duration::from_secs(25), up.wait_for(|c| *c))
                            .await;
                        l.report_shares(batch).await
                    })
                };
                let dir = std::path::PathBuf::from(&config.controlplane.state_dir);
                let (sink, stats, task) =
                    events::start(&dir, &config.controlplane, send, shutdown.child_token())?;
                link.attach_event_stats(stats);
                let tracked = tracker.clone();
                tracked.spawn(async move {
                    let _ = task.await;
                });
                sink
            }
            None => events::EventSink::disabled(),
        };
        let ctx = Arc::new(session::SessionCtx {
            config: config.clone(),
            timing,
            router: router.clone(),
            prefixes: Mutex::new(prefix::PrefixAllocator::new(
                config.aggregation.extranonce_prefix_size,
            )),
            version_mask,
            stats: listener_stats.clone(),
            events,
        });
        let keepalive = config.limits.tcp_keepalive.then(|| net::Keepalive {
            idle: Duration::from_secs(config.limits.keepalive_idle),
            interval: Duration::from_secs(config.limits.keepalive_interval),
            count: config.limits.keepalive_count,
        });
        let listener = listener::Listener {
            listener: socket,
            max_connections: l.max_connections,
            limiter: limits::IpLimiter::new(config.ip_limits()),
            ctx,
            keepalive,
        };
        if let Some(a) = sha256_addr {
            tracing::info!(address = %a, algorithm = "sha256", pools = pools.len(), "listening for miners");
        }
        tracker.spawn(listener.run(shutdown.child_token(), tracker.clone()));
        Ok(DataPlane {
            sha256_addr,
            pools,
            link,
            router,
            listener_stats,
            shutdown,
            tracker,
        })
    }

    /// The bound SHA-256 stratum address (useful with port 0).
    pub fn sha256_addr(&self) -> Option<SocketAddr> {
        self.sha256_addr
    }

    /// Counters of the pool named `name`.
    pub fn pool_stats(&self, name: &str) -> Option<PoolSnapshot> {
        self.pools
            .iter()
            .find(|p| &*p.name == name)
            .map(|p| p.stats.snapshot())
    }

    /// The name of the pool hashrate goes to now.
    pub fn active_pool(&self) -> Option<String> {
        self.router
            .route
            .borrow()
            .pool
            .as_ref()
            .map(|p| p.info.name.to_string())
    }

    /// A token that stops the data plane when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, closes sessions and upstreams, waits up to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(grace, self.tracker.wait()).await;
        for p in &self.pools {
            let s = p.stats.snapshot();
            tracing::info!(
                pool = %p.name,
                accepted = s.pool_accepted,
                rejected = s.pool_rejected,
                local_accepted = s.local_accepted,
                local_rejected = s.local_rejected,
                "final pool counters"
            );
        }
    }
}
