//! `storebench`: the share store's benchmark (design.md, "Measures the design
//! must reach": at least 100,000 share events/s ingested into SQLite, a
//! history query over 10 million shares in under 100 ms).
//!
//! Inserts synthetic events (UUIDv7 ids built from their times, spread over
//! `--days`; a few sites and pools, thousands of workers, 2% rejections with
//! reasons) through `Store::insert_shares` in data-plane-sized batches, then
//! times the history queries operators run, several runs each, and prints a
//! table against the targets, the worker queries of `ctl workers` among them
//! (`storebench/workers.rs`). Run it through `bench/store.sh`; the figures
//! are in BENCHMARKS.md, "Control plane: share store" and "Workers and
//! hashrate queries (issue 12)".

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use switchyard_controlplane::store::shares::SUMMARY_LAG;
use switchyard_controlplane::store::{ShareFilter, ShareInsert, Store};

#[path = "storebench/workers.rs"]
mod workers;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The design's query target.
const QUERY_TARGET: Duration = Duration::from_millis(100);
/// The design's ingest target, events per second.
const INGEST_TARGET: f64 = 100_000.0;

#[derive(Parser, Debug)]
#[command(about = "Benchmark of the control plane's share store (ingest rate, history queries)")]
struct Args {
    /// Events to insert.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Events per insert_shares call (one data-plane batch).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Database file (default: a new file in a temporary directory, removed
    /// at the end unless --keep).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Distinct workers (spread over the sites).
    #[arg(long, default_value_t = 2000)]
    workers: usize,
    /// Pools (each site routes to one at a time, switching every 8 hours).
    #[arg(long, default_value_t = 4)]
    pools: usize,
    /// Sites (one data plane each; batches alternate between them).
    #[arg(long, default_value_t = 3)]
    sites: usize,
    /// Days the event times spread over, ending now.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Runs of each query (median and max are reported).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Page size of a new database file (SQLite's default is 4096).
    #[arg(long)]
    page_size: Option<u32>,
    /// Only time the queries, on the events already in --db.
    #[arg(long)]
    queries_only: bool,
    /// Keep the temporary database.
    #[arg(long)]
    keep: bool,
    /// Only insert (no queries).
    #[arg(long)]
    ingest_only: bool,
    /// SQL run on the new database before inserting (experiments: other
    /// indexes, triggers), on its own connection.
    #[arg(long)]
    exec: Option<String>,
}

const SITE_NAMES: &[&str] = &["texas", "quebec", "iceland", "norway", "paraguay", "oman"];
const POOLS: &[(&str, &str)] = &[
    ("btc-foundry", "sha256"),
    ("btc-antpool", "sha256"),
    ("bch-viabtc", "sha256"),
    ("xmr-p2pool", "randomx"),
    ("btc-ocean", "sha256"),
    ("aleo-zkwork", "zksnark"),
];
const LOCAL_REASONS: &[&str] = &["low difficulty share", "duplicate share", "stale job"];
const POOL_REASONS: &[&str] = &[
    "stale job",
    "stale job",
    "job not found",
    "duplicate share",
    "low difficulty share",
];

/// The synthetic fleet and the generator of its events.
struct Fleet {
    sites: Vec<String>,
    dataplanes: Vec<String>,
    pools: Vec<(String, String)>,
    /// (name, miner difficulty) per site.
    workers: Vec<Vec<(String, f64)>>,
    start_ms: i64,
    step_ms: f64,
    rng: SmallRng,
}

