//! Sites: name, time zone, hashed data-plane token, data-plane settings and
//! the routing plan's version.

use sqlx::AssertSqlSafe;

use super::{Result, Store, StoreError, now_ms, unique};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteRow {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub proxy_yaml: String,
    pub plan_version: i64,
    pub plan_json: Option<String>,
    pub created_ms: i64,
}

const COLUMNS: &str = "id, name, timezone, proxy_yaml, plan_version, plan_json, created_ms";

impl Store {
    pub async fn add_site(
        &self,
        name: &str,
        timezone: &str,
        token_hash: &str,
        proxy_yaml: &str,
    ) -> Result<SiteRow> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sites (name, timezone, token_hash, proxy_yaml, created_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(name)
        .bind(timezone)
        .bind(token_hash)
        .bind(proxy_yaml)
        .bind(now_ms())
        .fetch_one(&self.write)
        .await
        .map_err(|e| unique(e, format!("site {name:?}")))?;
        self.site_by_id(id).await
    }

    pub async fn sites(&self) -> Result<Vec<SiteRow>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sites ORDER BY name"
        )))
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn site_by_id(&self, id: i64) -> Result<SiteRow> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sites WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("site id {id}")))
    }

    pub async fn site(&self, name: &str) -> Result<SiteRow> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sites WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("site {name:?}")))
    }

    pub async fn site_by_token_hash(&self, token_hash: &str) -> Result<Option<SiteRow>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sites WHERE token_hash = ?"
        )))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?)
    }

    /// Removes a site with its schedules, overrides, breakers and data-plane
    /// records. Its share history stays (it is keyed by name).
    /// Refused while the site is the only one a pool is granted to (the
    /// pool would become shared by every site).
    pub async fn remove_site(&self, name: &str) -> Result<()> {
        let only: Vec<String> = sqlx::query_scalar(
            "SELECT p.name FROM pool_sites g JOIN sites s ON s.id = g.site_id JOIN pools p ON p.id = g.pool_id \
             WHERE s.name = ? AND NOT EXISTS (SELECT 1 FROM pool_sites o WHERE o.pool_id = g.pool_id AND o.site_id <> g.site_id) \
             ORDER BY p.name",
        )
        .bind(name)
        .fetch_all(&self.write)
        .await?;
        if !only.is_empty() {
            return Err(StoreError::InUse(format!(
                "site {name:?} is the only site pool(s) {} are granted to; remove them or grant them to another site first",
                only.join(", ")
            )));
        }
        let done = sqlx::query("DELETE FROM sites WHERE name = ?")
            .bind(name)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("site {name:?}")));
        }
        Ok(())
    }

    pub async fn set_site_proxy(&self, site_id: i64, proxy_yaml: &str) -> Result<()> {
        sqlx::query("UPDATE sites SET proxy_yaml = ? WHERE id = ?")
            .bind(proxy_yaml)
            .bind(site_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn set_site_token_hash(&self, site_id: i64, token_hash: &str) -> Result<()> {
        sqlx::query("UPDATE sites SET token_hash = ? WHERE id = ?")
            .bind(token_hash)
            .bind(site_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Stores a new plan version for a site with the switch events it
    /// decided, atomically. The version only grows.
    pub async fn save_plan(
        &self,
        site_id: i64,
        version: i64,
        plan_json: &str,
        switches: &[SwitchEvent],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "UPDATE sites SET plan_version = ?, plan_json = ? WHERE id = ? AND plan_version < ?",
        )
        .bind(version)
        .bind(plan_json)
        .bind(site_id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        for s in switches {
            sqlx::query(
                "INSERT INTO switch_events (at_ms, site, algorithm, from_pool, to_pool, reason, plan_version) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(s.at_ms)
            .bind(&s.site)
            .bind(&s.algorithm)
            .bind(&s.from_pool)
            .bind(&s.to_pool)
            .bind(&s.reason)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest switch events of a site and algorithm, newest first.
    pub async fn switch_events(
        &self,
        site: &str,
        algorithm: &str,
        limit: u32,
    ) -> Result<Vec<SwitchEvent>> {
        self.switches(site, Some(algorithm), limit).await
    }

    /// The latest switch events of a site (of one algorithm, or all),
    /// newest first.
    pub async fn switches(
        &self,
        site: &str,
        algorithm: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SwitchEvent>> {
        Ok(sqlx::query_as(
            "SELECT at_ms, site, algorithm, from_pool, to_pool, reason FROM switch_events \
             WHERE site = ? AND (? IS NULL OR algorithm = ?) ORDER BY id DESC LIMIT ?",
        )
        .bind(site)
        .bind(algorithm)
        .bind(algorithm)
        .bind(limit)
        .fetch_all(&self.read)
        .await?)
    }
}

/// A change of where a site's hashrate goes.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SwitchEvent {
    pub at_ms: i64,
    pub site: String,
    pub algorithm: String,
    pub from_pool: String,
    pub to_pool: String,
    pub reason: String,
}
