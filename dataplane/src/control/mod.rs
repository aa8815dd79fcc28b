//! Control-plane mode, all in this folder: the data plane's link to its
//! control plane (design.md decisions 3, 5, 6), and what the rest of the
//! data plane takes from it ([`linked`]: site settings, plans for the route
//! tasks, connect results, status).
//!
//! [`start`] loads (or creates) the stable data-plane id and the last plan
//! from `state_dir`, publishes that plan at once (a restart during a
//! control-plane outage keeps mining on it) and spawns one task that
//! registers, watches the plan stream, persists each new plan before
//! publishing it, and sends plan acks and health reports; it reconnects with
//! capped, jittered backoff and keeps the last plan meanwhile. The
//! [`ControlLink`] handle is cheap to clone; everything it queues is sent by
//! the task once connected.

mod client;
pub mod linked;
pub mod state;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use switchyard_proto::v1 as pb;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

pub use switchyard_proto::v1::{RoutingPlan, ShareEvent};

use crate::config::{Algorithm, ControlPlaneLink};
use client::{Auth, Client};

/// Most connect results queued for the next health report; older ones are dropped.
pub const MAX_QUEUED_RESULTS: usize = 1024;
/// Bound on a share batch round trip.
const SHARES_TIMEOUT: Duration = Duration::from_secs(30);

/// The handle of a running control-plane link.
#[derive(Clone)]
pub struct ControlLink {
    shared: Arc<Shared>,
}

/// What the handle and the link task share.
struct Shared {
    dataplane_id: String,
    plans: watch::Sender<Option<Arc<RoutingPlan>>>,
    connected: watch::Sender<bool>,
    /// The client of the current connection (None while disconnected).
    client: Mutex<Option<Client>>,
    /// The last plan version acknowledged by the caller, with its error.
    ack: watch::Sender<Option<(u64, String)>>,
    health: Mutex<Health>,
    /// Wakes the task to send a health report now (a failure was queued).
    health_now: Notify,
    /// Cancelled when the task has ended.
    done: CancellationToken,
    /// The share event pipeline's counters, for health reports.
    events: std::sync::OnceLock<Arc<crate::events::EventStats>>,
}

#[derive(Default)]
struct Health {
    results: VecDeque<pb::ConnectResult>,
    /// Connect results dropped because the queue was full (total).
    dropped: u64,
    /// Of those, how many were already logged.
    dropped_logged: u64,
    active: Vec<pb::ActivePool>,
    /// Connected workers with no share within offline_after.
    idle_workers: Vec<pb::IdleWorker>,
    miners: u32,
    connections_total: u64,
    disconnections_total: u64,
    /// Per listener (algorithm): its pool and counters, summed into the above.
    listeners: std::collections::BTreeMap<Algorithm, ListenerStatus>,
}

/// What one listener reports: where its hashrate goes, its miner counters.
#[derive(Debug, Clone, Default)]
struct ListenerStatus {
    active: Option<String>,
    miners: u32,
    connections_total: u64,
    disconnections_total: u64,
}

impl Health {
    /// Queues `r` at the back (or front, to put back an unsent report),
    /// dropping the oldest beyond the bound.
    fn push(&mut self, r: pb::ConnectResult, front: bool) {
        if self.results.len() >= MAX_QUEUED_RESULTS {
            self.dropped += 1;
            if front {
                return;
            }
            self.results.pop_front();
        }
        if front {
            self.results.push_front(r);
        } else {
            self.results.push_back(r);
        }
    }
}

impl Shared {
    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(&self) -> MutexGuard<'_, Option<Client>> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_connected(&self, client: Option<Client>) {
        let up = client.is_some();
        *self.client() = client;
        self.connected
            .send_if_modified(|c| std::mem::replace(c, up) != up);
    }
}

