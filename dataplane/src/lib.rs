//! The Switchyard data plane: stratum listeners (one per algorithm: SHA-256,
//! RandomX and ALEO), miner sessions, shared upstream pool connections with
//! extranonce or nonce-slot aggregation (one per miner for ALEO), per-miner
//! difficulty and share validation. `DataPlane::start` binds every port first, then spawns;
//! `shutdown` cancels the whole task tree.

pub mod aleo;
pub mod algorithm;
pub mod backoff;
pub mod clock;
pub mod config;
pub mod control;
pub mod difficulty;
pub mod dupcache;
pub mod events;
pub mod fasthash;
pub mod http;
pub mod inbox;
pub mod limits;
pub mod listener;
pub mod logfile;
pub mod miner;
pub mod miner_tls;
pub mod net;
pub mod outcome;
pub mod pending;
pub mod prefix;
pub mod randomx;
pub mod reason;
pub mod route;
pub mod sha256;
pub mod stats;
pub mod telemetry;
pub mod tls;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use config::{Algorithm, Config, Listener, ListenerTls, Timing, parse_pool_url};
use stats::{ListenerStats, PoolSnapshot};
use upstream::{PoolInfo, UpstreamParams};

/// The agent string sent to pools.
pub const AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// One algorithm's miners: its listener, its router and its counters.
pub struct Plane {
    pub algorithm: Algorithm,
    /// Every listener's bound address, in the order of the file (at least one).
    pub addrs: Vec<SocketAddr>,
    pub router: route::RouterHandle,
    pub stats: Arc<ListenerStats>,
    pools: Vec<Arc<PoolInfo>>,
    limiter: Arc<Mutex<limits::IpLimiter>>,
    capacity: usize,
}

impl Plane {
    /// Its first listener's bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }
}

