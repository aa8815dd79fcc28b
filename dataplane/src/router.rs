//! The router of one listener: decides which pool the hashrate goes to
//! (the first healthy pool of the ordered list), owns the pools' shared
//! upstream connections, fails over at once when the active pool fails and
//! returns to the preferred pool when it is back. Sessions read the current
//! route from a watch channel; switching is just publishing a new route.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::config::PoolMode;
use crate::upstream::{self, PoolInfo, Status, UpstreamEvent, UpstreamHandle, UpstreamParams};

/// A pool at run time: its info and its shared upstream connections.
#[derive(Debug)]
pub struct PoolRuntime {
    pub info: Arc<PoolInfo>,
    pub upstreams: ArcSwap<Vec<Arc<UpstreamHandle>>>,
}

impl PoolRuntime {
    /// The first connection that is ready (its state says what the pool gives).
    pub fn ready_upstream(&self) -> Option<Arc<UpstreamHandle>> {
        self.upstreams
            .load()
            .iter()
            .find(|u| u.status() == Status::Ready)
            .cloned()
    }
}

/// Where hashrate goes now.
#[derive(Debug, Clone)]
pub struct Route {
    pub generation: u64,
    pub pool: Option<Arc<PoolRuntime>>,
}

enum RouterReq {
    /// Every shared connection of this pool is full: open another.
    NeedCapacity {
        pool: usize,
        reply: oneshot::Sender<Arc<UpstreamHandle>>,
    },
}

/// What sessions hold of the router.
#[derive(Clone)]
pub struct RouterHandle {
    pub route: watch::Receiver<Arc<Route>>,
    req_tx: mpsc::Sender<RouterReq>,
    pub params: UpstreamParams,
}

impl RouterHandle {
    /// A shared connection of `pool` with room for one more miner (aggregate mode).
    /// Retries when other sessions take the last slots first (many miners
    /// arriving at once); `None` only if the router is gone.
    pub async fn attach(&self, pool: &PoolRuntime) -> Option<Arc<UpstreamHandle>> {
        loop {
            let list = pool.upstreams.load();
            let ready = list.iter().filter(|u| u.status() == Status::Ready);
            for u in ready.chain(list.iter()) {
                if u.try_attach() {
                    return Some(u.clone());
                }
            }
            let (reply, rx) = oneshot::channel();
            let req = RouterReq::NeedCapacity {
                pool: pool.info.index,
                reply,
            };
            self.req_tx.send(req).await.ok()?;
            let u = rx.await.ok()?;
            if u.try_attach() {
                return Some(u);
            }
        }
    }

    /// Opens a dedicated connection for one miner (passthrough mode).
    pub fn dedicated(&self, pool: &PoolRuntime, username: String) -> Arc<UpstreamHandle> {
        let params = UpstreamParams {
            username,
            capacity: 1,
            events: None,
            ..self.params.clone()
        };
        upstream::spawn(pool.info.clone(), params)
    }
}

/// Starts the router task for `pools` (in preference order).
pub fn start(
    pools: Vec<Arc<PoolInfo>>,
    params: UpstreamParams,
    shutdown: CancellationToken,
) -> RouterHandle {
    let pools: Vec<Arc<PoolRuntime>> = pools
        .into_iter()
        .map(|info| {
            Arc::new(PoolRuntime {
                info,
                upstreams: ArcSwap::from_pointee(Vec::new()),
            })
        })
        .collect();
    let (route_tx, route_rx) = watch::channel(Arc::new(Route {
        generation: 0,
        pool: None,
    }));
    let (req_tx, req_rx) = mpsc::channel(256);
    let (events_tx, events_rx) = mpsc::channel(1024);
    let params = UpstreamParams {
        events: Some(events_tx),
        ..params
    };
    let handle = RouterHandle {
        route: route_rx,
        req_tx,
        params: params.clone(),
    };
    let router = Router {
        pools,
        params,
        route_tx,
        active: None,
        generation: 0,
    };
    tokio::spawn(router.run(req_rx, events_rx, shutdown));
    handle
}

struct Router {
    pools: Vec<Arc<PoolRuntime>>,
    params: UpstreamParams,
    route_tx: watch::Sender<Arc<Route>>,
    active: Option<usize>,
    generation: u64,
}

