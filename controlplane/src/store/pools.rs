//! Pools (the seed's servers), shared by every site.

use sqlx::AssertSqlSafe;
use switchyard_model::Secret;

use super::{Result, Store, StoreError, now_ms, unique};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PoolRow {
    pub id: i64,
    pub name: String,
    pub algorithm: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub password: Secret,
    pub tls: bool,
    pub mode: String,
    pub enabled: bool,
    pub connect_timeout_s: i64,
    pub retry_interval_s: i64,
    pub buffer_percent: Option<f64>,
    pub min_difficulty: Option<f64>,
    pub max_difficulty: Option<f64>,
    /// ALEO pools: `aleostratum3` or `iceriver`; `None` is "detect".
    pub dialect: Option<String>,
}

/// A partial update; `None` keeps the stored value.
#[derive(Debug, Default, Clone)]
pub struct PoolPatch {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub tls: Option<bool>,
    pub mode: Option<String>,
    pub connect_timeout_s: Option<u32>,
    pub retry_interval_s: Option<u32>,
    pub clear_difficulty_overrides: bool,
    pub buffer_percent: Option<f64>,
    pub min_difficulty: Option<f64>,
    pub max_difficulty: Option<f64>,
    /// `Some("")` clears the dialect (detect it).
    pub dialect: Option<String>,
}

impl PoolPatch {
    pub fn apply(&self, p: &mut PoolRow) {
        if let Some(v) = &self.host {
            p.host = v.clone();
        }
        if let Some(v) = self.port {
            p.port = i64::from(v);
        }
        if let Some(v) = &self.username {
            p.username = v.clone();
        }
        if let Some(v) = &self.password {
            p.password = v.clone();
        }
        if let Some(v) = self.tls {
            p.tls = v;
        }
        if let Some(v) = &self.mode {
            p.mode = v.clone();
        }
        if let Some(v) = self.connect_timeout_s {
            p.connect_timeout_s = i64::from(v);
        }
        if let Some(v) = self.retry_interval_s {
            p.retry_interval_s = i64::from(v);
        }
        if self.clear_difficulty_overrides {
            p.buffer_percent = None;
            p.min_difficulty = None;
            p.max_difficulty = None;
        }
        if self.buffer_percent.is_some() {
            p.buffer_percent = self.buffer_percent;
        }
        if self.min_difficulty.is_some() {
            p.min_difficulty = self.min_difficulty;
        }
        if self.max_difficulty.is_some() {
            p.max_difficulty = self.max_difficulty;
        }
        if let Some(d) = &self.dialect {
            p.dialect = (!d.is_empty()).then(|| d.clone());
        }
    }
}

const COLUMNS: &str = "id, name, algorithm, host, port, username, password, tls, mode, enabled, \
                       connect_timeout_s, retry_interval_s, buffer_percent, min_difficulty, max_difficulty, dialect";

impl Store {
    pub async fn add_pool(&self, p: &PoolRow) -> Result<PoolRow> {
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pools (name, algorithm, host, port, username, password, tls, mode, enabled, \
             connect_timeout_s, retry_interval_s, buffer_percent, min_difficulty, max_difficulty, dialect, created_ms, updated_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&p.name)
        .bind(&p.algorithm)
        .bind(&p.host)
        .bind(p.port)
        .bind(&p.username)
        .bind(p.password.expose())
        .bind(p.tls)
        .bind(&p.mode)
        .bind(p.enabled)
        .bind(p.connect_timeout_s)
        .bind(p.retry_interval_s)
        .bind(p.buffer_percent)
        .bind(p.min_difficulty)
        .bind(p.max_difficulty)
        .bind(&p.dialect)
        .bind(now)
        .bind(now)
        .fetch_one(&self.write)
        .await
        .map_err(|e| unique(e, format!("pool {:?}", p.name)))?;
        self.pool_by_id(id).await
    }

    /// Writes every field of `p` (found by id).
    pub async fn save_pool(&self, p: &PoolRow) -> Result<PoolRow> {
        sqlx::query(
            "UPDATE pools SET host = ?, port = ?, username = ?, password = ?, tls = ?, mode = ?, enabled = ?, \
             connect_timeout_s = ?, retry_interval_s = ?, buffer_percent = ?, min_difficulty = ?, max_difficulty = ?, \
             dialect = ?, updated_ms = ? WHERE id = ?",
        )
        .bind(&p.host)
        .bind(p.port)
        .bind(&p.username)
        .bind(p.password.expose())
        .bind(p.tls)
        .bind(&p.mode)
        .bind(p.enabled)
        .bind(p.connect_timeout_s)
        .bind(p.retry_interval_s)
        .bind(p.buffer_percent)
        .bind(p.min_difficulty)
        .bind(p.max_difficulty)
        .bind(&p.dialect)
        .bind(now_ms())
        .bind(p.id)
        .execute(&self.write)
        .await?;
        self.pool_by_id(p.id).await
    }

    pub async fn pools(&self, algorithm: Option<&str>) -> Result<Vec<PoolRow>> {
        let rows = match algorithm {
            Some(a) => {
                sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM pools WHERE algorithm = ? ORDER BY id"
                )))
                .bind(a)
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM pools ORDER BY id"
                )))
                .fetch_all(&self.read)
                .await?
            }
        };
        Ok(rows)
    }

    pub async fn pool(&self, name: &str) -> Result<PoolRow> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pools WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("pool {name:?}")))
    }

    pub async fn pool_by_id(&self, id: i64) -> Result<PoolRow> {
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pools WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("pool id {id}")))
    }

    /// Removes a pool that no schedule names (its overrides, failover
    /// entries and breakers go with it). Share history keeps its name.
    pub async fn remove_pool(&self, name: &str) -> Result<()> {
        let pool = self.pool(name).await?;
        let used: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT s.name, e.algorithm FROM schedule_entries e JOIN sites s ON s.id = e.site_id \
             WHERE e.pool_id = ? ORDER BY s.name",
        )
        .bind(pool.id)
        .fetch_all(&self.write)
        .await?;
        if !used.is_empty() {
            let list: Vec<String> = used
                .iter()
                .map(|(s, a)| format!("site {s} ({a})"))
                .collect();
            return Err(StoreError::InUse(format!(
                "pool {name:?} is in the schedule of {}; change those schedules first",
                list.join(", ")
            )));
        }
        sqlx::query("DELETE FROM pools WHERE id = ?")
            .bind(pool.id)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
