//! A routing plan as the route table reads it (design decision 3): one
//! algorithm's part ([`AlgoPlan`]: the pool now, the coming switches, the
//! failover order, open breakers) and a switch target being tried
//! ([`Attempt`]). Pure functions of the plan and the time given.

use std::time::Duration;

use switchyard_proto::v1 as pb;
use tokio::time::Instant;

use super::table::PlanInput;
use crate::config::Algorithm;

/// A switch of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchAt {
    pub at_ms: i64,
    pub pool: String,
    /// "schedule" or "override-ends".
    pub reason: String,
    /// A weighted window from then on: its pools and weights.
    pub split: Split,
}

/// A weighted window's pools and weights (empty: one pool has it all).
pub type Split = Vec<(String, u32)>;

fn split_of(w: &[pb::PoolWeight]) -> Split {
    w.iter().map(|p| (p.pool.clone(), p.weight)).collect()
}

/// One algorithm's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgoPlan {
    /// Where the hashrate goes when the plan was made.
    pub current_pool: String,
    /// The coming switches, in time order.
    pub switches: Vec<SwitchAt>,
    /// Where to go, in order, when the current pool fails.
    pub failover: Vec<String>,
    /// Pools not to connect to (breaker open).
    pub open_breakers: Vec<String>,
    /// The pool the schedule names at the plan's making.
    pub scheduled_pool: String,
    /// While a manual override is in force (0: none).
    pub override_until_ms: i64,
    /// The plan's current window, when weighted.
    pub split: Split,
}

/// The pool the plan wants at a time, and since when (the switch's
/// instant; 0 for the plan's current pool); under a weighted window,
/// `pool` is its heaviest and `split` the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub pool: String,
    pub since_ms: i64,
    pub split: Split,
}

impl AlgoPlan {
    pub fn from_pb(a: &pb::AlgorithmPlan) -> AlgoPlan {
        AlgoPlan {
            current_pool: a.current_pool.clone(),
            switches: a
                .switches
                .iter()
                .map(|s| SwitchAt {
                    at_ms: s.at_unix_ms,
                    pool: s.pool.clone(),
                    reason: s.reason().label().to_owned(),
                    split: split_of(&s.split),
                })
                .collect(),
            failover: a.failover.clone(),
            open_breakers: a.open_breakers.clone(),
            scheduled_pool: a.scheduled_pool.clone(),
            override_until_ms: a.override_until_unix_ms,
            split: split_of(&a.split),
        }
    }

    /// Where the hashrate goes at `now_ms` by the plan: the last switch
    /// whose instant has passed, else the plan's current pool (a plan read
    /// late, from disk after a restart, is caught up).
    pub fn target_at(&self, now_ms: i64) -> Target {
        self.switches
            .iter()
            .rev()
            .find(|s| s.at_ms <= now_ms)
            .map_or_else(
                || Target {
                    pool: self.current_pool.clone(),
                    since_ms: 0,
                    split: self.split.clone(),
                },
                |s| Target {
                    pool: s.pool.clone(),
                    since_ms: s.at_ms,
                    split: s.split.clone(),
                },
            )
    }

    /// Why `pool` has the hashrate at `now_ms` (the `reason` label of
    /// `switchyard_route_info`): the plan's target by its schedule, an
    /// override or the end of one; anything else is a failover.
    pub fn why(&self, pool: &str, now_ms: i64) -> &'static str {
        let target = self.target_at(now_ms);
        if target.pool != pool && !target.split.iter().any(|(p, _)| p == pool) {
            return "failover";
        }
        if target.since_ms > 0 {
            return "schedule";
        }
        if self.override_until_ms > now_ms {
            "override"
        } else if !self.scheduled_pool.is_empty() && self.scheduled_pool != pool {
            "failover"
        } else {
            "schedule"
        }
    }

    /// The next switch still ahead of `now_ms`.
    pub fn next_switch(&self, now_ms: i64) -> Option<&SwitchAt> {
        self.switches.iter().find(|s| s.at_ms > now_ms)
    }

    /// The candidates in order with `first` leading: then the failover list
    /// and the current pool; open breakers never (an open `first` goes last).
    pub fn order(&self, first: &str) -> Vec<String> {
        let mut v = vec![first.to_string()];
        for p in self
            .failover
            .iter()
            .chain(std::iter::once(&self.current_pool))
        {
            if !v.contains(p) && !self.open_breakers.contains(p) {
                v.push(p.clone());
            }
        }
        if self.open_breakers.iter().any(|b| b == first) && v.len() > 1 {
            let f = v.remove(0);
            v.push(f);
        }
        v
    }
}

impl PlanInput {
    /// `algorithm`'s part of `plan`, with what of it cannot be used.
    pub fn from_pb(plan: &pb::RoutingPlan, algorithm: Algorithm, errors: Vec<String>) -> PlanInput {
        PlanInput {
            version: plan.version,
            algo: plan
                .algorithms
                .iter()
                .find(|a| a.algorithm == algorithm.to_wire() as i32)
                .map(AlgoPlan::from_pb),
            lead_ms: i64::from(plan.switch_lead_s) * 1000,
            switch_timeout: Duration::from_secs(u64::from(plan.server_switch_timeout_s.max(1))),
            errors,
        }
    }
}

