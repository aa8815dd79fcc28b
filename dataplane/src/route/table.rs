//! The route table of one algorithm: where the hashrate goes, decided from
//! inputs alone. It hears the plan, the upstreams' ready/failed/down events
//! and the time (given, never read: [`Now`]) and answers with [`Action`]s
//! for the route task to carry out: connect a pool, drain one, publish a
//! route, acknowledge a plan. Every rule of failover, return to the
//! preferred pool, pre-connecting ahead of a switch, the switch at its
//! instant and giving up a target that never comes up lives here, and is
//! unit-tested here without sockets or clocks.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::plan::{AlgoPlan, Attempt};

/// The time, as the caller read it: the wall clock in ms (schedules) and
/// the monotonic clock (deadlines, immune to clock jumps).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub wall_ms: i64,
    pub mono: Instant,
}

/// What the route task must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Have a connection to this pool (open one if it has none).
    Connect(usize),
    /// Close this pool's connections once the grace period is over.
    Drain(usize),
    /// The hashrate goes to this pool now (or nowhere).
    Route(Option<usize>),
    /// A plan version is applied; `error` names what of it could not be.
    Ack { version: u64, error: String },
    /// The weighted window in force changed: its pools (connected, kept
    /// while it lasts) and weights; empty when the hashrate goes to one pool.
    Split(Vec<(usize, u32)>),
}

/// A routing plan as the table reads it.
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub version: u64,
    /// This algorithm's part (none: the plan does not route it).
    pub algo: Option<AlgoPlan>,
    /// Pre-connect this long before a switch.
    pub lead_ms: i64,
    /// Keep trying a switch target this long before giving up on it.
    pub switch_timeout: Duration,
    /// What of the plan this data plane could not use (acknowledged).
    pub errors: Vec<String>,
}

#[derive(Debug)]
struct Slot {
    name: Arc<str>,
    /// Whether the pool has connections (connecting or up).
    connected: bool,
    /// Its connections that are ready, by upstream id.
    ready: Vec<u64>,
    /// Its connections, by upstream id (events of others are stale).
    upstreams: Vec<u64>,
}

/// A plan being followed.
#[derive(Debug)]
struct Following {
    plan: PlanInput,
    attempt: Option<Attempt>,
    /// The switch instant whose pool was pre-connected.
    prepared: Option<i64>,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    slots: Vec<Slot>,
    /// The candidates in order; standalone: the config's order.
    preference: Vec<usize>,
    active: Option<usize>,
    following: Option<Following>,
    applied: u64,
    /// The weighted window in force (pools and weights).
    split: Vec<(usize, u32)>,
    out: Vec<Action>,
}

impl RouteTable {
    /// A table for `pools`, preferred in that order (standalone mode).
    pub fn new(pools: &[Arc<str>]) -> RouteTable {
        let mut t = RouteTable::default();
        for name in pools {
            t.add(name.clone());
        }
        t.preference = (0..pools.len()).collect();
        t
    }

    /// Starts: connects the first candidate.
    pub fn start(&mut self) -> Vec<Action> {
        if let Some(&first) = self.preference.first() {
            self.connect(first);
        }
        self.take()
    }

    /// A new pool (or new settings of a known one: the old runtime retires).
    /// Returns its index.
    pub fn add(&mut self, name: Arc<str>) -> usize {
        self.slots.push(Slot {
            name,
            connected: false,
            ready: Vec::new(),
            upstreams: Vec::new(),
        });
        self.slots.len() - 1
    }

