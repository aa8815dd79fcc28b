//! `ctl dataplane list`, `ctl breaker list|open|reset` and `ctl status`
//! against a real control plane after a data plane registered, acknowledged
//! plans and reported failed connects through the data-plane gRPC service.

use std::collections::BTreeMap;

use switchyard_tests::cp::{ControlPlane, now_ms, share};

fn count(v: &serde_json::Value) -> usize {
    v.as_array().expect("a JSON array").len()
}

#[tokio::test]
async fn dataplanes_breakers_and_status_show_what_the_data_plane_reported() {
    let cp = ControlPlane::start().await;
    cp.ctl(&[
        "schedule",
        "set",
        "--site",
        "default",
        "--algo",
        "sha256",
        "btc@00:00-24:00",
    ])
    .await
    .ok();
    cp.ctl(&[
        "schedule", "failover", "--site", "default", "--algo", "sha256", "bch",
    ])
    .await
    .ok();
    let none = cp.ctl(&["dataplane", "list"]).await;
    assert!(
        none.stderr.contains("no data planes have connected yet"),
        "{none:?}"
    );

    let before = now_ms();
    let mut dp = cp.fake_dataplane(&cp.site_token("default"), "dp-1").await;
    let v = dp.plan.version;
    let list = cp.ctl(&["-o", "json", "dataplane", "list"]).await.json();
    assert_eq!(count(&list), 1);
    let d = &list[0];
    assert_eq!(
        (
            d["id"].as_str(),
            d["site"].as_str(),
            d["version"].as_str(),
            d["hostname"].as_str()
        ),
        (
            Some("dp-1"),
            Some("default"),
            Some("9.8.7"),
            Some("host-dp-1")
        )
    );
    assert_eq!(
        (
            d["acked_plan_version"].as_u64(),
            d["site_plan_version"].as_u64()
        ),
        (Some(v), Some(v))
    );
    assert_eq!(
        (d["plan_current"].as_bool(), d["connected"].as_bool()),
        (Some(true), Some(true))
    );
    let seen = d["last_seen_unix_ms"].as_i64().unwrap();
    assert!((before..=now_ms()).contains(&seen), "{d:#}");
    let table = cp.ctl(&["dataplane", "list", "--site", "default"]).await;
    let row = table.ok().lines().nth(1).unwrap().to_string();
    assert!(
        row.starts_with("dp-1")
            && row.contains(&format!("{v}/{v}"))
            && row.contains(" ago (")
            && row.contains("yes"),
        "{row}"
    );

    // A new plan that is not acknowledged yet shows as behind.
    cp.ctl(&["pool", "update", "bch", "--port", "3499"])
        .await
        .ok();
    let next = dp.next_plan().await.version;
    assert!(next > v);
    let table = cp.ctl(&["dataplane", "list"]).await;
    assert!(
        table.ok().contains(&format!("{v}/{next} behind")),
        "{table:?}"
    );
    dp.ack(next).await;
    let list = cp.ctl(&["-o", "json", "dataplane", "list"]).await.json();
    assert_eq!(
        (
            list[0]["acked_plan_version"].as_u64(),
            list[0]["plan_current"].as_bool()
        ),
        (Some(next), Some(true))
    );

    // Four failed connects: still closed; the fifth opens it.
    for i in 0..4 {
        dp.connect_result("sha256", "btc", false, &format!("connection refused #{i}"))
            .await;
    }
    let b = cp.ctl(&["-o", "json", "breaker", "list"]).await.json();
    assert_eq!(
        (
            b[0]["state"].as_str(),
            b[0]["consecutive_failures"].as_u64()
        ),
        (Some("closed"), Some(4))
    );
    dp.connect_result("sha256", "btc", false, "connection refused #4")
        .await;
    let b = cp
        .ctl(&["-o", "json", "breaker", "list", "--site", "default"])
        .await
        .json();
    assert_eq!(count(&b), 1);
    let open = &b[0];
    assert_eq!(
        (
            open["site"].as_str(),
            open["pool"].as_str(),
            open["state"].as_str()
        ),
        (Some("default"), Some("btc"), Some("open"))
    );
    assert_eq!(open["consecutive_failures"], 5);
    assert_eq!(open["last_error"], "connection refused #4");
    // The connect results the site's data plane reported.
    assert_eq!(
        (
            open["connects_failed"].as_u64(),
            open["connects_ok"].is_u64()
        ),
        (Some(5), true),
        "{open}"
    );
    let changed = open["changed_at_unix_ms"].as_i64().unwrap();
    assert_eq!(
        open["retry_at_unix_ms"].as_i64(),
        Some(changed + 60_000),
        "recovery_timeout 60 s"
    );
    let table = cp.ctl(&["breaker", "list"]).await;
    let row = table.ok().lines().nth(1).unwrap().to_string();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..5], ["default", "btc", "open", "5", "0"], "{row}");
    assert!(
        row.contains("connection refused #4") && row.contains(" in "),
        "{row}"
    );

    let status = cp.ctl(&["-o", "json", "status"]).await.json();
    let active = &status["plans"][0]["active"][0];
    assert_eq!(
        (
            active["current_pool"].as_str(),
            active["scheduled_pool"].as_str()
        ),
        (Some("bch"), Some("btc")),
        "{status:#}"
    );

    let reset = cp
        .ctl(&["breaker", "reset", "--site", "default", "--pool", "btc"])
        .await;
    let text = reset.ok();
    assert!(
        text.starts_with("breaker of btc at default reset\n") && text.contains("closed"),
        "{text}"
    );
    let opened = cp
        .ctl(&[
            "-o", "json", "breaker", "open", "--site", "default", "--pool", "bch",
        ])
        .await
        .json();
    assert_eq!(
        (opened["pool"].as_str(), opened["state"].as_str()),
        (Some("bch"), Some("open"))
    );
    let b = cp.ctl(&["-o", "csv", "breaker", "list"]).await.csv();
    let states: BTreeMap<&str, &str> = b
        .iter()
        .map(|r| (r["pool"].as_str(), r["state"].as_str()))
        .collect();
    assert_eq!(states, BTreeMap::from([("bch", "open"), ("btc", "closed")]));
    let ghost = cp
        .ctl(&["breaker", "reset", "--site", "default", "--pool", "ghost"])
        .await;
    assert!(ghost.fails(1).contains("ghost"), "{ghost:?}");
    let nosite = cp.ctl(&["breaker", "list", "--site", "ghost"]).await;
    assert!(nosite.fails(1).contains("ghost"), "{nosite:?}");

    dp.report_shares(vec![share(
        now_ms(),
        "btc",
        "rig1",
        true,
        "accepted",
        "accepted",
        "",
    )])
    .await;
    let status = cp.ctl(&["-o", "json", "status"]).await.json();
    assert_eq!(
        (status["sites"].as_u64(), status["pools"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        (
            status["dataplanes_connected"].as_u64(),
            status["share_events"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(status["plans"][0]["active"][0]["current_pool"], "btc");
    assert_eq!(status["database"], cp.db.display().to_string());
    let table = cp.ctl(&["status"]).await;
    let text = table.ok();
    for want in [
        "endpoint      http://127.0.0.1:",
        "data planes   1 connected",
        "share events  1",
        "default  ",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    let csv = cp.ctl(&["-o", "csv", "status"]).await.csv();
    assert_eq!(
        (csv[0]["site"].as_str(), csv[0]["current_pool"].as_str()),
        ("default", "btc")
    );
}
