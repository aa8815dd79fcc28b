//! Store tests on a temporary database file.

use super::*;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("t.db")).await.unwrap();
    (dir, s)
}

fn pool(name: &str) -> PoolRow {
    PoolRow {
        id: 0,
        name: name.into(),
        algorithm: "sha256".into(),
        host: "127.0.0.1".into(),
        port: 3333,
        username: "wallet.w".into(),
        password: "secret".into(),
        tls: false,
        mode: "aggregate".into(),
        enabled: true,
        connect_timeout_s: 30,
        retry_interval_s: 5,
        buffer_percent: None,
        min_difficulty: None,
        max_difficulty: None,
        dialect: None,
        sites: Default::default(),
    }
}

fn share(id: &str, at_ms: i64, pool: &str, verdict: &str, reason: Option<&str>) -> ShareInsert {
    ShareInsert {
        id: id.into(),
        at_ms,
        algorithm: "sha256".into(),
        pool: pool.into(),
        worker: "rig1".into(),
        job_id: "j1".into(),
        miner_difficulty: 1.0,
        share_difficulty: Some(2.0),
        local_verdict: "accepted".into(),
        forwarded: true,
        pool_verdict: Some(verdict.into()),
        reason: reason.map(String::from),
        pool_latency_us: Some(300),
    }
}

