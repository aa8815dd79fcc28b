//! Share events: idempotent batched ingest (the id is the primary key, so a
//! replayed batch is a no-op), history queries with filters, per-pool
//! statistics per window, and the roll-up of old raw rows into hourly counts.

use sqlx::{QueryBuilder, Sqlite};

use super::{Result, Store};

/// One share event as the data plane reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareInsert {
    pub id: String,
    pub at_ms: i64,
    pub algorithm: String,
    pub pool: String,
    pub worker: String,
    pub job_id: String,
    pub miner_difficulty: f64,
    pub share_difficulty: Option<f64>,
    pub local_verdict: String,
    pub forwarded: bool,
    pub pool_verdict: Option<String>,
    pub reason: Option<String>,
    pub pool_latency_us: Option<i64>,
}

impl ShareInsert {
    /// The answer the miner got: the pool's when forwarded and answered.
    pub fn verdict(&self) -> &str {
        match &self.pool_verdict {
            Some(v) if self.forwarded && !v.is_empty() => v,
            _ => &self.local_verdict,
        }
    }
}

/// Filters of `ctl shares` / `ctl stats`; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct ShareFilter {
    pub site: Option<String>,
    pub pool: Option<String>,
    pub worker: Option<String>,
    pub algorithm: Option<String>,
    pub verdict: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// A stored event with its site and data plane.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ShareRow {
    pub id: String,
    pub at_ms: i64,
    pub site: String,
    pub dataplane_id: String,
    pub algorithm: String,
    pub pool: String,
    pub worker: String,
    pub job_id: String,
    pub miner_difficulty: f64,
    pub share_difficulty: Option<f64>,
    pub local_verdict: String,
    pub forwarded: bool,
    pub pool_verdict: Option<String>,
    pub verdict: String,
    pub reason: Option<String>,
    pub pool_latency_us: Option<i64>,
}

/// Counts of one pool in one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsRow {
    pub window_start_ms: i64,
    pub site: String,
    pub algorithm: String,
    pub pool: String,
    pub accepted: i64,
    pub rejected: i64,
    pub local_only: i64,
    /// (reason, count), most frequent first.
    pub reasons: Vec<(String, i64)>,
}

