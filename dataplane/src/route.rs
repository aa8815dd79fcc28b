//! Where the hashrate goes, one component per algorithm: a pure
//! [`table::RouteTable`] that decides (failover, return to the preferred
//! pool, the plan's switches and their pre-connects, giving up a target),
//! and the route task ([`task`]) that owns the pools' upstream connections
//! and carries the table's decisions out. Sessions read the current route
//! from a watch channel; switching is publishing a new route.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::upstream::{self, PoolInfo, Status, UpstreamHandle, UpstreamParams};

pub mod plan;
pub mod pools;
pub mod split;
pub mod split_sim;
pub mod table;
mod task;
pub mod weighted;

pub use task::Plans;
use task::{RouteTask, RouterReq};

/// Acknowledges a plan version (empty error when applied).
pub type Ack = Arc<dyn Fn(u64, String) + Send + Sync>;

/// Called with each upstream connect result: (pool, ok, error).
pub type ConnectObserver = Arc<dyn Fn(&str, bool, &str) + Send + Sync>;

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
    /// Why this pool: `initial`, `schedule`, `override` or `failover`.
    pub reason: &'static str,
    /// When the route took this pool (unix ms; 0 before any).
    pub since_ms: i64,
    /// A weighted window in force: each miner's pool is its choice.
    pub split: Option<Arc<weighted::SplitRoute>>,
}

impl Route {
    /// The pool miner `conn` mines on: under a weighted window the split's
    /// choice while one of its pools is up, else the route's pool.
    pub fn pool_for(&self, conn: u64) -> Option<Arc<PoolRuntime>> {
        self.split
            .as_ref()
            .and_then(|s| s.pool_for(conn, crate::clock::now_ms()))
            .or_else(|| self.pool.clone())
    }
}

/// The pools a route task knows, newest settings last (for status).
pub type PoolList = Arc<ArcSwap<Vec<Arc<PoolRuntime>>>>;

/// What sessions hold of the route task.
#[derive(Clone)]
pub struct RouterHandle {
    pub route: watch::Receiver<Arc<Route>>,
    /// Every pool of the route task (a plan's pools appear as it names them).
    pub pools: PoolList,
    req_tx: mpsc::Sender<RouterReq>,
    pub params: UpstreamParams,
}

impl RouterHandle {
    /// A shared connection of `pool` with room for one more miner (aggregate mode).
    /// Retries when other sessions take the last slots first (many miners
    /// arriving at once); `None` only if the route task is gone.
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

/// Starts the route task for `pools` (in preference order), following
/// `plans` when the data plane has a control plane.
pub fn start(
    algorithm: crate::config::Algorithm,
    pools: Vec<Arc<PoolInfo>>,
    params: UpstreamParams,
    observer: Option<ConnectObserver>,
    plans: Option<Plans>,
    shutdown: CancellationToken,
) -> RouterHandle {
    let names: Vec<Arc<str>> = pools.iter().map(|p| p.name.clone()).collect();
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
        reason: "initial",
        since_ms: 0,
        split: None,
    }));
    let list: PoolList = Arc::new(ArcSwap::from_pointee(pools.clone()));
    let (req_tx, req_rx) = mpsc::channel(256);
    let (events_tx, events_rx) = mpsc::channel(1024);
    let params = UpstreamParams {
        events: Some(events_tx),
        ..params
    };
    let handle = RouterHandle {
        route: route_rx,
        pools: list.clone(),
        req_tx,
        params: params.clone(),
    };
    let task = RouteTask {
        algorithm,
        pools,
        table: table::RouteTable::new(&names),
        observer,
        params,
        route_tx,
        generation: 0,
        list,
        last_served: None,
        split: None,
        split_tick: None,
    };
    tokio::spawn(task.run(req_rx, events_rx, plans, shutdown));
    handle
}