/// Starts the link task. `plans` yields the current plan: immediately the
/// one persisted in state_dir (if any: a restart during a control-plane
/// outage keeps mining on it), then every new version from the stream.
pub async fn start(
    link: &ControlPlaneLink,
    version: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<ControlLink> {
    let url = link
        .endpoint
        .clone()
        .context("controlplane.endpoint: not set (standalone data plane)")?;
    let token = link
        .resolve_token()?
        .filter(|t| !t.is_empty())
        .context("controlplane.token: a site token (or controlplane.token_file) is required")?;
    let auth = Auth::new(&token)?;
    let endpoint = endpoint(&url, link.ca_file.as_deref())?;

    let state_dir = PathBuf::from(&link.state_dir);
    std::fs::create_dir_all(&state_dir).with_context(|| {
        format!(
            "controlplane.state_dir: cannot create {}",
            state_dir.display()
        )
    })?;
    let (dataplane_id, held) = {
        let dir = state_dir.clone();
        tokio::task::spawn_blocking(move || {
            anyhow::Ok((state::load_or_create_id(&dir)?, state::load_plan(&dir)))
        })
        .await??
    };
    match &held {
        Some(p) => {
            tracing::info!(site = %p.site, version = p.version, "following the persisted routing plan until the control plane answers")
        }
        None => tracing::info!("no persisted routing plan: waiting for the control plane"),
    }
    let shared = Arc::new(Shared {
        dataplane_id,
        plans: watch::Sender::new(held.map(Arc::new)),
        connected: watch::Sender::new(false),
        client: Mutex::new(None),
        ack: watch::Sender::new(None),
        health: Mutex::new(Health::default()),
        health_now: Notify::new(),
        done: CancellationToken::new(),
        events: std::sync::OnceLock::new(),
    });
    let task = client::Task {
        shared: shared.clone(),
        endpoint,
        url,
        auth,
        state_dir,
        version: version.to_string(),
        hostname: hostname(),
        health_interval: Duration::from_secs_f64(link.health_interval.clamp(0.05, 3600.0)),
        shutdown,
    };
    tokio::spawn(task.run());
    Ok(ControlLink { shared })
}

/// The tonic endpoint: `https://` needs `ca_file` (no built-in roots here).
fn endpoint(url: &str, ca_file: Option<&str>) -> anyhow::Result<Endpoint> {
    let mut e = Endpoint::from_shared(url.to_string())
        .map_err(|err| anyhow::anyhow!("controlplane.endpoint {url:?}: {err}"))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if url.starts_with("https://") {
        let ca = ca_file.context(
            "controlplane.ca_file: an https:// endpoint needs the CA certificate (PEM) that signed the control plane's certificate",
        )?;
        let pem =
            std::fs::read(ca).with_context(|| format!("controlplane.ca_file: cannot read {ca}"))?;
        e = e
            .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
            .map_err(|err| anyhow::anyhow!("controlplane.ca_file {ca}: {err}"))?;
    } else if !url.starts_with("http://") {
        anyhow::bail!("controlplane.endpoint: {url:?} must start with http:// or https://");
    } else if !loopback(e.uri().host().unwrap_or("")) {
        tracing::warn!(endpoint = %url,
            "the control-plane link is plaintext to another host: the site token and the pools' passwords cross the network in clear (use https:// with controlplane.ca_file, or a tunnel; see SECURITY.md)");
    }
    Ok(e)
}

/// Whether `host` (of a URI: an IPv6 address in brackets) names this
/// machine: `localhost` or a loopback address.
fn loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().chars().take(255).collect())
        .unwrap_or_default()
}

impl ControlLink {
    /// The current plan (None until one is known), then every new one.
    pub fn plans(&self) -> watch::Receiver<Option<Arc<RoutingPlan>>> {
        self.shared.plans.subscribe()
    }

    /// The latest plan version acknowledged, with its error (empty: applied).
    pub fn acked(&self) -> Option<(u64, String)> {
        self.shared.ack.borrow().clone()
    }

    /// Workers connected but silent, for the next health reports.
    pub fn set_idle_workers(&self, idle: Vec<pb::IdleWorker>) {
        self.shared.health().idle_workers = idle;
    }

    /// The stable id kept in `<state_dir>/dataplane-id`.
    pub fn dataplane_id(&self) -> &str {
        &self.shared.dataplane_id
    }

    /// Acknowledge a plan version once applied (error empty when fine);
    /// queued and sent when connected. Only the latest ack is kept.
    /// Every algorithm's plan runner acknowledges the same version: their
    /// errors are merged.
    pub fn ack(&self, version: u64, error: String) {
        self.shared.ack.send_if_modified(|cur| {
            let merged = match cur.take() {
                Some((v, e)) if v == version && !e.is_empty() => {
                    if error.is_empty() || e.contains(&error) {
                        e
                    } else {
                        format!("{e}; {error}")
                    }
                }
                _ => error,
            };
            let new = Some((version, merged));
            let changed = *cur != new;
            *cur = new;
            changed
        });
    }

