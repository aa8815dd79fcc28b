//! Workers for `ctl workers`: each worker's latest share and its counts and
//! accepted work over recent windows, from the `workers`, `worker_5min` and
//! `worker_hourly` tables (filled by the summary pass, see
//! [`summarise_workers`]) plus the events not summarised yet, read in one
//! snapshot; their pruning; and the first instant the share ledger covers
//! (the hashrates' divisor starts there at the earliest).

use std::collections::{BTreeMap, HashMap};

use sqlx::{QueryBuilder, Sqlite};

use super::shares::{HOUR_MS, TAIL};
use super::{Result, Store};

/// The fine buckets' length.
pub const BUCKET_MS: i64 = 300_000;
/// The longest `since` of a worker query: the hourly buckets go back 50 h.
pub const MAX_SINCE_MS: i64 = 48 * HOUR_MS;
/// Up to this span, counts come from the 5-minute buckets (kept 3 h).
const FINE_SPAN_MS: i64 = 2 * HOUR_MS;
const FINE_KEEP_MS: i64 = 3 * HOUR_MS;
const HOURLY_KEEP_MS: i64 = 50 * HOUR_MS;

/// What a worker query covers; every window ends now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerWindows {
    /// The start of the accepted/rejected counts: `since` rounded down to
    /// its 5 minutes when it is at most 2 h ago, to its hour otherwise.
    pub counts_from_ms: i64,
    /// Whether the counts come from the 5-minute buckets.
    pub fine_counts: bool,
    /// The starts of the hashrate windows: 15 min and 1 h back rounded
    /// down to 5 minutes, 24 h back rounded down to the hour.
    pub from_15m_ms: i64,
    pub from_1h_ms: i64,
    pub from_24h_ms: i64,
}

impl WorkerWindows {
    pub fn new(since_ms: i64, now_ms: i64) -> WorkerWindows {
        let floor = |t: i64, unit: i64| t.div_euclid(unit) * unit;
        let fine_counts = now_ms - since_ms <= FINE_SPAN_MS;
        WorkerWindows {
            counts_from_ms: floor(since_ms, if fine_counts { BUCKET_MS } else { HOUR_MS }),
            fine_counts,
            from_15m_ms: floor(now_ms - 15 * 60_000, BUCKET_MS),
            from_1h_ms: floor(now_ms - HOUR_MS, BUCKET_MS),
            from_24h_ms: floor(now_ms - 24 * HOUR_MS, HOUR_MS),
        }
    }
}

/// One worker: its latest share and its windows' sums.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkerRow {
    pub site: String,
    pub algorithm: String,
    pub worker: String,
    /// Its latest share (any verdict); 0 when none is known.
    pub last_share_ms: i64,
    /// The miner (target) difficulty of that share.
    pub last_difficulty: f64,
    pub dataplane_id: String,
    /// Final verdicts since [`WorkerWindows::counts_from_ms`].
    pub accepted: i64,
    pub rejected: i64,
    /// Accepted shares' miner difficulty over 15 min, 1 h and 24 h.
    pub work_15m: f64,
    pub work_1h: f64,
    pub work_24h: f64,
}

type Key = (String, String, String);
/// (site, algorithm, worker, accepted, rejected, work 15m, 1h, 24h).
type Sums = (String, String, String, i64, i64, f64, f64, f64);
/// (site, algorithm, worker, last share, its difficulty, its data plane).
type Latest = (String, String, String, i64, f64, String);

