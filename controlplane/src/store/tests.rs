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
    s.set_schedule(site.id, "sha256", &[(btc.id, 0, 1440)])
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
    s.set_schedule(site.id, "sha256", &[(a.id, 0, 720), (b.id, 720, 1440)])
        .await
        .unwrap();
    s.set_schedule(site.id, "sha256", &[(b.id, 0, 1440)])
        .await
        .unwrap();
    let slots = s.schedule(site.id).await.unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].pool, "b");
    s.save_plan(site.id, 3, "{}", &[]).await.unwrap();
    s.save_plan(site.id, 2, "{}", &[]).await.unwrap();
    assert_eq!(s.site("texas").await.unwrap().plan_version, 3);
}