impl Fleet {
    fn new(a: &Args, end_ms: i64) -> Fleet {
        let sites: Vec<String> = (0..a.sites)
            .map(|i| match SITE_NAMES.get(i) {
                Some(n) => n.to_string(),
                None => format!("site{i}"),
            })
            .collect();
        let pools = (0..a.pools)
            .map(|i| match POOLS.get(i) {
                Some((n, algo)) => (n.to_string(), algo.to_string()),
                None => (format!("pool{i}"), "sha256".to_string()),
            })
            .collect();
        let mut workers = vec![Vec::new(); a.sites];
        for w in 0..a.workers {
            let site = w % a.sites;
            let difficulty = f64::from(1u32 << (14 + (w % 4) as u32));
            workers[site].push((worker_name(&sites[site], w), difficulty));
        }
        let dataplanes = (0..a.sites)
            .map(|i| {
                uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | i as u128)
                    .to_string()
            })
            .collect();
        let start_ms = end_ms - a.days * DAY_MS;
        Fleet {
            sites,
            dataplanes,
            pools,
            workers,
            start_ms,
            step_ms: (a.days * DAY_MS) as f64 / a.events.max(1) as f64,
            rng: SmallRng::seed_from_u64(7),
        }
    }

    /// The pool site `site` routes to at `at_ms`: a three-slot day.
    fn pool_at(&self, site: usize, at_ms: i64) -> usize {
        (site + ((at_ms / HOUR_MS) % 24 / 8) as usize) % self.pools.len()
    }

    /// Batch `k` (events `first..first + n` in time order), from site `k % sites`.
    fn batch(&mut self, k: u64, first: u64, n: usize) -> (usize, Vec<ShareInsert>) {
        let site = (k % self.sites.len() as u64) as usize;
        let mut out = Vec::with_capacity(n);
        for j in 0..n as u64 {
            let at_ms = self.start_ms + ((first + j) as f64 * self.step_ms) as i64;
            out.push(self.event(site, at_ms));
        }
        (site, out)
    }

    fn event(&mut self, site: usize, at_ms: i64) -> ShareInsert {
        let rng = &mut self.rng;
        let mut rand_bytes = [0u8; 10];
        rng.fill(&mut rand_bytes);
        let id = uuid::Builder::from_unix_timestamp_millis(at_ms as u64, &rand_bytes)
            .into_uuid()
            .to_string();
        let (worker, miner_difficulty) = {
            let ws = &self.workers[site];
            let (n, d) = &ws[rng.random_range(0..ws.len())];
            (n.clone(), *d)
        };
        let pool = (site + ((at_ms / HOUR_MS) % 24 / 8) as usize) % self.pools.len();
        let (pool_name, algorithm) = self.pools[pool].clone();
        let job_id = format!("{:x}", (at_ms / 30_000) * 8 + pool as i64);
        // Share difficulty is Pareto distributed over the miner's: a quarter
        // of the shares reach the pool's target (4x) and are forwarded.
        let mut share_difficulty = miner_difficulty / (1.0 - rng.random::<f64>());
        let r = rng.random::<f64>();
        let (local_verdict, forwarded, pool_verdict, reason) = if r < 0.01 {
            let reason = LOCAL_REASONS[rng.random_range(0..LOCAL_REASONS.len())];
            if reason == "low difficulty share" {
                share_difficulty = miner_difficulty * rng.random::<f64>();
            }
            ("rejected", false, None, Some(reason))
        } else if r < 0.02 {
            let reason = POOL_REASONS[rng.random_range(0..POOL_REASONS.len())];
            share_difficulty = share_difficulty.max(miner_difficulty * 4.0);
            ("accepted", true, Some("rejected"), Some(reason))
        } else if share_difficulty >= miner_difficulty * 4.0 {
            ("accepted", true, Some("accepted"), None)
        } else {
            ("accepted", false, None, None)
        };
        ShareInsert {
            id,
            at_ms,
            algorithm,
            pool: pool_name,
            worker,
            job_id,
            miner_difficulty,
            share_difficulty: (algorithm_hashable(pool, &self.pools)).then_some(share_difficulty),
            local_verdict: local_verdict.to_string(),
            forwarded,
            pool_verdict: pool_verdict.map(String::from),
            reason: reason.map(String::from),
            pool_latency_us: forwarded.then(|| rng.random_range(1_500..60_000)),
        }
    }
}

fn algorithm_hashable(pool: usize, pools: &[(String, String)]) -> bool {
    pools[pool].1 != "zksnark"
}