/// A running data plane.
pub struct DataPlane {
    planes: Vec<Plane>,
    /// The link to the control plane (control-plane mode).
    pub link: Option<Arc<control::ControlLink>>,
    /// Counters of the SHA-256 listener (all zero when it is off).
    pub listener_stats: Arc<ListenerStats>,
    /// What the monitoring endpoints read.
    pub view: Arc<telemetry::view::View>,
    /// The bound address of the HTTP endpoints, when `http.listen` is set.
    pub http_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl DataPlane {
    /// Validates the config, binds every listener, then starts per algorithm
    /// its route task (following plans when linked) and its accept loop.
    pub async fn start(config: Config) -> anyhow::Result<DataPlane> {
        config.validate()?;
        let shutdown = CancellationToken::new();
        let (config, link) = match &config.controlplane.endpoint {
            Some(_) => {
                let link =
                    control::linked::connect(&config.controlplane, shutdown.child_token()).await?;
                let config = control::linked::site_settings(&link, config).await;
                (config, Some(link))
            }
            None => (config, None),
        };
        let config = Arc::new(config);
        let timing = Arc::new(Timing::from_config(&config));
        let version_mask =
            switchyard_stratum::hexutil::parse_hex_u32(&config.aggregation.version_mask)
                .context("aggregation.version_mask")?;
        // Every port first: nothing starts unless all of them are ours.
        type Bound = (Listener, Option<miner_tls::MinerTls>, TcpListener);
        let mut sockets: Vec<(Algorithm, Vec<Bound>)> = Vec::new();
        for (algorithm, field, l) in config.listeners.all() {
            let tls = l
                .tls
                .as_ref()
                .map(ListenerTls::load)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{field}.tls: {e}"))?;
            let socket = TcpListener::bind(&l.bind)
                .await
                .with_context(|| format!("{field}: cannot listen on {}", l.bind))?;
            let bound = (l.clone(), tls, socket);
            match sockets.last_mut() {
                Some((a, group)) if *a == algorithm => group.push(bound),
                _ => sockets.push((algorithm, vec![bound])),
            }
        }
        anyhow::ensure!(!sockets.is_empty(), "listeners: no listener configured");
        for p in config.pools.iter().filter(|p| p.enabled) {
            if config.listeners.get(p.algorithm).is_empty() {
                tracing::warn!(pool = %p.name, algorithm = %p.algorithm, "pool ignored: no listener for its algorithm (listeners.{})", p.algorithm);
            }
        }
        let http_socket = match &config.http.listen {
            Some(l) => Some(
                TcpListener::bind(l)
                    .await
                    .with_context(|| format!("http.listen: cannot listen on {l}"))?,
            ),
            None => None,
        };
        let http_token = config
            .http
            .token_file
            .as_deref()
            .map(|f| http::read_token(std::path::Path::new(f)))
            .transpose()
            .map_err(|e| anyhow::anyhow!("http.token_file: {e}"))?;
        let site = link
            .as_ref()
            .and_then(|l| l.plans().borrow().as_ref().map(|p| p.site.clone()))
            .unwrap_or_else(|| "local".to_owned());
        let telemetry = telemetry::Telemetry::new(
            &site,
            Duration::from_secs(config.workers.offline_after),
            config
                .http
                .worker_metrics
                .then_some(config.http.worker_metrics_cap),
        );
        let tracker = TaskTracker::new();
        let mut event_stats = None;
        let events = match &link {
            Some(link) => {
                let l = link.clone();
                let send = move |batch: Vec<events::WireEvent>| -> events::SendFuture {
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
                link.attach_event_stats(stats.clone());
                event_stats = Some(stats);
                let tracked = tracker.clone();
                tracked.spawn(async move {
                    let _ = task.await;
                });
                control::linked::watch_settings(link, shutdown.child_token(), &tracker);
                sink
            }
            None => events::EventSink::disabled(),
        };
        let events = events.with_telemetry(telemetry.clone());
        let keepalive = config.limits.tcp_keepalive.then(|| net::Keepalive {
            idle: Duration::from_secs(config.limits.keepalive_idle),
            interval: Duration::from_secs(config.limits.keepalive_interval),
            count: config.limits.keepalive_count,
        });
        let pool_tls = tls::PoolTls::new(
            config
                .upstream
                .tls_ca_file
                .as_deref()
                .map(std::path::Path::new),
        )
        .map_err(|e| anyhow::anyhow!("upstream.tls_ca_file: {e}"))?;
        let mut planes = Vec::new();
        for (algorithm, group) in sockets {
            let mut pools = Vec::new();
            for p in config
                .pools
                .iter()
                .filter(|p| p.enabled && p.algorithm == algorithm)
            {
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
                    learned_dialect: Default::default(),
                }));
            }
            if pools.is_empty() && link.is_none() {
                tracing::warn!(%algorithm, "no enabled pool for this listener: its miners will find no work");
            }
            let capacity = match algorithm {
                // One miner per value of the nonce's top byte (NiceHash).
                Algorithm::Randomx => config
                    .aggregation
                    .miners_per_upstream
                    .min(randomx::slots::SLOTS),
                _ => config.aggregation.miners_per_upstream,
            };
            let params = UpstreamParams {
                timing: timing.clone(),
                version_mask,
                username: String::new(),
                capacity,
                events: None,
                agent: AGENT.to_owned(),
                aleo: Default::default(),
                share_events: events.clone(),
                tls: pool_tls.clone(),
            };
            let stats = Arc::new(ListenerStats::default());
            let observer = link
                .as_ref()
                .map(|l| control::linked::observer(l, algorithm));
            let plans = link.as_ref().map(|l| control::linked::plans(l, algorithm));
            let plane_capacity = capacity;
            let router = route::start(
                algorithm,
                pools.clone(),
                params,
                observer,
                plans,
                shutdown.child_token(),
            );
            if let Some(l) = &link {
                let interval = Duration::from_secs_f64(config.controlplane.health_interval);
                control::linked::run(
                    l,
                    algorithm,
                    router.clone(),
                    stats.clone(),
                    interval,
                    shutdown.child_token(),
                    &tracker,
                );
            }
            let ctx = Arc::new(crate::miner::SessionCtx {
                algorithm,
                config: config.clone(),
                timing: timing.clone(),
                router: router.clone(),
                prefixes: Mutex::new(prefix::PrefixAllocator::new(
                    config.aggregation.extranonce_prefix_size,
                )),
                version_mask,
                stats: stats.clone(),
                events: events.clone(),
                telemetry: telemetry.clone(),
                vardiff: Arc::new(config.vardiff()),
            });
            let mut addrs = Vec::new();
            let limiter = Arc::new(Mutex::new(limits::IpLimiter::new(config.ip_limits())));
            for (l, tls, socket) in group {
                let addr = socket.local_addr()?;
                tracing::info!(address = %addr, %algorithm, pools = pools.len(), tls = tls.is_some(), "listening for miners");
                let listener = listener::Listener {
                    listener: socket,
                    max_connections: l.max_connections,
                    limiter: limiter.clone(),
                    ctx: ctx.clone(),
                    keepalive,
                    tls,
                };
                tracker.spawn(listener.run(shutdown.child_token(), tracker.clone()));
                addrs.push(addr);
            }
            planes.push(Plane {
                algorithm,
                addrs,
                router,
                stats,
                pools,
                limiter,
                capacity: plane_capacity,
            });
        }
        let listener_stats = planes
            .iter()
            .find(|p| p.algorithm == Algorithm::Sha256)
            .map_or_else(Default::default, |p| p.stats.clone());
        let view = Arc::new(telemetry::view::View {
            telemetry: telemetry.clone(),
            planes: planes
                .iter()
                .map(|p| telemetry::view::PlaneView {
                    algorithm: p.algorithm,
                    addrs: p.addrs.clone(),
                    router: p.router.clone(),
                    stats: p.stats.clone(),
                    limiter: p.limiter.clone(),
                    capacity: p.capacity,
                })
                .collect(),
            link: link.clone(),
            events: event_stats,
            started_ms: clock::now_ms(),
        });
        tracker.spawn(telemetry::run_sweeper(view.clone(), shutdown.child_token()));
        let mut http_addr = None;
        if let Some(socket) = http_socket {
            http_addr = Some(socket.local_addr()?);
            tracing::info!(address = %socket.local_addr()?, token = http_token.is_some(), "HTTP endpoints: /healthz /readyz /status /metrics");
            let registry = Arc::new(http::registry_of(view.clone()));
            let app = http::dataplane_routes(view.clone(), registry, http_token);
            tracker.spawn(http::serve(socket, app, shutdown.child_token()));
        }
        Ok(DataPlane {
            view,
            http_addr,
            planes,
            link,
            listener_stats,
            shutdown,
            tracker,
        })
    }

    /// The miners of `algorithm`, if its listener is on.
    pub fn plane(&self, algorithm: Algorithm) -> Option<&Plane> {
        self.planes.iter().find(|p| p.algorithm == algorithm)
    }

    /// The bound address of `algorithm`'s listener (useful with port 0).
    pub fn addr(&self, algorithm: Algorithm) -> Option<SocketAddr> {
        self.plane(algorithm).map(Plane::addr)
    }

    /// The bound SHA-256 stratum address (useful with port 0).
    pub fn sha256_addr(&self) -> Option<SocketAddr> {
        self.addr(Algorithm::Sha256)
    }

    /// The bound RandomX stratum address (useful with port 0).
    pub fn randomx_addr(&self) -> Option<SocketAddr> {
        self.addr(Algorithm::Randomx)
    }

    /// The bound ALEO (zksnark) stratum address (useful with port 0).
    pub fn zksnark_addr(&self) -> Option<SocketAddr> {
        self.addr(Algorithm::Zksnark)
    }

    /// Counters of the pool named `name`.
    pub fn pool_stats(&self, name: &str) -> Option<PoolSnapshot> {
        self.planes
            .iter()
            .flat_map(|p| &p.pools)
            .find(|p| &*p.name == name)
            .map(|p| p.stats.snapshot())
    }

    /// The name of the pool SHA-256 hashrate goes to now.
    pub fn active_pool(&self) -> Option<String> {
        self.active_pool_of(Algorithm::Sha256)
    }

    /// The name of the pool `algorithm`'s hashrate goes to now.
    pub fn active_pool_of(&self, algorithm: Algorithm) -> Option<String> {
        self.plane(algorithm)?
            .router
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
        for p in self.planes.iter().flat_map(|p| &p.pools) {
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
