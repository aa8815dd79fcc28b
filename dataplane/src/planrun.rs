//! Carries out routing plans for one algorithm (design decision 3): applies
//! each new plan version to the router (the pools it names, the candidates in
//! order) and acknowledges it, then on its own clock pre-connects the next
//! pool `switch_lead` seconds before each switch and moves the hashrate at
//! the instant, so switches happen on time even when the control plane is
//! unreachable. A plan read back from disk after a restart is caught up: a
//! switch whose instant has passed takes effect at once.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use switchyard_proto::v1 as pb;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::config::{Pool, PoolMode};
use crate::router::RouterHandle;

/// Acknowledges a plan version (empty error when applied).
pub type Ack = Arc<dyn Fn(u64, String) + Send + Sync>;

/// The pools of `algorithm` a plan names, as data-plane pool settings.
/// Pools the data plane cannot use (TLS) are left out and named in the error.
pub fn pools(plan: &pb::RoutingPlan, algorithm: &str) -> (Vec<Pool>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in plan
        .pools
        .iter()
        .filter(|p| p.algorithm == algorithm && p.enabled)
    {
        if p.tls {
            errors.push(format!(
                "pool {}: TLS to pools is not supported by this data plane yet",
                p.name
            ));
            continue;
        }
        out.push(Pool {
            name: p.name.clone(),
            url: format!("stratum+tcp://{}:{}", p.host, p.port),
            username: p.username.clone(),
            password: p.password.clone(),
            mode: if p.mode == "passthrough" {
                PoolMode::Passthrough
            } else {
                PoolMode::Aggregate
            },
            enabled: true,
            buffer_percent: p.buffer_percent,
            min_difficulty: p.min_difficulty,
            max_difficulty: p.max_difficulty,
        });
    }
    (out, errors)
}

/// Where the hashrate of `a` goes at `now` by the plan: the last switch whose
/// instant has passed, else the plan's current pool.
pub fn current_at(a: &pb::AlgorithmPlan, now: DateTime<Utc>) -> String {
    let now_ms = now.timestamp_millis();
    a.switches
        .iter()
        .rev()
        .find(|s| s.at_unix_ms <= now_ms)
        .map_or_else(|| a.current_pool.clone(), |s| s.pool.clone())
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

/// Runs until `shutdown`.
pub async fn run(
    mut plans: watch::Receiver<Option<Arc<pb::RoutingPlan>>>,
    router: RouterHandle,
    algorithm: &'static str,
    ack: Ack,
    shutdown: CancellationToken,
) {
    let mut applied: u64 = 0;
    loop {
        let plan = plans.borrow_and_update().clone();
        let Some(plan) = plan else {
            tokio::select! {
                r = plans.changed() => if r.is_err() { return } else { continue },
                _ = shutdown.cancelled() => return,
            }
        };
        let Some(a) = plan
            .algorithms
            .iter()
            .find(|a| a.algorithm == algorithm)
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
        let now = clock::now();
        let current = current_at(&a, now);
        router.prefer(order(&a, &current)).await;
        if plan.version != applied {
            applied = plan.version;
            tracing::info!(version = plan.version, algorithm, pool = %current, "routing plan applied");
            ack(plan.version, errors.join("; "));
        }
        // The next switch still ahead, with its pre-connect instant.
        let now_ms = clock::now_ms();
        let next = a.switches.iter().find(|s| s.at_unix_ms > now_ms).cloned();
        let Some(next) = next else {
            tokio::select! {
                r = plans.changed() => if r.is_err() { return } else { continue },
                _ = shutdown.cancelled() => return,
            }
        };
        let at = clock::from_ms(next.at_unix_ms);
        let prepare_at = at - TimeDelta::seconds(i64::from(plan.switch_lead_s));
        if clock::now() < prepare_at {
            tokio::select! {
                r = plans.changed() => if r.is_err() { return } else { continue },
                _ = tokio::time::sleep(clock::until(prepare_at)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
        tracing::info!(algorithm, pool = %next.pool, at = %at, "connecting ahead of a switch");
        router.prepare(next.pool.clone()).await;
        tokio::select! {
            r = plans.changed() => if r.is_err() { return } else { continue },
            _ = tokio::time::sleep(clock::until(at)) => {
                tracing::info!(algorithm, to = %next.pool, reason = %next.reason, "scheduled switch");
                // The loop applies it: current_at(now) is now the switch's pool.
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algo() -> pb::AlgorithmPlan {
        pb::AlgorithmPlan {
            algorithm: "sha256".into(),
            current_pool: "btc".into(),
            scheduled_pool: "btc".into(),
            switches: vec![
                pb::Switch {
                    at_unix_ms: 1_000,
                    pool: "bch".into(),
                    reason: "schedule".into(),
                },
                pb::Switch {
                    at_unix_ms: 2_000,
                    pool: "btc".into(),
                    reason: "schedule".into(),
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
    fn tls_pools_are_left_out_and_named() {
        let plan = pb::RoutingPlan {
            pools: vec![
                pb::PoolSettings {
                    name: "a".into(),
                    algorithm: "sha256".into(),
                    host: "h".into(),
                    port: 1,
                    enabled: true,
                    ..Default::default()
                },
                pb::PoolSettings {
                    name: "b".into(),
                    algorithm: "sha256".into(),
                    host: "h".into(),
                    port: 2,
                    enabled: true,
                    tls: true,
                    ..Default::default()
                },
                pb::PoolSettings {
                    name: "c".into(),
                    algorithm: "randomx".into(),
                    host: "h".into(),
                    port: 3,
                    enabled: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let (p, errors) = pools(&plan, "sha256");
        assert_eq!(p.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a"]);
        assert_eq!(p[0].url, "stratum+tcp://h:1");
        assert!(errors[0].contains("pool b"));
    }
}