fn worker_name(site: &str, w: usize) -> String {
    format!("{site}-acct.rig{w:05}")
}

/// One timed measurement: durations of each run and rows of the last.
struct Timing {
    name: String,
    runs: Vec<Duration>,
    rows: usize,
    note: String,
}

impl Timing {
    fn median(&self) -> Duration {
        let mut v = self.runs.clone();
        v.sort();
        v[v.len() / 2]
    }
    fn max(&self) -> Duration {
        self.runs.iter().copied().max().unwrap_or_default()
    }
}

/// Runs `f(run)` up to `runs` times (fewer once 20 s are spent).
async fn time<F, Fut>(name: &str, runs: usize, mut f: F) -> anyhow::Result<Timing>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let mut t = Timing {
        name: name.to_string(),
        runs: Vec::new(),
        rows: 0,
        note: String::new(),
    };
    let spent = Instant::now();
    for i in 0..runs.max(1) {
        let start = Instant::now();
        t.rows = f(i).await?;
        t.runs.push(start.elapsed());
        if spent.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    eprintln!(
        "  {name}: median {} max {} ({} rows, {} runs)",
        ms(t.median()),
        ms(t.max()),
        t.rows,
        t.runs.len()
    );
    Ok(t)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn file_size(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One plain read-only connection, as `sqlite3` users have.
async fn sql_conn(db: &Path) -> anyhow::Result<SqlitePool> {
    let opts =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))?.read_only(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?)
}

fn utc(ms: i64, fmt: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format(fmt).to_string())
        .unwrap_or_default()
}

struct Ingest {
    events: u64,
    inserted: u64,
    insert_time: Duration,
    wall: Duration,
    first_million: Option<(u64, Duration)>,
    /// Time of each insert_shares call.
    batches: Vec<Duration>,
}

impl Ingest {
    fn rate(&self) -> f64 {
        self.events as f64 / self.insert_time.as_secs_f64()
    }
}

/// Inserts events `first..first + count` of the fleet's timeline, batch by
/// batch; keeps the middle batch (for the replay).
async fn ingest(
    a: &Args,
    store: &Store,
    fleet: &mut Fleet,
    first: u64,
    count: u64,
    progress: bool,
) -> anyhow::Result<(Ingest, usize, Vec<ShareInsert>)> {
    let batches = count.div_ceil(a.batch as u64);
    let mut r = Ingest {
        events: 0,
        inserted: 0,
        insert_time: Duration::ZERO,
        wall: Duration::ZERO,
        first_million: None,
        batches: Vec::with_capacity(batches as usize),
    };
    let mut replay = (0, Vec::new());
    let wall = Instant::now();
    let mut next_report = 1_000_000;
    let mut last = (0u64, Duration::ZERO);
    for k in 0..batches {
        let from = k * a.batch as u64;
        let n = (count - from).min(a.batch as u64) as usize;
        let (site, events) = fleet.batch((first + from) / a.batch as u64, first + from, n);
        let start = Instant::now();
        r.inserted += store
            .insert_shares(&fleet.sites[site], &fleet.dataplanes[site], &events)
            .await?;
        let took = start.elapsed();
        r.batches.push(took);
        r.insert_time += took;
        r.events += n as u64;
        if k == batches / 2 {
            replay = (site, events);
        }
        if progress && (r.events >= next_report || k + 1 == batches) {
            if r.first_million.is_none() {
                r.first_million = Some((r.events, r.insert_time));
            }
            let rate = (r.events - last.0) as f64 / (r.insert_time - last.1).as_secs_f64();
            eprintln!(
                "  {:>11} events: {:>7.0}/s over the last {} (time in insert_shares), {:.0}/s overall; {:.0} s elapsed",
                thousands(r.events),
                rate,
                thousands(r.events - last.0),
                r.rate(),
                wall.elapsed().as_secs_f64()
            );
            last = (r.events, r.insert_time);
            next_report += 1_000_000;
        }
    }
    r.wall = wall.elapsed();
    Ok((r, replay.0, replay.1))
}