/// A switch target that has not taken the hashrate yet: after
/// `server_switch_timeout` of trying, the data plane gives up on it (the
/// hashrate stays where it is) until the plan changes or the next switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The plan version, the target and its instant: a new one retries.
    pub key: (u64, Target),
    pub deadline: Instant,
    pub gave_up: bool,
    /// The target had the hashrate: it is never given up (a later failure
    /// is failover, and the hashrate returns to it when it is back).
    pub served: bool,
}

impl Attempt {
    /// Tracks `key`, keeping the running attempt if it is the same one.
    pub fn track(
        prev: Option<Attempt>,
        key: (u64, Target),
        timeout: Duration,
        now: Instant,
    ) -> Attempt {
        match prev {
            Some(a) if a.key == key => a,
            _ => Attempt {
                key,
                deadline: now + timeout,
                gave_up: false,
                served: false,
            },
        }
    }

    /// The candidates with this attempt applied: a target given up goes last.
    pub fn apply(&self, mut order: Vec<String>) -> Vec<String> {
        if self.gave_up && order.len() > 1 && order[0] == self.key.1.pool {
            let f = order.remove(0);
            order.push(f);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algo() -> AlgoPlan {
        let switch = |at_ms, pool: &str| SwitchAt {
            at_ms,
            pool: pool.into(),
            reason: "schedule".into(),
            split: Vec::new(),
        };
        AlgoPlan {
            current_pool: "btc".into(),
            switches: vec![switch(1_000, "bch"), switch(2_000, "btc")],
            failover: vec!["bch".into(), "backup".into()],
            open_breakers: vec![],
            scheduled_pool: "btc".into(),
            override_until_ms: 0,
            split: Vec::new(),
        }
    }

    #[test]
    fn why_a_pool_has_the_hashrate() {
        let mut a = algo();
        assert_eq!(a.why("btc", 10), "schedule");
        assert_eq!(a.why("bch", 1_500), "schedule", "a switch's pool");
        assert_eq!(a.why("backup", 1_500), "failover");
        a.override_until_ms = 900;
        assert_eq!(a.why("btc", 10), "override");
        a.override_until_ms = 0;
        a.scheduled_pool = "bch".into();
        assert_eq!(
            a.why("btc", 10),
            "failover",
            "the scheduled pool's breaker is open"
        );
    }

    #[test]
    fn a_plan_read_late_is_caught_up_to_the_last_passed_switch() {
        let a = algo();
        assert_eq!(a.target_at(999).pool, "btc");
        assert_eq!(a.target_at(1_000).pool, "bch");
        assert_eq!(a.target_at(1_999).pool, "bch");
        assert_eq!(a.target_at(5_000).pool, "btc");
        assert_eq!(a.target_at(1_500).since_ms, 1_000);
        assert_eq!(a.target_at(10).since_ms, 0);
        assert_eq!(a.next_switch(1_000).map(|s| s.at_ms), Some(2_000));
        assert_eq!(a.next_switch(2_000), None);
    }

    #[test]
    fn candidates_follow_the_switch_then_failover_and_skip_open_breakers() {
        let mut a = algo();
        assert_eq!(a.order("bch"), ["bch", "backup", "btc"]);
        a.open_breakers = vec!["backup".into()];
        assert_eq!(a.order("btc"), ["btc", "bch"]);
        a.open_breakers = vec!["bch".into()];
        assert_eq!(
            a.order("bch"),
            ["backup", "btc", "bch"],
            "an open target goes last"
        );
    }

    #[test]
    fn a_switch_given_up_puts_its_target_last_until_the_plan_or_target_changes() {
        let now = Instant::now();
        let t = Duration::from_secs(900);
        let key = |v, pool: &str, at| {
            (
                v,
                Target {
                    pool: pool.into(),
                    since_ms: at,
                    split: Vec::new(),
                },
            )
        };
        let mut att = Attempt::track(None, key(3, "bch", 1_000), t, now);
        assert_eq!(att.deadline, now + t);
        let order = vec!["bch".to_string(), "backup".into(), "btc".into()];
        assert_eq!(att.apply(order.clone()), order, "still trying");
        att.gave_up = true;
        assert_eq!(att.apply(order.clone()), ["backup", "btc", "bch"]);

        // The same attempt seen again later keeps its deadline and verdict.
        let later = now + Duration::from_secs(5);
        let same = Attempt::track(Some(att.clone()), key(3, "bch", 1_000), t, later);
        assert_eq!(same, att);
        // A new plan version or a new switch starts a fresh attempt.
        let fresh = Attempt::track(Some(att.clone()), key(4, "bch", 1_000), t, later);
        assert!(!fresh.gave_up);
        assert_eq!(fresh.deadline, later + t);
        let next = Attempt::track(Some(att), key(3, "btc", 2_000), t, later);
        assert!(!next.gave_up);
        // A given-up target that is alone stays (nothing else to mine on).
        let mut alone = Attempt::track(None, key(1, "bch", 0), t, now);
        alone.gave_up = true;
        assert_eq!(alone.apply(vec!["bch".into()]), ["bch"]);
    }
}
