//! The planner: turns each site's stored schedules, overrides, failover
//! order, enabled pools and breaker states into a versioned [`RoutingPlan`]
//! (pure computation in `switchyard_model::plan`), persists the version with
//! the switch events it decided, and publishes it on a watch channel per site
//! for the data planes' plan streams.
//!
//! It recomputes when something changed ([`Planner::refresh`], called after
//! every admin change and breaker transition) and, by timer, at the next
//! instant anything is due (a switch, an override's expiry, a breaker's
//! recovery), never by polling. A version is only bumped when the plan's
//! content changes, so versions mean something to operators.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use switchyard_model::DaySchedule;
use switchyard_model::plan::{self, AlgoInput, Override, SiteInput, SitePlan};
use switchyard_proto::v1 as pb;
use tokio::sync::{Mutex, Notify, watch};

use crate::breakers::Breakers;
use crate::clock;
use crate::convert;
use crate::store::{PoolRow, SiteRow, Store, StoreError, SwitchEvent};

#[derive(Debug, Clone)]
pub struct PlannerSettings {
    pub grace_period_s: u32,
    pub switch_lead_s: u32,
    pub horizon: Duration,
}

pub struct Planner {
    store: Store,
    breakers: Arc<Breakers>,
    settings: PlannerSettings,
    /// Serialises recomputations so versions and switch events stay in order.
    state: Mutex<State>,
    plans: std::sync::Mutex<HashMap<i64, watch::Sender<Arc<pb::RoutingPlan>>>>,
    wake: Notify,
    /// Recomputations of every site's plan, by cause: start, timer (a
    /// switch or boundary came), admin (a change through ctl), breaker.
    pub recomputes: switchyard_dataplane::telemetry::tally::Tally<&'static str>,
}

#[derive(Default)]
struct State {
    /// Where each (site, algorithm)'s hashrate went in the last plan.
    current: HashMap<(i64, String), String>,
    next: Option<DateTime<Utc>>,
}

impl Planner {
    pub fn new(store: Store, breakers: Arc<Breakers>, settings: PlannerSettings) -> Arc<Self> {
        Arc::new(Planner {
            store,
            breakers,
            settings,
            state: Mutex::new(State::default()),
            plans: std::sync::Mutex::new(HashMap::new()),
            wake: Notify::new(),
            recomputes: Default::default(),
        })
    }