/// Rows per INSERT statement: 16 parameters each, well under SQLite's limit.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Inserts a batch in one transaction; returns how many were new (the
    /// rest were already stored: replays).
    pub async fn insert_shares(
        &self,
        site: &str,
        dataplane_id: &str,
        events: &[ShareInsert],
    ) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        let mut inserted = 0;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR IGNORE INTO share_events (id, at_ms, site, dataplane_id, algorithm, pool, worker, job_id, \
                 miner_difficulty, share_difficulty, local_verdict, forwarded, pool_verdict, verdict, reason, pool_latency_us) ",
            );
            q.push_values(chunk, |mut b, e| {
                b.push_bind(&e.id)
                    .push_bind(e.at_ms)
                    .push_bind(site)
                    .push_bind(dataplane_id)
                    .push_bind(&e.algorithm)
                    .push_bind(&e.pool)
                    .push_bind(&e.worker)
                    .push_bind(&e.job_id)
                    .push_bind(e.miner_difficulty)
                    .push_bind(e.share_difficulty)
                    .push_bind(&e.local_verdict)
                    .push_bind(e.forwarded)
                    .push_bind(&e.pool_verdict)
                    .push_bind(e.verdict())
                    .push_bind(&e.reason)
                    .push_bind(e.pool_latency_us);
            });
            inserted += q
                .build()
                .persistent(true)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn share_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM share_events")
            .fetch_one(&self.read)
            .await?)
    }

    /// Matching events, newest first, at most `limit` (+1 to tell truncation).
    pub async fn query_shares(&self, f: &ShareFilter, limit: u32) -> Result<(Vec<ShareRow>, bool)> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, at_ms, site, dataplane_id, algorithm, pool, worker, job_id, miner_difficulty, share_difficulty, \
             local_verdict, forwarded, pool_verdict, verdict, reason, pool_latency_us FROM share_events WHERE 1 = 1",
        );
        push_filter(&mut q, f);
        q.push(" ORDER BY at_ms DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let mut rows: Vec<ShareRow> = q.build_query_as().fetch_all(&self.read).await?;
        let truncated = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, truncated))
    }

    /// Accepted/rejected per pool per window (`window_ms` 0 = one window
    /// starting at the filter's `since`), raw events and roll-ups together.
    pub async fn stats(&self, f: &ShareFilter, window_ms: i64) -> Result<Vec<StatsRow>> {
        let bucket = |col: &str| {
            if window_ms > 0 {
                format!("({col} / {window_ms}) * {window_ms}")
            } else {
                "0".to_string()
            }
        };
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} AS w, site, algorithm, pool, \
             SUM(verdict = 'accepted'), SUM(verdict <> 'accepted'), SUM(verdict = 'accepted' AND forwarded = 0) \
             FROM share_events WHERE 1 = 1",
            bucket("at_ms")
        ));
        push_filter(&mut q, f);
        q.push(" GROUP BY 1, 2, 3, 4");
        let counts: Vec<(i64, String, String, String, i64, i64, i64)> =
            q.build_query_as().fetch_all(&self.read).await?;

        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} AS w, site, algorithm, pool, COALESCE(NULLIF(reason, ''), 'unknown'), COUNT(*) \
             FROM share_events WHERE verdict <> 'accepted'",
            bucket("at_ms")
        ));
        push_filter(&mut q, f);
        q.push(" GROUP BY 1, 2, 3, 4, 5");
        let reasons: Vec<(i64, String, String, String, String, i64)> =
            q.build_query_as().fetch_all(&self.read).await?;

        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} AS w, site, algorithm, pool, verdict, reason, SUM(shares) FROM share_rollups WHERE 1 = 1",
            bucket("hour_ms")
        ));
        push_rollup_filter(&mut q, f);
        q.push(" GROUP BY 1, 2, 3, 4, 5, 6");
        let rolled: Vec<(i64, String, String, String, String, String, i64)> =
            q.build_query_as().fetch_all(&self.read).await?;

        let base = if window_ms > 0 {
            None
        } else {
            Some(f.since_ms.unwrap_or(0))
        };
        let mut map: std::collections::BTreeMap<(i64, String, String, String), StatsRow> =
            Default::default();
        for (w, site, algo, pool, acc, rej, local) in counts {
            let row = stats_entry(&mut map, base.unwrap_or(w), &site, &algo, &pool);
            row.accepted += acc;
            row.rejected += rej;
            row.local_only += local;
        }
        for (w, site, algo, pool, reason, n) in reasons {
            add_reason(
                stats_entry(&mut map, base.unwrap_or(w), &site, &algo, &pool),
                &reason,
                n,
            );
        }
        for (w, site, algo, pool, verdict, reason, n) in rolled {
            let row = stats_entry(&mut map, base.unwrap_or(w), &site, &algo, &pool);
            if verdict == "accepted" {
                row.accepted += n;
            } else {
                row.rejected += n;
                add_reason(
                    row,
                    if reason.is_empty() {
                        "unknown"
                    } else {
                        &reason
                    },
                    n,
                );
            }
        }
        let mut out: Vec<StatsRow> = map.into_values().collect();
        for r in &mut out {
            r.reasons
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        Ok(out)
    }

    /// Moves raw events older than `before_ms` into hourly roll-ups and
    /// deletes them; returns how many raw rows were rolled up.
    pub async fn roll_up(&self, before_ms: i64) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO share_rollups (hour_ms, site, algorithm, pool, worker, verdict, reason, shares, difficulty_sum) \
             SELECT (at_ms / 3600000) * 3600000, site, algorithm, pool, worker, verdict, COALESCE(reason, ''), \
             COUNT(*), SUM(miner_difficulty) FROM share_events WHERE at_ms < ?1 GROUP BY 1, 2, 3, 4, 5, 6, 7 \
             ON CONFLICT (hour_ms, site, algorithm, pool, worker, verdict, reason) DO UPDATE SET \
             shares = shares + excluded.shares, difficulty_sum = difficulty_sum + excluded.difficulty_sum",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM share_events WHERE at_ms < ?")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }
}

fn stats_entry<'a>(
    map: &'a mut std::collections::BTreeMap<(i64, String, String, String), StatsRow>,
    w: i64,
    site: &str,
    algo: &str,
    pool: &str,
) -> &'a mut StatsRow {
    map.entry((w, site.to_string(), algo.to_string(), pool.to_string()))
        .or_insert_with(|| StatsRow {
            window_start_ms: w,
            site: site.to_string(),
            algorithm: algo.to_string(),
            pool: pool.to_string(),
            ..Default::default()
        })
}

fn add_reason(row: &mut StatsRow, reason: &str, n: i64) {
    match row.reasons.iter_mut().find(|(r, _)| r == reason) {
        Some((_, c)) => *c += n,
        None => row.reasons.push((reason.to_string(), n)),
    }
}

fn push_filter(q: &mut QueryBuilder<Sqlite>, f: &ShareFilter) {
    for (col, v) in [
        ("site", &f.site),
        ("pool", &f.pool),
        ("worker", &f.worker),
        ("algorithm", &f.algorithm),
        ("verdict", &f.verdict),
    ] {
        if let Some(v) = v {
            q.push(format!(" AND {col} = ")).push_bind(v.clone());
        }
    }
    if let Some(t) = f.since_ms {
        q.push(" AND at_ms >= ").push_bind(t);
    }
    if let Some(t) = f.until_ms {
        q.push(" AND at_ms < ").push_bind(t);
    }
}

fn push_rollup_filter(q: &mut QueryBuilder<Sqlite>, f: &ShareFilter) {
    for (col, v) in [
        ("site", &f.site),
        ("pool", &f.pool),
        ("worker", &f.worker),
        ("algorithm", &f.algorithm),
        ("verdict", &f.verdict),
    ] {
        if let Some(v) = v {
            q.push(format!(" AND {col} = ")).push_bind(v.clone());
        }
    }
    if let Some(t) = f.since_ms {
        q.push(" AND hour_ms >= ")
            .push_bind((t / 3_600_000) * 3_600_000);
    }
    if let Some(t) = f.until_ms {
        q.push(" AND hour_ms < ").push_bind(t);
    }
}
