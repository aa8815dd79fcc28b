//! Who is mining: every miner connection ([`MinerEntry`], registered by
//! the session loop and gone with its connection) and every worker name
//! seen ([`Worker`]: its connections together, kept a day after it went),
//! with what `/status`, the hashrate estimates, the metrics and the
//! liveness sweep read. One share takes two short locks, no allocation.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::rate::RateWindow;
use crate::config::Algorithm;
use switchyard_proto::hashrate;

/// A worker gone this long is forgotten.
pub const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;
/// Most worker names remembered (the oldest gone ones go first).
pub const MAX_WORKERS: usize = 200_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a worker is mining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// A share within `offline_after` (or connected more recently than that).
    Online,
    /// Still connected, but no share within `offline_after`.
    Idle,
    /// Gone, and no share within `offline_after`.
    Offline,
}

impl WorkerState {
    pub const ALL: [WorkerState; 3] =
        [WorkerState::Online, WorkerState::Idle, WorkerState::Offline];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Online => "online",
            WorkerState::Idle => "idle",
            WorkerState::Offline => "offline",
        }
    }
}

/// A share as the registry counts it.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    pub conn: u64,
    pub algorithm: Algorithm,
    pub worker: &'a str,
    pub accepted: bool,
    /// The difficulty it was submitted at.
    pub difficulty: f64,
    pub at_ms: i64,
}

/// One miner connection.
#[derive(Debug)]
pub struct MinerEntry {
    pub id: u64,
    pub algorithm: Algorithm,
    pub peer: SocketAddr,
    pub connected_ms: i64,
    state: Mutex<MinerState>,
}

#[derive(Debug)]
struct MinerState {
    worker: Option<Arc<str>>,
    difficulty: f64,
    accepted: u64,
    rejected: u64,
    last_share_ms: i64,
    rate: RateWindow,
}

/// A connected miner as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MinerSnapshot {
    pub id: u64,
    pub worker: String,
    pub address: String,
    pub algorithm: Algorithm,
    pub connected_since_ms: i64,
    pub difficulty: f64,
    pub accepted: u64,
    pub rejected: u64,
    /// 0 before its first share.
    pub last_share_ms: i64,
    pub hashrate_hs: f64,
    pub hashrate: String,
}

/// A worker name (all its connections).
#[derive(Debug, Clone)]
pub struct Worker {
    pub connections: u32,
    pub last_share_ms: i64,
    pub last_connect_ms: i64,
    /// When its last connection ended (0 while connected).
    pub gone_ms: i64,
    pub accepted: u64,
    pub rejected: u64,
    /// Accepted difficulty in all (the per-worker work counter).
    pub work: f64,
    /// The state the last sweep saw (transitions are logged once).
    pub seen: WorkerState,
}

impl Worker {
    fn new(now_ms: i64) -> Worker {
        Worker {
            connections: 0,
            last_share_ms: 0,
            last_connect_ms: now_ms,
            gone_ms: 0,
            accepted: 0,
            rejected: 0,
            work: 0.0,
            seen: WorkerState::Online,
        }
    }

    /// Its state at `now_ms`.
    pub fn state(&self, now_ms: i64, offline_after_ms: i64) -> WorkerState {
        let active = self.last_share_ms.max(self.last_connect_ms);
        if now_ms - active < offline_after_ms {
            WorkerState::Online
        } else if self.connections > 0 {
            WorkerState::Idle
        } else {
            WorkerState::Offline
        }
    }
}

/// A change of state the sweep found.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub algorithm: Algorithm,
    pub worker: Arc<str>,
    pub from: WorkerState,
    pub to: WorkerState,
}

type WorkerMap = HashMap<Algorithm, crate::fasthash::FastMap<Arc<str>, Worker>>;

/// The registry of one data plane.
#[derive(Debug, Default)]
pub struct Miners {
    next_id: AtomicU64,
    conns: Mutex<BTreeMap<u64, Arc<MinerEntry>>>,
    workers: Mutex<WorkerMap>,
}

