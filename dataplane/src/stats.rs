//! Counters per pool: connections, local verdicts (the proxy's own checks)
//! and pool verdicts with normalised reasons, kept apart as the seed does.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::reason::ReasonCounts;

#[derive(Debug, Default)]
pub struct PoolStats {
    pub local_accepted: AtomicU64,
    pub local_rejected: AtomicU64,
    pub forwarded: AtomicU64,
    pub pool_accepted: AtomicU64,
    pub pool_rejected: AtomicU64,
    local_reasons: Mutex<Option<ReasonCounts>>,
    pool_reasons: Mutex<Option<ReasonCounts>>,
    /// Connect attempts by result: ok, refused (or another network error),
    /// timeout, tls_error, auth_rejected, handshake_error.
    pub connect_results: crate::telemetry::tally::Tally<&'static str>,
    /// New jobs from the pool, and when the last one came (unix ms).
    pub jobs: AtomicU64,
    pub last_job_ms: AtomicI64,
    /// Whether a connection is up, and since when that holds (unix ms).
    up: std::sync::atomic::AtomicBool,
    pub state_since_ms: AtomicI64,
    /// Bytes from and to the pool, every connection together.
    pub rx_bytes: std::sync::Arc<AtomicU64>,
    pub tx_bytes: std::sync::Arc<AtomicU64>,
}

/// A point-in-time copy of one pool's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSnapshot {
    pub connect_attempts: u64,
    pub connections: u64,
    pub connect_failures: u64,
    pub local_accepted: u64,
    pub local_rejected: u64,
    pub forwarded: u64,
    pub pool_accepted: u64,
    pub pool_rejected: u64,
    pub local_reasons: Vec<(String, u64)>,
    pub pool_reasons: Vec<(String, u64)>,
}

fn record(m: &Mutex<Option<ReasonCounts>>, reason: &str) {
    if let Ok(mut g) = m.lock() {
        g.get_or_insert_with(ReasonCounts::new).record(reason);
    }
}

fn list(m: &Mutex<Option<ReasonCounts>>) -> Vec<(String, u64)> {
    m.lock()
        .ok()
        .and_then(|g| {
            g.as_ref()
                .map(|c| c.iter().map(|(r, n)| (r.to_string(), n)).collect())
        })
        .unwrap_or_default()
}

impl PoolStats {
    /// A connect attempt ended with `result` (`ok`, or why it failed).
    pub fn connect_result(&self, result: &'static str) {
        self.connect_results.add(result);
        self.set_up(result == "ok");
    }

    /// A connection came up (`true`) or went down or failed (`false`):
    /// `state_since_ms` moves when that changes the pool's state.
    pub fn set_up(&self, up: bool) {
        if self.up.swap(up, Relaxed) != up || self.state_since_ms.load(Relaxed) == 0 {
            self.state_since_ms.store(crate::clock::now_ms(), Relaxed);
        }
    }

    /// A new job from the pool.
    pub fn job(&self) {
        self.jobs.fetch_add(1, Relaxed);
        self.last_job_ms.store(crate::clock::now_ms(), Relaxed);
    }

    pub fn forwarded(&self) {
        self.forwarded.fetch_add(1, Relaxed);
    }

    /// A verdict the proxy gave by itself (not forwarded, or refused before).
    pub fn local_verdict(&self, accepted: bool, reason: &str) {
        if accepted {
            self.local_accepted.fetch_add(1, Relaxed);
        } else {
            self.local_rejected.fetch_add(1, Relaxed);
            record(&self.local_reasons, reason);
        }
    }

    /// The pool's verdict on a forwarded share; `reason` already normalised.
    pub fn pool_verdict(&self, accepted: bool, reason: &str) {
        if accepted {
            self.pool_accepted.fetch_add(1, Relaxed);
        } else {
            self.pool_rejected.fetch_add(1, Relaxed);
            record(&self.pool_reasons, reason);
        }
    }

    pub fn snapshot(&self) -> PoolSnapshot {
        let results = self.connect_results.snapshot();
        let connections = self.connect_results.get(&"ok");
        let connect_failures = results.iter().map(|(_, n)| n).sum::<u64>() - connections;
        PoolSnapshot {
            connect_attempts: connections + connect_failures,
            connections,
            connect_failures,
            local_accepted: self.local_accepted.load(Relaxed),
            local_rejected: self.local_rejected.load(Relaxed),
            forwarded: self.forwarded.load(Relaxed),
            pool_accepted: self.pool_accepted.load(Relaxed),
            pool_rejected: self.pool_rejected.load(Relaxed),
            local_reasons: list(&self.local_reasons),
            pool_reasons: list(&self.pool_reasons),
        }
    }
}

/// Listener-wide miner counters.
#[derive(Debug, Default)]
pub struct ListenerStats {
    pub active: AtomicU64,
    pub total: AtomicU64,
    pub disconnections: AtomicU64,
    pub refused: AtomicU64,
    /// Connections to a TLS listener whose handshake failed.
    pub tls_failures: AtomicU64,
    /// Connections closed before finishing their handshake to make room in
    /// the full listener.
    pub evicted: AtomicU64,
    /// Bytes from and to miners.
    pub rx_bytes: std::sync::Arc<AtomicU64>,
    pub tx_bytes: AtomicU64,
}
