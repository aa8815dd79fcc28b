//! Store tests of the workers' tables: their windows before and after the
//! summary pass (the same answers), replays counting nothing twice, an old
//! event not moving a worker's latest share back, pruning, the ledger's
//! start and the stats' accepted difficulty.

use super::shares::HOUR_MS;
use super::*;

const MIN: i64 = 60_000;
/// An hour boundary plus 37 minutes: the 15-minute window starts at :20,
/// the hour's at the previous :35, the day's at the hour a day back.
const NOW: i64 = 1_795_456_800_000 + 37 * MIN;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("t.db")).await.unwrap();
    (dir, s)
}

fn share(n: &mut u32, at_ms: i64, worker: &str, verdict: &str, difficulty: f64) -> ShareInsert {
    *n += 1;
    ShareInsert {
        id: format!("e{n}"),
        at_ms,
        algorithm: "sha256".into(),
        pool: "btc".into(),
        worker: worker.into(),
        job_id: "j".into(),
        miner_difficulty: difficulty,
        share_difficulty: None,
        local_verdict: verdict.into(),
        forwarded: false,
        pool_verdict: None,
        reason: (verdict != "accepted").then(|| "stale job".into()),
        pool_latency_us: None,
    }
}

fn repeat(n: &mut u32, k: usize, at: i64, worker: &str, verdict: &str, d: f64) -> Vec<ShareInsert> {
    (0..k).map(|_| share(n, at, worker, verdict, d)).collect()
}

/// Loads the known history; returns the first batch (to replay).
async fn load(s: &Store) -> Vec<ShareInsert> {
    let n = &mut 0;
    let mut first = repeat(n, 3, NOW - MIN, "rig1", "accepted", 100.0);
    first.push(share(n, NOW - MIN, "rig1", "rejected", 100.0));
    first.extend(repeat(n, 2, NOW - 30 * MIN, "rig1", "accepted", 10.0));
    first.push(share(n, NOW - 5 * HOUR_MS, "rig1", "accepted", 1000.0));
    first.push(share(n, NOW - 30 * HOUR_MS, "rig1", "accepted", 5.0));
    assert_eq!(s.insert_shares("texas", "dp1", &first).await.unwrap(), 8);
    let latest = vec![share(n, NOW - 10_000, "rig1", "accepted", 256.0)];
    assert_eq!(s.insert_shares("texas", "dp2", &latest).await.unwrap(), 1);
    // Arrives last, happened earlier: counted, but the latest share stays.
    let old = vec![share(n, NOW - 2 * HOUR_MS, "rig1", "accepted", 999.0)];
    assert_eq!(s.insert_shares("texas", "dp3", &old).await.unwrap(), 1);
    let mut rig2 = share(n, NOW - 3 * HOUR_MS, "rig2", "accepted", 7.0);
    rig2.algorithm = "randomx".into();
    assert_eq!(s.insert_shares("quebec", "dp9", &[rig2]).await.unwrap(), 1);
    first
}

fn rig1(rows: &[WorkerRow]) -> &WorkerRow {
    rows.iter().find(|r| r.worker == "rig1").unwrap()
}

async fn check(s: &Store) -> Vec<WorkerRow> {
    let day = WorkerWindows::new(NOW - 24 * HOUR_MS, NOW);
    let rows = s.workers(None, None, &day).await.unwrap();
    let keys: Vec<_> = rows
        .iter()
        .map(|r| (r.site.as_str(), r.algorithm.as_str(), r.worker.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("quebec", "randomx", "rig2"), ("texas", "sha256", "rig1")]
    );
    let r = rig1(&rows);
    assert_eq!(
        (r.last_share_ms, r.last_difficulty, r.dataplane_id.as_str()),
        (NOW - 10_000, 256.0, "dp2")
    );
    // Over the day: all but the event 30 h ago.
    assert_eq!((r.accepted, r.rejected), (8, 1));
    assert_eq!(r.work_15m, 300.0 + 256.0);
    assert_eq!(r.work_1h, 300.0 + 20.0 + 256.0);
    assert_eq!(r.work_24h, 300.0 + 20.0 + 1000.0 + 256.0 + 999.0);
    assert_eq!((rows[0].accepted, rows[0].work_24h), (1, 7.0));

    // The last hour: counts from 5-minute buckets.
    let hour = WorkerWindows::new(NOW - HOUR_MS, NOW);
    assert!(hour.fine_counts);
    assert_eq!(hour.counts_from_ms, NOW - HOUR_MS - 2 * MIN);
    let rows = s.workers(Some("texas"), None, &hour).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].accepted, rows[0].rejected), (6, 1));
    // Two days: the event 30 h ago too; filters by algorithm.
    let two = WorkerWindows::new(NOW - 48 * HOUR_MS, NOW);
    let rows = s.workers(None, Some("sha256"), &two).await.unwrap();
    assert_eq!((rows.len(), rows[0].accepted), (1, 9));
    s.workers(None, None, &day).await.unwrap()
}

