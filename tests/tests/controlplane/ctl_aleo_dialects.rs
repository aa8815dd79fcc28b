//! An ALEO schedule or failover list that mixes pools of the two dialects
//! is accepted with a warning (miners of one dialect cannot mine on the
//! other, so they are disconnected at that switch): `ctl schedule set`,
//! `ctl schedule failover`, `ctl config validate|import` and the
//! controlplane's own `validate` print it and exit 0; one dialect, or pools
//! left to detection, give none.

use switchyard_tests::cp::{ControlPlane, controlplane};

async fn add_aleo_pool(cp: &ControlPlane, name: &str, dialect: &str) {
    cp.ctl(&[
        "pool",
        "add",
        name,
        "--algo",
        "zksnark",
        "--url",
        &format!("stratum+tcp://{name}.example.com:4040"),
        "--username",
        "aleo1acct",
        "--mode",
        "passthrough",
        "--dialect",
        dialect,
    ])
    .await
    .ok();
}

const WARNING: &str = "mixes ALEO dialects: iceriver (ice) and aleostratum3 (zk3)";

#[tokio::test]
async fn schedule_and_failover_mixing_dialects_warn_and_succeed() {
    let cp = ControlPlane::start().await;
    cp.ctl(&["site", "add", "farm-z", "--timezone", "UTC"])
        .await
        .ok();
    add_aleo_pool(&cp, "ice", "iceriver").await;
    add_aleo_pool(&cp, "ice2", "iceriver").await;
    add_aleo_pool(&cp, "zk3", "aleostratum3").await;
    add_aleo_pool(&cp, "auto", "detect").await;

    // One dialect (and a detected pool): no warning.
    let calm = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-z",
            "--algo",
            "zksnark",
            "ice@00:00-12:00",
            "ice2@12:00-18:00",
            "auto@18:00-24:00",
        ])
        .await;
    calm.ok();
    assert!(!calm.stderr.contains("warning"), "{calm:#?}");

    let mixed = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "farm-z",
            "--algo",
            "zksnark",
            "ice@00:00-12:00",
            "zk3@12:00-24:00",
        ])
        .await;
    assert!(
        mixed.ok().contains("schedule of farm-z zksnark set"),
        "{mixed:#?}"
    );
    assert!(
        mixed.stderr.contains("warning: site farm-z (zksnark): ") && mixed.stderr.contains(WARNING),
        "{mixed:#?}"
    );
    assert!(
        mixed.stderr.contains("disconnected at each switch"),
        "{mixed:#?}"
    );
    let json = cp
        .ctl(&[
            "-o",
            "json",
            "schedule",
            "set",
            "--site",
            "farm-z",
            "--algo",
            "zksnark",
            "ice@00:00-12:00",
            "zk3@12:00-24:00",
        ])
        .await
        .json();
    let w = json["warnings"][0]["message"].as_str().unwrap();
    assert!(w.starts_with(WARNING), "{json}");

    // Back to one dialect in the day; the failover list brings the other.
    cp.ctl(&[
        "schedule",
        "set",
        "--site",
        "farm-z",
        "--algo",
        "zksnark",
        "ice@00:00-24:00",
    ])
    .await
    .ok();
    let failover = cp
        .ctl(&[
            "schedule", "failover", "--site", "farm-z", "--algo", "zksnark", "ice", "zk3",
        ])
        .await;
    failover.ok();
    assert!(failover.stderr.contains(WARNING), "{failover:#?}");
    let calm = cp
        .ctl(&[
            "schedule", "failover", "--site", "farm-z", "--algo", "zksnark", "ice2", "auto",
        ])
        .await;
    calm.ok();
    assert!(!calm.stderr.contains("warning"), "{calm:#?}");
}

const MIXED_FILE: &str = r#"
proxy:
  sha256: { enabled: false }
  zksnark: { enabled: true, bind_port: 3335 }
servers:
  zksnark:
    - { name: ice, host: ice.example.com, port: 3335, username: aleo1farm, dialect: iceriver, start: "00:00", end: "12:00" }
    - { name: zk3, host: zk3.example.com, port: 3335, username: aleo1farm, dialect: aleostratum3, start: "12:00", end: "24:00" }
"#;

#[tokio::test]
async fn config_files_mixing_dialects_validate_and_import_with_a_warning() {
    let cp = ControlPlane::start().await;
    let file = cp.write("mixed.yaml", MIXED_FILE);
    let path = file.to_str().unwrap();

    let v = cp.ctl(&["config", "validate", path]).await;
    assert_eq!(v.ok(), "ok\n", "{v:#?}");
    assert!(v.stderr.contains(WARNING), "{v:#?}");
    let v = cp
        .ctl(&["-o", "json", "config", "validate", path])
        .await
        .json();
    assert_eq!(v["ok"], true);
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with(WARNING),
        "{v}"
    );

    let local = controlplane(&["validate", path]).await;
    assert!(
        local
            .ok()
            .contains(&format!("warning: sites.default.zksnark: {WARNING}")),
        "{local:#?}"
    );

    let i = cp.ctl(&["config", "import", "--replace", path]).await;
    assert!(i.ok().contains("imported"), "{i:#?}");
    assert!(i.stderr.contains(WARNING), "{i:#?}");
}
