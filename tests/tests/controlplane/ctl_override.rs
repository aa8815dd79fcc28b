//! `ctl schedule failover` and `ctl override` / `ctl override clear`
//! against a real control plane: the failover order is set, shown, checked
//! and cleared; an override shows in status, preview and show until cleared.

use serde_json::{Value, json};
use switchyard_tests::cp::{ControlPlane, now_ms};

fn schedule_of<'a>(show: &'a Value, site: &str) -> &'a Value {
    show.as_array()
        .unwrap()
        .iter()
        .find(|s| s["site"] == site)
        .unwrap_or_else(|| panic!("no schedule of {site}: {show:#}"))
}

#[tokio::test]
async fn failover_order_is_set_shown_checked_and_cleared() {
    let cp = ControlPlane::start().await;
    let set = cp
        .ctl(&[
            "schedule", "failover", "--site", "default", "--algo", "sha256", "bch", "btc",
        ])
        .await;
    assert_eq!(set.ok(), "failover of default sha256: bch -> btc\n");
    let show = cp
        .ctl(&["-o", "json", "schedule", "show", "--site", "default"])
        .await
        .json();
    assert_eq!(
        schedule_of(&show, "default")["failover"],
        json!(["bch", "btc"])
    );
    let table = cp.ctl(&["schedule", "show"]).await;
    assert!(table.ok().contains("bch, btc"), "{table:?}");

    let bad = cp
        .ctl(&[
            "schedule", "failover", "--site", "default", "--algo", "sha256", "bch", "ghost",
        ])
        .await;
    let err = bad.fails(1);
    assert!(err.contains("pools[1]") && err.contains("ghost"), "{err}");
    let twice = cp
        .ctl(&[
            "schedule", "failover", "--site", "default", "--algo", "sha256", "bch", "bch",
        ])
        .await;
    assert!(twice.fails(1).contains("listed twice"), "{twice:?}");
    let show = cp.ctl(&["-o", "json", "schedule", "show"]).await.json();
    assert_eq!(
        schedule_of(&show, "default")["failover"],
        json!(["bch", "btc"]),
        "refused orders change nothing"
    );

    let clear = cp
        .ctl(&[
            "schedule", "failover", "--site", "default", "--algo", "sha256", "--clear",
        ])
        .await;
    assert_eq!(clear.ok(), "failover of default sha256 cleared\n");
    let show = cp.ctl(&["-o", "json", "schedule", "show"]).await.json();
    assert_eq!(schedule_of(&show, "default")["failover"], json!([]));
}

#[tokio::test]
async fn an_override_pins_the_pool_until_it_ends_or_is_cleared() {
    let cp = ControlPlane::start().await;
    // One pool all day: any switch in the preview comes from the override.
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
    let status = cp.ctl(&["-o", "json", "status"]).await.json();
    assert_eq!(status["plans"][0]["active"][0]["current_pool"], "btc");
    let none = cp.ctl(&["schedule", "preview", "--site", "default"]).await;
    assert_eq!(none.ok(), "");
    assert!(
        none.stderr
            .contains("no pool switches in the next 48 hours"),
        "{none:?}"
    );

    let before = now_ms();
    let set = cp
        .ctl(&[
            "override", "--site", "default", "--algo", "sha256", "--pool", "bch", "--until", "+2h",
        ])
        .await;
    let after = now_ms();
    assert!(
        set.ok()
            .starts_with("override: default sha256 uses bch until "),
        "{set:?}"
    );
    let two_hours = 2 * 3_600_000;

    let status = cp.ctl(&["-o", "json", "status"]).await.json();
    let active = &status["plans"][0]["active"][0];
    assert_eq!(
        (
            active["current_pool"].as_str(),
            active["scheduled_pool"].as_str()
        ),
        (Some("bch"), Some("btc"))
    );
    assert_eq!(active["next_pool"], "btc");
    // The switch to the override is recorded with its reason (`ctl switches`).
    let switches = cp
        .ctl(&["-o", "json", "switches", "--site", "default"])
        .await
        .json();
    let last = &switches[0];
    assert_eq!(
        (
            last["to_pool"].as_str(),
            last["reason"].as_str(),
            last["algorithm"].as_str()
        ),
        (Some("bch"), Some("override"), Some("sha256")),
        "{switches:#}"
    );
    assert!(
        last["at_unix_ms"].as_i64().unwrap() >= before,
        "{switches:#}"
    );
    let table = cp
        .ctl(&["switches", "--site", "default", "--algo", "sha256"])
        .await;
    assert!(table.ok().contains("override"), "{table:?}");
    let ghost = cp.ctl(&["switches", "--site", "nope"]).await;
    assert!(ghost.fails(1).contains("nope"), "{ghost:?}");
    let next = active["next_switch_unix_ms"].as_i64().unwrap();
    assert!(
        (before + two_hours - 1000..=after + two_hours).contains(&next),
        "{status:#}"
    );

    let preview = cp
        .ctl(&[
            "-o", "json", "schedule", "preview", "--site", "default", "--hours", "48",
        ])
        .await
        .json();
    let rows = preview.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{preview:#}");
    assert_eq!(
        (rows[0]["from_pool"].as_str(), rows[0]["to_pool"].as_str()),
        (Some("bch"), Some("btc"))
    );
    assert_eq!(rows[0]["reason"], "override-ends");
    assert_eq!(rows[0]["at_unix_ms"].as_i64(), Some(next));

    let show = cp
        .ctl(&["-o", "json", "schedule", "show", "--site", "default"])
        .await
        .json();
    assert_eq!(show[0]["override_pool"], "bch");
    assert_eq!(show[0]["override_until_unix_ms"].as_i64(), Some(next));

    // Bad overrides name what is wrong.
    let past = cp
        .ctl(&[
            "override", "--site", "default", "--algo", "sha256", "--pool", "bch", "--until", "-1h",
        ])
        .await;
    assert!(past.fails(2).contains("in the past"), "{past:?}");
    let ghost = cp
        .ctl(&[
            "override", "--site", "default", "--algo", "sha256", "--pool", "ghost", "--until",
            "+1h",
        ])
        .await;
    assert!(
        ghost.fails(1).contains("pool: no pool named \"ghost\""),
        "{ghost:?}"
    );
    let missing = cp
        .ctl(&[
            "override", "--site", "default", "--algo", "sha256", "--pool", "bch",
        ])
        .await;
    assert!(missing.fails(2).contains("--until"), "{missing:?}");

    let clear = cp
        .ctl(&["override", "clear", "--site", "default", "--algo", "sha256"])
        .await;
    assert_eq!(
        clear.ok(),
        "override of default sha256 cleared; the schedule applies\n"
    );
    let status = cp.ctl(&["-o", "json", "status"]).await.json();
    assert_eq!(status["plans"][0]["active"][0]["current_pool"], "btc");
    let preview = cp
        .ctl(&["-o", "json", "schedule", "preview", "--site", "default"])
        .await
        .json();
    assert_eq!(preview, json!([]));
    let show = cp
        .ctl(&["-o", "json", "schedule", "show", "--site", "default"])
        .await
        .json();
    assert_eq!(show[0]["override_pool"], "");
    let again = cp
        .ctl(&["override", "clear", "--site", "default", "--algo", "sha256"])
        .await;
    assert!(again.fails(1).contains("no sha256 override"), "{again:?}");
}