    /// For the share-event shipper: send one batch, return the acked ids
    /// (errors when not connected).
    pub async fn report_shares(&self, events: Vec<ShareEvent>) -> anyhow::Result<Vec<String>> {
        let mut client = self
            .shared
            .client()
            .clone()
            .context("not connected to the control plane")?;
        let req = pb::ShareBatch {
            dataplane_id: self.shared.dataplane_id.clone(),
            events,
        };
        let ack = tokio::time::timeout(SHARES_TIMEOUT, client.report_shares(req))
            .await
            .context("share batch: no answer from the control plane")?
            .map_err(|s| anyhow::anyhow!("share batch refused: {}: {}", s.code(), s.message()))?;
        let ack = ack.into_inner();
        if !ack.rejected.is_empty() {
            if let Some(stats) = self.shared.events.get() {
                stats.dropped_invalid.fetch_add(
                    ack.rejected.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            tracing::error!(
                rejected = ack.rejected.len(),
                first_id = %ack.rejected[0].id,
                first_reason = %ack.rejected[0].reason,
                "share events LOST: the control plane refused them as invalid"
            );
        }
        Ok(ack.acked_ids)
    }

    /// The share event counters to put in health reports (spool size, losses).
    pub fn attach_event_stats(&self, stats: Arc<crate::events::EventStats>) {
        let _ = self.shared.events.set(stats);
    }

    /// Connect results and active pools: queued (bounded, oldest dropped
    /// with a counter) and sent every health_interval and at once when a
    /// failure is queued.
    pub fn report_connect(&self, algorithm: Algorithm, pool: &str, ok: bool, error: &str) {
        let r = pb::ConnectResult {
            algorithm: algorithm.to_wire() as i32,
            pool: pool.to_string(),
            at_unix_ms: now_ms(),
            ok,
            error: error.chars().take(300).collect(),
        };
        self.shared.health().push(r, false);
        if !ok {
            self.shared.health_now.notify_one();
        }
    }

    /// What goes into every health report: the pool each algorithm's
    /// hashrate goes to, miners now, connections and disconnections so far.
    pub fn set_status(
        &self,
        active: Vec<(Algorithm, String)>,
        miners: u32,
        connections_total: u64,
        disconnections_total: u64,
    ) {
        let mut h = self.shared.health();
        h.active = active
            .into_iter()
            .map(|(algorithm, pool)| pb::ActivePool {
                algorithm: algorithm.to_wire() as i32,
                pool,
            })
            .collect();
        h.miners = miners;
        h.connections_total = connections_total;
        h.disconnections_total = disconnections_total;
    }

    /// One listener's part of the health report (a data plane with several
    /// algorithms reports each one's pool, and the sum of their miners).
    pub fn set_listener_status(
        &self,
        algorithm: Algorithm,
        active: Option<String>,
        miners: u32,
        connections_total: u64,
        disconnections_total: u64,
    ) {
        let mut h = self.shared.health();
        h.listeners.insert(
            algorithm,
            ListenerStatus {
                active,
                miners,
                connections_total,
                disconnections_total,
            },
        );
        let all: Vec<(Algorithm, ListenerStatus)> =
            h.listeners.iter().map(|(a, s)| (*a, s.clone())).collect();
        h.active = all
            .iter()
            .filter_map(|(a, s)| {
                s.active.clone().map(|pool| pb::ActivePool {
                    algorithm: a.to_wire() as i32,
                    pool,
                })
            })
            .collect();
        h.miners = all.iter().map(|(_, s)| s.miners).sum();
        h.connections_total = all.iter().map(|(_, s)| s.connections_total).sum();
        h.disconnections_total = all.iter().map(|(_, s)| s.disconnections_total).sum();
    }

    /// True while registered with an open plan stream.
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.shared.connected.subscribe()
    }

    /// Connect results dropped so far because the queue was full.
    pub fn connect_results_dropped(&self) -> u64 {
        self.shared.health().dropped
    }

    /// Resolves once the link task has ended (after `shutdown` was cancelled).
    pub async fn closed(&self) {
        self.shared.done.cancelled().await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
#[path = "compat_tests.rs"]
mod compat_tests;

#[cfg(test)]
mod tests {
    use super::loopback;

    #[test]
    fn only_this_machine_is_loopback_for_the_plaintext_warning() {
        for h in ["localhost", "LOCALHOST", "127.0.0.1", "127.3.4.5", "[::1]"] {
            assert!(loopback(h), "{h}");
        }
        for h in [
            "cp.example",
            "10.0.0.5",
            "[2001:db8::1]",
            "",
            "localhost.evil",
        ] {
            assert!(!loopback(h), "{h}");
        }
    }
}
