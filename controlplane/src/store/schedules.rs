//! Per-site, per-algorithm schedules (whole days replaced atomically),
//! failover order and manual overrides.

use super::{Result, Store, now_ms};

/// One stored slot, with the pool's name.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SlotRow {
    pub site_id: i64,
    pub algorithm: String,
    pub start_min: i64,
    pub end_min: i64,
    pub pool: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OverrideRow {
    pub site_id: i64,
    pub algorithm: String,
    pub pool: String,
    pub until_ms: i64,
}

impl Store {
    /// Replaces a site's whole day for one algorithm in one transaction.
    /// `slots` are (pool id, start minute, end minute), already validated.
    pub async fn set_schedule(
        &self,
        site_id: i64,
        algorithm: &str,
        slots: &[(i64, i64, i64)],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM schedule_entries WHERE site_id = ? AND algorithm = ?")
            .bind(site_id)
            .bind(algorithm)
            .execute(&mut *tx)
            .await?;
        for (pool_id, start, end) in slots {
            sqlx::query(
                "INSERT INTO schedule_entries (site_id, algorithm, start_min, end_min, pool_id) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(site_id)
            .bind(algorithm)
            .bind(start)
            .bind(end)
            .bind(pool_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every slot of a site (all algorithms), by algorithm then start.
    pub async fn schedule(&self, site_id: i64) -> Result<Vec<SlotRow>> {
        Ok(sqlx::query_as(
            "SELECT e.site_id, e.algorithm, e.start_min, e.end_min, p.name AS pool FROM schedule_entries e \
             JOIN pools p ON p.id = e.pool_id WHERE e.site_id = ? ORDER BY e.algorithm, e.start_min",
        )
        .bind(site_id)
        .fetch_all(&self.read)
        .await?)
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