    /// The plan stream of a site: the current plan at once, then each new one.
    pub async fn subscribe(
        &self,
        site_id: i64,
    ) -> Result<watch::Receiver<Arc<pb::RoutingPlan>>, StoreError> {
        if let Some(tx) = self
            .plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&site_id)
        {
            return Ok(tx.subscribe());
        }
        self.refresh().await?;
        let plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        plans
            .get(&site_id)
            .map(|tx| tx.subscribe())
            .ok_or_else(|| StoreError::NotFound(format!("site id {site_id}")))
    }

    /// The latest published plan of a site, if any.
    pub fn current(&self, site_id: i64) -> Option<Arc<pb::RoutingPlan>> {
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&site_id)
            .map(|tx| tx.borrow().clone())
    }

    /// Recomputes every site's plan now (after an admin change or a breaker
    /// transition) and re-arms the timer.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.refresh_because("admin").await
    }

    /// [`Planner::refresh`], counted under `cause`.
    pub async fn refresh_because(&self, cause: &'static str) -> Result<(), StoreError> {
        self.recompute_all(cause).await?;
        self.wake.notify_one();
        Ok(())
    }

    async fn recompute_all(&self, cause: &'static str) -> Result<(), StoreError> {
        self.recomputes.add(cause);
        let now = clock::now();
        let mut state = self.state.lock().await;
        self.breakers.tick(now).await?;
        let sites = self.store.sites().await?;
        // One read of the pools for every site.
        let pools = self.store.pools(None).await?;
        let mut next: Option<DateTime<Utc>> = None;
        for site in &sites {
            let due = self.recompute(&mut state, site, &pools, now).await?;
            next = min_opt(next, due);
        }
        // Removed sites: drop their senders, which ends their streams.
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| sites.iter().any(|s| s.id == *id));
        state.next = next;
        Ok(())
    }

    /// The plan computation for one site at `now`, with another horizon (for
    /// `ctl schedule preview`); nothing is stored or published.
    pub async fn preview(
        &self,
        site: &SiteRow,
        now: DateTime<Utc>,
        horizon: Duration,
    ) -> Result<SitePlan, StoreError> {
        let pools = site_pools(site, &self.store.pools(None).await?);
        let mut input = self.input(site, &pools).await?;
        input.horizon = horizon;
        Ok(plan::compute(&input, now))
    }

    /// The timer loop: sleeps until the next due instant and recomputes; a
    /// [`Planner::refresh`] elsewhere re-arms it. Ends when `shutdown` flips.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut compute = true;
        loop {
            if compute && let Err(e) = self.recompute_all("timer").await {
                tracing::error!(error = %e, "planner: cannot compute plans; retrying in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
            let next = self.state.lock().await.next;
            // At most an hour between recomputations, as a safety net.
            let cap = std::time::Duration::from_secs(3600);
            let wait = next.map_or(cap, |t| clock::until(t).min(cap));
            tokio::select! {
                _ = tokio::time::sleep(wait) => compute = true,
                // Someone else recomputed: only re-arm.
                _ = self.wake.notified() => compute = false,
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn recompute(
        &self,
        state: &mut State,
        site: &SiteRow,
        pools: &[PoolRow],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        // Pools granted to other sites only do not exist for this one: not
        // planned, not failover candidates, not in its plan (F1).
        let pools = &site_pools(site, pools);
        let input = self.input(site, pools).await?;
        let computed = plan::compute(&input, now);
        // Also wake at schedule boundaries that are not switches (during an
        // override, or to a disabled pool), so `scheduled_pool` stays true.
        let mut next_recompute = computed.next_recompute;
        for a in &input.algorithms {
            let after = now + Duration::milliseconds(1);
            let boundary = plan::boundaries(
                &a.schedule,
                input.timezone,
                after,
                after + Duration::days(2),
            )
            .first()
            .map(|(t, _)| *t);
            next_recompute = min_opt(next_recompute, boundary);
        }
        let mut msg = convert::routing_plan(site, &computed, pools, &self.settings);
        let digest = digest(&msg);
        let mut version = u64::try_from(site.plan_version).unwrap_or(0);

        let mut switches = Vec::new();
        for a in &computed.algorithms {
            let key = (site.id, a.algorithm.as_str().to_string());
            let before = match state.current.get(&key) {
                Some(p) => Some(p.clone()),
                None => self
                    .store
                    .switch_events(&site.name, a.algorithm.as_str(), 1)
                    .await?
                    .into_iter()
                    .next()
                    .map(|e| e.to_pool),
            };
            if before.as_deref() != Some(a.current.as_str()) {
                let reason = if before.is_none() {
                    "initial"
                } else if a.override_until.is_some() {
                    "override"
                } else if a.current != a.scheduled {
                    "failover"
                } else {
                    "schedule"
                };
                switches.push(SwitchEvent {
                    at_ms: now.timestamp_millis(),
                    site: site.name.clone(),
                    algorithm: a.algorithm.as_str().to_string(),
                    from_pool: before.unwrap_or_default(),
                    to_pool: a.current.clone(),
                    reason: reason.to_string(),
                });
            }
            state.current.insert(key, a.current.clone());
        }

        if site.plan_json.as_deref() != Some(digest.as_str()) || version == 0 {
            version += 1;
            self.store
                .save_plan(site.id, version as i64, &digest, &switches)
                .await?;
            for s in &switches {
                tracing::info!(site = %s.site, algorithm = %s.algorithm, from = %s.from_pool, to = %s.to_pool, reason = %s.reason, version, "hashrate switched");
            }
        } else if !switches.is_empty() {
            self.store
                .save_plan(site.id, version as i64, &digest, &switches)
                .await?;
        }
        msg.version = version;
        msg.generated_at_unix_ms = now.timestamp_millis();

        let msg = Arc::new(msg);
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        match plans.get(&site.id) {
            Some(tx) => {
                tx.send_if_modified(|cur| {
                    if cur.version != msg.version {
                        *cur = msg.clone();
                        true
                    } else {
                        false
                    }
                });
            }
            None => {
                plans.insert(site.id, watch::channel(msg).0);
            }
        }
        Ok(next_recompute)
    }

    /// Gathers a site's planning input from the store.
    async fn input(&self, site: &SiteRow, pools: &[PoolRow]) -> Result<SiteInput, StoreError> {
        let timezone = Tz::from_str(&site.timezone).unwrap_or(Tz::UTC);
        let by_algo = self.store.days(site.id).await?;
        let failover = self.store.failover(site.id).await?;
        let overrides = self.store.overrides(site.id).await?;
        let breakers = self.breakers.views(site.id).await;

        let mut algorithms = Vec::new();
        for (algo, slots) in by_algo {
            let schedule = match DaySchedule::new(&format!("site {} {algo}", site.name), slots) {
                Ok(s) => s,
                Err(problems) => {
                    tracing::error!(site = %site.name, %algo, problems = %switchyard_model::problem::render(&problems), "stored schedule is invalid; not planning it");
                    continue;
                }
            };
            let algo_pools: Vec<&PoolRow> = pools
                .iter()
                .filter(|p| p.algorithm == algo.as_str())
                .collect();
            algorithms.push(AlgoInput {
                algorithm: algo,
                schedule,
                override_: overrides
                    .iter()
                    .find(|o| o.algorithm == algo.as_str())
                    .map(|o| Override {
                        pool: o.pool.clone(),
                        until: clock::from_ms(o.until_ms),
                    }),
                failover: failover
                    .iter()
                    .filter(|(a, _)| a == algo.as_str())
                    .map(|(_, p)| p.clone())
                    .collect(),
                pools: algo_pools
                    .iter()
                    .filter(|p| p.enabled)
                    .map(|p| p.name.clone())
                    .collect(),
                breakers: breakers
                    .iter()
                    .filter(|(name, _)| algo_pools.iter().any(|p| &p.name == name))
                    .cloned()
                    .collect(),
            });
        }
        Ok(SiteInput {
            timezone,
            algorithms,
            horizon: self.settings.horizon,
        })
    }
}

/// The pools `site` may use.
fn site_pools(site: &SiteRow, pools: &[PoolRow]) -> Vec<PoolRow> {
    pools
        .iter()
        .filter(|p| p.sites.allows(&site.name))
        .cloned()
        .collect()
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A digest of a plan's content (without version and generation time).
fn digest(plan: &pb::RoutingPlan) -> String {
    use prost::Message;
    let mut p = plan.clone();
    p.version = 0;
    p.generated_at_unix_ms = 0;
    format!("sha256:{}", hex::encode(Sha256::digest(p.encode_to_vec())))
}
