//! `ctl shares` and `ctl stats` against a real control plane after a known
//! set of share events was reported through the data-plane gRPC service
//! (Register, WatchPlans, AckPlan, ReportShares): exact counts per filter,
//! percentages, reasons and windows, in table, json and csv.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard_tests::cp::{ControlPlane, FakeDataPlane, now_ms, share};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// Reports a known set of 25 shares, all sha256 at site `default`:
///
/// | when  | pool | worker | shares                                                          |
/// |-------|------|--------|-----------------------------------------------------------------|
/// | -30m  | btc  | rig1   | 6 accepted, 2 rejected "stale job", 2 accepted local-only       |
/// | -90m  | btc  | rig2   | 3 accepted, 1 rejected "low difficulty"                         |
/// | -3h   | bch  | rig1   | 4 accepted, 1 rejected "duplicate share", 1 rejected locally "low difficulty" |
/// | -2d   | bch  | rig3   | 5 accepted                                                      |
async fn report_known_shares(dp: &mut FakeDataPlane, now: i64) -> [i64; 4] {
    let t = [
        now - 30 * MIN,
        now - 90 * MIN,
        now - 3 * HOUR,
        now - 48 * HOUR,
    ];
    let mut events = Vec::new();
    let mut add = |n: usize, e: &dyn Fn() -> switchyard_proto::v1::ShareEvent| {
        for _ in 0..n {
            events.push(e());
        }
    };
    add(6, &|| {
        share(t[0], "btc", "rig1", true, "accepted", "accepted", "")
    });
    add(2, &|| {
        share(
            t[0],
            "btc",
            "rig1",
            true,
            "accepted",
            "rejected",
            "stale job",
        )
    });
    add(2, &|| share(t[0], "btc", "rig1", false, "accepted", "", ""));
    add(3, &|| {
        share(t[1], "btc", "rig2", true, "accepted", "accepted", "")
    });
    add(1, &|| {
        share(
            t[1],
            "btc",
            "rig2",
            true,
            "accepted",
            "rejected",
            "low difficulty",
        )
    });
    add(4, &|| {
        share(t[2], "bch", "rig1", true, "accepted", "accepted", "")
    });
    add(1, &|| {
        share(
            t[2],
            "bch",
            "rig1",
            true,
            "accepted",
            "rejected",
            "duplicate share",
        )
    });
    add(1, &|| {
        share(t[2], "bch", "rig1", false, "rejected", "", "low difficulty")
    });
    add(5, &|| {
        share(t[3], "bch", "rig3", true, "accepted", "accepted", "")
    });
    let ack = dp.report_shares(events).await;
    assert_eq!((ack.inserted, ack.duplicates), (25, 0));
    t
}

fn count(v: &Value) -> usize {
    v.as_array().expect("a JSON array").len()
}

fn tally<'a>(v: &'a Value, key: &str) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for r in v.as_array().unwrap() {
        *m.entry(r[key].as_str().unwrap()).or_default() += 1;
    }
    m
}

