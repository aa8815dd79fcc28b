//! Data planes: who registered for which site, with which software, when it
//! was last seen and which plan version it acknowledged.

use super::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DataPlaneRow {
    pub id: String,
    pub site: String,
    pub site_plan_version: i64,
    pub version: String,
    pub hostname: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub acked_plan_version: i64,
    pub ack_error: String,
}

/// Data planes seen within this long count towards a site's limit.
const RECENT_MS: i64 = 7 * 24 * 3600 * 1000;

impl Store {
    /// Records a registration. A data-plane id belongs to one site: the same
    /// id presenting another site's token is refused. A new id is refused
    /// when the site already has `max_per_site` data planes seen in the
    /// last 7 days (a site token cannot fill the table).
    pub async fn register_dataplane(
        &self,
        id: &str,
        site_id: i64,
        version: &str,
        hostname: &str,
        max_per_site: u32,
    ) -> Result<()> {
        let now = now_ms();
        let owner: Option<i64> = sqlx::query_scalar("SELECT site_id FROM dataplanes WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.write)
            .await?;
        if let Some(owner) = owner
            && owner != site_id
        {
            return Err(StoreError::InUse(format!(
                "data plane {id} is registered to another site"
            )));
        }
        if owner.is_none() {
            let recent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM dataplanes WHERE site_id = ? AND last_seen_ms > ?",
            )
            .bind(site_id)
            .bind(now - RECENT_MS)
            .fetch_one(&self.write)
            .await?;
            if recent >= i64::from(max_per_site) {
                return Err(StoreError::Quota(format!(
                    "data plane {id} refused: this site already has {recent} data planes seen in \
                     the last 7 days (controlplane.max_dataplanes_per_site {max_per_site}); reuse \
                     an id (the data plane's state_dir keeps it) or raise the limit"
                )));
            }
        }
        sqlx::query(
            "INSERT INTO dataplanes (id, site_id, version, hostname, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, hostname = excluded.hostname, \
             last_seen_ms = excluded.last_seen_ms",
        )
        .bind(id)
        .bind(site_id)
        .bind(version)
        .bind(hostname)
        .bind(now)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Whether a data plane registered for this site.
    pub async fn dataplane_site(&self, id: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT site_id FROM dataplanes WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    pub async fn ack_plan(&self, id: &str, version: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE dataplanes SET acked_plan_version = ?, ack_error = ?, last_seen_ms = ? WHERE id = ?")
            .bind(version)
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn touch_dataplane(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE dataplanes SET last_seen_ms = ? WHERE id = ?")
            .bind(now_ms())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn dataplanes(&self, site_id: Option<i64>) -> Result<Vec<DataPlaneRow>> {
        Ok(sqlx::query_as(
            "SELECT d.id, s.name AS site, s.plan_version AS site_plan_version, d.version, d.hostname, \
             d.first_seen_ms, d.last_seen_ms, d.acked_plan_version, d.ack_error FROM dataplanes d \
             JOIN sites s ON s.id = d.site_id WHERE ?1 IS NULL OR d.site_id = ?1 ORDER BY s.name, d.id",
        )
        .bind(site_id)
        .fetch_all(&self.read)
        .await?)
    }
}
