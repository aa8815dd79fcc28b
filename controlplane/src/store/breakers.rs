//! Circuit breaker state per (site, pool), and the log of its transitions.

use super::{Result, Store};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BreakerRow {
    pub site_id: i64,
    pub site: String,
    pub pool_id: i64,
    pub pool: String,
    pub state: String,
    pub consecutive_failures: i64,
    pub successes: i64,
    pub changed_ms: i64,
    pub retry_ms: Option<i64>,
    pub last_error: String,
}

/// A transition to record with the new state.
#[derive(Debug, Clone)]
pub struct BreakerEvent<'a> {
    pub at_ms: i64,
    pub from_state: &'a str,
    pub to_state: &'a str,
    pub reason: &'a str,
}

impl Store {
    /// Every stored breaker (of one site, or all), by site and pool name.
    pub async fn breakers(&self, site_id: Option<i64>) -> Result<Vec<BreakerRow>> {
        Ok(sqlx::query_as(
            "SELECT b.site_id, s.name AS site, b.pool_id, p.name AS pool, b.state, b.consecutive_failures, \
             b.successes, b.changed_ms, b.retry_ms, b.last_error FROM breakers b \
             JOIN sites s ON s.id = b.site_id JOIN pools p ON p.id = b.pool_id \
             WHERE ?1 IS NULL OR b.site_id = ?1 ORDER BY s.name, p.name",
        )
        .bind(site_id)
        .fetch_all(&self.read)
        .await?)
    }

    /// Persists a breaker's state and, when it changed, the transition, in
    /// one transaction: a restart finds exactly what was decided.
    pub async fn save_breaker(
        &self,
        row: &BreakerRow,
        event: Option<BreakerEvent<'_>>,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO breakers (site_id, pool_id, state, consecutive_failures, successes, changed_ms, retry_ms, last_error) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, pool_id) DO UPDATE SET state = excluded.state, \
             consecutive_failures = excluded.consecutive_failures, successes = excluded.successes, \
             changed_ms = excluded.changed_ms, retry_ms = excluded.retry_ms, last_error = excluded.last_error",
        )
        .bind(row.site_id)
        .bind(row.pool_id)
        .bind(&row.state)
        .bind(row.consecutive_failures)
        .bind(row.successes)
        .bind(row.changed_ms)
        .bind(row.retry_ms)
        .bind(&row.last_error)
        .execute(&mut *tx)
        .await?;
        if let Some(e) = event {
            sqlx::query(
                "INSERT INTO breaker_events (at_ms, site, pool, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(e.at_ms)
            .bind(&row.site)
            .bind(&row.pool)
            .bind(e.from_state)
            .bind(e.to_state)
            .bind(e.reason)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Transitions of one site and pool, oldest first: (at_ms, from, to, reason).
    pub async fn breaker_events(
        &self,
        site: &str,
        pool: &str,
    ) -> Result<Vec<(i64, String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT at_ms, from_state, to_state, reason FROM breaker_events WHERE site = ? AND pool = ? ORDER BY id",
        )
        .bind(site)
        .bind(pool)
        .fetch_all(&self.read)
        .await?)
    }
}