/// Events stored but not summarised yet (queries scan them), and how many
/// more sequence numbers the next summary pass waits for (a replayed batch
/// uses up numbers too).
async fn tail(conn: &SqlitePool) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM share_events WHERE seq > up_to_seq), \
         ?1 - (COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'share_events'), 0) - up_to_seq) \
         FROM share_summarised",
    )
    .bind(SUMMARY_LAG)
    .fetch_one(conn)
    .await?)
}

/// Times the operators' history queries, and the replay of a stored batch.
async fn queries(
    a: &Args,
    store: &Store,
    conn: &SqlitePool,
    fleet: &Fleet,
    end_ms: i64,
    replay: &(usize, Vec<ShareInsert>),
) -> anyhow::Result<Vec<Timing>> {
    let mut timings = Vec::new();
    let workers: Vec<&String> = fleet.workers.iter().flatten().map(|(n, _)| n).collect();
    timings.push(
        time("latest 100 shares of one worker", a.runs, |i| {
            let f = ShareFilter {
                worker: Some(workers[(i * 7919) % workers.len()].clone()),
                ..Default::default()
            };
            async move { Ok(store.query_shares(&f, 100).await?.0.len()) }
        })
        .await?,
    );
    timings.push(
        time("shares of one pool in one hour, LIMIT 1000", a.runs, |i| {
            let hour = (end_ms - (i as i64 + 1) * 25 * HOUR_MS) / HOUR_MS * HOUR_MS;
            let f = ShareFilter {
                pool: Some(
                    fleet.pools[fleet.pool_at(i % fleet.sites.len(), hour)]
                        .0
                        .clone(),
                ),
                since_ms: Some(hour),
                until_ms: Some(hour + HOUR_MS),
                ..Default::default()
            };
            async move { Ok(store.query_shares(&f, 1000).await?.0.len()) }
        })
        .await?,
    );
    timings.push(
        time(
            "rejected shares of one pool, last 24 h, LIMIT 1000",
            a.runs,
            |i| {
                let f = ShareFilter {
                    pool: Some(fleet.pools[i % fleet.pools.len()].0.clone()),
                    verdict: Some("rejected".into()),
                    since_ms: Some(end_ms - DAY_MS),
                    ..Default::default()
                };
                async move { Ok(store.query_shares(&f, 1000).await?.0.len()) }
            },
        )
        .await?,
    );
    timings.push(
        time("stats per pool, last 24 h", a.runs, |_| {
            let f = ShareFilter {
                since_ms: Some(end_ms - DAY_MS),
                ..Default::default()
            };
            async move { Ok(store.stats(&f, 0).await?.len()) }
        })
        .await?,
    );
    timings.push(
        time("stats per pool per hour, last 7 days", a.runs, |_| {
            let f = ShareFilter {
                since_ms: Some(end_ms - 7 * DAY_MS),
                ..Default::default()
            };
            async move { Ok(store.stats(&f, HOUR_MS).await?.len()) }
        })
        .await?,
    );
    timings.push(
        time("stats of one worker, last 24 h", a.runs, |i| {
            let f = ShareFilter {
                worker: Some(workers[(i * 7919 + 1) % workers.len()].clone()),
                since_ms: Some(end_ms - DAY_MS),
                ..Default::default()
            };
            async move { Ok(store.stats(&f, 0).await?.len()) }
        })
        .await?,
    );
    for (name, sql, fmt) in [
        (
            "v_pool_hourly, one day (sqlite3)",
            "SELECT * FROM v_pool_hourly WHERE hour_utc >= ?1 AND hour_utc < ?2",
            "%Y-%m-%d %H:00",
        ),
        (
            "v_reject_reasons, one day (sqlite3)",
            "SELECT * FROM v_reject_reasons WHERE day_utc >= ?1 AND day_utc < ?2",
            "%Y-%m-%d",
        ),
        (
            "v_worker_daily, one day (sqlite3)",
            "SELECT * FROM v_worker_daily WHERE day_utc >= ?1 AND day_utc < ?2",
            "%Y-%m-%d",
        ),
    ] {
        let t = time(name, a.runs, |i| {
            let day = (end_ms - (i as i64 + 2) * DAY_MS) / DAY_MS * DAY_MS;
            let (from, to) = (utc(day, fmt), utc(day + DAY_MS, fmt));
            async move {
                Ok(sqlx::query(sql)
                    .bind(from)
                    .bind(to)
                    .fetch_all(conn)
                    .await?
                    .len())
            }
        })
        .await?;
        timings.push(t);
    }
    timings.extend(workers::timings(a, store, fleet, end_ms).await?);
    let (site, events) = (replay.0, &replay.1);
    let mut t = time("replay of a stored batch", a.runs, |_| async move {
        let n = store
            .insert_shares(&fleet.sites[site], &fleet.dataplanes[site], events)
            .await?;
        if n != 0 {
            bail!("a replayed batch inserted {n} events");
        }
        Ok(events.len())
    })
    .await?;
    t.note = format!("{} events, 0 new", events.len());
    timings.push(t);
    Ok(timings)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if a.batch == 0 || a.pools == 0 || a.sites == 0 || a.workers < a.sites || a.events == 0 {
        bail!("--events, --batch and --pools must be positive and --workers at least --sites");
    }
    let (db, tmp_dir) = match &a.db {
        Some(p) => (p.clone(), None),
        None => {
            let dir = std::env::temp_dir().join(format!("storebench.{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            (dir.join("shares.db"), Some(dir))
        }
    };
    if a.queries_only && !db.exists() {
        bail!("--queries-only needs an existing --db");
    }
    if !a.queries_only && db.exists() {
        bail!(
            "{} exists; give a new path (or --queries-only)",
            db.display()
        );
    }
    if let (Some(ps), false) = (a.page_size, a.queries_only) {
        // Page size is fixed when the first page is written.
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))?
            .create_if_missing(true)
            .page_size(ps)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        SqliteConnection::connect_with(&opts).await?.close().await?;
    }
    let store = Store::open(&db).await.context("opening the store")?;
    eprintln!("database {}", db.display());
    if let Some(sql) = &a.exec {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))?;
        let mut c = SqliteConnection::connect_with(&opts).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut c)
            .await?;
        c.close().await?;
    }
    let conn = sql_conn(&db).await?;

    let mut report = Report::default();
    let end_ms;
    let replay;
    let mut fleet;
    if a.queries_only {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(at_ms) FROM share_events")
            .fetch_one(&conn)
            .await?;
        end_ms = max.context("no events in --db")? + 1;
        fleet = Fleet::new(&a, end_ms);
        // The first batch of the timeline is stored already (same seed).
        replay = fleet.batch(0, 0, a.batch.min(a.events as usize));
    } else {
        end_ms = chrono::Utc::now().timestamp_millis();
        fleet = Fleet::new(&a, end_ms);
        eprintln!(
            "inserting {} events in batches of {} ({} sites, {} pools, {} workers, {} days)",
            thousands(a.events),
            a.batch,
            a.sites,
            a.pools,
            a.workers,
            a.days
        );
        let (r, site, events) = ingest(&a, &store, &mut fleet, 0, a.events, true).await?;
        replay = (site, events);
        report.size = file_size(&db);
        report.ingest = Some(r);
    }
    if a.ingest_only {
        report.stored = store.share_count().await? as u64;
        report.print(&a);
        return finish(store, conn, tmp_dir, a.keep).await;
    }

    let (t, _) = tail(&conn).await?;
    eprintln!(
        "timing queries over {} events, {} of them not summarised yet ({} runs each)",
        thousands(a.events),
        thousands(t as u64),
        a.runs
    );
    report.phases.push((
        t,
        queries(&a, &store, &conn, &fleet, end_ms, &replay).await?,
    ));

    // Again with about the most unsummarised events there can be (the worst
    // case for queries): more events of the same timeline, after the end.
    let (_, room) = tail(&conn).await?;
    let more = ((room - 1) / a.batch as i64 * a.batch as i64).max(0) as u64;
    if !a.queries_only && more > 0 {
        eprintln!(
            "inserting {} more events (none summarised)",
            thousands(more)
        );
        ingest(&a, &store, &mut fleet, a.events, more, false).await?;
        let (t, _) = tail(&conn).await?;
        eprintln!("timing queries again");
        report.phases.push((
            t,
            queries(&a, &store, &conn, &fleet, end_ms, &replay).await?,
        ));
    }
    report.stored = store.share_count().await? as u64;
    report.print(&a);
    finish(store, conn, tmp_dir, a.keep).await
}

