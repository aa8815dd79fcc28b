//! The audit log of admin changes.

use super::{Result, Store, now_ms};

impl Store {
    /// Records one admin change. `detail` must never contain a secret.
    pub async fn audit(&self, actor: &str, action: &str, target: &str, detail: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at_ms, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now_ms())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The latest audit entries, newest first: (at_ms, actor, action, target, detail).
    pub async fn audit_entries(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, String, String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT at_ms, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?)
    }
}