#[tokio::test]
async fn windows_agree_before_and_after_the_summary_pass_and_replays_count_nothing() {
    let (_d, s) = store().await;
    assert_eq!(s.ledger_start_ms().await.unwrap(), None);
    let first = load(&s).await;
    assert_eq!(s.ledger_start_ms().await.unwrap(), Some(NOW - 30 * HOUR_MS));
    let before = check(&s).await;
    assert_eq!(s.insert_shares("texas", "dp1", &first).await.unwrap(), 0);
    assert_eq!(check(&s).await, before, "a replay before the pass");

    // A summary pass (what roll_up runs first) moves every event into the
    // tables: the same answers.
    s.roll_up(i64::MIN).await.unwrap();
    let tail: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM share_events WHERE {}",
        shares::TAIL
    )))
    .fetch_one(&s.read)
    .await
    .unwrap();
    assert_eq!(tail, 0);
    assert_eq!(check(&s).await, before, "after the pass");
    assert_eq!(s.insert_shares("texas", "dp1", &first).await.unwrap(), 0);
    // A batch half new, half replayed: only the new half counts.
    let n = &mut 100;
    let mut mixed = first[..2].to_vec();
    mixed.push(share(n, NOW - 2 * MIN, "rig1", "accepted", 1.0));
    assert_eq!(s.insert_shares("texas", "dp1", &mixed).await.unwrap(), 1);
    s.roll_up(i64::MIN).await.unwrap();
    let day = WorkerWindows::new(NOW - 24 * HOUR_MS, NOW);
    let after = s.workers(None, None, &day).await.unwrap();
    let r = rig1(&after);
    assert_eq!((r.accepted, r.work_15m), (9, 557.0));
    assert_eq!(
        r.last_share_ms,
        NOW - 10_000,
        "an older event does not move it"
    );
}

#[tokio::test]
async fn pruning_keeps_what_the_windows_need() {
    let (_d, s) = store().await;
    load(&s).await;
    s.roll_up(i64::MIN).await.unwrap();
    let count = |t: &'static str| {
        let s = s.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                .fetch_one(&s.read)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("workers").await, 2);
    assert_eq!(count("worker_5min").await, 6);
    assert_eq!(count("worker_hourly").await, 5);
    // Now: 5-minute buckets older than 3 h go (those 5 h, 30 h and rig2's
    // 3 h 2 min back); every hour stays.
    s.prune_workers(NOW, NOW - 30 * 24 * HOUR_MS).await.unwrap();
    assert_eq!(count("worker_5min").await, 3);
    assert_eq!(count("worker_hourly").await, 5);
    s.prune_workers(NOW + 2 * HOUR_MS, NOW - 30 * 24 * HOUR_MS)
        .await
        .unwrap();
    assert_eq!(count("worker_5min").await, 2);
    // 21 h later the hour 30 h back is more than 50 h old.
    s.prune_workers(NOW + 21 * HOUR_MS, NOW - 30 * 24 * HOUR_MS)
        .await
        .unwrap();
    assert_eq!(count("worker_hourly").await, 4);
    assert_eq!(count("worker_5min").await, 0);
    // A raw retention of 1 hour keeps workers 50 h anyway.
    s.prune_workers(NOW, NOW - HOUR_MS).await.unwrap();
    assert_eq!(count("workers").await, 2);
    s.prune_workers(NOW + 50 * HOUR_MS, NOW - HOUR_MS)
        .await
        .unwrap();
    assert_eq!(count("workers").await, 1, "rig2's last share is 53 h old");
    assert_eq!(count("worker_hourly").await, 0);
}

#[tokio::test]
async fn stats_carry_the_accepted_difficulty() {
    let (_d, s) = store().await;
    load(&s).await;
    let f = ShareFilter {
        site: Some("texas".into()),
        since_ms: Some(NOW - 24 * HOUR_MS),
        ..Default::default()
    };
    // Whole hours from share_hourly, the partial hours from raw events.
    let rows = s.stats(&f, 0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].accepted_difficulty,
        300.0 + 20.0 + 1000.0 + 256.0 + 999.0
    );
    let rows = s.stats(&f, HOUR_MS).await.unwrap();
    let sum: f64 = rows.iter().map(|r| r.accepted_difficulty).sum();
    assert_eq!(sum, 2575.0);
}