impl Store {
    /// Every worker of the site and algorithm (`None`: all) that the
    /// database knows, with its latest share and its sums over `w`, sorted
    /// by site, algorithm and worker. The caller picks the ones it shows.
    pub async fn workers(
        &self,
        site: Option<&str>,
        algorithm: Option<&str>,
        w: &WorkerWindows,
    ) -> Result<Vec<WorkerRow>> {
        let mut rows: BTreeMap<Key, WorkerRow> = BTreeMap::new();
        let fine = w.fine_counts;
        let counts = Some(w.counts_from_ms);
        // One read transaction: one snapshot of the tables and the tail.
        let mut tx = self.read.begin().await?;

        let mut q = QueryBuilder::new(
            "SELECT id, site, algorithm, worker, last_share_ms, last_difficulty, dataplane_id FROM workers WHERE 1 = 1",
        );
        filters(&mut q, site, algorithm, "");
        let latest: Vec<(i64, String, String, String, i64, f64, String)> =
            q.build_query_as().fetch_all(&mut *tx).await?;
        let mut ids: HashMap<i64, Key> = HashMap::with_capacity(latest.len());
        for (id, s, a, wk, at, diff, dp) in latest {
            ids.insert(id, (s.clone(), a.clone(), wk.clone()));
            merge_latest(&mut rows, (s, a, wk, at, diff, dp));
        }

        let parts = [
            (
                "worker_hourly",
                "hour_ms",
                if fine { None } else { counts },
                [None, None, Some(w.from_24h_ms)],
            ),
            (
                "worker_5min",
                "bucket_ms",
                if fine { counts } else { None },
                [Some(w.from_15m_ms), Some(w.from_1h_ms), None],
            ),
        ];
        for (table, col, counts_from, works) in parts {
            // Grouped by the integer id; the names come from `ids` (an id
            // missing there is of another site or algorithm).
            let mut q = sums_query("worker_id", col, counts_from, works);
            let lo = counts_from
                .into_iter()
                .chain(works.into_iter().flatten())
                .min();
            q.push(format!(" FROM {table} WHERE {col} >= "))
                .push_bind(lo.unwrap_or(0));
            q.push(" GROUP BY worker_id");
            let sums: Vec<(i64, i64, i64, f64, f64, f64)> =
                q.build_query_as().fetch_all(&mut *tx).await?;
            let named = sums.into_iter().filter_map(|(id, acc, rej, w15, w1, w24)| {
                let (s, a, wk) = ids.get(&id)?.clone();
                Some((s, a, wk, acc, rej, w15, w1, w24))
            });
            merge_sums(&mut rows, named);
        }

        // The events not summarised yet: their sums and latest shares (the
        // bare columns of a query with one MAX() come from its row).
        let works = [w.from_15m_ms, w.from_1h_ms, w.from_24h_ms].map(Some);
        let mut q = sums_query("site, algorithm, worker", "at_ms", counts, works);
        q.push(
            ", MAX(at_ms), miner_difficulty, dataplane_id FROM share_events WHERE ".to_string()
                + TAIL,
        );
        filters(&mut q, site, algorithm, "+");
        q.push(" GROUP BY site, algorithm, worker");
        type Tail = (
            String,
            String,
            String,
            i64,
            i64,
            f64,
            f64,
            f64,
            i64,
            f64,
            String,
        );
        let tail: Vec<Tail> = q.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        for (s, a, wk, acc, rej, w15, w1, w24, at, diff, dp) in tail {
            merge_latest(&mut rows, (s.clone(), a.clone(), wk.clone(), at, diff, dp));
            merge_sums(&mut rows, [(s, a, wk, acc, rej, w15, w1, w24)]);
        }
        Ok(rows.into_values().collect())
    }

    /// The first instant the share ledger covers: its oldest raw event or
    /// rolled-up hour; `None` before the first share.
    pub async fn ledger_start_ms(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(m) FROM (SELECT MIN(at_ms) AS m FROM share_events \
             UNION ALL SELECT MIN(hour_ms) FROM share_rollups)",
        )
        .fetch_one(&self.read)
        .await?)
    }

    /// Drops buckets older than the windows need (5-minute ones after 3 h,
    /// hourly ones after 50 h) and workers whose latest share is older than
    /// `raw_before_ms` (the raw shares' retention) and than 50 h.
    pub async fn prune_workers(&self, now_ms: i64, raw_before_ms: i64) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        let mut n = 0;
        for (sql, before) in [
            (
                "DELETE FROM worker_5min WHERE bucket_ms < ?",
                now_ms - FINE_KEEP_MS,
            ),
            (
                "DELETE FROM worker_hourly WHERE hour_ms < ?",
                now_ms - HOURLY_KEEP_MS,
            ),
            (
                "DELETE FROM workers WHERE last_share_ms < ?",
                raw_before_ms.min(now_ms - HOURLY_KEEP_MS),
            ),
        ] {
            n += sqlx::query(sql)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}

/// `SELECT {key}, accepted, rejected, work x3`, counting from
/// `counts_from` (0 without) and summing work from each of `works` (0
/// without), by the time column `col` (`at_ms`: raw events).
fn sums_query(
    key: &str,
    col: &str,
    counts_from: Option<i64>,
    works: [Option<i64>; 3],
) -> QueryBuilder<Sqlite> {
    let raw = col == "at_ms";
    let (accepted, rejected, work) = if raw {
        (
            "verdict = 'accepted'",
            "verdict <> 'accepted'",
            "CASE WHEN verdict = 'accepted' THEN miner_difficulty END",
        )
    } else {
        ("accepted", "rejected", "accepted_work")
    };
    let mut q = QueryBuilder::new(format!("SELECT {key}"));
    for what in [accepted, rejected] {
        match counts_from {
            Some(t) => {
                q.push(format!(", SUM(CASE WHEN {col} >= "))
                    .push_bind(t)
                    .push(format!(" THEN {what} ELSE 0 END)"));
            }
            None => {
                q.push(", 0");
            }
        }
    }
    for from in works {
        match from {
            Some(t) => {
                q.push(format!(", TOTAL(CASE WHEN {col} >= "))
                    .push_bind(t)
                    .push(format!(" THEN {work} END)"));
            }
            None => {
                q.push(", 0.0");
            }
        }
    }
    q
}