#[tokio::test]
async fn sites_and_pools_have_unique_names_and_pools_in_a_schedule_cannot_be_removed() {
    let (_d, s) = store().await;
    let site = s
        .add_site("texas", "America/Chicago", "h1", "{}")
        .await
        .unwrap();
    assert!(matches!(
        s.add_site("texas", "UTC", "h2", "{}").await,
        Err(StoreError::AlreadyExists(_))
    ));
    let btc = s.add_pool(&pool("btc")).await.unwrap();
    assert!(matches!(
        s.add_pool(&pool("btc")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    s.set_schedule(site.id, "sha256", &[(btc.id, 0, 1440, 0)])
        .await
        .unwrap();
    let err = s.remove_pool("btc").await.unwrap_err();
    assert!(err.to_string().contains("texas"), "{err}");
    assert_eq!(
        s.site_by_token_hash("h1").await.unwrap().unwrap().name,
        "texas"
    );
    s.remove_site("texas").await.unwrap();
    s.remove_pool("btc").await.unwrap();
    assert!(matches!(
        s.remove_pool("btc").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn pool_debug_never_shows_the_password() {
    assert!(!format!("{:?}", pool("btc")).contains("secret"));
}

#[tokio::test]
async fn a_replayed_batch_inserts_nothing_twice() {
    let (_d, s) = store().await;
    let batch: Vec<ShareInsert> = (0..1200)
        .map(|i| share(&format!("0190-{i:06}"), 1_000 + i, "btc", "accepted", None))
        .collect();
    assert_eq!(s.insert_shares("texas", "dp1", &batch).await.unwrap(), 1200);
    assert_eq!(s.insert_shares("texas", "dp1", &batch).await.unwrap(), 0);
    assert_eq!(
        s.insert_shares("texas", "dp1", &batch[..10]).await.unwrap(),
        0
    );
    assert_eq!(s.share_count().await.unwrap(), 1200);
    // Replays consume sequence numbers; the count must not see them.
    let one = [share("0190-new", 5_000, "btc", "accepted", None)];
    assert_eq!(s.insert_shares("texas", "dp1", &one).await.unwrap(), 1);
    assert_eq!(s.share_count().await.unwrap(), 1201);
}

#[tokio::test]
async fn queries_filter_and_stats_count_per_pool_with_reasons() {
    let (_d, s) = store().await;
    let mut batch = vec![
        share("a", 1_000, "btc", "accepted", None),
        share("b", 2_000, "btc", "rejected", Some("stale job")),
        share("c", 3_000, "btc", "rejected", Some("stale job")),
        share("d", 4_000, "bch", "accepted", None),
    ];
    // Accepted locally, never forwarded: counts as accepted and local-only.
    let mut local = share("e", 5_000, "bch", "", None);
    local.forwarded = false;
    local.pool_verdict = None;
    batch.push(local);
    s.insert_shares("texas", "dp1", &batch).await.unwrap();

    let f = ShareFilter {
        pool: Some("btc".into()),
        verdict: Some("rejected".into()),
        ..Default::default()
    };
    let (rows, truncated) = s.query_shares(&f, 1).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(truncated);
    assert_eq!(rows[0].id, "c", "newest first");

    let stats = s.stats(&ShareFilter::default(), 0).await.unwrap();
    let btc = stats.iter().find(|r| r.pool == "btc").unwrap();
    assert_eq!((btc.accepted, btc.rejected), (1, 2));
    assert_eq!(btc.reasons, vec![("stale job".to_string(), 2)]);
    let bch = stats.iter().find(|r| r.pool == "bch").unwrap();
    assert_eq!((bch.accepted, bch.rejected, bch.local_only), (2, 0, 1));

    let windows = s.stats(&ShareFilter::default(), 2_000).await.unwrap();
    let btc_windows: Vec<i64> = windows
        .iter()
        .filter(|r| r.pool == "btc")
        .map(|r| r.window_start_ms)
        .collect();
    assert_eq!(btc_windows, vec![0, 2_000]);
}

#[tokio::test]
async fn roll_up_keeps_the_counts_and_the_views_answer() {
    let (_d, s) = store().await;
    let hour = 3_600_000;
    let batch = vec![
        share("a", hour + 1, "btc", "accepted", None),
        share("b", hour + 2, "btc", "rejected", Some("duplicate share")),
        share("c", 3 * hour, "btc", "accepted", None),
    ];
    s.insert_shares("texas", "dp1", &batch).await.unwrap();
    assert_eq!(s.roll_up(2 * hour).await.unwrap(), 2);
    assert_eq!(s.share_count().await.unwrap(), 1);
    let stats = s.stats(&ShareFilter::default(), 0).await.unwrap();
    assert_eq!((stats[0].accepted, stats[0].rejected), (2, 1));
    let hourly: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT hour_utc, accepted, rejected FROM v_pool_hourly ORDER BY hour_utc")
            .fetch_all(&s.read)
            .await
            .unwrap();
    assert_eq!(
        hourly,
        vec![
            ("1970-01-01 01:00".into(), 1, 1),
            ("1970-01-01 03:00".into(), 1, 0)
        ]
    );
    let reasons: Vec<(String, i64)> = sqlx::query_as("SELECT reason, shares FROM v_reject_reasons")
        .fetch_all(&s.read)
        .await
        .unwrap();
    assert_eq!(reasons, vec![("duplicate share".into(), 1)]);
    let daily: i64 = sqlx::query_scalar("SELECT total FROM v_worker_daily")
        .fetch_one(&s.read)
        .await
        .unwrap();
    assert_eq!(daily, 3);
}

#[tokio::test]
async fn breaker_state_and_transitions_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let s = Store::open(&path).await.unwrap();
        let site = s.add_site("texas", "UTC", "h", "{}").await.unwrap();
        let p = s.add_pool(&pool("btc")).await.unwrap();
        let row = BreakerRow {
            site_id: site.id,
            site: "texas".into(),
            pool_id: p.id,
            pool: "btc".into(),
            state: "open".into(),
            consecutive_failures: 5,
            successes: 0,
            changed_ms: 10,
            retry_ms: Some(60_010),
            last_error: "connection refused".into(),
        };
        let ev = breakers::BreakerEvent {
            at_ms: 10,
            from_state: "closed",
            to_state: "open",
            reason: "5 failures",
        };
        s.save_breaker(&row, Some(ev)).await.unwrap();
        s.close().await;
    }
    let s = Store::open(&path).await.unwrap();
    let rows = s.breakers(None).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].state.as_str(), rows[0].retry_ms),
        ("open", Some(60_010))
    );
    let events = s.breaker_events("texas", "btc").await.unwrap();
    assert_eq!(
        events,
        vec![(10, "closed".into(), "open".into(), "5 failures".into())]
    );
}

#[tokio::test]
async fn schedule_replacement_is_whole_day_and_plan_versions_only_grow() {
    let (_d, s) = store().await;
    let site = s.add_site("texas", "UTC", "h", "{}").await.unwrap();
    let a = s.add_pool(&pool("a")).await.unwrap();
    let b = s.add_pool(&pool("b")).await.unwrap();
    s.set_schedule(
        site.id,
        "sha256",
        &[(a.id, 0, 720, 0), (b.id, 720, 1440, 0)],
    )
    .await
    .unwrap();
    s.set_schedule(site.id, "sha256", &[(b.id, 0, 1440, 0)])
        .await
        .unwrap();
    let slots = s.schedule(site.id).await.unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].pool, "b");
    s.save_plan(site.id, 3, "{}", &[]).await.unwrap();
    s.save_plan(site.id, 2, "{}", &[]).await.unwrap();
    assert_eq!(s.site("texas").await.unwrap().plan_version, 3);
}