impl Router {
    async fn run(
        mut self,
        mut req_rx: mpsc::Receiver<RouterReq>,
        mut events_rx: mpsc::Receiver<UpstreamEvent>,
        shutdown: CancellationToken,
    ) {
        if !self.pools.is_empty() {
            self.ensure_connection(0);
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(req) = req_rx.recv() => match req {
                    RouterReq::NeedCapacity { pool, reply } => {
                        let u = self.open_more(pool);
                        let _ = reply.send(u);
                    }
                },
                Some(ev) = events_rx.recv() => self.on_event(ev),
            }
        }
        for p in &self.pools {
            for u in p.upstreams.load().iter() {
                u.shutdown(Duration::from_secs(2));
            }
        }
    }

    fn spawn_upstream(&self, pool: usize, capacity: usize) -> Arc<UpstreamHandle> {
        let info = self.pools[pool].info.clone();
        let username = match info.mode {
            PoolMode::Aggregate => info.username.clone(),
            // The router's own connection to a passthrough pool only probes health.
            PoolMode::Passthrough => crate::session::pool_username(&info.username, "proxy"),
        };
        let params = UpstreamParams {
            username,
            capacity,
            ..self.params.clone()
        };
        upstream::spawn(info, params)
    }

    fn ensure_connection(&mut self, pool: usize) {
        if self.pools[pool].upstreams.load().is_empty() {
            let capacity = match self.pools[pool].info.mode {
                PoolMode::Aggregate => self.params.capacity,
                PoolMode::Passthrough => 0,
            };
            let u = self.spawn_upstream(pool, capacity);
            self.pools[pool].upstreams.store(Arc::new(vec![u]));
        }
    }

    fn open_more(&mut self, pool: usize) -> Arc<UpstreamHandle> {
        let rt = &self.pools[pool];
        // Another session may have asked already: reuse a connection with room.
        if let Some(u) = rt
            .upstreams
            .load()
            .iter()
            .find(|u| u.attached() < self.params.capacity)
        {
            return u.clone();
        }
        let u = self.spawn_upstream(pool, self.params.capacity);
        let mut list = Vec::clone(&rt.upstreams.load());
        list.push(u.clone());
        tracing::info!(pool = %rt.info.name, connections = list.len(), "opened another upstream connection");
        rt.upstreams.store(Arc::new(list));
        u
    }

    fn on_event(&mut self, ev: UpstreamEvent) {
        match ev {
            UpstreamEvent::Ready { pool, .. } => {
                let better = self.active.is_none_or(|a| pool < a);
                if better {
                    self.set_active(Some(pool));
                }
            }
            UpstreamEvent::Failed { pool, .. } | UpstreamEvent::Down { pool, .. } => {
                if self.active == Some(pool) && self.pools[pool].ready_upstream().is_none() {
                    let next = (0..self.pools.len())
                        .find(|i| *i != pool && self.pools[*i].ready_upstream().is_some());
                    if next.is_none() {
                        // Nothing is ready: start trying every pool at once.
                        for i in 0..self.pools.len() {
                            self.ensure_connection(i);
                        }
                    }
                    self.set_active(next);
                } else if self.active.is_none() || self.active.is_some_and(|a| pool < a) {
                    // A preferred pool is down: make sure the next candidates are trying.
                    let upto = self.active.unwrap_or(self.pools.len() - 1);
                    for i in 0..=upto.min(self.pools.len() - 1) {
                        self.ensure_connection(i);
                    }
                }
            }
        }
    }

    fn set_active(&mut self, pool: Option<usize>) {
        if pool == self.active {
            return;
        }
        let from = self.active.map(|i| self.pools[i].info.name.to_string());
        self.active = pool;
        self.generation += 1;
        let rt = pool.map(|i| self.pools[i].clone());
        tracing::info!(
            from = from.as_deref().unwrap_or("-"),
            to = rt.as_ref().map(|p| &*p.info.name).unwrap_or("-"),
            generation = self.generation,
            "route changed"
        );
        self.route_tx.send_replace(Arc::new(Route {
            generation: self.generation,
            pool: rt,
        }));
        if let Some(active) = pool {
            // Keep the preferred pool retrying (to return to it) and the active
            // one; let the others drain for the grace period, then close.
            for (i, p) in self.pools.iter().enumerate() {
                if i != active && i != 0 && !p.upstreams.load().is_empty() {
                    for u in p.upstreams.load().iter() {
                        u.shutdown(self.params.timing.grace);
                    }
                    p.upstreams.store(Arc::new(Vec::new()));
                }
            }
            if active != 0 {
                self.ensure_connection(0);
            }
        }
    }
}
