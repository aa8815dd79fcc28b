//! The route task of one algorithm: owns the pools' runtimes and their
//! shared upstream connections, feeds the [`RouteTable`] with the plan,
//! the upstreams' events and the time, and carries out its actions (open
//! and drain connections, publish the route, acknowledge plans). Sessions
//! ask it for more capacity when every shared connection of a pool is full.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use switchyard_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::pools::{self, PlanPool};
use super::split::Tuning;
use super::table::{Action, Now, PlanInput, RouteTable};
use super::weighted::SplitRoute;
use super::{Ack, ConnectObserver, PoolRuntime, Route};
use crate::clock;
use crate::config::{Algorithm, PoolMode};
use crate::upstream::{self, PoolInfo, UpstreamEvent, UpstreamHandle, UpstreamParams};

pub(super) enum RouterReq {
    /// Every shared connection of this pool is full: open another.
    NeedCapacity {
        pool: usize,
        reply: oneshot::Sender<Arc<UpstreamHandle>>,
    },
}

/// Routing plans for this algorithm, and how to acknowledge them.
pub struct Plans {
    pub plans: watch::Receiver<Option<Arc<pb::RoutingPlan>>>,
    pub algorithm: Algorithm,
    pub ack: Ack,
}

pub(super) struct RouteTask {
    pub algorithm: Algorithm,
    pub pools: Vec<Arc<PoolRuntime>>,
    pub table: RouteTable,
    pub observer: Option<ConnectObserver>,
    pub params: UpstreamParams,
    pub route_tx: watch::Sender<Arc<Route>>,
    pub generation: u64,
    /// The pools as status shows them (kept equal to `pools`).
    pub list: super::PoolList,
    /// The last pool that had the route (a failover may pass through none).
    pub last_served: Option<Arc<str>>,
    /// The weighted window in force, and its next rebalance.
    pub split: Option<Arc<SplitRoute>>,
    pub split_tick: Option<tokio::time::Instant>,
}

fn now() -> Now {
    Now {
        wall_ms: clock::now_ms(),
        mono: tokio::time::Instant::now(),
    }
}