#[tokio::test]
async fn a_weighted_window_is_stored_per_pool_and_read_back_as_one_window() {
    use switchyard_model::{PoolWeight, Slot, TimeOfDay};
    let (_d, s) = store().await;
    let site = s.add_site("texas", "UTC", "h", "{}").await.unwrap();
    for name in ["btc", "bch", "nh"] {
        s.add_pool(&pool(name)).await.unwrap();
    }
    let t = |m| TimeOfDay::from_minutes(m).unwrap();
    let w = |pool: &str, weight| PoolWeight {
        pool: pool.into(),
        weight,
    };
    // Written order kept: bch before btc.
    let day = vec![
        Slot::weighted(vec![w("bch", 30), w("btc", 70)], t(0), t(1080)),
        Slot::new("nh", t(1080), t(1440)),
    ];
    s.set_day(site.id, "sha256", &day).await.unwrap();
    let rows = s.schedule(site.id).await.unwrap();
    assert_eq!(rows.len(), 3);
    let days = s.days(site.id).await.unwrap();
    assert_eq!(days[&switchyard_model::Algorithm::Sha256], day);
}

fn worker_share(id: String, at_ms: i64, worker: &str, verdict: &str) -> ShareInsert {
    ShareInsert {
        worker: worker.into(),
        ..share(
            &id,
            at_ms,
            "btc",
            verdict,
            (verdict != "accepted").then_some("stale job"),
        )
    }
}

