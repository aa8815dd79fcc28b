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
    /// Pools a routing plan names (new ones are added; a pool whose settings
    /// changed gets a new runtime, the old one drains).
    SetPools(Vec<crate::config::Pool>),
    /// The candidates in order: hashrate goes to the first that is ready.
    Prefer(Vec<String>),
    /// Connect this pool now (shortly before a scheduled switch).
    Prepare(String),
}

/// Called with each upstream connect result: (pool, ok, error).
pub type ConnectObserver = Arc<dyn Fn(&str, bool, &str) + Send + Sync>;

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

    /// Adds or updates the pools a plan names (control-plane mode).
    pub async fn set_pools(&self, pools: Vec<crate::config::Pool>) {
        let _ = self.req_tx.send(RouterReq::SetPools(pools)).await;
    }

    /// Sets the candidates in preference order; the first ready one gets the
    /// hashrate (at once if it is ready, else as soon as it is).
    pub async fn prefer(&self, order: Vec<String>) {
        let _ = self.req_tx.send(RouterReq::Prefer(order)).await;
    }

    /// Starts connecting a pool ahead of a switch.
    pub async fn prepare(&self, pool: String) {
        let _ = self.req_tx.send(RouterReq::Prepare(pool)).await;
    }

    /// Opens a dedicated connection for one miner (passthrough mode).
    pub fn dedicated(&self, pool: &PoolRuntime, username: String) -> Arc<UpstreamHandle> {
        self.dedicated_with(pool, username, Default::default())
    }

    /// A dedicated connection with ALEO's extra parameters (the miner's
    /// dialect, credentials that come with the miner's authorize).
    pub fn dedicated_with(
        &self,
        pool: &PoolRuntime,
        username: String,
        aleo: crate::aleo::AleoParams,
    ) -> Arc<UpstreamHandle> {
        let params = UpstreamParams {
            username,
            capacity: 1,
            events: None,
            aleo,
            ..self.params.clone()
        };
        upstream::spawn(pool.info.clone(), params)
    }
}

/// Starts the router task for `pools` (in preference order).
pub fn start(
    pools: Vec<Arc<PoolInfo>>,
    params: UpstreamParams,
    observer: Option<ConnectObserver>,
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
    let preference = (0..pools.len()).collect();
    let router = Router {
        pools,
        preference,
        params,
        route_tx,
        active: None,
        generation: 0,
        observer,
    };
    tokio::spawn(router.run(req_rx, events_rx, shutdown));
    handle
}