fn filters(
    q: &mut QueryBuilder<Sqlite>,
    site: Option<&str>,
    algorithm: Option<&str>,
    prefix: &str,
) {
    if let Some(s) = site {
        q.push(format!(" AND {prefix}site = "))
            .push_bind(s.to_string());
    }
    if let Some(a) = algorithm {
        q.push(format!(" AND {prefix}algorithm = "))
            .push_bind(a.to_string());
    }
}

fn entry(rows: &mut BTreeMap<Key, WorkerRow>, key: Key) -> &mut WorkerRow {
    rows.entry(key)
        .or_insert_with_key(|(site, algorithm, worker)| WorkerRow {
            site: site.clone(),
            algorithm: algorithm.clone(),
            worker: worker.clone(),
            ..Default::default()
        })
}

fn merge_latest(rows: &mut BTreeMap<Key, WorkerRow>, l: Latest) {
    let (site, algorithm, worker, at, difficulty, dataplane) = l;
    let r = entry(rows, (site, algorithm, worker));
    if at >= r.last_share_ms {
        r.last_share_ms = at;
        r.last_difficulty = difficulty;
        r.dataplane_id = dataplane;
    }
}

fn merge_sums(rows: &mut BTreeMap<Key, WorkerRow>, sums: impl IntoIterator<Item = Sums>) {
    for (site, algorithm, worker, acc, rej, w15, w1, w24) in sums {
        let r = entry(rows, (site, algorithm, worker));
        r.accepted += acc;
        r.rejected += rej;
        r.work_15m += w15;
        r.work_1h += w1;
        r.work_24h += w24;
    }
}

/// The summary pass's part: the events `seq` in `(mark, last]` into
/// `workers` (latest share by time: a replayed old event does not move
/// it back) and the two bucket tables. The new events are read once,
/// grouped per worker and 5 minutes into a temporary table; the three
/// tables are filled from it, the buckets in their key order.
pub(super) async fn summarise_workers(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    mark: i64,
    last: i64,
) -> Result<()> {
    const JOIN: &str = "FROM temp.pass_workers p JOIN workers w \
         ON w.site = p.site AND w.algorithm = p.algorithm AND w.worker = p.worker WHERE true";
    const ADD: &str = "DO UPDATE SET accepted = accepted + excluded.accepted, \
         rejected = rejected + excluded.rejected, accepted_work = accepted_work + excluded.accepted_work";
    let statements = [
        "CREATE TEMP TABLE IF NOT EXISTS pass_workers (b INTEGER NOT NULL, site TEXT NOT NULL, \
         algorithm TEXT NOT NULL, worker TEXT NOT NULL, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL, \
         work REAL NOT NULL, last_ms INTEGER NOT NULL, last_difficulty REAL NOT NULL, dataplane_id TEXT NOT NULL)"
            .to_string(),
        "DELETE FROM temp.pass_workers".to_string(),
        // One MAX(): the bare columns come from the latest share's row.
        format!(
            "INSERT INTO temp.pass_workers SELECT (at_ms / {BUCKET_MS}) * {BUCKET_MS}, site, algorithm, worker, \
             SUM(verdict = 'accepted'), SUM(verdict <> 'accepted'), \
             TOTAL(CASE WHEN verdict = 'accepted' THEN miner_difficulty END), \
             MAX(at_ms), miner_difficulty, dataplane_id \
             FROM share_events WHERE seq > ?1 AND seq <= ?2 GROUP BY site, algorithm, worker, 1"
        ),
        "INSERT INTO workers (site, algorithm, worker, last_share_ms, last_difficulty, dataplane_id) \
         SELECT site, algorithm, worker, MAX(last_ms), last_difficulty, dataplane_id FROM temp.pass_workers \
         WHERE true GROUP BY site, algorithm, worker \
         ON CONFLICT (site, algorithm, worker) DO UPDATE SET \
         last_difficulty = CASE WHEN excluded.last_share_ms >= last_share_ms THEN excluded.last_difficulty ELSE last_difficulty END, \
         dataplane_id = CASE WHEN excluded.last_share_ms >= last_share_ms THEN excluded.dataplane_id ELSE dataplane_id END, \
         last_share_ms = MAX(last_share_ms, excluded.last_share_ms)"
            .to_string(),
        format!(
            "INSERT INTO worker_5min (bucket_ms, worker_id, accepted, rejected, accepted_work) \
             SELECT p.b, w.id, p.accepted, p.rejected, p.work {JOIN} ORDER BY 1, 2 \
             ON CONFLICT (bucket_ms, worker_id) {ADD}"
        ),
        format!(
            "INSERT INTO worker_hourly (hour_ms, worker_id, accepted, rejected, accepted_work) \
             SELECT (p.b / {HOUR_MS}) * {HOUR_MS}, w.id, SUM(p.accepted), SUM(p.rejected), TOTAL(p.work) \
             {JOIN} GROUP BY 1, 2 ON CONFLICT (hour_ms, worker_id) {ADD}"
        ),
    ];
    for sql in statements {
        let binds = sql.contains("?1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let q = if binds { q.bind(mark).bind(last) } else { q };
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