/// Shares of `worker` in the history (all of them, newest first).
async fn ids_of(s: &Store, worker: &str) -> Vec<String> {
    let f = ShareFilter {
        worker: Some(worker.into()),
        ..Default::default()
    };
    let (rows, _) = s.query_shares(&f, 10_000).await.unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn queries_by_worker_and_worker_days_agree_before_and_after_the_summary_pass() {
    let (_d, s) = store().await;
    let day = 86_400_000;
    let batch: Vec<ShareInsert> = (0..300)
        .map(|i| {
            let verdict = if i % 10 == 0 { "rejected" } else { "accepted" };
            worker_share(
                format!("s{i:04}"),
                day + i * 600_000,
                &format!("rig{}", i % 3),
                verdict,
            )
        })
        .collect();
    s.insert_shares("texas", "dp1", &batch).await.unwrap();
    let daily = |s: Store| async move {
        sqlx::query_as::<_, (String, String, i64, i64)>(
            "SELECT day_utc, worker, accepted, rejected FROM v_worker_daily ORDER BY 1, 2",
        )
        .fetch_all(&s.read)
        .await
        .unwrap()
    };
    let worker_stats = |s: Store| async move {
        let f = ShareFilter {
            worker: Some("rig0".into()),
            since_ms: Some(day + 3_600_000),
            ..Default::default()
        };
        let st = s.stats(&f, 0).await.unwrap();
        (st[0].accepted, st[0].rejected)
    };
    // Nothing summarised yet: all from share_events.
    let before = (
        ids_of(&s, "rig1").await,
        daily(s.clone()).await,
        worker_stats(s.clone()).await,
    );
    assert_eq!(before.0.len(), 100);
    assert_eq!(before.0[0], "s0298", "newest first");
    // Day 2 holds i in 0..144; rig0's are i % 3 == 0, rejected when i % 30 == 0.
    assert_eq!(before.1[0], ("1970-01-02".into(), "rig0".into(), 43, 5));
    // roll_up summarises everything first (and here deletes nothing).
    assert_eq!(s.roll_up(0).await.unwrap(), 0);
    let summarised: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM share_worker_index")
        .fetch_one(&s.read)
        .await
        .unwrap();
    assert_eq!(summarised, 300);
    let after = (
        ids_of(&s, "rig1").await,
        daily(s.clone()).await,
        worker_stats(s.clone()).await,
    );
    assert_eq!(before, after);
    // Half summarised, half not.
    let more: Vec<ShareInsert> = (300..330)
        .map(|i| worker_share(format!("s{i:04}"), day + i * 600_000, "rig1", "accepted"))
        .collect();
    s.insert_shares("texas", "dp1", &more).await.unwrap();
    let ids = ids_of(&s, "rig1").await;
    assert_eq!(ids.len(), 130);
    assert_eq!((ids[0].as_str(), ids[30].as_str()), ("s0329", "s0298"));
    let (rows, truncated) = s
        .query_shares(
            &ShareFilter {
                worker: Some("rig1".into()),
                ..Default::default()
            },
            40,
        )
        .await
        .unwrap();
    assert!(truncated);
    assert_eq!(rows.last().unwrap().id, "s0271");
    // Rolling up removes the old events from the worker index too.
    assert_eq!(s.roll_up(day + 150 * 600_000).await.unwrap(), 150);
    assert_eq!(ids_of(&s, "rig1").await.len(), 80);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM share_worker_index")
        .fetch_one(&s.read)
        .await
        .unwrap();
    assert_eq!(left, 180);
}

#[tokio::test]
async fn hourly_counts_take_only_new_events_and_stats_split_partial_hours() {
    let (_d, s) = store().await;
    let hour = 3_600_000;
    let at = |i: i64| hour + i * 60_000; // one a minute from 01:00
    let first: Vec<ShareInsert> = (0..90)
        .map(|i| worker_share(format!("a{i:03}"), at(i), "rig", "accepted"))
        .collect();
    s.insert_shares("texas", "dp1", &first).await.unwrap();
    // A batch half replayed, half new (and one new event twice).
    let mut mixed: Vec<ShareInsert> = first[60..].to_vec();
    mixed.extend((90..150).map(|i| worker_share(format!("a{i:03}"), at(i), "rig", "rejected")));
    mixed.push(mixed.last().unwrap().clone());
    assert_eq!(s.insert_shares("texas", "dp1", &mixed).await.unwrap(), 60);
    let hourly: Vec<(i64, i64)> =
        sqlx::query_as("SELECT accepted, rejected FROM v_pool_hourly ORDER BY hour_utc")
            .fetch_all(&s.read)
            .await
            .unwrap();
    assert_eq!(hourly, vec![(60, 0), (30, 30), (0, 30)]);
    // Ranges with partial hours at either end, windows of one and two hours.
    for (since, until) in [
        (Some(at(10)), Some(at(130))),
        (Some(at(10)), None),
        (None, Some(at(75))),
        (Some(at(61)), Some(at(62))),
        (Some(at(60)), Some(at(120))),
    ] {
        let f = ShareFilter {
            since_ms: since,
            until_ms: until,
            ..Default::default()
        };
        let inside =
            |i: &i64| since.is_none_or(|t| at(*i) >= t) && until.is_none_or(|t| at(*i) < t);
        let want = (
            (0..90).filter(inside).count() as i64,
            (90..150).filter(inside).count() as i64,
        );
        let st = s.stats(&f, 0).await.unwrap();
        assert_eq!(
            (st[0].accepted, st[0].rejected),
            want,
            "{since:?}..{until:?}"
        );
        let reasons = if want.1 > 0 {
            vec![("stale job".to_string(), want.1)]
        } else {
            vec![]
        };
        assert_eq!(st[0].reasons, reasons);
        for window in [hour, 2 * hour] {
            let st = s.stats(&f, window).await.unwrap();
            let got = st
                .iter()
                .fold((0, 0), |(a, r), w| (a + w.accepted, r + w.rejected));
            assert_eq!(got, want, "{since:?}..{until:?} per {window}");
        }
    }
    let per_hour = s.stats(&ShareFilter::default(), hour).await.unwrap();
    let got: Vec<(i64, i64, i64)> = per_hour
        .iter()
        .map(|w| (w.window_start_ms, w.accepted, w.rejected))
        .collect();
    assert_eq!(
        got,
        vec![(hour, 60, 0), (2 * hour, 30, 30), (3 * hour, 0, 30)]
    );
}

#[tokio::test]
async fn events_read_back_exactly_as_sent() {
    let (_d, s) = store().await;
    let mut e = share("x", 1_700_000_000_123, "btc", "accepted", None);
    e.miner_difficulty = 0.1 + 0.2;
    e.share_difficulty = Some(1.0 / 3.0 * 1e-10);
    e.job_id = "j\"1\\\n\u{e9}".into();
    e.pool_latency_us = Some(i64::MAX);
    let mut local = share("y", -5, "btc", "", Some("low difficulty share"));
    local.forwarded = false;
    local.pool_verdict = None;
    local.share_difficulty = None;
    local.pool_latency_us = None;
    local.miner_difficulty = f64::MAX;
    s.insert_shares("texas", "dp1", &[e.clone(), local.clone()])
        .await
        .unwrap();
    let (rows, _) = s.query_shares(&ShareFilter::default(), 10).await.unwrap();
    for (row, sent) in rows.iter().zip([&e, &local]) {
        let got = ShareInsert {
            id: row.id.clone(),
            at_ms: row.at_ms,
            algorithm: row.algorithm.clone(),
            pool: row.pool.clone(),
            worker: row.worker.clone(),
            job_id: row.job_id.clone(),
            miner_difficulty: row.miner_difficulty,
            share_difficulty: row.share_difficulty,
            local_verdict: row.local_verdict.clone(),
            forwarded: row.forwarded,
            pool_verdict: row.pool_verdict.clone(),
            reason: row.reason.clone(),
            pool_latency_us: row.pool_latency_us,
        };
        assert_eq!(&got, sent);
        assert_eq!(row.verdict, sent.verdict());
        assert_eq!(
            (row.site.as_str(), row.dataplane_id.as_str()),
            ("texas", "dp1")
        );
    }
}

#[tokio::test]
async fn a_summary_pass_runs_once_enough_events_arrived() {
    let (_d, s) = store().await;
    let n = shares::SUMMARY_LAG + 500;
    let events: Vec<ShareInsert> = (0..n)
        .map(|i| {
            worker_share(
                format!("e{i:06}"),
                i * 1000,
                &format!("rig{}", i % 7),
                "accepted",
            )
        })
        .collect();
    for chunk in events.chunks(5_000) {
        s.insert_shares("texas", "dp1", chunk).await.unwrap();
    }
    let (mark, indexed): (i64, i64) = sqlx::query_as(
        "SELECT up_to_seq, (SELECT COUNT(*) FROM share_worker_index) FROM share_summarised",
    )
    .fetch_one(&s.read)
    .await
    .unwrap();
    assert_eq!((mark, indexed), (shares::SUMMARY_LAG, shares::SUMMARY_LAG));
    let rig3 = ids_of(&s, "rig3").await;
    assert_eq!(rig3.len(), (0..n).filter(|i| i % 7 == 3).count());
    let total: i64 = sqlx::query_scalar("SELECT SUM(total) FROM v_worker_daily")
        .fetch_one(&s.read)
        .await
        .unwrap();
    assert_eq!(total, n);
}

#[tokio::test]
async fn readers_keep_a_smaller_page_cache_than_the_writer() {
    let (_dir, s) = store().await;
    let read: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&s.read)
        .await
        .unwrap();
    let write: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&s.write)
        .await
        .unwrap();
    // Negative: KiB. 16 MiB for each of the four readers, 64 MiB for the writer.
    assert_eq!((read, write), (-16_384, -65_536));
}