impl RouteTask {
    pub async fn run(
        mut self,
        mut req_rx: mpsc::Receiver<RouterReq>,
        mut events_rx: mpsc::Receiver<UpstreamEvent>,
        mut plans: Option<Plans>,
        shutdown: CancellationToken,
    ) {
        let start = self.table.start();
        self.carry_out(start, None);
        if let Some(p) = plans.as_mut() {
            p.plans.mark_changed();
        }
        loop {
            // The table counts in whole ms; take off the part of the current
            // ms already gone so that a switch wakes at its instant, not up
            // to 1 ms after it.
            let t = clock::now();
            let n = Now {
                wall_ms: t.timestamp_millis(),
                mono: tokio::time::Instant::now(),
            };
            let gone = Duration::from_nanos(u64::from(t.timestamp_subsec_nanos() % 1_000_000));
            let wake = self.table.next_wake(n).map(|d| d.saturating_sub(gone));
            let sleep = async {
                match wake {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let split_tick = self.split_tick;
            let rebalance = async {
                match split_tick {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let changed = async {
                match plans.as_mut() {
                    Some(p) => p.plans.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(req) = req_rx.recv() => match req {
                    RouterReq::NeedCapacity { pool, reply } => {
                        let u = self.open_more(pool);
                        let _ = reply.send(u);
                    }
                },
                Some(ev) = events_rx.recv() => self.on_event(ev),
                open = changed => {
                    if !open {
                        plans = None; // the link is gone; keep the last plan's course
                        continue;
                    }
                    if let Some(p) = plans.as_mut() {
                        let plan = p.plans.borrow_and_update().clone();
                        if let Some(plan) = plan {
                            self.on_plan(&plan, p.algorithm, &p.ack);
                        }
                    }
                }
                () = sleep => {
                    let actions = self.table.on_tick(now());
                    self.carry_out(actions, None);
                }
                () = rebalance => self.rebalance(),
            }
        }
        for p in &self.pools {
            for u in p.upstreams.load().iter() {
                u.shutdown(Duration::from_secs(2));
            }
        }
    }

    fn on_plan(&mut self, plan: &pb::RoutingPlan, algorithm: Algorithm, ack: &Ack) {
        self.params
            .timing
            .set_grace(Duration::from_secs(u64::from(plan.grace_period_s)));
        let (pools, errors) = pools::pools(plan, algorithm);
        for p in pools {
            self.add_pool(p);
        }
        let input = PlanInput::from_pb(plan, algorithm, errors);
        if input.algo.is_some() {
            tracing::debug!(version = plan.version, %algorithm, "routing plan read");
        }
        let actions = self.table.on_plan(input, now());
        self.carry_out(actions, Some((algorithm, ack)));
    }

    /// A pool the plan names: new, unchanged, or with new settings (a new
    /// runtime; the old one drains unless it serves).
    fn add_pool(&mut self, p: PlanPool) {
        let same = self.table.find(&p.pool.name).filter(|&i| {
            let c = &self.pools[i].info;
            c.addr == p.addr
                && c.username == p.pool.username
                && c.password == p.pool.password
                && c.mode == p.pool.mode
        });
        if same.is_some() {
            return;
        }
        if let Some(old) = self.table.find(&p.pool.name) {
            tracing::info!(pool = %p.pool.name, "pool settings changed; reconnecting it");
            let actions = self.table.retire(old);
            self.carry_out(actions, None);
        }
        let index = self.table.add(p.pool.name.as_str().into());
        debug_assert_eq!(index, self.pools.len());
        self.pools.push(Arc::new(PoolRuntime {
            info: Arc::new(PoolInfo {
                name: p.pool.name.as_str().into(),
                index,
                addr: p.addr,
                username: p.pool.username.clone(),
                password: p.pool.password.clone(),
                mode: p.pool.mode,
                config: p.pool,
                stats: Default::default(),
                learned_dialect: Default::default(),
            }),
            upstreams: ArcSwap::from_pointee(Vec::new()),
        }));
        self.list.store(Arc::new(self.pools.clone()));
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
        let (actions, pool) = match ev {
            UpstreamEvent::Ready { upstream, pool } => (self.table.on_ready(pool, upstream), pool),
            UpstreamEvent::Failed { upstream, pool, .. }
            | UpstreamEvent::Down { upstream, pool, .. } => {
                (self.table.on_down(pool, upstream), pool)
            }
        };
        self.carry_out(actions, None);
        // A pool of the window down gives its part (and its miners) to the
        // others at once; one back takes miners again.
        if let Some(split) = &self.split
            && split.set_up(pool, self.table.is_ready(pool))
        {
            split.rebalance(clock::now_ms());
            self.republish();
        }
    }

    /// When the next rebalance is due (none without a window).
    fn next_rebalance(&self) -> Option<tokio::time::Instant> {
        let tick = Duration::from_millis(Tuning::default().tick_ms as u64);
        self.split
            .as_ref()
            .map(|_| tokio::time::Instant::now() + tick)
    }

    /// The periodic rebalance of the weighted window.
    fn rebalance(&mut self) {
        self.split_tick = self.next_rebalance();
        if let Some(split) = &self.split
            && split.rebalance(clock::now_ms()) > 0
        {
            self.republish();
        }
    }

    /// A new weighted window (or none): the sessions choose again.
    fn set_split(&mut self, members: Vec<(usize, u32)>) {
        let split = (!members.is_empty()).then(|| {
            let pools = members
                .iter()
                .map(|(i, _)| self.pools[*i].clone())
                .collect();
            let weights = members.iter().map(|(_, w)| *w).collect();
            let split = Arc::new(SplitRoute::new(pools, weights));
            for (i, _) in &members {
                split.set_up(*i, self.table.is_ready(*i));
            }
            split
        });
        if let Some(t) = self.params.share_events.telemetry() {
            t.splits.set(self.algorithm, split.clone());
        }
        let names: Vec<String> = members
            .iter()
            .map(|(i, w)| format!("{}:{w}", self.pools[*i].info.name))
            .collect();
        tracing::info!(algorithm = %self.algorithm, split = %names.join(","), "weighted window");
        self.split = split;
        self.split_tick = self.next_rebalance();
        self.republish();
    }

    /// The same route again with the split's new choices: each session
    /// asks for its pool, and those moved switch (not a schedule switch).
    fn republish(&mut self) {
        self.generation += 1;
        let cur = self.route_tx.borrow().clone();
        self.route_tx.send_replace(Arc::new(Route {
            generation: self.generation,
            split: self.split.clone(),
            ..Route::clone(&cur)
        }));
    }

    fn carry_out(&mut self, actions: Vec<Action>, plan: Option<(Algorithm, &Ack)>) {
        for a in actions {
            match a {
                Action::Connect(pool) => {
                    // The table's "connected" is "has connections": every
                    // connection opened is reported to it, every drain empties.
                    let capacity = match self.pools[pool].info.mode {
                        PoolMode::Aggregate => self.params.capacity,
                        PoolMode::Passthrough => 0,
                    };
                    let u = self.spawn_upstream(pool, capacity);
                    self.table.spawned(pool, u.id);
                    self.pools[pool].upstreams.store(Arc::new(vec![u]));
                }
                Action::Drain(pool) => {
                    let p = &self.pools[pool];
                    for u in p.upstreams.load().iter() {
                        u.shutdown(self.params.timing.grace());
                    }
                    p.upstreams.store(Arc::new(Vec::new()));
                }
                Action::Route(pool) => self.publish(pool),
                Action::Split(members) => self.set_split(members),
                Action::Ack { version, error } => {
                    if let Some((algorithm, ack)) = plan {
                        let pool = self.table.active().map(|i| self.pools[i].info.name.clone());
                        tracing::info!(
                            version,
                            %algorithm,
                            pool = pool.as_deref().unwrap_or("-"),
                            "routing plan applied"
                        );
                        ack(version, error);
                    }
                }
            }
        }
    }

    fn publish(&mut self, pool: Option<usize>) {
        let from = self
            .route_tx
            .borrow()
            .pool
            .as_ref()
            .map(|p| p.info.name.clone());
        self.generation += 1;
        let rt = pool.map(|i| self.pools[i].clone());
        let now = clock::now_ms();
        let reason = pool.map_or("failover", |i| self.table.why(i, now));
        let to = rt.as_ref().map(|p| p.info.name.clone());
        tracing::info!(
            from = from.as_deref().unwrap_or("-"),
            to = to.as_deref().unwrap_or("-"),
            reason,
            generation = self.generation,
            "route changed"
        );
        let switched = match (&self.last_served, &to) {
            (Some(last), Some(to)) => last != to,
            _ => false,
        };
        if to.is_some() {
            self.last_served.clone_from(&to);
        }
        if let (true, Some(t)) = (switched, self.params.share_events.telemetry()) {
            t.switches.add((self.algorithm, reason));
            let miners = t.miners.connected_of(self.algorithm);
            t.fanout.begin(self.algorithm, self.generation, miners);
        }
        self.route_tx.send_replace(Arc::new(Route {
            generation: self.generation,
            pool: rt,
            reason,
            since_ms: now,
            split: self.split.clone(),
        }));
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

    fn open_more(&mut self, pool: usize) -> Arc<UpstreamHandle> {
        let rt = self.pools[pool].clone();
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
        self.table.spawned(pool, u.id);
        u
    }
}