async fn finish(
    store: Store,
    conn: SqlitePool,
    tmp_dir: Option<PathBuf>,
    keep: bool,
) -> anyhow::Result<()> {
    conn.close().await;
    store.close().await;
    if let (Some(dir), false) = (tmp_dir, keep) {
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}

#[derive(Default)]
struct Report {
    ingest: Option<Ingest>,
    /// Database size after the main ingest.
    size: u64,
    stored: u64,
    /// (events not summarised, timings) per round of queries.
    phases: Vec<(i64, Vec<Timing>)>,
}

impl Report {
    fn print(&self, a: &Args) {
        println!();
        println!(
            "Share store: {} events stored ({} sites, {} pools, {} workers, {} days), batch {}, {} cores, summary lag {}",
            thousands(self.stored),
            a.sites,
            a.pools,
            a.workers,
            a.days,
            a.batch,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            thousands(SUMMARY_LAG as u64)
        );
        println!();
        println!("| Measure | Result | Target | Met? |");
        println!("|---|---|---|---|");
        if let Some(r) = &self.ingest {
            let yes = |rate: f64| if rate >= INGEST_TARGET { "yes" } else { "no" };
            if let Some((n, t)) = r.first_million {
                let rate = n as f64 / t.as_secs_f64();
                println!(
                    "| ingest, first {} events | {} events/s | >= 100,000/s | {} |",
                    thousands(n),
                    thousands(rate as u64),
                    yes(rate)
                );
            }
            let mut b = r.batches.clone();
            b.sort();
            let pct = |p: f64| b[((b.len() - 1) as f64 * p) as usize];
            println!(
                "| ingest, all {} events ({} new) | {} events/s ({:.0} s in insert_shares, {:.0} s wall with generation); per batch p50 {}, p99 {}, max {} | >= 100,000/s | {} |",
                thousands(r.events),
                thousands(r.inserted),
                thousands(r.rate() as u64),
                r.insert_time.as_secs_f64(),
                r.wall.as_secs_f64(),
                ms(pct(0.5)),
                ms(pct(0.99)),
                ms(pct(1.0)),
                yes(r.rate())
            );
            println!(
                "| database file after ingest (with WAL) | {:.2} GiB, {} bytes per event | | |",
                self.size as f64 / (1u64 << 30) as f64,
                self.size / r.events.max(1)
            );
        }
        let Some((_, first)) = self.phases.first() else {
            return;
        };
        for (i, t0) in first.iter().enumerate() {
            let mut cells = Vec::new();
            let mut met = "yes";
            for (tail, timings) in &self.phases {
                let t = &timings[i];
                if t.max() >= QUERY_TARGET {
                    met = if t.median() < QUERY_TARGET && met == "yes" {
                        "median only"
                    } else {
                        "no"
                    };
                }
                let what = if t.note.is_empty() {
                    format!("{} rows", t.rows)
                } else {
                    t.note.clone()
                };
                cells.push(format!(
                    "{} / {} ({}; {} unsummarised)",
                    ms(t.median()),
                    ms(t.max()),
                    what,
                    thousands(*tail as u64)
                ));
            }
            println!(
                "| {} (median / max of {}) | {} | < 100 ms | {} |",
                t0.name,
                t0.runs.len(),
                cells.join("; "),
                met
            );
        }
    }
}
