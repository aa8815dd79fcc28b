//! `ctl stats` hashrates and `ctl workers` against a real control plane: a
//! scripted share stream of known difficulty and rate gives its hashrate
//! (exact arithmetic on the ledger; asserted within 1%), ALEO in work/s,
//! and the workers' states, one idle from a health report, in table, json
//! and csv.

use switchyard_proto::v1 as pb;
use switchyard_tests::cp::{ControlPlane, now_ms, share};

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn within_1pct(got: f64, want: f64) -> bool {
    (got / want - 1.0).abs() < 0.01
}

#[tokio::test]
async fn a_scripted_stream_gives_its_hashrate_and_workers_show_their_state() {
    let cp = ControlPlane::start().await;
    let mut dp = cp.fake_dataplane(&cp.site_token("default"), "dp-1").await;
    let now = now_ms();
    // 20 minutes from 3 h ago: rig-a sends an accepted SHA-256 share of
    // difficulty 65,536 every 2 s (and 10 rejected ones, which do not
    // count); prover-1 an ALEO share of difficulty 50 every 10 s.
    let t0 = (now - 3 * HOUR) / SEC * SEC;
    let mut events = Vec::new();
    for i in 0..600 {
        events.push(pb::ShareEvent {
            miner_difficulty: 65_536.0,
            ..share(t0 + i * 2 * SEC, "btc", "rig-a", false, "accepted", "", "")
        });
    }
    for i in 0..10 {
        events.push(pb::ShareEvent {
            miner_difficulty: 65_536.0,
            ..share(
                t0 + i * MIN,
                "btc",
                "rig-a",
                true,
                "accepted",
                "rejected",
                "stale job",
            )
        });
    }
    for i in 0..120 {
        events.push(pb::ShareEvent {
            algorithm: pb::Algorithm::Zksnark as i32,
            miner_difficulty: 50.0,
            ..share(
                t0 + i * 10 * SEC,
                "aleo",
                "prover-1",
                false,
                "accepted",
                "",
                "",
            )
        });
    }
    events.push(share(now - MIN, "btc", "rig-b", false, "accepted", "", ""));
    let ack = dp.report_shares(events).await;
    assert_eq!(ack.inserted, 731);
    dp.client
        .report_health(pb::HealthReport {
            dataplane_id: "dp-1".into(),
            idle_workers: vec![pb::IdleWorker {
                algorithm: pb::Algorithm::Sha256 as i32,
                worker: "rig-c".into(),
                last_share_unix_ms: 0,
            }],
            ..Default::default()
        })
        .await
        .unwrap();

    let (since, until) = (rfc3339(t0), rfc3339(t0 + 20 * MIN));
    let range = ["--since", since.as_str(), "--until", until.as_str()];
    let v = cp
        .ctl(&[&["-o", "json", "stats"][..], &range].concat())
        .await
        .json();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    let btc = rows.iter().find(|r| r["pool"] == "btc").unwrap();
    // 600 x 65,536 x 2^32 hashes in 1,200 s.
    let want = 600.0 * 65_536.0 * 4_294_967_296.0 / 1200.0;
    let got = btc["hashrate_hs"].as_f64().unwrap();
    assert!(within_1pct(got, want), "{got} vs {want}");
    assert_eq!(btc["hashrate_unit"], "H/s");
    assert_eq!(btc["accepted_difficulty"].as_f64(), Some(600.0 * 65_536.0));
    let aleo = rows.iter().find(|r| r["pool"] == "aleo").unwrap();
    assert!(
        within_1pct(aleo["hashrate_hs"].as_f64().unwrap(), 5.0),
        "{aleo}"
    );
    assert_eq!(aleo["hashrate_unit"], "work/s");

    let table = cp.ctl(&[&["stats"][..], &range].concat()).await;
    let out = table.ok();
    assert!(out.contains("HASHRATE"), "{out}");
    assert!(
        out.contains("140.7 TH/s") && out.contains("5.0 work/s"),
        "{out}"
    );
    let csv = cp
        .ctl(&[&["-o", "csv", "stats"][..], &range].concat())
        .await;
    assert!(
        csv.csv()
            .iter()
            .all(|r| r["hashrate_hs"].parse::<f64>().unwrap() > 0.0)
    );

    // Workers of the last 24 h: rig-a and prover-1 silent for 2 h 40 min,
    // rig-b a minute ago, rig-c connected without shares.
    let v = cp.ctl(&["-o", "json", "workers"]).await.json();
    let got: Vec<(&str, &str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["algorithm"].as_str().unwrap(),
                w["worker"].as_str().unwrap(),
                w["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("sha256", "rig-a", "offline"),
            ("sha256", "rig-b", "online"),
            ("sha256", "rig-c", "idle"),
            ("zksnark", "prover-1", "offline"),
        ]
    );
    let a = &v[0];
    assert_eq!(
        (a["accepted"].as_u64(), a["rejected"].as_u64()),
        (Some(600), Some(10))
    );
    assert_eq!(a["difficulty"].as_f64(), Some(65_536.0));
    assert_eq!(a["dataplane_id"], "dp-1");
    assert_eq!(a["last_share_unix_ms"].as_i64(), Some(t0 + 599 * 2 * SEC));
    assert_eq!(a["hashrate_15m_hs"].as_f64(), Some(0.0));
    // The day's hashrate: the stream's work over the part of the day the
    // ledger covers, from its first share (t0) until now.
    let day = a["hashrate_24h_hs"].as_f64().unwrap();
    let covered_s = (now_ms() - t0) as f64 / 1000.0;
    assert!(within_1pct(day, want * 1200.0 / covered_s), "{day}");
    assert_eq!(v[3]["hashrate_unit"], "work/s");

    let out = cp.ctl(&["workers", "--state", "online"]).await;
    let out = out.ok();
    assert!(out.starts_with("workers with a share since"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "heading, blank, titles, rig-b: {out}");
    assert!(lines[2].contains("HASHRATE 1H") && lines[2].contains("DATA PLANE"));
    assert!(lines[3].contains("rig-b") && lines[3].contains("online") && lines[3].contains("1024"));
    assert!(
        lines[3].contains("GH/s") && lines[3].contains("dp-1"),
        "{out}"
    );

    let csv = cp.ctl(&["-o", "csv", "workers", "--algo", "zksnark"]).await;
    let rows = csv.csv();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["worker"], "prover-1");
    assert_eq!(rows[0]["accepted"], "120");

    let bad = cp.ctl(&["workers", "--since", "3d"]).await;
    let err = bad.fails(1);
    assert!(
        err.contains("since:") && err.contains("too far back"),
        "{err}"
    );
}
