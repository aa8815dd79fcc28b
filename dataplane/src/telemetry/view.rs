//! [`View`]: what the HTTP endpoints read of a running data plane: its
//! telemetry, each algorithm's plane (route, pools, listener counters,
//! per-IP limiter), the control-plane link and the share-event pipeline;
//! and readiness (every listener has a usable pool).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::Telemetry;
use crate::config::Algorithm;
use crate::control::ControlLink;
use crate::events::EventStats;
use crate::limits::IpLimiter;
use crate::route::{PoolRuntime, RouterHandle};
use crate::stats::ListenerStats;
use crate::upstream::Status;

/// One algorithm's plane as the endpoints see it.
pub struct PlaneView {
    pub algorithm: Algorithm,
    pub addrs: Vec<SocketAddr>,
    pub router: RouterHandle,
    pub stats: Arc<ListenerStats>,
    pub limiter: Arc<Mutex<IpLimiter>>,
    /// Miners per shared upstream connection (aggregation capacity).
    pub capacity: usize,
}

/// A pool's upstream connections summed up.
#[derive(Debug, Clone, Default)]
pub struct PoolLive {
    pub up: bool,
    /// Connections by state: connecting, up, down.
    pub connecting: usize,
    pub ready: usize,
    pub down: usize,
    pub difficulty: Option<f64>,
    /// Miners attached to its shared connections, and their room.
    pub attached: usize,
    pub capacity: usize,
    pub error: Option<String>,
}

impl PlaneView {
    /// The pools the route task knows, newest settings of a name only.
    pub fn pools(&self) -> Vec<Arc<PoolRuntime>> {
        let all = self.router.pools.load();
        let mut out: Vec<Arc<PoolRuntime>> = Vec::new();
        for p in all.iter().rev() {
            if !out.iter().any(|o| o.info.name == p.info.name) {
                out.push(p.clone());
            }
        }
        out.reverse();
        out
    }

    /// The state of `pool`'s connections now.
    pub fn live(&self, pool: &PoolRuntime) -> PoolLive {
        let mut l = PoolLive::default();
        for u in pool.upstreams.load().iter() {
            let st = u.state.borrow().clone();
            match st.status {
                Status::Ready => {
                    l.ready += 1;
                    l.up = true;
                    l.difficulty.get_or_insert(st.difficulty);
                }
                Status::Connecting => l.connecting += 1,
                _ => {
                    l.down += 1;
                    if let Some(e) = &st.error {
                        l.error = Some(e.to_string());
                    }
                }
            }
            if pool.info.mode == crate::config::PoolMode::Aggregate {
                l.attached += u.attached();
                l.capacity += self.capacity;
            }
        }
        l
    }

    /// Why this listener cannot serve miners now, if it cannot.
    pub fn not_ready(&self) -> Option<String> {
        let route = self.router.route.borrow().clone();
        match &route.pool {
            None => {
                let pools: Vec<String> = self
                    .pools()
                    .iter()
                    .map(|p| match self.live(p).error {
                        Some(e) => format!("pool {} ({e})", p.info.name),
                        None => format!("pool {} (connecting)", p.info.name),
                    })
                    .collect();
                Some(if pools.is_empty() {
                    format!("{}: no pool to mine on", self.algorithm)
                } else {
                    format!(
                        "{}: no pool is connected: {}",
                        self.algorithm,
                        pools.join(", ")
                    )
                })
            }
            Some(p) if p.ready_upstream().is_none() => Some(format!(
                "{}: pool {} is not connected{}",
                self.algorithm,
                p.info.name,
                self.live(p)
                    .error
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )),
            Some(_) => None,
        }
    }
}

/// Everything the endpoints read.
pub struct View {
    pub telemetry: Arc<Telemetry>,
    pub planes: Vec<PlaneView>,
    pub link: Option<Arc<ControlLink>>,
    pub events: Option<Arc<EventStats>>,
    pub started_ms: i64,
}

impl View {
    /// Ready when every listener's route has a connected pool; otherwise
    /// the reasons, one a line.
    pub fn ready(&self) -> Result<(), String> {
        let why: Vec<String> = self
            .planes
            .iter()
            .filter_map(PlaneView::not_ready)
            .collect();
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("\n"))
        }
    }
}
