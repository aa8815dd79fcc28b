//! The Switchyard control plane: the single writer of the SQLite database,
//! the planner that turns schedules, overrides and breakers into versioned
//! routing plans, the circuit breakers fed by the data planes' health
//! reports, the admin and data-plane gRPC services, and the quarter-hour
//! statistics report. [`ControlPlane::start`] runs all of it; the binary and
//! the tests both use it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_model::config::Import;
use switchyard_proto::v1::admin_server::AdminServer;
use switchyard_proto::v1::data_plane_server::DataPlaneServer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod breakers;
/// One clock for the whole process (the data plane's): in single-machine
/// mode both halves see the same time, offset included.
pub use switchyard_dataplane::clock;
pub mod convert;
pub mod daemon;
pub mod embedded;
pub mod grpc;
pub mod http;
pub mod miner_tls;
pub mod planner;
pub mod report;
pub mod store;
pub mod web;

use grpc::{Ctx, hash_token, new_token};
use planner::{Planner, PlannerSettings};
use store::Store;

/// How to start a control plane.
#[derive(Debug, Clone)]
pub struct Options {
    /// The validated config file (its pools and sites are imported into a
    /// database that has never had a config imported).
    pub config: Import,
    pub database: PathBuf,
    /// Where to listen; `None` = the config's `controlplane.listen`.
    pub listen: Option<SocketAddr>,
    pub local_tz: chrono_tz::Tz,
    /// PEM certificate chain and key files: serve gRPC over TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A running control plane.
pub struct ControlPlane {
    /// gRPC health: NOT_SERVING from the start of a shutdown.
    health: tonic_health::server::HealthReporter,
    /// False once the gRPC server has stopped (readiness).
    grpc_up: Arc<std::sync::atomic::AtomicBool>,
    addr: SocketAddr,
    /// The embedded data plane's plaintext loopback port (TLS mode only).
    internal_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    ctx: Arc<Ctx>,
}

/// Accepted gRPC connections with Nagle's algorithm off. tonic ignores
/// `Server::tcp_nodelay` with `serve_with_incoming`: without this a pushed
/// plan waited about 40 ms for the peer's delayed ACK (bench/cpcurves.sh).
fn nodelay_incoming(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        if let Ok(c) = &conn {
            // A connection already gone fails here and again at its first read.
            let _ = c.set_nodelay(true);
        }
        conn
    })
}

/// The file next to the database where a generated admin token is written
/// (mode 0600 on unix; see `write_secret` for Windows), for operators who
/// did not run `controlplane init`.
pub fn admin_token_file(database: &Path) -> PathBuf {
    let mut s = database.as_os_str().to_owned();
    s.push(".admin-token");
    PathBuf::from(s)
}

/// Creates the admin token if the database has none: stores its hash and
/// writes it to [`admin_token_file`]. Returns the new token.
pub async fn ensure_admin_token(store: &Store) -> anyhow::Result<Option<String>> {
    if store.meta("admin_token_hash").await?.is_some() {
        return Ok(None);
    }
    let token = new_token("admin");
    write_secret(&admin_token_file(store.path()), &token)?;
    store
        .set_meta("admin_token_hash", &hash_token(&token))
        .await?;
    Ok(Some(token))
}

/// Replaces the admin token (`controlplane init` on an existing database
/// with `--new-admin-token`).
pub async fn rotate_admin_token(store: &Store) -> anyhow::Result<String> {
    let token = new_token("admin");
    write_secret(&admin_token_file(store.path()), &token)?;
    store
        .set_meta("admin_token_hash", &hash_token(&token))
        .await?;
    Ok(token)
}

/// Writes a token file (the token and a newline); see [`write_private`].
pub fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    write_private(path, &format!("{secret}\n"))
}

/// Writes a file readable by its owner only: mode 0600 on unix. Windows has
/// no mode; the file inherits its folder's ACLs, which under the user's
/// profile admit only that user and administrators, so the database (and
/// the token files beside it) belongs in such a folder there.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    // The mode above applies only to a new file: one that existed keeps
    // its own, which may let others read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", path.display()))?;
    }
    f.write_all(text.as_bytes())?;
    Ok(())
}

