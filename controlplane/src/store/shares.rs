//! Share events: idempotent batched ingest (the id is the primary key, so a
//! replayed batch is a no-op), history queries with filters, per-pool
//! statistics per window, and the roll-up of old raw rows into hourly counts.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite};

use super::{Result, Store, StoreError};

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
    /// The sum of the accepted shares' miner (target) difficulty: their work.
    pub accepted_difficulty: f64,
    /// (reason, count), most frequent first.
    pub reasons: Vec<(String, i64)>,
}

pub(super) const HOUR_MS: i64 = 3_600_000;

/// How many events may arrive after `share_summarised.up_to_seq` before
/// `share_worker_index` and `share_worker_daily` take them in, in one pass.
/// Readers scan that many events at most on top of them; a larger lag makes
/// ingest cheaper (one written page per worker per pass) and that scan
/// longer. (The migration's comment says 50,000 too.)
pub const SUMMARY_LAG: i64 = 50_000;

/// The columns of [`ShareRow`], in order.
const SHARE_COLUMNS: &str = "id, at_ms, site, dataplane_id, algorithm, pool, worker, job_id, miner_difficulty, \
     share_difficulty, local_verdict, forwarded, pool_verdict, verdict, reason, pool_latency_us";

/// Inserts the events of ?1, a JSON array of arrays: one bound text per
/// batch instead of 16 values per event (binding them was a quarter of the
/// cost of an insert); `jsonb_each` hands each element over without turning
/// it back into text.
const INSERT_JSON: &str = "INSERT OR IGNORE INTO share_events (id, at_ms, site, dataplane_id, algorithm, pool, worker, job_id, \
     miner_difficulty, share_difficulty, local_verdict, forwarded, pool_verdict, verdict, reason, pool_latency_us) \
     SELECT value ->> 0, value ->> 1, ?2, ?3, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
     value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13 FROM jsonb_each(?1)";

/// Adds ?1, a JSON array of [hour_ms, algorithm, pool, verdict, reason,
/// forwarded, shares, difficulty_sum] of site ?2, to `share_hourly`.
const HOURLY_ADD: &str = "INSERT INTO share_hourly (hour_ms, site, algorithm, pool, verdict, reason, forwarded, shares, difficulty_sum) \
     SELECT value ->> 0, ?2, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7 \
     FROM jsonb_each(?1) WHERE true \
     ON CONFLICT (hour_ms, site, algorithm, pool, verdict, reason, forwarded) DO UPDATE SET \
     shares = shares + excluded.shares, difficulty_sum = difficulty_sum + excluded.difficulty_sum";

/// Counts the events after seq ?1 into `share_hourly` (when only some events
/// of a batch were new).
const HOURLY_COUNT: &str = "INSERT INTO share_hourly (hour_ms, site, algorithm, pool, verdict, reason, forwarded, shares, difficulty_sum) \
     SELECT (at_ms / 3600000) * 3600000, site, algorithm, pool, verdict, COALESCE(reason, ''), forwarded, \
     COUNT(*), SUM(miner_difficulty) FROM share_events WHERE seq > ?1 GROUP BY 1, 2, 3, 4, 5, 6, 7 \
     ON CONFLICT (hour_ms, site, algorithm, pool, verdict, reason, forwarded) DO UPDATE SET \
     shares = shares + excluded.shares, difficulty_sum = difficulty_sum + excluded.difficulty_sum";

/// The events not in the summaries yet.
pub(super) const TAIL: &str = "seq > (SELECT up_to_seq FROM share_summarised)";

