//! What an operator sees of a running data plane: the counters and
//! registries the HTTP endpoints (`/status`, `/metrics`) and the health
//! reports read. [`Telemetry`] is one per data plane, shared by its
//! sessions (miner registry, connection results), its share events (every
//! recorded share is counted here, whatever else happens to it), its route
//! tasks (switches) and the liveness sweep that logs rigs going offline.
//! [`view::View`] puts it together with the planes' live state.

pub mod encode;
pub mod fanout;
pub mod miners;
pub mod process;
pub mod rate;
pub mod shares;
pub mod status;
pub mod tally;
pub mod view;

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Algorithm;
use crate::events::ShareEvent;
use miners::{Miners, Share, Transition, WorkerState};
use shares::ShareCounters;
use tally::Tally;

/// Most time between two sweeps of worker states (changes logged).
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// More changes than this in one sweep are logged as one summary line.
pub const SUMMARISE_OVER: usize = 5;

/// The counters and registries of one data plane.
#[derive(Debug)]
pub struct Telemetry {
    site: RwLock<Arc<str>>,
    pub miners: Arc<Miners>,
    pub shares: ShareCounters,
    offline_after_ms: AtomicI64,
    /// Miner connections by (algorithm, result): accepted, over_limit,
    /// banned, tls_error.
    pub connections: Tally<(Algorithm, &'static str)>,
    /// Miner disconnects by (algorithm, cause).
    pub disconnects: Tally<(Algorithm, &'static str)>,
    /// Route changes by (algorithm, reason).
    pub switches: Tally<(Algorithm, &'static str)>,
    /// Workers that went from online to idle or offline.
    pub went_offline: Tally<Algorithm>,
    /// How long switches take to reach every miner.
    pub fanout: fanout::Fanout,
    /// Per-worker series in `/metrics`: at most this many (None: off).
    pub worker_metrics: Option<usize>,
    /// The weighted windows in force (each accepted share is credited).
    pub splits: crate::route::weighted::Splits,
}

impl Telemetry {
    pub fn new(
        site: &str,
        offline_after: Duration,
        worker_metrics: Option<usize>,
    ) -> Arc<Telemetry> {
        Arc::new(Telemetry {
            site: RwLock::new(Arc::from(site)),
            miners: Arc::default(),
            shares: ShareCounters::default(),
            offline_after_ms: AtomicI64::new(offline_after.as_millis() as i64),
            connections: Tally::default(),
            disconnects: Tally::default(),
            switches: Tally::default(),
            went_offline: Tally::default(),
            fanout: Default::default(),
            worker_metrics,
            splits: Default::default(),
        })
    }

    /// The `site` label: the control plane's site name, `local` standalone.
    pub fn site(&self) -> Arc<str> {
        self.site.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_site(&self, site: &str) {
        if *self.site() != *site {
            *self.site.write().unwrap_or_else(|e| e.into_inner()) = Arc::from(site);
        }
    }

    pub fn offline_after_ms(&self) -> i64 {
        self.offline_after_ms.load(Relaxed)
    }

    /// Counts one recorded share (called for every event, shipped or not).
    pub fn on_share(&self, ev: &ShareEvent) {
        let Some(algorithm) = Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == ev.algorithm)
        else {
            return;
        };
        let now = crate::clock::now_ms();
        let accepted = self.shares.on_share(algorithm, ev, now);
        if ev.pool_verdict.as_ref().is_some_and(|v| v.is_accepted())
            && let Some(split) = self.splits.get(algorithm)
        {
            split.credit(ev.conn, &ev.pool, ev.miner_difficulty, now);
        }
        if ev.pool_verdict.is_none() && ev.local_verdict.is_none() {
            return;
        }
        self.miners.on_share(&Share {
            conn: ev.conn,
            algorithm,
            worker: &ev.worker,
            accepted,
            difficulty: ev.miner_difficulty,
            at_ms: now,
        });
    }

    /// Brings worker states up to `now_ms`, counts and logs the changes.
    pub fn sweep(&self, now_ms: i64) -> Vec<Transition> {
        let changes = self.miners.sweep(now_ms, self.offline_after_ms());
        let site = self.site();
        let down: Vec<&Transition> = changes
            .iter()
            .filter(|t| t.from == WorkerState::Online)
            .collect();
        for t in &down {
            self.went_offline.add(t.algorithm);
        }
        let minutes = self.offline_after_ms() / 60_000;
        if down.len() > SUMMARISE_OVER {
            let idle = down.iter().filter(|t| t.to == WorkerState::Idle).count();
            let some: Vec<&str> = down.iter().take(5).map(|t| &*t.worker).collect();
            tracing::warn!(
                %site,
                offline = down.len(),
                still_connected = idle,
                first = %some.join(", "),
                "{} workers offline at site {site} (no share for {minutes} min)",
                down.len()
            );
        } else {
            for t in &down {
                tracing::warn!(%site, algorithm = %t.algorithm, worker = %t.worker, state = t.to.as_str(), "worker offline: no share for {minutes} min");
            }
        }
        let back = changes
            .iter()
            .filter(|t| t.to == WorkerState::Online)
            .count();
        if back > SUMMARISE_OVER {
            tracing::info!(%site, back, "{back} workers back online at site {site}");
        } else {
            for t in changes.iter().filter(|t| t.to == WorkerState::Online) {
                tracing::info!(%site, algorithm = %t.algorithm, worker = %t.worker, "worker back online");
            }
        }
        changes
    }
}

/// Most idle workers named in one health report.
pub const MAX_IDLE_REPORTED: usize = 10_000;

/// Every [`SWEEP_EVERY`] until `shutdown`: follows the site name of the
/// plan, brings worker states up to date (logging the changes) and hands
/// the idle workers to the control-plane link for its health reports.
pub async fn run_sweeper(view: Arc<view::View>, shutdown: CancellationToken) {
    let t = &view.telemetry;
    // A quarter of offline_after (a short one in tests), at most SWEEP_EVERY.
    let period = Duration::from_millis((t.offline_after_ms() / 4).max(250) as u64).min(SWEEP_EVERY);
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = crate::clock::now_ms();
        if let Some(link) = &view.link {
            let site = link.plans().borrow().as_ref().map(|p| p.site.clone());
            if let Some(site) = site.filter(|s| !s.is_empty()) {
                t.set_site(&site);
            }
        }
        t.sweep(now);
        if let Some(link) = &view.link {
            let idle = t
                .miners
                .idle(now, t.offline_after_ms(), MAX_IDLE_REPORTED)
                .into_iter()
                .map(|(a, w, last)| switchyard_proto::v1::IdleWorker {
                    algorithm: a.to_wire() as i32,
                    worker: w.to_string(),
                    last_share_unix_ms: last,
                })
                .collect();
            link.set_idle_workers(idle);
        }
    }
}
