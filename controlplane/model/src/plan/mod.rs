//! Routing plans: from a site's schedules, manual overrides and breaker
//! states to what each algorithm's hashrate does now and at which UTC
//! instants it switches next (design decision 3). Pure: `now` is an argument.
//!
//! - `timeline`: schedule boundaries as UTC instants, with the DST rules
//!   ([`boundaries`], [`scheduled_pool_at`] are re-exported here).
//! - this module: the plan types and [`compute`].
//!
//! Routing rules, per algorithm:
//! - target = the active override's pool (until it expires), else the
//!   scheduled pool;
//! - a pool is *usable* when it is enabled (listed in `pools`) and its
//!   breaker is not open; a half-open pool is usable (trial connections);
//!   an `Open { until }` whose `until <= now` counts as half-open, as the
//!   breaker's own `tick` would make it;
//! - current = target if usable, else the first usable failover candidate,
//!   else the target if it is enabled, else the scheduled pool;
//! - a weighted window (issue 14) routes to its usable pools with their
//!   weights (`split`; a pool that is not usable gives its part to the
//!   others); `current` is then the heaviest of them. With one usable pool
//!   left it is a plain route to it, with none the failover rule applies;
//! - future switches apply the same rule with today's breaker view (the
//!   plan is recomputed at `next_recompute`, which includes breaker expiry).

mod timeline;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

pub use timeline::{boundaries, scheduled_pool_at};

use crate::algo::Algorithm;
use crate::schedule::{DaySchedule, PoolWeight, Slot};
use timeline::{clamp_instant, pool_at, timeline};

/// Plans always cover at least this much of the future.
pub const MIN_HORIZON: Duration = Duration::hours(24);
/// Longer horizons are cut to this.
pub const MAX_HORIZON: Duration = Duration::days(400);

/// A manual override: hashrate goes to `pool` until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub pool: String,
    pub until: DateTime<Utc>,
}

/// A pool's breaker as the plan sees it (closed breakers are not listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerView {
    Open { until: DateTime<Utc> },
    HalfOpen,
}

/// One algorithm of a site.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgoInput {
    pub algorithm: Algorithm,
    pub schedule: DaySchedule,
    /// Ignored when `until <= now`.
    pub override_: Option<Override>,
    /// Explicit failover order from the operator; the other enabled pools
    /// follow it in operator order.
    pub failover: Vec<String>,
    /// Every ENABLED pool of this algorithm, in operator order.
    pub pools: Vec<String>,
    /// Pools whose breaker is not closed.
    pub breakers: Vec<(String, BreakerView)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SiteInput {
    pub timezone: Tz,
    pub algorithms: Vec<AlgoInput>,
    /// Clamped to [`MIN_HORIZON`]..=[`MAX_HORIZON`].
    pub horizon: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchReason {
    Schedule,
    OverrideEnds,
}

impl SwitchReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchReason::Schedule => "schedule",
            SwitchReason::OverrideEnds => "override-ends",
        }
    }
}

