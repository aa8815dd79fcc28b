//! `ctl site add|list|remove|rotate-token` against a real control plane:
//! the token printed once works for a data-plane Register (and no longer
//! after the site is removed or its token replaced), bad input is named,
//! and json / csv outputs parse.

use switchyard_proto::v1 as pb;
use switchyard_tests::cp::ControlPlane;
use tonic::Code;

fn token_line(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("data-plane token: "))
        .unwrap_or_else(|| panic!("no token line in {stdout}"))
        .trim()
        .to_string()
}

async fn register(
    cp: &ControlPlane,
    token: &str,
    id: &str,
) -> Result<pb::RegisterResponse, tonic::Status> {
    cp.dataplane_client(token)
        .await
        .register(pb::RegisterRequest {
            dataplane_id: id.into(),
            version: "1".into(),
            hostname: "rig".into(),
            plan_version: 0,
            contract_version: switchyard_proto::CONTRACT_VERSION,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_site_is_added_with_a_working_token_listed_and_removed() {
    let cp = ControlPlane::start().await;
    let out = cp
        .ctl(&["site", "add", "farm-a", "--timezone", "Europe/Berlin"])
        .await;
    let text = out.ok();
    assert!(
        text.contains("site farm-a added (timezone Europe/Berlin"),
        "{text}"
    );
    assert!(text.contains("not shown again"), "{text}");
    let token = token_line(text);
    assert!(token.starts_with("sysite_"), "{token}");

    let reg = register(&cp, &token, "dp-a")
        .await
        .expect("the printed token registers");
    assert_eq!(reg.site, "farm-a");
    assert!(reg.plan_version >= 1);

    // The token is shown once: no listing carries it.
    let table = cp.ctl(&["site", "list"]).await;
    let table = table.ok();
    assert!(!table.contains(&token));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("TIMEZONE"),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("farm-a") && l.contains("Europe/Berlin")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("default") && l.contains("UTC")),
        "{table}"
    );

    let json = cp.ctl(&["-o", "json", "site", "list"]).await.json();
    let sites = json.as_array().expect("an array");
    let names: Vec<&str> = sites.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "farm-a"]);
    let farm = &sites[1];
    assert_eq!(farm["timezone"], "Europe/Berlin");
    assert!(farm["plan_version"].as_u64().unwrap() >= 1);
    assert!(farm["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(farm["created_at_unix_ms"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(farm.get("token").is_none());

    let csv = cp.ctl(&["-o", "csv", "site", "list"]).await.csv();
    assert_eq!(csv.len(), 2);
    assert_eq!(csv[1]["name"], "farm-a");
    assert_eq!(csv[1]["timezone"], "Europe/Berlin");
    assert_eq!(
        csv[1]["created_at_unix_ms"],
        farm["created_at_unix_ms"].to_string()
    );

    // Adding it again is refused, by name.
    let again = cp
        .ctl(&["site", "add", "farm-a", "--timezone", "UTC"])
        .await;
    let err = again.fails(1);
    assert!(
        err.contains("farm-a") && err.contains("already exists"),
        "{err}"
    );

    let removed = cp.ctl(&["site", "remove", "farm-a"]).await;
    assert_eq!(removed.ok(), "site farm-a removed\n");
    let json = cp.ctl(&["-o", "json", "site", "list"]).await.json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    let err = register(&cp, &token, "dp-b")
        .await
        .expect_err("a removed site's token");
    assert_eq!(err.code(), Code::Unauthenticated);

    let ghost = cp.ctl(&["site", "remove", "farm-a"]).await;
    let err = ghost.fails(1);
    assert!(err.contains("farm-a") && err.contains("not found"), "{err}");
}

#[tokio::test]
async fn site_add_in_json_and_csv_carries_the_token_and_bad_input_is_named() {
    let cp = ControlPlane::start().await;
    let json = cp
        .ctl(&[
            "-o",
            "json",
            "site",
            "add",
            "farm-j",
            "--timezone",
            "America/Chicago",
        ])
        .await;
    assert!(json.stderr.contains("not shown again"), "{json:?}");
    let v = json.json();
    assert_eq!(v["name"], "farm-j");
    assert_eq!(v["timezone"], "America/Chicago");
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(register(&cp, &token, "dp-j").await.unwrap().site, "farm-j");

    let csv = cp
        .ctl(&["-o", "csv", "site", "add", "farm-c", "--timezone", "UTC"])
        .await
        .csv();
    assert_eq!(csv.len(), 1);
    assert_eq!(csv[0]["name"], "farm-c");
    assert_eq!(
        register(&cp, &csv[0]["token"], "dp-c").await.unwrap().site,
        "farm-c"
    );

    let bad_zone = cp
        .ctl(&["site", "add", "farm-x", "--timezone", "Mars/Olympus"])
        .await;
    let err = bad_zone.fails(2);
    assert!(
        err.contains("--timezone") && err.contains("Mars/Olympus"),
        "{err}"
    );
    let bad_name = cp
        .ctl(&["site", "add", "farm x", "--timezone", "UTC"])
        .await;
    let err = bad_name.fails(1);
    assert!(err.starts_with("error: name:"), "{err}");
    let sites = cp.ctl(&["-o", "json", "site", "list"]).await.json();
    assert_eq!(
        sites.as_array().unwrap().len(),
        3,
        "nothing added by refused calls"
    );
}

#[tokio::test]
async fn site_add_reports_the_plan_version_the_site_then_has() {
    let cp = ControlPlane::start().await;
    let added = cp
        .ctl(&["-o", "json", "site", "add", "farm-v", "--timezone", "UTC"])
        .await
        .json();
    let list = cp.ctl(&["-o", "json", "site", "list"]).await.json();
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "farm-v")
        .unwrap()
        .clone();
    assert_eq!(added["plan_version"], listed["plan_version"]);
}

#[tokio::test]
async fn site_rotate_token_prints_a_new_token_and_the_old_one_stops_working() {
    let cp = ControlPlane::start().await;
    let old = token_line(
        cp.ctl(&["site", "add", "farm-r", "--timezone", "UTC"])
            .await
            .ok(),
    );
    register(&cp, &old, "dp-r")
        .await
        .expect("the first token works");
    let out = cp.ctl(&["site", "rotate-token", "farm-r"]).await;
    let text = out.ok();
    assert!(text.contains("site farm-r: token replaced"), "{text}");
    assert!(text.contains("old one no longer works"), "{text}");
    let new = token_line(text);
    assert_ne!(new, old);
    let e = register(&cp, &old, "dp-r").await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    assert_eq!(register(&cp, &new, "dp-r").await.unwrap().site, "farm-r");
    // JSON carries the token; an unknown site is named.
    let json = cp
        .ctl(&["-o", "json", "site", "rotate-token", "farm-r"])
        .await
        .json();
    assert!(json["token"].as_str().is_some_and(|t| t != new), "{json}");
    let ghost = cp.ctl(&["site", "rotate-token", "nope"]).await;
    let err = ghost.fails(1);
    assert!(err.contains("nope") && err.contains("not found"), "{err}");
}
