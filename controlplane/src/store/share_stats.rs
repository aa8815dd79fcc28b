//! Per-pool statistics per window for `ctl stats` and the report: whole
//! hours from the `share_hourly` counts kept at ingest, raw rows only for
//! the partial hours at either end of the range, plus rolled-up history;
//! with the accepted shares' difficulty sum for the hashrate.

use sqlx::{QueryBuilder, Sqlite};

use super::shares::{HOUR_MS, TAIL, push_columns, push_filter, push_times};
use super::{Result, ShareFilter, StatsRow, Store};

impl Store {
    /// Accepted/rejected per pool per window (`window_ms` 0 = one window
    /// starting at the filter's `since`), raw events and roll-ups together.
    ///
    /// Without a worker filter and with whole-hour windows, whole hours come
    /// from `share_hourly`, and only the partial hours at the ends of the
    /// range from the raw events (and their roll-ups).
    pub async fn stats(&self, f: &ShareFilter, window_ms: i64) -> Result<Vec<StatsRow>> {
        let base = if window_ms > 0 {
            None
        } else {
            Some(f.since_ms.unwrap_or(0))
        };
        let mut map = StatsMap::default();
        // One read transaction: one snapshot for all the parts.
        let mut tx = self.read.begin().await?;
        if f.worker.is_none() && window_ms % HOUR_MS == 0 {
            // Whole hours: [lo, hi).
            let lo = f.since_ms.map(ceil_hour);
            let hi = f.until_ms.map(|t| t.div_euclid(HOUR_MS) * HOUR_MS);
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "SELECT {} AS w, site, algorithm, pool, verdict, reason, forwarded, SUM(shares), \
                 TOTAL(difficulty_sum) FROM share_hourly WHERE 1 = 1",
                bucket("hour_ms", window_ms)
            ));
            push_columns(&mut q, f, "");
            if let Some(t) = lo {
                q.push(" AND hour_ms >= ").push_bind(t);
            }
            if let Some(t) = hi {
                q.push(" AND hour_ms < ").push_bind(t);
            }
            q.push(" GROUP BY 1, 2, 3, 4, 5, 6, 7");
            let rows: Vec<Counted> = q.build_query_as().fetch_all(&mut *tx).await?;
            map.add(base, rows);

            // The partial hours at the ends.
            let mut edges = Vec::new();
            if let (Some(since), Some(lo)) = (f.since_ms, lo) {
                let end = f.until_ms.map_or(lo, |u| u.min(lo));
                if since < end {
                    edges.push((since, end));
                }
            }
            if let (Some(until), Some(hi)) = (f.until_ms, hi) {
                let start = lo.map_or(hi, |lo| hi.max(lo));
                if start < until {
                    edges.push((start, until));
                }
            }
            for (since, until) in edges {
                let edge = ShareFilter {
                    since_ms: Some(since),
                    until_ms: Some(until),
                    ..f.clone()
                };
                raw_counts(&mut tx, &mut map, base, &edge, window_ms).await?;
            }
        } else {
            raw_counts(&mut tx, &mut map, base, f, window_ms).await?;
        }
        tx.commit().await?;
        let mut out: Vec<StatsRow> = map.0.into_values().collect();
        for r in &mut out {
            r.reasons
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        Ok(out)
    }
}

fn ceil_hour(t: i64) -> i64 {
    let h = t.div_euclid(HOUR_MS) * HOUR_MS;
    if h < t { h + HOUR_MS } else { h }
}

/// (window, site, algorithm, pool, verdict, reason, forwarded, shares,
/// difficulty sum).
type Counted = (i64, String, String, String, String, String, bool, i64, f64);

/// Stats rows by (window, site, algorithm, pool).
#[derive(Default)]
struct StatsMap(std::collections::BTreeMap<(i64, String, String, String), StatsRow>);

impl StatsMap {
    fn add(&mut self, base: Option<i64>, rows: Vec<Counted>) {
        for (w, site, algo, pool, verdict, reason, forwarded, n, difficulty) in rows {
            let w = base.unwrap_or(w);
            let row =
                self.0
                    .entry((w, site, algo, pool))
                    .or_insert_with_key(|(w, site, algo, pool)| StatsRow {
                        window_start_ms: *w,
                        site: site.clone(),
                        algorithm: algo.clone(),
                        pool: pool.clone(),
                        ..Default::default()
                    });
            if verdict == "accepted" {
                row.accepted += n;
                row.accepted_difficulty += difficulty;
                if !forwarded {
                    row.local_only += n;
                }
            } else {
                row.rejected += n;
                let reason = if reason.is_empty() {
                    "unknown"
                } else {
                    &reason
                };
                match row.reasons.iter_mut().find(|(r, _)| r == reason) {
                    Some((_, c)) => *c += n,
                    None => row.reasons.push((reason.to_string(), n)),
                }
            }
        }
    }
}

fn bucket(col: &str, window_ms: i64) -> String {
    if window_ms > 0 {
        format!("({col} / {window_ms}) * {window_ms}")
    } else {
        "0".to_string()
    }
}

/// Counts of the raw events matching `f`, and of their roll-ups.
async fn raw_counts(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    map: &mut StatsMap,
    base: Option<i64>,
    f: &ShareFilter,
    window_ms: i64,
) -> Result<()> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {} AS w, site, algorithm, pool, verdict, COALESCE(reason, ''), forwarded, COUNT(*), \
         TOTAL(miner_difficulty) FROM share_events WHERE 1 = 1",
        bucket("at_ms", window_ms)
    ));
    if let Some(worker) = &f.worker {
        // The worker's events: summarised ones in the time range, and the
        // ones not summarised yet.
        q.push(" AND seq IN (SELECT seq FROM share_worker_index WHERE worker = ")
            .push_bind(worker.clone());
        push_times(&mut q, f, "");
        q.push(format!(
            " UNION ALL SELECT seq FROM share_events WHERE {TAIL} AND +worker = "
        ))
        .push_bind(worker.clone());
        q.push(")");
    }
    // With a worker, the rows come by seq: no other index for the rest.
    let prefix = if f.worker.is_some() { "+" } else { "" };
    push_filter(&mut q, f, prefix, prefix);
    q.push(" GROUP BY 1, 2, 3, 4, 5, 6, 7");
    let rows: Vec<Counted> = q.build_query_as().fetch_all(&mut **tx).await?;
    map.add(base, rows);

    // Roll-ups say nothing of forwarding: none counts as local-only.
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {} AS w, site, algorithm, pool, verdict, reason, 1, SUM(shares), TOTAL(difficulty_sum) \
         FROM share_rollups WHERE 1 = 1",
        bucket("hour_ms", window_ms)
    ));
    push_columns(&mut q, f, "");
    if let Some(w) = &f.worker {
        q.push(" AND worker = ").push_bind(w.clone());
    }
    if let Some(t) = f.since_ms {
        q.push(" AND hour_ms >= ")
            .push_bind(t.div_euclid(HOUR_MS) * HOUR_MS);
    }
    if let Some(t) = f.until_ms {
        q.push(" AND hour_ms < ").push_bind(t);
    }
    q.push(" GROUP BY 1, 2, 3, 4, 5, 6");
    let rows: Vec<Counted> = q.build_query_as().fetch_all(&mut **tx).await?;
    map.add(base, rows);
    Ok(())
}
