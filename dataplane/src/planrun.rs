//! Carries out routing plans for one algorithm (design decision 3): applies
//! each new plan version to the router (the pools it names, the candidates in
//! order) and acknowledges it, then on its own clock pre-connects the next
//! pool `switch_lead` seconds before each switch and moves the hashrate at
//! the instant, so switches happen on time even when the control plane is
//! unreachable. A plan read back from disk after a restart is caught up: a
//! switch whose instant has passed takes effect at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use switchyard_proto::v1 as pb;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::config::Algorithm;
use crate::router::RouterHandle;

mod pools;
pub use pools::pools;

/// Acknowledges a plan version (empty error when applied).
pub type Ack = Arc<dyn Fn(u64, String) + Send + Sync>;

/// Where the hashrate of `a` goes at `now` by the plan: the last switch whose
/// instant has passed, else the plan's current pool.
pub fn current_at(a: &pb::AlgorithmPlan, now: DateTime<Utc>) -> String {
    target_at(a, now).pool
}

/// The pool the plan wants at `now`, and since when (the switch's instant;
/// 0 for the plan's current pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub pool: String,
    pub since_ms: i64,
}

/// See [`Target`].
pub fn target_at(a: &pb::AlgorithmPlan, now: DateTime<Utc>) -> Target {
    let now_ms = now.timestamp_millis();
    a.switches
        .iter()
        .rev()
        .find(|s| s.at_unix_ms <= now_ms)
        .map_or_else(
            || Target {
                pool: a.current_pool.clone(),
                since_ms: 0,
            },
            |s| Target {
                pool: s.pool.clone(),
                since_ms: s.at_unix_ms,
            },
        )
}

/// The candidates in order with `first` leading: then the plan's failover
/// list and its current pool; open breakers never.
pub fn order(a: &pb::AlgorithmPlan, first: &str) -> Vec<String> {
    let mut v = vec![first.to_string()];
    for p in a.failover.iter().chain(std::iter::once(&a.current_pool)) {
        if !v.contains(p) && !a.open_breakers.contains(p) {
            v.push(p.clone());
        }
    }
    if a.open_breakers.iter().any(|b| b == first) && v.len() > 1 {
        // The scheduled pool's breaker is open: it goes last, not first.
        let f = v.remove(0);
        v.push(f);
    }
    v
}

/// A switch target that has not taken the hashrate yet: after
/// `server_switch_timeout` of trying, the data plane gives up on it (the
/// hashrate stays where it is) until the plan changes or the next switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The plan version, the target and its instant: a new one retries.
    pub key: (u64, Target),
    pub deadline: tokio::time::Instant,
    pub gave_up: bool,
}

