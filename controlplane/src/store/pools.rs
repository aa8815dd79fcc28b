//! Pools (the seed's servers): shared by every site, or granted to some
//! sites only (`pool_sites`, SECURITY.md F1).

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
    /// The sites that may use the pool; empty: every site.
    #[sqlx(try_from = "String")]
    pub sites: PoolSites,
}

/// The sites a pool is granted to, sorted; empty: shared by every site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSites(pub Vec<String>);

impl PoolSites {
    /// Whether `site` may use the pool.
    pub fn allows(&self, site: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|s| s == site)
    }

    pub fn is_shared(&self) -> bool {
        self.0.is_empty()
    }
}

/// From the newline-joined names of the `sites` column expression (site
/// names hold no control characters).
impl From<String> for PoolSites {
    fn from(s: String) -> Self {
        let mut v: Vec<String> = s
            .split('\n')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        v.sort();
        PoolSites(v)
    }
}

impl PoolRow {
    /// The error a schedule, override or failover entry of `site` naming
    /// this pool gets when the pool is granted to other sites only.
    pub fn check_site(&self, site: &str) -> std::result::Result<(), String> {
        if self.sites.allows(site) {
            Ok(())
        } else {
            Err(format!(
                "pool {} is granted to sites {} only, not to {site} (ctl pool edit {} --sites ...)",
                self.name,
                self.sites.0.join(", "),
                self.name
            ))
        }
    }
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
    /// `Some(empty)`: shared by every site again.
    pub sites: Option<Vec<String>>,
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
        if let Some(v) = &self.sites {
            // Stored once each; read back sorted.
            p.sites = PoolSites(v.clone());
        }
    }
}

const COLUMNS: &str = "id, name, algorithm, host, port, username, password, tls, mode, enabled, \
                       connect_timeout_s, retry_interval_s, buffer_percent, min_difficulty, max_difficulty, dialect, \
                       COALESCE((SELECT group_concat(s.name, char(10)) FROM pool_sites g JOIN sites s ON s.id = g.site_id \
                       WHERE g.pool_id = pools.id), '') AS sites";

impl Store {
    /// Adds a pool with its site grants, in one transaction (a pool meant
    /// for some sites is never shared for a moment).
    pub async fn add_pool(&self, p: &PoolRow) -> Result<PoolRow> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
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
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique(e, format!("pool {:?}", p.name)))?;
        write_grants(&mut tx, id, &p.name, &p.sites.0).await?;
        tx.commit().await?;
        self.pool_by_id(id).await
    }

    /// Writes every field of `p` (found by id), its site grants included.
    pub async fn save_pool(&self, p: &PoolRow) -> Result<PoolRow> {
        let mut tx = self.write.begin().await?;
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
        .execute(&mut *tx)
        .await?;
        write_grants(&mut tx, p.id, &p.name, &p.sites.0).await?;
        tx.commit().await?;
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

/// Replaces a pool's grants with `sites` (names; empty: shared). Refused
/// when a name is no site, or when a site left out still names the pool in
/// its schedule, override or failover order.
async fn write_grants(
    tx: &mut sqlx::SqliteConnection,
    pool_id: i64,
    pool: &str,
    sites: &[String],
) -> Result<()> {
    let mut ids = Vec::with_capacity(sites.len());
    for name in sites {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM sites WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        match id {
            Some(id) => ids.push(id),
            None => {
                return Err(StoreError::invalid(
                    "sites",
                    format!("no site named {name:?}"),
                ));
            }
        }
    }
    sqlx::query("DELETE FROM pool_sites WHERE pool_id = ?")
        .bind(pool_id)
        .execute(&mut *tx)
        .await?;
    if ids.is_empty() {
        return Ok(());
    }
    for id in &ids {
        sqlx::query("INSERT OR IGNORE INTO pool_sites (pool_id, site_id) VALUES (?, ?)")
            .bind(pool_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let users: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT s.name, u.what FROM ( \
           SELECT site_id, 'schedule' AS what FROM schedule_entries WHERE pool_id = ?1 \
           UNION ALL SELECT site_id, 'override' FROM overrides WHERE pool_id = ?1 \
           UNION ALL SELECT site_id, 'failover order' FROM failover_order WHERE pool_id = ?1) u \
         JOIN sites s ON s.id = u.site_id \
         WHERE u.site_id NOT IN (SELECT site_id FROM pool_sites WHERE pool_id = ?1) ORDER BY s.name",
    )
    .bind(pool_id)
    .fetch_all(&mut *tx)
    .await?;
    if !users.is_empty() {
        let list: Vec<String> = users
            .iter()
            .map(|(s, w)| format!("the {w} of site {s}"))
            .collect();
        return Err(StoreError::InUse(format!(
            "pool {pool:?} is in {}; grant it to those sites too, or change them first",
            list.join(", ")
        )));
    }
    Ok(())
}