#[tokio::test]
async fn shares_are_filtered_by_site_pool_worker_verdict_and_time() {
    let cp = ControlPlane::start().await;
    let mut dp = cp.fake_dataplane(&cp.site_token("default"), "dp-1").await;
    let now = now_ms();
    let t = report_known_shares(&mut dp, now).await;

    let all = cp.ctl(&["-o", "json", "shares"]).await.json();
    assert_eq!(count(&all), 25);
    assert_eq!(
        tally(&all, "pool"),
        BTreeMap::from([("bch", 11), ("btc", 14)])
    );
    assert_eq!(
        tally(&all, "verdict"),
        BTreeMap::from([("accepted", 20), ("rejected", 5)])
    );
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|s| s["site"] == "default" && s["dataplane_id"] == "dp-1")
    );

    let cases: &[(&[&str], usize)] = &[
        (&["--site", "default"], 25),
        (&["--site", "ghost"], 0),
        (&["--pool", "btc"], 14),
        (&["--worker", "rig1"], 16),
        (&["--worker", "rig2"], 4),
        (&["--verdict", "rejected"], 5),
        (&["--verdict", "accepted", "--pool", "bch"], 9),
        (&["--since", "1h"], 10),
        (&["--since", "2h"], 14),
        (&["--until", "-1h"], 15),
        (&["--since", "4h", "--until", "-1h"], 10),
        (&["--algo", "sha256", "--since", "1d"], 20),
        (
            &["--pool", "btc", "--verdict", "rejected", "--since", "2h"],
            3,
        ),
        (&["--worker", "rig1", "--verdict", "rejected"], 4),
    ];
    for (filter, expected) in cases {
        let args: Vec<&str> = ["-o", "json", "shares"]
            .iter()
            .chain(filter.iter())
            .copied()
            .collect();
        let got = cp.ctl(&args).await.json();
        assert_eq!(count(&got), *expected, "ctl shares {filter:?}: {got:#}");
    }

    // The rejected ones, exactly: reasons, forwarding and times.
    let rejected = cp
        .ctl(&[
            "-o",
            "json",
            "shares",
            "--verdict",
            "rejected",
            "--pool",
            "bch",
        ])
        .await
        .json();
    let mut seen: Vec<(String, bool, i64)> = rejected
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["reason"].as_str().unwrap().to_string(),
                s["forwarded"].as_bool().unwrap(),
                s["at_unix_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("duplicate share".to_string(), true, t[2]),
            ("low difficulty".to_string(), false, t[2])
        ]
    );
    let one = &rejected[0];
    assert_eq!(
        one["at"].as_str().unwrap().len(),
        "2026-11-23T04:00:00.000Z".len()
    );
    assert_eq!(one["miner_difficulty"], 1024.0);

    let csv = cp
        .ctl(&["-o", "csv", "shares", "--worker", "rig2"])
        .await
        .csv();
    assert_eq!(csv.len(), 4);
    assert!(csv.iter().all(|r| r["worker"] == "rig2"
        && r["pool"] == "btc"
        && r["at_unix_ms"] == t[1].to_string()));
    assert_eq!(
        csv.iter()
            .filter(|r| r["verdict"] == "rejected" && r["reason"] == "low difficulty")
            .count(),
        1
    );
    assert!(csv.iter().all(|r| r["pool_latency_us"] == "1500"));

    let table = cp.ctl(&["shares", "--worker", "rig2"]).await;
    let text = table.ok();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(
        text.lines().next().unwrap().starts_with("TIME (UTC)"),
        "{text}"
    );
    assert!(
        text.contains("1.5ms") && text.contains("low difficulty"),
        "{text}"
    );

    let limited = cp.ctl(&["-o", "json", "shares", "--limit", "3"]).await;
    assert_eq!(count(&limited.json()), 3);
    assert!(
        limited
            .stderr
            .contains("showing the first 3 matching shares"),
        "{limited:?}"
    );
    let none = cp.ctl(&["shares", "--worker", "nobody"]).await;
    assert_eq!(none.ok(), "");
    assert!(none.stderr.contains("no shares match"), "{none:?}");
    let reversed = cp.ctl(&["shares", "--since", "1h", "--until", "-2h"]).await;
    assert!(reversed.fails(2).contains("--since"), "{reversed:?}");
}