impl Attempt {
    /// Tracks `key`, keeping the running attempt if it is the same one.
    pub fn track(
        prev: Option<Attempt>,
        key: (u64, Target),
        timeout: Duration,
        now: tokio::time::Instant,
    ) -> Attempt {
        match prev {
            Some(a) if a.key == key => a,
            _ => Attempt {
                key,
                deadline: now + timeout,
                gave_up: false,
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

/// Runs until `shutdown`.
pub async fn run(
    mut plans: watch::Receiver<Option<Arc<pb::RoutingPlan>>>,
    router: RouterHandle,
    algorithm: Algorithm,
    ack: Ack,
    shutdown: CancellationToken,
) {
    let mut applied: u64 = 0;
    let mut attempt: Option<Attempt> = None;
    let mut route = router.route.clone();
    loop {
        let plan = plans.borrow_and_update().clone();
        let Some(plan) = plan else {
            tokio::select! {
                r = plans.changed() => if r.is_err() { return } else { continue },
                _ = shutdown.cancelled() => return,
            }
        };
        router
            .params
            .timing
            .set_grace(Duration::from_secs(u64::from(plan.grace_period_s)));
        let Some(a) = plan
            .algorithms
            .iter()
            .find(|a| a.algorithm == algorithm.to_wire() as i32)
            .cloned()
        else {
            if plan.version != applied {
                applied = plan.version;
                ack(plan.version, String::new());
            }
            tokio::select! {
                r = plans.changed() => if r.is_err() { return } else { continue },
                _ = shutdown.cancelled() => return,
            }
        };
        let (pool_list, errors) = pools(&plan, algorithm);
        router.set_pools(pool_list).await;
        let target = target_at(&a, clock::now());
        let timeout = Duration::from_secs(u64::from(plan.server_switch_timeout_s.max(1)));
        let att = Attempt::track(
            attempt.take(),
            (plan.version, target.clone()),
            timeout,
            tokio::time::Instant::now(),
        );
        router.prefer(att.apply(order(&a, &target.pool))).await;
        if plan.version != applied {
            applied = plan.version;
            tracing::info!(version = plan.version, %algorithm, pool = %target.pool, "routing plan applied");
            ack(plan.version, errors.join("; "));
        }
        let serving = |route: &watch::Receiver<Arc<crate::router::Route>>| {
            route
                .borrow()
                .pool
                .as_ref()
                .is_some_and(|p| *p.info.name == *target.pool)
        };
        // Until the target serves (or is given up), watch for its deadline.
        let deadline = (!att.gave_up && !serving(&route)).then_some(att.deadline);
        attempt = Some(att);
        let give_up = async {
            match deadline {
                Some(d) => {
                    tokio::time::sleep_until(d).await;
                    true
                }
                None => std::future::pending().await,
            }
        };
        // The next switch still ahead, with its pre-connect instant.
        let now_ms = clock::now_ms();
        let next = a.switches.iter().find(|s| s.at_unix_ms > now_ms).cloned();
        let prepare_at = next.as_ref().map(|n| {
            clock::from_ms(n.at_unix_ms) - TimeDelta::seconds(i64::from(plan.switch_lead_s))
        });
        let wake = async {
            match (&next, prepare_at) {
                (Some(next), Some(prepare_at)) => {
                    let at = clock::from_ms(next.at_unix_ms);
                    if clock::now() < prepare_at {
                        tokio::time::sleep(clock::until(prepare_at)).await;
                    }
                    tracing::info!(%algorithm, pool = %next.pool, at = %at, "connecting ahead of a switch");
                    router.prepare(next.pool.clone()).await;
                    tokio::time::sleep(clock::until(at)).await;
                    tracing::info!(%algorithm, to = %next.pool, reason = next.reason().label(), "scheduled switch");
                    // The loop applies it: target_at(now) is now the switch's pool.
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            r = plans.changed() => if r.is_err() { return },
            _ = wake => {}
            true = give_up => {
                if let Some(att) = attempt.as_mut()
                    && !serving(&route)
                {
                    tracing::warn!(
                        %algorithm,
                        pool = %target.pool,
                        timeout_s = timeout.as_secs(),
                        "switch given up: the pool did not become ready within server_switch_timeout; mining stays where it is"
                    );
                    att.gave_up = true;
                }
            }
            // Route changes need no action, but mark the route as seen.
            Ok(()) = route.changed(), if deadline.is_some() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algo() -> pb::AlgorithmPlan {
        pb::AlgorithmPlan {
            algorithm: pb::Algorithm::Sha256 as i32,
            current_pool: "btc".into(),
            scheduled_pool: "btc".into(),
            switches: vec![
                pb::Switch {
                    at_unix_ms: 1_000,
                    pool: "bch".into(),
                    reason: pb::SwitchReason::Schedule as i32,
                },
                pb::Switch {
                    at_unix_ms: 2_000,
                    pool: "btc".into(),
                    reason: pb::SwitchReason::Schedule as i32,
                },
            ],
            failover: vec!["bch".into(), "backup".into()],
            open_breakers: vec![],
            half_open: vec![],
            override_until_unix_ms: 0,
        }
    }

    #[test]
    fn a_plan_read_late_is_caught_up_to_the_last_passed_switch() {
        let a = algo();
        assert_eq!(current_at(&a, clock::from_ms(999)), "btc");
        assert_eq!(current_at(&a, clock::from_ms(1_000)), "bch");
        assert_eq!(current_at(&a, clock::from_ms(1_999)), "bch");
        assert_eq!(current_at(&a, clock::from_ms(5_000)), "btc");
    }

    #[test]
    fn candidates_follow_the_switch_then_failover_and_skip_open_breakers() {
        let mut a = algo();
        assert_eq!(order(&a, "bch"), ["bch", "backup", "btc"]);
        a.open_breakers = vec!["backup".into()];
        assert_eq!(order(&a, "btc"), ["btc", "bch"]);
        a.open_breakers = vec!["bch".into()];
        assert_eq!(
            order(&a, "bch"),
            ["backup", "btc", "bch"],
            "an open target goes last"
        );
    }

    #[test]
    fn the_target_names_its_switch_instant() {
        let a = algo();
        assert_eq!(
            target_at(&a, clock::from_ms(1_500)),
            Target {
                pool: "bch".into(),
                since_ms: 1_000
            }
        );
        assert_eq!(target_at(&a, clock::from_ms(10)).since_ms, 0);
    }

    #[test]
    fn a_switch_given_up_puts_its_target_last_until_the_plan_or_target_changes() {
        let now = tokio::time::Instant::now();
        let t = Duration::from_secs(900);
        let key = |v, pool: &str, at| {
            (
                v,
                Target {
                    pool: pool.into(),
                    since_ms: at,
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
