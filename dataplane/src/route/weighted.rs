//! A weighted window at run time (issue 14): the window's pools and the
//! [`Split`] deciding which miner mines on which, shared by the route task
//! (pools up and down, the rebalance every [`Tuning::tick_ms`]), the
//! sessions (their pool when they follow the route, their leaving) and the
//! telemetry (every accepted share's difficulty, whatever the protocol).
//!
//! A session asks [`SplitRoute::pool_for`] each time the route is
//! published; a rebalance that moves miners publishes the route again, and
//! each moved session switches like at a scheduled switch (the new pool's
//! job with `clean_jobs`, the old pool's jobs valid for the grace period).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::PoolRuntime;
use super::split::{Split, Tuning};

/// A window's pools, weights and split.
#[derive(Debug)]
pub struct SplitRoute {
    /// The window's pools, in the plan's order.
    pub pools: Vec<Arc<PoolRuntime>>,
    pub weights: Vec<u32>,
    split: Mutex<Split<u64>>,
    /// Miners moved between the window's pools so far.
    moves: AtomicU64,
}

/// One pool of a window as status and metrics show it.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitPool {
    pub pool: String,
    pub weight: u32,
    /// Its part of the work now (0 while down), 0..=1.
    pub target: f64,
    /// Accepted difficulty over the last hour.
    pub achieved_work: f64,
    pub up: bool,
    pub miners: usize,
}

impl SplitRoute {
    pub fn new(pools: Vec<Arc<PoolRuntime>>, weights: Vec<u32>) -> SplitRoute {
        SplitRoute {
            split: Mutex::new(Split::new(&weights, Tuning::default())),
            pools,
            weights,
            moves: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Split<u64>> {
        self.split.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pool miner `conn` mines on: where the split has it, or (a new
    /// miner) where work is owed. `None` when none of the window's pools
    /// is up (the route's own pool then serves).
    pub fn pool_for(&self, conn: u64, now_ms: i64) -> Option<Arc<PoolRuntime>> {
        let mut s = self.lock();
        let i = match s.pool_of(&conn) {
            Some(i) => i,
            None if (0..s.pools()).any(|i| s.is_up(i)) => s.join(conn, now_ms),
            None => return None,
        };
        s.is_up(i).then(|| self.pools[i].clone())
    }

    /// A miner connection ended.
    pub fn leave(&self, conn: u64) {
        self.lock().leave(&conn);
    }

    /// An accepted share of `difficulty` on the pool named `pool`.
    pub fn credit(&self, conn: u64, pool: &str, difficulty: f64, now_ms: i64) {
        if let Some(i) = self.pools.iter().position(|p| &*p.info.name == pool) {
            self.lock().accepted(Some(&conn), i, difficulty, now_ms);
        }
    }

    /// A pool of the window went down or came back (by its runtime index).
    /// Returns whether that changed anything.
    pub fn set_up(&self, runtime_index: usize, up: bool) -> bool {
        let Some(i) = self
            .pools
            .iter()
            .position(|p| p.info.index == runtime_index)
        else {
            return false;
        };
        let mut s = self.lock();
        let changed = s.is_up(i) != up;
        s.set_up(i, up);
        changed
    }

    pub fn moves_total(&self) -> u64 {
        self.moves.load(Relaxed)
    }

    /// Rebalances; returns how many miners moved.
    pub fn rebalance(&self, now_ms: i64) -> usize {
        let moves = self.lock().rebalance(now_ms);
        if !moves.is_empty() {
            self.moves.fetch_add(moves.len() as u64, Relaxed);
            tracing::debug!(moves = moves.len(), "split rebalanced");
        }
        moves.len()
    }

    /// The window as status shows it.
    pub fn status(&self, now_ms: i64) -> Vec<SplitPool> {
        let s = self.lock();
        let (achieved, _) = s.window(now_ms);
        let target = s.target();
        let mut miners = vec![0usize; s.pools()];
        for i in s.assignments() {
            miners[i] += 1;
        }
        self.pools
            .iter()
            .enumerate()
            .map(|(i, p)| SplitPool {
                pool: p.info.name.to_string(),
                weight: self.weights[i],
                target: target[i],
                achieved_work: achieved[i],
                up: s.is_up(i),
                miners: miners[i],
            })
            .collect()
    }
}

/// The windows in force, by algorithm, where the telemetry finds them.
#[derive(Debug, Default)]
pub struct Splits(arc_swap::ArcSwap<Vec<(crate::config::Algorithm, Arc<SplitRoute>)>>);

impl Splits {
    /// The window of `algorithm` (None: it goes to one pool).
    pub fn set(&self, algorithm: crate::config::Algorithm, split: Option<Arc<SplitRoute>>) {
        let mut list = Vec::clone(&self.0.load());
        list.retain(|(a, _)| *a != algorithm);
        list.extend(split.map(|s| (algorithm, s)));
        self.0.store(Arc::new(list));
    }

    pub fn get(&self, algorithm: crate::config::Algorithm) -> Option<Arc<SplitRoute>> {
        self.0
            .load()
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, s)| s.clone())
    }

    pub fn all(&self) -> Arc<Vec<(crate::config::Algorithm, Arc<SplitRoute>)>> {
        self.0.load_full()
    }
}