impl Store {
    /// Inserts a batch in one transaction; returns how many were new (the
    /// rest were already stored: replays). The new events (only those) are
    /// counted into `share_hourly` in the same transaction; once
    /// [`SUMMARY_LAG`] events have arrived since the last summary pass, this
    /// call makes one.
    pub async fn insert_shares(
        &self,
        site: &str,
        dataplane_id: &str,
        events: &[ShareInsert],
    ) -> Result<u64> {
        type Row<'a> = (
            &'a str,
            i64,
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            f64,
            Option<f64>,
            &'a str,
            bool,
            Option<&'a str>,
            &'a str,
            Option<&'a str>,
            Option<i64>,
        );
        let rows: Vec<Row> = events
            .iter()
            .map(|e| {
                (
                    e.id.as_str(),
                    e.at_ms,
                    e.algorithm.as_str(),
                    e.pool.as_str(),
                    e.worker.as_str(),
                    e.job_id.as_str(),
                    e.miner_difficulty,
                    e.share_difficulty,
                    e.local_verdict.as_str(),
                    e.forwarded,
                    e.pool_verdict.as_deref(),
                    e.verdict(),
                    e.reason.as_deref(),
                    e.pool_latency_us,
                )
            })
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::invalid("events", e.to_string()))?;

        let mut tx = self.write.begin().await?;
        // New rows get seq > MAX(seq) (AUTOINCREMENT never reuses one).
        let (before, mark): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE((SELECT MAX(seq) FROM share_events), 0), up_to_seq FROM share_summarised",
        )
        .fetch_one(&mut *tx)
        .await?;
        let inserted = sqlx::query(INSERT_JSON)
            .bind(json)
            .bind(site)
            .bind(dataplane_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted > 0 {
            sqlx::query("UPDATE share_count SET n = n + ?")
                .bind(inserted as i64)
                .execute(&mut *tx)
                .await?;
        }
        if inserted == events.len() as u64 && inserted > 0 {
            // All new: count them here rather than read them back.
            sqlx::query(HOURLY_ADD)
                .bind(hourly_json(events)?)
                .bind(site)
                .execute(&mut *tx)
                .await?;
        } else if inserted > 0 {
            sqlx::query(HOURLY_COUNT)
                .bind(before)
                .execute(&mut *tx)
                .await?;
        }
        if inserted > 0 && before + inserted as i64 - mark >= SUMMARY_LAG {
            summarise(&mut tx, mark).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Raw share events stored: a counter kept in the inserting and rolling
    /// up transactions (`COUNT(*)` takes seconds at 10 million rows).
    pub async fn share_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT n FROM share_count")
            .fetch_one(&self.read)
            .await?)
    }

    /// Matching events, newest first, at most `limit` (+1 to tell truncation).
    pub async fn query_shares(&self, f: &ShareFilter, limit: u32) -> Result<(Vec<ShareRow>, bool)> {
        let n = i64::from(limit) + 1;
        let mut q: QueryBuilder<Sqlite>;
        if let Some(worker) = &f.worker {
            // The worker's summarised events, newest first, and its events
            // not summarised yet; one statement, so one snapshot.
            let e_cols = SHARE_COLUMNS
                .split(", ")
                .map(|c| format!("e.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            q = QueryBuilder::new(format!(
                "SELECT * FROM (SELECT {e_cols} FROM share_worker_index w JOIN share_events e ON e.seq = w.seq \
                 WHERE w.worker = "
            ));
            q.push_bind(worker.clone());
            push_filter(&mut q, f, "e.", "w.");
            q.push(" ORDER BY w.at_ms DESC, e.id DESC LIMIT ")
                .push_bind(n);
            q.push(format!(
                ") UNION ALL SELECT * FROM (SELECT {SHARE_COLUMNS} FROM share_events WHERE {TAIL} AND +worker = "
            ));
            q.push_bind(worker.clone());
            push_filter(&mut q, f, "+", "+");
            q.push(" ORDER BY at_ms DESC, id DESC LIMIT ").push_bind(n);
            q.push(") ORDER BY at_ms DESC, id DESC LIMIT ").push_bind(n);
        } else {
            q = QueryBuilder::new(format!(
                "SELECT {SHARE_COLUMNS} FROM share_events WHERE 1 = 1"
            ));
            push_filter(&mut q, f, "", "");
            q.push(" ORDER BY at_ms DESC, id DESC LIMIT ").push_bind(n);
        }
        let mut rows: Vec<ShareRow> = q.build_query_as().fetch_all(&self.read).await?;
        let truncated = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok((rows, truncated))
    }

    /// Moves raw events older than `before_ms` into hourly roll-ups and
    /// deletes them; returns how many raw rows were rolled up. The summaries
    /// take in every event first and keep them.
    pub async fn roll_up(&self, before_ms: i64) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        let mark: i64 = sqlx::query_scalar("SELECT up_to_seq FROM share_summarised")
            .fetch_one(&mut *tx)
            .await?;
        summarise(&mut tx, mark).await?;
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
        sqlx::query(
            "DELETE FROM share_worker_index WHERE worker IN \
             (SELECT DISTINCT worker FROM share_events WHERE at_ms < ?1) AND at_ms < ?1",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM share_events WHERE at_ms < ?")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE share_count SET n = MAX(n - ?, 0)")
            .bind(deleted.rows_affected() as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }
}