#[tokio::test]
async fn stats_count_accepted_and_rejected_per_pool_with_percentages_reasons_and_windows() {
    let cp = ControlPlane::start().await;
    let mut dp = cp.fake_dataplane(&cp.site_token("default"), "dp-1").await;
    let t = report_known_shares(&mut dp, now_ms()).await;

    // Default: the last 24 hours as one window (the -2d shares are out).
    let stats = cp.ctl(&["-o", "json", "stats"]).await.json();
    assert_eq!(count(&stats), 2, "{stats:#}");
    let by_pool = |v: &Value, pool: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["pool"] == pool)
            .cloned()
            .unwrap()
    };
    let btc = by_pool(&stats, "btc");
    assert_eq!(
        (
            btc["accepted"].as_u64(),
            btc["rejected"].as_u64(),
            btc["local_only"].as_u64()
        ),
        (Some(11), Some(3), Some(2))
    );
    assert_eq!(
        (
            btc["accepted_percent"].as_f64(),
            btc["rejected_percent"].as_f64()
        ),
        (Some(78.6), Some(21.4))
    );
    assert_eq!(
        btc["reasons"],
        json!([{"reason": "stale job", "count": 2}, {"reason": "low difficulty", "count": 1}])
    );
    assert_eq!(
        (btc["site"].as_str(), btc["algorithm"].as_str()),
        (Some("default"), Some("sha256"))
    );
    let bch = by_pool(&stats, "bch");
    assert_eq!(
        (
            bch["accepted"].as_u64(),
            bch["rejected"].as_u64(),
            bch["local_only"].as_u64()
        ),
        (Some(4), Some(2), Some(0))
    );
    assert_eq!(
        (
            bch["accepted_percent"].as_f64(),
            bch["rejected_percent"].as_f64()
        ),
        (Some(66.7), Some(33.3))
    );
    assert_eq!(
        bch["reasons"],
        json!([{"reason": "duplicate share", "count": 1}, {"reason": "low difficulty", "count": 1}])
    );

    let week = cp
        .ctl(&["-o", "json", "stats", "--since", "3d", "--pool", "bch"])
        .await
        .json();
    assert_eq!(count(&week), 1);
    assert_eq!(
        (week[0]["accepted"].as_u64(), week[0]["rejected"].as_u64()),
        (Some(9), Some(2))
    );
    assert_eq!(week[0]["accepted_percent"].as_f64(), Some(81.8));

    // Hour windows: -30m and -90m are always in two adjacent hours.
    let hourly = cp
        .ctl(&["-o", "json", "stats", "--window", "1h", "--pool", "btc"])
        .await
        .json();
    let mut windows: Vec<(i64, u64, u64)> = hourly
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["window_start_unix_ms"].as_i64().unwrap(),
                r["accepted"].as_u64().unwrap(),
                r["rejected"].as_u64().unwrap(),
            )
        })
        .collect();
    windows.sort();
    assert_eq!(
        windows,
        [(t[1] / HOUR * HOUR, 3, 1), (t[0] / HOUR * HOUR, 8, 2)]
    );

    let csv = cp
        .ctl(&["-o", "csv", "stats", "--site", "default"])
        .await
        .csv();
    let row = csv.iter().find(|r| r["pool"] == "btc").unwrap();
    assert_eq!(
        (row["accepted"].as_str(), row["rejected"].as_str()),
        ("11", "3")
    );
    assert_eq!(
        (
            row["accepted_percent"].as_str(),
            row["rejected_percent"].as_str()
        ),
        ("78.6", "21.4")
    );
    assert_eq!(row["reasons"], "stale job: 2; low difficulty: 1");

    let table = cp.ctl(&["stats"]).await;
    let text = table.ok();
    assert!(
        text.starts_with("shares from ") && text.contains("one window"),
        "{text}"
    );
    let line = text.lines().find(|l| l.contains(" btc ")).unwrap();
    assert!(
        line.contains("78.6%")
            && line.contains("21.4%")
            && line.contains("stale job: 2, low difficulty: 1"),
        "{text}"
    );

    let empty = cp
        .ctl(&["stats", "--site", "default", "--pool", "ghost"])
        .await;
    assert_eq!(empty.ok(), "");
    assert!(empty.stderr.starts_with("no shares: "), "{empty:?}");
    let bad = cp.ctl(&["stats", "--window", "soon"]).await;
    assert!(bad.fails(2).contains("--window"), "{bad:?}");
}