impl ControlPlane {
    pub async fn start(opts: Options) -> anyhow::Result<ControlPlane> {
        let store = Store::open(&opts.database).await?;
        if let Some(_token) = ensure_admin_token(&store).await? {
            tracing::warn!(file = %admin_token_file(&opts.database).display(), "created an admin token (ctl --token-file FILE)");
        }
        let admin_token_hash = store
            .meta("admin_token_hash")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no admin token in the database"))?;
        if store.meta("imported_at_ms").await?.is_none() {
            let out = grpc::admin_config_apply(&store, &opts.config, true).await?;
            tracing::info!(
                sites = out.sites,
                pools = out.pools,
                schedules = out.schedules,
                "imported the config into a new database"
            );
            for t in out.new_site_tokens {
                let path = site_token_file(&opts.database, &t.site);
                write_secret(&path, &t.token)?;
                tracing::warn!(site = %t.site, file = %path.display(), "site data-plane token written");
            }
        } else {
            tracing::info!(
                "the database is the source of truth: pools, sites and schedules of the config file are not re-imported (ctl config import does that)"
            );
        }

        let cp = &opts.config.controlplane;
        let breakers =
            Arc::new(breakers::Breakers::load(store.clone(), opts.config.breaker.clone()).await?);
        let planner = Planner::new(
            store.clone(),
            breakers.clone(),
            PlannerSettings {
                grace_period_s: cp.grace_period,
                switch_lead_s: cp.switch_lead,
                horizon: chrono::Duration::hours(i64::from(cp.plan_horizon_hours)),
            },
        );
        planner.refresh_because("start").await?;
        let (shutdown, rx) = watch::channel(false);
        let mut import_settings = opts.config.clone();
        import_settings.pools.clear();
        import_settings.sites.clear();
        let ctx = Arc::new(Ctx {
            store: store.clone(),
            planner: planner.clone(),
            breakers,
            started_at_ms: clock::now_ms(),
            admin_token_hash: admin_token_hash.clone(),
            local_tz: opts.local_tz,
            live: Default::default(),
            import_settings,
            shutdown: rx.clone(),
            internal_tokens: Default::default(),
            metrics: Default::default(),
            token_rotations: watch::channel(0).0,
            event_quota: grpc::quota::EventQuota::new(cp.max_site_events_per_day),
            max_dataplanes_per_site: cp.max_dataplanes_per_site,
        });

        let listen = match opts.listen {
            Some(a) => a,
            None => cp
                .listen
                .parse()
                .map_err(|e| anyhow::anyhow!("controlplane.listen {:?}: {e}", cp.listen))?,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;

        let hash = admin_token_hash;
        let admin = AdminServer::with_interceptor(
            grpc::admin::AdminService::new(ctx.clone()),
            move |req| {
                grpc::check_admin(&req, &hash)?;
                Ok(req)
            },
        );
        let dataplane = DataPlaneServer::new(grpc::dataplane::DataPlaneService::new(ctx.clone()));
        let mut srx = rx.clone();
        // Keepalive pings find data planes that vanished without closing
        // their plan stream, so `ctl dataplane list` shows them disconnected.
        let mut builder = tonic::transport::Server::builder()
            .layer(http::GrpcMetricsLayer(ctx.metrics.clone()))
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(20)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)));
        if let Some((cert, key)) = &opts.tls {
            let read = |p: &PathBuf| {
                std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
            };
            let identity = tonic::transport::Identity::from_pem(read(cert)?, read(key)?);
            builder = builder
                .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "TLS certificate {} / key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
        }
        // Standard gRPC tooling (grpc_health_probe, grpcurl, Kubernetes
        // probes) checks and explores the control plane without the .proto
        // files and without a token: health says whether it serves,
        // reflection describes the services (never any data).
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<AdminServer<grpc::admin::AdminService>>()
            .await;
        health
            .set_serving::<DataPlaneServer<grpc::dataplane::DataPlaneService>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(switchyard_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| anyhow::anyhow!("gRPC reflection: {e}"))?;
        let server = builder
            .add_service(admin)
            .add_service(dataplane)
            .add_service(health_service)
            .add_service(reflection)
            .serve_with_incoming_shutdown(nodelay_incoming(listener), async move {
                let _ = srx.wait_for(|v| *v).await;
            });
        let grpc_up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let up = grpc_up.clone();
        let mut tasks = vec![tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "gRPC server failed");
            }
            up.store(false, std::sync::atomic::Ordering::Relaxed);
        })];
        // With TLS, the embedded data plane gets a plaintext loopback port of
        // its own (only in-process tokens accepted there): the operator's
        // certificate may name a host other than 127.0.0.1 and be signed by a
        // CA the process does not have.
        let internal_addr = if opts.tls.is_some() {
            let l = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
            let a = l.local_addr()?;
            let c = ctx.clone();
            let svc = DataPlaneServer::with_interceptor(
                grpc::dataplane::DataPlaneService::new(ctx.clone()),
                move |req| {
                    grpc::check_internal(&req, &c)?;
                    Ok(req)
                },
            );
            let mut srx = rx.clone();
            let server = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(svc)
                .serve_with_incoming_shutdown(nodelay_incoming(l), async move {
                    let _ = srx.wait_for(|v| *v).await;
                });
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "internal gRPC server failed");
                }
            }));
            Some(a)
        } else {
            None
        };
        tasks.push(tokio::spawn(planner.clone().run(rx.clone())));
        tasks.push(tokio::spawn(report::run(ctx.clone(), rx.clone())));
        tasks.push(tokio::spawn(retention(store, cp.share_retention_days, rx)));
        tracing::info!(%addr, tls = opts.tls.is_some(), database = %opts.database.display(), "control plane listening");
        if opts.tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(%addr,
                "gRPC without TLS on a non-loopback address: tokens and pool passwords cross the network in clear (controlplane.tls_cert and tls_key, or a tunnel; see SECURITY.md)");
        }
        Ok(ControlPlane {
            health,
            grpc_up,
            addr,
            internal_addr,
            shutdown,
            tasks,
            ctx,
        })
    }

    /// Serves the monitoring endpoints on `listen` (with the embedded data
    /// plane's `view` in single-machine mode) until shutdown; returns the
    /// bound address.
    pub async fn serve_http(
        &mut self,
        listen: &str,
        token: Option<String>,
        view: Option<Arc<switchyard_dataplane::telemetry::view::View>>,
    ) -> anyhow::Result<SocketAddr> {
        let stop = tokio_util::sync::CancellationToken::new();
        let (addr, task) = http::start(
            self.ctx.clone(),
            self.grpc_up.clone(),
            view,
            listen,
            token,
            stop.clone(),
        )
        .await?;
        let mut rx = self.ctx.shutdown.clone();
        self.tasks.push(tokio::spawn(async move {
            let _ = rx.wait_for(|v| *v).await;
            stop.cancel();
        }));
        self.tasks.push(task);
        Ok(addr)
    }

    /// Where an in-process data plane connects: plaintext on loopback (with
    /// TLS on, a port of its own that accepts only in-process tokens).
    pub fn internal_endpoint(&self) -> String {
        match self.internal_addr {
            Some(a) => format!("http://{a}"),
            None => {
                let host = if self.addr.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    self.addr.ip().to_string()
                };
                format!("http://{host}:{}", self.addr.port())
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token for an in-process data plane of `site` (single-machine mode):
    /// accepted like the site's own token, never stored, gone at exit.
    pub async fn internal_site_token(&self, site: &str) -> anyhow::Result<String> {
        let row = self.ctx.store.site(site).await?;
        let token = new_token("internal");
        self.ctx
            .internal_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash_token(&token), row.id);
        Ok(token)
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The quarter-hour report as it would be logged now (every site and
    /// algorithm).
    pub async fn report(&self) -> anyhow::Result<Vec<report::Report>> {
        Ok(report::gather(&self.ctx, clock::now()).await?)
    }

    /// Stops serving, logs the final report and closes the database.
    pub async fn shutdown(self) {
        // Probes see the stop before the server goes.
        self.health
            .set_not_serving::<AdminServer<grpc::admin::AdminService>>()
            .await;
        self.health
            .set_not_serving::<DataPlaneServer<grpc::dataplane::DataPlaneService>>()
            .await;
        self.health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let _ = self.shutdown.send(true);
        // The gRPC server waits for open streams to end; a client's health
        // watch never does by itself: after STOP_WAIT it is cut.
        for mut t in self.tasks {
            if tokio::time::timeout(STOP_WAIT, &mut t).await.is_err() {
                tracing::warn!(wait = ?STOP_WAIT, "a task did not stop in time (a client stream still open); stopping it");
                t.abort();
                let _ = t.await;
            }
        }
        self.ctx.store.close().await;
    }
}

/// How long a stopping control plane waits for each of its tasks.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where an imported site's data-plane token is written (mode 0600 on unix).
pub fn site_token_file(database: &Path, site: &str) -> PathBuf {
    let mut s = database.as_os_str().to_owned();
    s.push(format!(".site-{site}.token"));
    PathBuf::from(s)
}

/// Rolls raw share events older than the retention period up into hourly
/// counts, and drops the workers' buckets the windows no longer need, once
/// an hour.
async fn retention(store: Store, days: u32, mut shutdown: watch::Receiver<bool>) {
    loop {
        let before = clock::now_ms() - i64::from(days) * 86_400_000;
        match store.roll_up(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                days,
                "rolled up share events older than the retention period"
            ),
            Err(e) => tracing::warn!(error = %e, "share roll-up failed"),
        }
        if let Err(e) = store.prune_workers(clock::now_ms(), before).await {
            tracing::warn!(error = %e, "pruning the workers' buckets failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    /// Every accepted gRPC connection has Nagle's algorithm off (tonic
    /// ignores its own setting for a listener we hand it).
    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = super::nodelay_incoming(listener);
        tokio::pin!(incoming);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let conn = incoming.next().await.unwrap().unwrap();
        assert!(conn.nodelay().unwrap());
    }
}