/// Adds the events after `mark` (the current `up_to_seq`) to the summaries
/// (the worker index, daily counts, and the workers' tables of
/// [`super::workers`]) and moves the mark to the latest.
async fn summarise(tx: &mut sqlx::Transaction<'_, Sqlite>, mark: i64) -> Result<()> {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM share_events")
        .fetch_one(&mut **tx)
        .await?;
    let Some(last) = last.filter(|&l| l > mark) else {
        return Ok(());
    };
    super::workers::summarise_workers(tx, mark, last).await?;
    for sql in [
        // In the index's order: each worker's page is written once.
        "INSERT OR IGNORE INTO share_worker_index (worker, at_ms, seq) \
         SELECT worker, at_ms, seq FROM share_events WHERE seq > ?1 AND seq <= ?2 ORDER BY worker, at_ms, seq",
        // Grouped worker first: the cheapest order to sort in.
        "INSERT INTO share_worker_daily (day_utc, site, algorithm, worker, verdict, shares, difficulty_sum) \
         SELECT strftime('%Y-%m-%d', day * 86400, 'unixepoch'), site, algorithm, worker, verdict, n, d FROM ( \
         SELECT at_ms / 86400000 AS day, site, algorithm, worker, verdict, COUNT(*) AS n, SUM(miner_difficulty) AS d \
         FROM share_events WHERE seq > ?1 AND seq <= ?2 GROUP BY worker, day, site, algorithm, verdict) WHERE true \
         ON CONFLICT (day_utc, site, algorithm, worker, verdict) DO UPDATE SET \
         shares = shares + excluded.shares, difficulty_sum = difficulty_sum + excluded.difficulty_sum",
        "UPDATE share_summarised SET up_to_seq = ?2",
    ] {
        sqlx::query(sql)
            .bind(mark)
            .bind(last)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The batch counted per hour, algorithm, pool, verdict, reason and
/// forwarding, as [`HOURLY_ADD`] takes it.
fn hourly_json(events: &[ShareInsert]) -> Result<String> {
    type Key<'a> = (i64, &'a str, &'a str, &'a str, &'a str, bool);
    let mut counts: HashMap<Key, (i64, f64)> = HashMap::new();
    for e in events {
        let key = (
            (e.at_ms / HOUR_MS) * HOUR_MS,
            e.algorithm.as_str(),
            e.pool.as_str(),
            e.verdict(),
            e.reason.as_deref().unwrap_or(""),
            e.forwarded,
        );
        let c = counts.entry(key).or_default();
        c.0 += 1;
        c.1 += e.miner_difficulty;
    }
    let rows: Vec<_> = counts
        .into_iter()
        .map(|((h, a, p, v, r, f), (n, d))| (h, a, p, v, r, f, n, d))
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::invalid("events", e.to_string()))
}

/// Site, pool, algorithm and verdict conditions, on columns named with
/// `prefix` (`"+"` keeps SQLite from using an index for them).
pub(super) fn push_columns(q: &mut QueryBuilder<Sqlite>, f: &ShareFilter, prefix: &str) {
    for (col, v) in [
        ("site", &f.site),
        ("pool", &f.pool),
        ("algorithm", &f.algorithm),
        ("verdict", &f.verdict),
    ] {
        if let Some(v) = v {
            q.push(format!(" AND {prefix}{col} = "))
                .push_bind(v.clone());
        }
    }
}

pub(super) fn push_times(q: &mut QueryBuilder<Sqlite>, f: &ShareFilter, prefix: &str) {
    if let Some(t) = f.since_ms {
        q.push(format!(" AND {prefix}at_ms >= ")).push_bind(t);
    }
    if let Some(t) = f.until_ms {
        q.push(format!(" AND {prefix}at_ms < ")).push_bind(t);
    }
}

/// The filter's conditions on `share_events`, all but the worker's: columns
/// with `prefix`, times on `{time_prefix}at_ms`.
pub(super) fn push_filter(
    q: &mut QueryBuilder<Sqlite>,
    f: &ShareFilter,
    prefix: &str,
    time_prefix: &str,
) {
    push_columns(q, f, prefix);
    if prefix != "+" && f.verdict.as_deref().is_some_and(|v| v != "accepted") {
        // Implied, but lets SQLite use the partial indexes of rejections.
        q.push(format!(" AND {prefix}verdict <> 'accepted'"));
    }
    push_times(q, f, time_prefix);
}
