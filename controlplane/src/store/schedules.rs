//! Per-site, per-algorithm schedules (whole days replaced atomically; a
//! weighted window is one row per pool), failover order and manual
//! overrides.

use std::collections::BTreeMap;
use std::str::FromStr;

use switchyard_model::schedule::push_part;
use switchyard_model::{Algorithm, Slot, TimeOfDay};

use super::{Result, Store, now_ms};

/// One stored pool of a slot, with the pool's name.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SlotRow {
    pub site_id: i64,
    pub algorithm: String,
    pub start_min: i64,
    pub end_min: i64,
    pub pool: String,
    /// 0: the slot is this pool alone; else its weight in the window.
    pub weight: i64,
}

/// One pool of a slot to store: (pool id, start minute, end minute,
/// weight; 0 for a slot of one pool).
pub type SlotEntry = (i64, i64, i64, u32);

/// A site's stored rows as its days: the rows of one start are one window,
/// in written order. Rows that no longer read (an unknown algorithm, a
/// minute out of range) are skipped; the day's own validation says the rest.
pub fn windows(rows: &[SlotRow]) -> BTreeMap<Algorithm, Vec<Slot>> {
    let mut out: BTreeMap<Algorithm, Vec<Slot>> = BTreeMap::new();
    let tod = |m: i64| u16::try_from(m).ok().and_then(TimeOfDay::from_minutes);
    for r in rows {
        let (Ok(algo), Some(start), Some(end)) = (
            Algorithm::from_str(&r.algorithm),
            tod(r.start_min),
            tod(r.end_min),
        ) else {
            continue;
        };
        let weight = u32::try_from(r.weight).unwrap_or(0);
        push_part(out.entry(algo).or_default(), &r.pool, weight, start, end);
    }
    out
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OverrideRow {
    pub site_id: i64,
    pub algorithm: String,
    pub pool: String,
    pub until_ms: i64,
}

impl Store {
    /// Replaces a site's whole day for one algorithm with `slots` (already
    /// validated), naming pools.
    pub async fn set_day(&self, site_id: i64, algorithm: &str, slots: &[Slot]) -> Result<()> {
        let mut rows = Vec::new();
        for s in slots {
            let (start, end) = (i64::from(s.start.minutes()), i64::from(s.end.minutes()));
            if s.split.is_empty() {
                rows.push((self.pool(&s.pool).await?.id, start, end, 0));
            }
            for p in &s.split {
                rows.push((self.pool(&p.pool).await?.id, start, end, p.weight.max(1)));
            }
        }
        self.set_schedule(site_id, algorithm, &rows).await
    }

    /// Replaces a site's whole day for one algorithm in one transaction.
    /// `slots` are already validated; a window's pools in written order.
    pub async fn set_schedule(
        &self,
        site_id: i64,
        algorithm: &str,
        slots: &[SlotEntry],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM schedule_entries WHERE site_id = ? AND algorithm = ?")
            .bind(site_id)
            .bind(algorithm)
            .execute(&mut *tx)
            .await?;
        for (position, (pool_id, start, end, weight)) in slots.iter().enumerate() {
            sqlx::query(
                "INSERT INTO schedule_entries (site_id, algorithm, start_min, end_min, pool_id, weight, position) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(site_id)
            .bind(algorithm)
            .bind(start)
            .bind(end)
            .bind(pool_id)
            .bind(i64::from(*weight))
            .bind(position as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every slot's pools of a site (all algorithms), by algorithm, start,
    /// then written order.
    pub async fn schedule(&self, site_id: i64) -> Result<Vec<SlotRow>> {
        Ok(sqlx::query_as(
            "SELECT e.site_id, e.algorithm, e.start_min, e.end_min, p.name AS pool, e.weight \
             FROM schedule_entries e JOIN pools p ON p.id = e.pool_id WHERE e.site_id = ? \
             ORDER BY e.algorithm, e.start_min, e.position",
        )
        .bind(site_id)
        .fetch_all(&self.read)
        .await?)
    }

    /// A site's days, per algorithm ([`windows`] of [`Store::schedule`]).
    pub async fn days(&self, site_id: i64) -> Result<BTreeMap<Algorithm, Vec<Slot>>> {
        Ok(windows(&self.schedule(site_id).await?))
    }

    /// Replaces the failover order of a site and algorithm.
    pub async fn set_failover(
        &self,
        site_id: i64,
        algorithm: &str,
        pool_ids: &[i64],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM failover_order WHERE site_id = ? AND algorithm = ?")
            .bind(site_id)
            .bind(algorithm)
            .execute(&mut *tx)
            .await?;
        for (i, id) in pool_ids.iter().enumerate() {
            sqlx::query("INSERT INTO failover_order (site_id, algorithm, position, pool_id) VALUES (?, ?, ?, ?)")
                .bind(site_id)
                .bind(algorithm)
                .bind(i as i64)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The failover order of a site: (algorithm, pool name) by position.
    pub async fn failover(&self, site_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT f.algorithm, p.name FROM failover_order f JOIN pools p ON p.id = f.pool_id \
             WHERE f.site_id = ? ORDER BY f.algorithm, f.position",
        )
        .bind(site_id)
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn set_override(
        &self,
        site_id: i64,
        algorithm: &str,
        pool_id: i64,
        until_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO overrides (site_id, algorithm, pool_id, until_ms, created_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (site_id, algorithm) DO UPDATE SET pool_id = excluded.pool_id, \
             until_ms = excluded.until_ms, created_ms = excluded.created_ms",
        )
        .bind(site_id)
        .bind(algorithm)
        .bind(pool_id)
        .bind(until_ms)
        .bind(now_ms())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Clears an override; false when there was none.
    pub async fn clear_override(&self, site_id: i64, algorithm: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM overrides WHERE site_id = ? AND algorithm = ?")
            .bind(site_id)
            .bind(algorithm)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn overrides(&self, site_id: i64) -> Result<Vec<OverrideRow>> {
        Ok(sqlx::query_as(
            "SELECT o.site_id, o.algorithm, p.name AS pool, o.until_ms FROM overrides o \
             JOIN pools p ON p.id = o.pool_id WHERE o.site_id = ? ORDER BY o.algorithm",
        )
        .bind(site_id)
        .fetch_all(&self.read)
        .await?)
    }
}