    /// The newest pool of that name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.slots.iter().rposition(|s| &*s.name == name)
    }

    /// A pool whose settings changed: out of the candidates, and drained
    /// unless it serves (then it drains when the route moves on).
    pub fn retire(&mut self, pool: usize) -> Vec<Action> {
        self.preference.retain(|&x| x != pool);
        if self.active != Some(pool) {
            self.drain(pool);
        }
        self.take()
    }

    /// The route task opened connection `upstream` for `pool`.
    pub fn spawned(&mut self, pool: usize, upstream: u64) {
        let s = &mut self.slots[pool];
        s.connected = true;
        s.upstreams.push(upstream);
    }

    pub fn active(&self) -> Option<usize> {
        self.active
    }

    /// Whether a pool has a ready connection.
    pub fn is_ready(&self, pool: usize) -> bool {
        self.slots.get(pool).is_some_and(|s| !s.ready.is_empty())
    }

    /// Why `pool` has the hashrate at `now_ms`: standalone, `initial` for
    /// the first pool of the config and `failover` for the others; with a
    /// plan, as the plan says ([`super::plan::AlgoPlan::why`]).
    pub fn why(&self, pool: usize, now_ms: i64) -> &'static str {
        match self.following.as_ref().and_then(|f| f.plan.algo.as_ref()) {
            Some(plan) => plan.why(&self.slots[pool].name, now_ms),
            None if self.preference.first() == Some(&pool) => "initial",
            None => "failover",
        }
    }

    /// A routing plan (a new version, or the same one again).
    pub fn on_plan(&mut self, plan: PlanInput, now: Now) -> Vec<Action> {
        let version = plan.version;
        let error = plan.errors.join("; ");
        let attempt = self.following.take().and_then(|f| f.attempt);
        self.following = Some(Following {
            plan,
            attempt,
            prepared: None,
        });
        self.follow(now);
        if version != self.applied {
            self.applied = version;
            self.out.push(Action::Ack { version, error });
        }
        self.take()
    }

    /// Time passed: pre-connect ahead of a switch, switch at its instant,
    /// give up a target that did not come up in time.
    pub fn on_tick(&mut self, now: Now) -> Vec<Action> {
        let serving = self.serving_target();
        let (mut refollow, mut prepare) = (false, None);
        if let Some(f) = self.following.as_mut() {
            if let Some(att) = f.attempt.as_mut()
                && !att.gave_up
                && !att.served
                && !serving
                && now.mono >= att.deadline
            {
                tracing::warn!(
                    pool = %att.key.1.pool,
                    timeout_s = f.plan.switch_timeout.as_secs(),
                    "switch given up: the pool did not become ready within server_switch_timeout; mining stays where it is"
                );
                att.gave_up = true;
                refollow = true;
            }
            if let Some(algo) = &f.plan.algo {
                if let Some(next) = algo.next_switch(now.wall_ms)
                    && f.prepared != Some(next.at_ms)
                    && now.wall_ms >= next.at_ms - f.plan.lead_ms
                {
                    f.prepared = Some(next.at_ms);
                    tracing::info!(pool = %next.pool, at_ms = next.at_ms, "connecting ahead of a switch");
                    let mut pools = vec![next.pool.clone()];
                    pools.extend(next.split.iter().map(|(p, _)| p.clone()));
                    prepare = Some(pools);
                }
                let target = algo.target_at(now.wall_ms);
                if f.attempt.as_ref().is_some_and(|a| a.key.1 != target) {
                    tracing::info!(to = %target.pool, "scheduled switch");
                    refollow = true;
                }
            }
        }
        let prepare: Vec<usize> = prepare
            .iter()
            .flatten()
            .filter_map(|p| self.find(p))
            .collect();
        for i in prepare {
            self.connect(i);
        }
        if refollow {
            self.follow(now);
        }
        self.take()
    }

    /// How long until [`RouteTable::on_tick`] has something to do.
    pub fn next_wake(&self, now: Now) -> Option<Duration> {
        let f = self.following.as_ref()?;
        let mut wake: Option<Duration> = None;
        let mut at = |d: Duration| wake = Some(wake.map_or(d, |w| w.min(d)));
        let ms = |t: i64| Duration::from_millis(t.saturating_sub(now.wall_ms).max(0) as u64);
        if let Some(algo) = &f.plan.algo
            && let Some(next) = algo.next_switch(now.wall_ms)
        {
            if f.prepared != Some(next.at_ms) {
                at(ms(next.at_ms - f.plan.lead_ms));
            }
            at(ms(next.at_ms));
        }
        if let Some(att) = &f.attempt
            && !att.gave_up
            && !att.served
            && !self.serving_target()
        {
            at(att.deadline.saturating_duration_since(now.mono));
        }
        wake
    }

    /// An upstream connection became ready.
    pub fn on_ready(&mut self, pool: usize, upstream: u64) -> Vec<Action> {
        let s = &mut self.slots[pool];
        if !s.upstreams.contains(&upstream) {
            return self.take(); // a drained connection's late news
        }
        if !s.ready.contains(&upstream) {
            s.ready.push(upstream);
        }
        let better = self.active.is_none_or(|a| self.rank(pool) < self.rank(a));
        if better && self.rank(pool) != usize::MAX {
            self.set_active(Some(pool));
        }
        self.take()
    }

    /// An upstream connection failed to connect or was lost.
    pub fn on_down(&mut self, pool: usize, upstream: u64) -> Vec<Action> {
        let s = &mut self.slots[pool];
        if !s.upstreams.contains(&upstream) {
            return self.take();
        }
        s.ready.retain(|&u| u != upstream);
        if self.active == Some(pool) && !self.ready(pool) {
            let next = self
                .preference
                .iter()
                .copied()
                .find(|&i| i != pool && self.ready(i));
            if next.is_none() {
                // Nothing is ready: start trying every candidate at once.
                for i in self.preference.clone() {
                    self.connect(i);
                }
            }
            self.set_active(next);
        } else if self.active.is_none_or(|a| self.rank(pool) < self.rank(a)) {
            // A preferred pool is down: make sure the next candidates are trying.
            let upto = self
                .active
                .map_or(self.preference.len(), |a| self.rank(a).saturating_add(1));
            for i in self.preference.clone().into_iter().take(upto) {
                self.connect(i);
            }
        }
        self.take()
    }

    fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    fn ready(&self, pool: usize) -> bool {
        !self.slots[pool].ready.is_empty()
    }

    /// Whether the plan's target has the hashrate.
    fn serving_target(&self) -> bool {
        let target = self
            .following
            .as_ref()
            .and_then(|f| f.attempt.as_ref())
            .map(|a| &a.key.1.pool);
        match (target, self.active) {
            (Some(t), Some(a)) => *self.slots[a].name == **t,
            _ => false,
        }
    }

    /// Applies the plan at `now`: the target, its attempt, the candidates.
    fn follow(&mut self, now: Now) {
        let Some(f) = self.following.as_mut() else {
            return;
        };
        let Some(algo) = &f.plan.algo else {
            return; // the plan does not route this algorithm: keep going
        };
        let target = algo.target_at(now.wall_ms);
        let att = Attempt::track(
            f.attempt.take(),
            (f.plan.version, target.clone()),
            f.plan.switch_timeout.max(Duration::from_secs(1)),
            now.mono,
        );
        let order = att.apply(algo.order(&target.pool));
        f.attempt = Some(att);
        let split = target.split;
        self.prefer(&order);
        self.set_split(&split);
        if self.serving_target()
            && let Some(att) = self.following.as_mut().and_then(|f| f.attempt.as_mut())
        {
            att.served = true;
        }
    }

    /// Sets the candidates in order; the first ready one gets the hashrate
    /// (at once if it is ready, else as soon as it is).
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
        self.connect(first);
        if self.ready(first) {
            self.set_active(Some(first));
        } else if self.active.is_none_or(|a| !self.ready(a)) {
            // Nothing serves: the first ready candidate if any. Only `first`
            // is connecting; a failure of it brings in the others.
            let next = self.preference.iter().copied().find(|&i| self.ready(i));
            self.set_active(next);
        }
        // Otherwise the current pool keeps the hashrate until `first` is
        // ready (its ready event switches at once).
    }

    /// The weighted window in force: its pools connect and stay connected.
    fn set_split(&mut self, split: &[(String, u32)]) {
        let mut members = Vec::new();
        for (name, weight) in split {
            match self.find(name) {
                Some(i) if !members.iter().any(|(m, _)| *m == i) => members.push((i, *weight)),
                Some(_) => {}
                None => tracing::warn!(pool = %name, "plan's split names an unknown pool; skipped"),
            }
        }
        if members.len() < 2 {
            members.clear();
        }
        if members == self.split {
            return;
        }
        self.split = members.clone();
        for (i, _) in &members {
            self.connect(*i);
        }
        if let Some(active) = self.active {
            self.drain_others(active);
        }
        self.out.push(Action::Split(members));
    }

    /// A pool's place in the preference order (`usize::MAX`: not a candidate).
    fn rank(&self, pool: usize) -> usize {
        self.preference
            .iter()
            .position(|&p| p == pool)
            .unwrap_or(usize::MAX)
    }

    fn connect(&mut self, pool: usize) {
        if !self.slots[pool].connected {
            self.slots[pool].connected = true;
            self.out.push(Action::Connect(pool));
        }
    }

    fn drain(&mut self, pool: usize) {
        let s = &mut self.slots[pool];
        if s.connected {
            s.connected = false;
            s.ready.clear();
            s.upstreams.clear();
            self.out.push(Action::Drain(pool));
        }
    }

    fn set_active(&mut self, pool: Option<usize>) {
        if pool == self.active {
            return;
        }
        self.active = pool;
        self.out.push(Action::Route(pool));
        if let Some(active) = pool {
            self.drain_others(active);
            if let Some(&first) = self.preference.first()
                && active != first
            {
                self.connect(first);
            }
            if self.serving_target()
                && let Some(att) = self.following.as_mut().and_then(|f| f.attempt.as_mut())
            {
                att.served = true;
            }
        }
    }

    /// Keeps the preferred pool retrying (to return to it) and the active
    /// one; lets the others drain for the grace period, then close.
    fn drain_others(&mut self, active: usize) {
        let preferred = self.preference.first().copied();
        for i in 0..self.slots.len() {
            let in_split = self.split.iter().any(|(m, _)| *m == i);
            if i != active && Some(i) != preferred && !in_split {
                self.drain(i);
            }
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