struct Router {
    /// Every pool ever known, by index (indices never change).
    pools: Vec<Arc<PoolRuntime>>,
    /// The candidates in order; standalone: the config's order.
    preference: Vec<usize>,
    observer: Option<ConnectObserver>,
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
        if let Some(&first) = self.preference.first() {
            self.ensure_connection(first);
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(req) = req_rx.recv() => match req {
                    RouterReq::NeedCapacity { pool, reply } => {
                        let u = self.open_more(pool);
                        let _ = reply.send(u);
                    }
                    RouterReq::SetPools(pools) => self.set_pools(pools),
                    RouterReq::Prefer(order) => self.prefer(&order),
                    RouterReq::Prepare(name) => {
                        if let Some(i) = self.find(&name) {
                            self.ensure_connection(i);
                        }
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
            PoolMode::Passthrough => crate::miner::pool_username(&info.username, "proxy"),
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

    /// A pool's place in the preference order (`usize::MAX`: not a candidate).
    fn rank(&self, pool: usize) -> usize {
        self.preference
            .iter()
            .position(|&p| p == pool)
            .unwrap_or(usize::MAX)
    }

    fn find(&self, name: &str) -> Option<usize> {
        // The newest runtime of that name.
        self.pools.iter().rposition(|p| &*p.info.name == name)
    }

    fn set_pools(&mut self, pools: Vec<crate::config::Pool>) {
        for p in pools {
            let same = self.find(&p.name).filter(|&i| {
                let c = &self.pools[i].info.config;
                c.url == p.url
                    && c.username == p.username
                    && c.password == p.password
                    && c.mode == p.mode
            });
            if same.is_some() {
                continue;
            }
            let addr = match crate::config::parse_pool_url(&p.url) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(pool = %p.name, error = %e, "pool from the plan has a bad url; skipped");
                    continue;
                }
            };
            let index = self.pools.len();
            if let Some(old) = self.find(&p.name) {
                tracing::info!(pool = %p.name, "pool settings changed; reconnecting it");
                self.preference.retain(|&x| x != old);
                if self.active != Some(old) {
                    for u in self.pools[old].upstreams.load().iter() {
                        u.shutdown(self.params.timing.grace());
                    }
                    self.pools[old].upstreams.store(Arc::new(Vec::new()));
                }
            }
            self.pools.push(Arc::new(PoolRuntime {
                info: Arc::new(PoolInfo {
                    name: p.name.as_str().into(),
                    index,
                    addr,
                    username: p.username.clone(),
                    password: p.password.clone(),
                    mode: p.mode,
                    config: p,
                    stats: Default::default(),
                    learned_dialect: Default::default(),
                }),
                upstreams: ArcSwap::from_pointee(Vec::new()),
            }));
        }
    }

    fn prefer(&mut self, order: &[String]) {
        let mut pref = Vec::new();
        for name in order {
            match self.find(name) {
                Some(i) if !pref.contains(&i) => pref.push(i),
                Some(_) => {}
                None => tracing::warn!(pool = %name, "plan names an unknown pool; skipped"),
            }
        }
        if pref == self.preference {
            return;
        }
        tracing::info!(order = ?order, "pool preference changed");
        self.preference = pref;
        let Some(&first) = self.preference.first() else {
            return;
        };
        if let Some(active) = self.active {
            // A pool that is neither serving nor first stops retrying.
            self.drain_others(active);
        }
        self.ensure_connection(first);
        if self.pools[first].ready_upstream().is_some() {
            self.set_active(Some(first));
        } else if self
            .active
            .is_none_or(|a| self.pools[a].ready_upstream().is_none())
        {
            // Nothing serves: the first ready candidate if any. Only `first`
            // is connecting; a failure of it brings in the others.
            let next = self
                .preference
                .iter()
                .copied()
                .find(|&i| self.pools[i].ready_upstream().is_some());
            self.set_active(next);
        }
        // Otherwise the current pool keeps the hashrate until `first` is ready
        // (its Ready event switches at once).
    }

    fn on_event(&mut self, ev: UpstreamEvent) {
        if let Some(obs) = &self.observer {
            match &ev {
                UpstreamEvent::Ready { pool, .. } => obs(&self.pools[*pool].info.name, true, ""),
                UpstreamEvent::Failed { pool, error, .. } => {
                    obs(&self.pools[*pool].info.name, false, error)
                }
                UpstreamEvent::Down { .. } => {}
            }
        }
        match ev {
            UpstreamEvent::Ready { pool, .. } => {
                let better = self.active.is_none_or(|a| self.rank(pool) < self.rank(a));
                if better && self.rank(pool) != usize::MAX {
                    self.set_active(Some(pool));
                }
            }
            UpstreamEvent::Failed { pool, .. } | UpstreamEvent::Down { pool, .. } => {
                if self.active == Some(pool) && self.pools[pool].ready_upstream().is_none() {
                    let next = self
                        .preference
                        .iter()
                        .copied()
                        .find(|&i| i != pool && self.pools[i].ready_upstream().is_some());
                    if next.is_none() {
                        // Nothing is ready: start trying every candidate at once.
                        for i in self.preference.clone() {
                            self.ensure_connection(i);
                        }
                    }
                    self.set_active(next);
                } else if self.active.is_none()
                    || self.active.is_some_and(|a| self.rank(pool) < self.rank(a))
                {
                    // A preferred pool is down: make sure the next candidates are trying.
                    let upto = self
                        .active
                        .map_or(self.preference.len(), |a| self.rank(a).saturating_add(1));
                    for i in self
                        .preference
                        .iter()
                        .copied()
                        .take(upto)
                        .collect::<Vec<_>>()
                    {
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
            self.drain_others(active);
            if let Some(&first) = self.preference.first()
                && active != first
            {
                self.ensure_connection(first);
            }
        }
    }

    /// Keeps the preferred pool retrying (to return to it) and the active
    /// one; lets the others drain for the grace period, then close.
    fn drain_others(&self, active: usize) {
        let preferred = self.preference.first().copied();
        for (i, p) in self.pools.iter().enumerate() {
            if i != active && Some(i) != preferred && !p.upstreams.load().is_empty() {
                for u in p.upstreams.load().iter() {
                    u.shutdown(self.params.timing.grace());
                }
                p.upstreams.store(Arc::new(Vec::new()));
            }
        }
    }
}
