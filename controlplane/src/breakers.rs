//! Runs the circuit breakers: one [`Breaker`] per (site, pool), fed by the
//! data planes' connect results, persisted on every change (with the
//! transition in `breaker_events`), loaded back at start. The planner reads
//! their views to keep open pools out of the plans.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use switchyard_model::breaker::{Breaker, BreakerSettings, BreakerState, Transition};
use switchyard_model::plan::BreakerView;
use tokio::sync::Mutex;

use crate::clock;
use crate::store::{BreakerRow, Store, StoreError, breakers::BreakerEvent};

struct Entry {
    site: String,
    pool: String,
    breaker: Breaker,
}

pub struct Breakers {
    store: Store,
    settings: BreakerSettings,
    map: Mutex<HashMap<(i64, i64), Entry>>,
    /// Transitions since this process started, by (site, pool, new state).
    pub transitions: switchyard_dataplane::telemetry::tally::Tally<(String, String, &'static str)>,
}

impl Breakers {
    /// Loads every persisted breaker.
    pub async fn load(store: Store, settings: BreakerSettings) -> Result<Self, StoreError> {
        let mut map = HashMap::new();
        for r in store.breakers(None).await? {
            let breaker = Breaker {
                state: r.state.parse().unwrap_or(BreakerState::Closed),
                consecutive_failures: u32::try_from(r.consecutive_failures).unwrap_or(0),
                successes: u32::try_from(r.successes).unwrap_or(0),
                changed_at: clock::from_ms(r.changed_ms),
                retry_at: r.retry_ms.map(clock::from_ms),
                last_error: r.last_error.clone(),
            };
            map.insert(
                (r.site_id, r.pool_id),
                Entry {
                    site: r.site,
                    pool: r.pool,
                    breaker,
                },
            );
        }
        Ok(Breakers {
            store,
            settings,
            map: Mutex::new(map),
            transitions: Default::default(),
        })
    }

    pub fn settings(&self) -> &BreakerSettings {
        &self.settings
    }

    /// Records one connect result; true when the breaker changed state.
    pub async fn record(
        &self,
        (site_id, site): (i64, &str),
        (pool_id, pool): (i64, &str),
        ok: bool,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.change((site_id, site), (pool_id, pool), now, |b, s| {
            b.record(ok, error, now, s)
        })
        .await
    }

    /// `ctl breaker open`.
    pub async fn force_open(
        &self,
        site: (i64, &str),
        pool: (i64, &str),
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.change(site, pool, now, |b, s| {
            b.force_open(now, s, "opened by operator")
                .into_iter()
                .collect()
        })
        .await
    }

    /// `ctl breaker reset`.
    pub async fn reset(
        &self,
        site: (i64, &str),
        pool: (i64, &str),
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.change(site, pool, now, |b, _| b.reset(now).into_iter().collect())
            .await
    }

    /// Moves open breakers whose recovery timeout passed to half-open; returns
    /// the sites whose breakers changed.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let mut map = self.map.lock().await;
        let mut changed = Vec::new();
        for ((site_id, pool_id), e) in map.iter_mut() {
            if let Some(t) = e.breaker.tick(now, &self.settings) {
                self.persist(*site_id, *pool_id, e, &[t]).await?;
                changed.push(*site_id);
            }
        }
        Ok(changed)
    }

    /// The pools of a site whose breaker is not closed, as plans see them.
    pub async fn views(&self, site_id: i64) -> Vec<(String, BreakerView)> {
        let map = self.map.lock().await;
        let mut v: Vec<(String, BreakerView)> = map
            .iter()
            .filter(|((s, _), _)| *s == site_id)
            .filter_map(|(_, e)| e.breaker.view().map(|view| (e.pool.clone(), view)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The earliest instant an open breaker half-opens.
    pub async fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.map
            .lock()
            .await
            .values()
            .filter_map(|e| e.breaker.next_deadline())
            .min()
    }

    /// Every breaker (optionally of one site), closed ones included when known.
    pub async fn list(&self, site_id: Option<i64>) -> Vec<BreakerRow> {
        let map = self.map.lock().await;
        let mut v: Vec<BreakerRow> = map
            .iter()
            .filter(|((s, _), _)| site_id.is_none_or(|id| id == *s))
            .map(|((s, p), e)| row(*s, *p, e))
            .collect();
        v.sort_by(|a, b| (&a.site, &a.pool).cmp(&(&b.site, &b.pool)));
        v
    }

    /// Forgets breakers of removed sites or pools (the database cascades).
    pub async fn forget(&self, site_id: Option<i64>, pool_id: Option<i64>) {
        self.map.lock().await.retain(|(s, p), _| {
            site_id.is_none_or(|id| id != *s) && pool_id.is_none_or(|id| id != *p)
        });
    }

    async fn change(
        &self,
        (site_id, site): (i64, &str),
        (pool_id, pool): (i64, &str),
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Breaker, &BreakerSettings) -> Vec<Transition>,
    ) -> Result<bool, StoreError> {
        let mut map = self.map.lock().await;
        let e = map.entry((site_id, pool_id)).or_insert_with(|| Entry {
            site: site.to_string(),
            pool: pool.to_string(),
            breaker: Breaker::new(now),
        });
        let before = e.breaker.clone();
        let transitions = f(&mut e.breaker, &self.settings);
        if e.breaker != before {
            self.persist(site_id, pool_id, e, &transitions).await?;
        }
        for t in &transitions {
            self.transitions.add((
                site.to_string(),
                pool.to_string(),
                match t.to.as_str() {
                    "half-open" => "half_open",
                    other => other,
                },
            ));
            tracing::warn!(site, pool, from = t.from.as_str(), to = t.to.as_str(), reason = %t.reason, "breaker");
        }
        Ok(!transitions.is_empty())
    }

    async fn persist(
        &self,
        site_id: i64,
        pool_id: i64,
        e: &Entry,
        transitions: &[Transition],
    ) -> Result<(), StoreError> {
        let r = row(site_id, pool_id, e);
        if transitions.is_empty() {
            return self.store.save_breaker(&r, None).await;
        }
        for t in transitions {
            let ev = BreakerEvent {
                at_ms: t.at.timestamp_millis(),
                from_state: t.from.as_str(),
                to_state: t.to.as_str(),
                reason: &t.reason,
            };
            self.store.save_breaker(&r, Some(ev)).await?;
        }
        Ok(())
    }
}

fn row(site_id: i64, pool_id: i64, e: &Entry) -> BreakerRow {
    BreakerRow {
        site_id,
        site: e.site.clone(),
        pool_id,
        pool: e.pool.clone(),
        state: e.breaker.state.as_str().to_string(),
        consecutive_failures: i64::from(e.breaker.consecutive_failures),
        successes: i64::from(e.breaker.successes),
        changed_ms: e.breaker.changed_at.timestamp_millis(),
        retry_ms: e.breaker.retry_at.map(|t| t.timestamp_millis()),
        last_error: e.breaker.last_error.clone(),
    }
}