/// A registered connection; dropping it unregisters.
#[derive(Debug)]
pub struct MinerHandle {
    miners: Arc<Miners>,
    entry: Arc<MinerEntry>,
}

impl Miners {
    /// Registers a connection from `peer`.
    pub fn connect(
        self: &Arc<Self>,
        algorithm: Algorithm,
        peer: SocketAddr,
        now_ms: i64,
    ) -> MinerHandle {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let entry = Arc::new(MinerEntry {
            id,
            algorithm,
            peer,
            connected_ms: now_ms,
            state: Mutex::new(MinerState {
                worker: None,
                difficulty: 0.0,
                accepted: 0,
                rejected: 0,
                last_share_ms: 0,
                rate: RateWindow::new(now_ms),
            }),
        });
        lock(&self.conns).insert(id, entry.clone());
        MinerHandle {
            miners: self.clone(),
            entry,
        }
    }

    /// Connections now.
    pub fn connected(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Connections of `algorithm` now.
    pub fn connected_of(&self, algorithm: Algorithm) -> usize {
        lock(&self.conns)
            .values()
            .filter(|e| e.algorithm == algorithm)
            .count()
    }

    /// Counts a share (its connection's and its worker's).
    pub fn on_share(&self, s: &Share<'_>) {
        let entry = (s.conn != 0)
            .then(|| lock(&self.conns).get(&s.conn).cloned())
            .flatten();
        let mut name: Option<Arc<str>> = None;
        if let Some(e) = &entry {
            let mut st = lock(&e.state);
            name = st.worker.clone();
            st.last_share_ms = s.at_ms;
            if s.accepted {
                st.accepted += 1;
                st.rate.add(s.at_ms, s.difficulty);
            } else {
                st.rejected += 1;
            }
        }
        let mut workers = lock(&self.workers);
        let map = workers.entry(s.algorithm).or_default();
        let w = match name.as_ref().and_then(|n| map.get_mut(n)) {
            Some(w) => w,
            None => {
                if !map.contains_key(s.worker) && map.len() >= MAX_WORKERS {
                    return;
                }
                map.entry(Arc::from(s.worker))
                    .or_insert_with(|| Worker::new(s.at_ms))
            }
        };
        w.last_share_ms = w.last_share_ms.max(s.at_ms);
        if s.accepted {
            w.accepted += 1;
            w.work += s.difficulty.max(0.0);
        } else {
            w.rejected += 1;
        }
    }

    fn attach(&self, algorithm: Algorithm, name: &Arc<str>, now_ms: i64) {
        let mut workers = lock(&self.workers);
        let map = workers.entry(algorithm).or_default();
        if !map.contains_key(name) && map.len() >= MAX_WORKERS {
            return;
        }
        let w = map
            .entry(name.clone())
            .or_insert_with(|| Worker::new(now_ms));
        w.connections += 1;
        w.last_connect_ms = now_ms;
        w.gone_ms = 0;
    }

    fn detach(&self, algorithm: Algorithm, name: &str, now_ms: i64) {
        let mut workers = lock(&self.workers);
        if let Some(w) = workers.get_mut(&algorithm).and_then(|m| m.get_mut(name)) {
            w.connections = w.connections.saturating_sub(1);
            if w.connections == 0 {
                w.gone_ms = now_ms;
            }
        }
    }

    /// The connected miners whose worker contains `worker` (all without),
    /// in connection order: `total` matching, `limit` of them from `offset`.
    pub fn snapshot(
        &self,
        worker: Option<&str>,
        offset: usize,
        limit: usize,
        now_ms: i64,
    ) -> (usize, Vec<MinerSnapshot>) {
        let conns: Vec<Arc<MinerEntry>> = lock(&self.conns).values().cloned().collect();
        let mut total = 0;
        let mut out = Vec::new();
        for e in conns {
            let st = lock(&e.state);
            let name = st.worker.as_deref().unwrap_or("");
            if worker.is_some_and(|w| !name.contains(w)) {
                continue;
            }
            total += 1;
            if total <= offset || out.len() >= limit {
                continue;
            }
            let rate = st.rate.per_second(now_ms) * hashrate::work_per_difficulty(e.algorithm);
            out.push(MinerSnapshot {
                id: e.id,
                worker: name.to_owned(),
                address: e.peer.to_string(),
                algorithm: e.algorithm,
                connected_since_ms: e.connected_ms,
                difficulty: st.difficulty,
                accepted: st.accepted,
                rejected: st.rejected,
                last_share_ms: st.last_share_ms,
                hashrate_hs: rate,
                hashrate: hashrate::format(e.algorithm, rate),
            });
        }
        (total, out)
    }

    /// Reads every worker under the lock.
    pub fn with_workers<R>(&self, f: impl FnOnce(&WorkerMap) -> R) -> R {
        f(&lock(&self.workers))
    }

    /// Workers per algorithm and state at `now_ms`.
    pub fn state_counts(
        &self,
        now_ms: i64,
        offline_after_ms: i64,
    ) -> BTreeMap<(Algorithm, WorkerState), u64> {
        let mut out = BTreeMap::new();
        for (a, map) in lock(&self.workers).iter() {
            for s in WorkerState::ALL {
                out.insert((*a, s), 0);
            }
            for w in map.values() {
                *out.entry((*a, w.state(now_ms, offline_after_ms)))
                    .or_default() += 1;
            }
        }
        out
    }

    /// Brings every worker's state up to `now_ms`: returns the changes
    /// since the last sweep, forgets workers gone for a day.
    pub fn sweep(&self, now_ms: i64, offline_after_ms: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut workers = lock(&self.workers);
        for (a, map) in workers.iter_mut() {
            map.retain(|name, w| {
                let state = w.state(now_ms, offline_after_ms);
                if state != w.seen {
                    out.push(Transition {
                        algorithm: *a,
                        worker: name.clone(),
                        from: w.seen,
                        to: state,
                    });
                    w.seen = state;
                }
                !(state == WorkerState::Offline
                    && now_ms - w.gone_ms.max(w.last_share_ms) > FORGET_AFTER_MS)
            });
        }
        out
    }

    /// Connected workers with no share within `offline_after` (at most `cap`).
    pub fn idle(
        &self,
        now_ms: i64,
        offline_after_ms: i64,
        cap: usize,
    ) -> Vec<(Algorithm, Arc<str>, i64)> {
        let workers = lock(&self.workers);
        let mut out = Vec::new();
        for (a, map) in workers.iter() {
            for (name, w) in map {
                if out.len() >= cap {
                    return out;
                }
                if w.state(now_ms, offline_after_ms) == WorkerState::Idle {
                    out.push((*a, name.clone(), w.last_share_ms));
                }
            }
        }
        out
    }
}

impl MinerHandle {
    pub fn id(&self) -> u64 {
        self.entry.id
    }

    pub fn peer(&self) -> SocketAddr {
        self.entry.peer
    }

    /// The worker the miner authorized as (once; a second name replaces it).
    pub fn set_worker(&self, name: &str, now_ms: i64) {
        let name: Arc<str> = Arc::from(name);
        let old = lock(&self.entry.state).worker.replace(name.clone());
        if let Some(old) = old {
            if old == name {
                return;
            }
            self.miners.detach(self.entry.algorithm, &old, now_ms);
        }
        self.miners.attach(self.entry.algorithm, &name, now_ms);
    }

    /// The difficulty the miner works at now.
    pub fn set_difficulty(&self, difficulty: f64) {
        lock(&self.entry.state).difficulty = difficulty;
    }
}

impl Drop for MinerHandle {
    fn drop(&mut self) {
        lock(&self.miners.conns).remove(&self.entry.id);
        let worker = lock(&self.entry.state).worker.take();
        if let Some(w) = worker {
            self.miners
                .detach(self.entry.algorithm, &w, crate::clock::now_ms());
        }
    }
}

#[cfg(test)]
#[path = "miners_tests.rs"]
mod tests;