impl std::fmt::Display for SwitchReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A planned switch of where the hashrate goes (`from` is the pool before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub at: DateTime<Utc>,
    pub local: DateTime<Tz>,
    pub from: String,
    pub to: String,
    /// The weighted pools from then on (empty: all to `to`).
    pub split: Vec<PoolWeight>,
    pub reason: SwitchReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgoPlan {
    pub algorithm: Algorithm,
    /// What the schedule says now.
    pub scheduled: String,
    /// Where the hashrate goes now (under a split, its heaviest pool).
    pub current: String,
    /// A weighted window's usable pools and weights, `current` among them;
    /// empty when all the hashrate goes to `current`.
    pub split: Vec<PoolWeight>,
    /// Every switch in `(now, now + horizon]`, in time order.
    pub switches: Vec<Switch>,
    /// Candidates in order: usable pools other than `current`.
    pub failover: Vec<String>,
    pub open_breakers: Vec<String>,
    pub half_open: Vec<String>,
    /// The active override's expiry.
    pub override_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePlan {
    pub algorithms: Vec<AlgoPlan>,
    /// The earliest of: the first switch, an override's expiry, an open
    /// breaker's `until`. `None` when nothing is due within the horizon.
    pub next_recompute: Option<DateTime<Utc>>,
}

/// Computes a site's plan at `now`.
pub fn compute(site: &SiteInput, now: DateTime<Utc>) -> SitePlan {
    let now = clamp_instant(now);
    let horizon = site.horizon.clamp(MIN_HORIZON, MAX_HORIZON);
    let end = now.checked_add_signed(horizon).map_or(now, clamp_instant);
    let algorithms: Vec<AlgoPlan> = site
        .algorithms
        .iter()
        .map(|a| plan_algo(a, site.timezone, now, end))
        .collect();
    let next_recompute = site
        .algorithms
        .iter()
        .zip(&algorithms)
        .flat_map(|(input, plan)| {
            let breakers = input.breakers.iter().filter_map(|(_, v)| match v {
                BreakerView::Open { until } if *until > now => Some(*until),
                _ => None,
            });
            plan.switches
                .first()
                .map(|s| s.at)
                .into_iter()
                .chain(plan.override_until)
                .chain(breakers)
        })
        .min();
    SitePlan {
        algorithms,
        next_recompute,
    }
}

/// Which pools are enabled and which are blocked, and the candidate order.
struct Pools<'a> {
    enabled: &'a [String],
    open: Vec<String>,
    candidates: Vec<&'a str>,
}

impl Pools<'_> {
    fn enabled(&self, pool: &str) -> bool {
        self.enabled.iter().any(|p| p == pool)
    }

    fn usable(&self, pool: &str) -> bool {
        self.enabled(pool) && !self.open.iter().any(|p| p == pool)
    }

    /// Where hashrate goes when `target` is wanted and `scheduled` is what
    /// the schedule says at that moment.
    fn route(&self, target: &str, scheduled: &str) -> String {
        if self.usable(target) {
            return target.to_string();
        }
        if let Some(c) = self
            .candidates
            .iter()
            .find(|c| **c != target && self.usable(c))
        {
            return c.to_string();
        }
        if self.enabled(target) {
            target
        } else {
            scheduled
        }
        .to_string()
    }

    /// Where a window's hashrate goes: (the pool, the split).
    fn route_slot(&self, slot: &Slot) -> (String, Vec<PoolWeight>) {
        let usable: Vec<PoolWeight> = slot
            .split
            .iter()
            .filter(|p| self.usable(&p.pool))
            .cloned()
            .collect();
        if usable.len() < 2 {
            let pool = usable.first().map_or(slot.pool.as_str(), |p| &p.pool);
            return (self.route(pool, pool), Vec::new());
        }
        // The heaviest; the first of equals.
        let heaviest = usable
            .iter()
            .rev()
            .max_by_key(|p| p.weight)
            .map(|p| p.pool.clone())
            .unwrap_or_default();
        (heaviest, usable)
    }
}

fn plan_algo(a: &AlgoInput, tz: Tz, now: DateTime<Utc>, end: DateTime<Utc>) -> AlgoPlan {
    let mut open_breakers: Vec<String> = Vec::new();
    let mut half_open: Vec<String> = Vec::new();
    for (pool, view) in &a.breakers {
        match view {
            BreakerView::Open { until } if *until > now => push_unique(&mut open_breakers, pool),
            _ => push_unique(&mut half_open, pool),
        }
    }
    half_open.retain(|p| !open_breakers.contains(p));

    let mut candidates: Vec<&str> = Vec::new();
    for pool in a.failover.iter().chain(&a.pools) {
        if a.pools.contains(pool) && !candidates.contains(&pool.as_str()) {
            candidates.push(pool);
        }
    }
    let pools = Pools {
        enabled: &a.pools,
        open: open_breakers.clone(),
        candidates,
    };

    let line = timeline(&a.schedule, tz, now, end);
    let slot = pool_at(&line, &a.schedule, now);
    let scheduled = slot.pool.as_str();
    let active = a.override_.as_ref().filter(|o| o.until > now);
    let (current, split) = match active {
        Some(o) => (pools.route(&o.pool, scheduled), Vec::new()),
        None => pools.route_slot(slot),
    };

    let mut switches = Vec::new();
    let mut before = (current.clone(), split.clone());
    let mut push = |at: DateTime<Utc>, to: (String, Vec<PoolWeight>), reason: SwitchReason| {
        if to != before {
            let from = std::mem::replace(&mut before, to.clone()).0;
            switches.push(Switch {
                at,
                local: at.with_timezone(&tz),
                from,
                to: to.0,
                split: to.1,
                reason,
            });
        }
    };
    let mut next = line.partition_point(|(t, _)| *t <= now);
    if let Some(o) = active {
        // Boundaries before the expiry are not switches; one at the expiry
        // instant is folded into the override's end.
        next = line.partition_point(|(t, _)| *t <= o.until);
        if o.until <= end {
            let slot = pool_at(&line, &a.schedule, o.until);
            push(o.until, pools.route_slot(slot), SwitchReason::OverrideEnds);
        }
    }
    for (at, slot) in line.iter().skip(next).take_while(|(t, _)| *t <= end) {
        push(*at, pools.route_slot(slot), SwitchReason::Schedule);
    }

    let failover = pools
        .candidates
        .iter()
        .filter(|c| **c != current && pools.usable(c))
        .map(|c| c.to_string())
        .collect();
    AlgoPlan {
        algorithm: a.algorithm,
        scheduled: scheduled.to_string(),
        current,
        split,
        switches,
        failover,
        open_breakers,
        half_open,
        override_until: active.map(|o| o.until),
    }
}

fn push_unique(list: &mut Vec<String>, pool: &str) {
    if !list.iter().any(|p| p == pool) {
        list.push(pool.to_string());
    }
}
