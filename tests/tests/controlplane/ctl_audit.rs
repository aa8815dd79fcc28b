//! Every admin change made with `ctl` is in the audit log, without any
//! password or token: the control plane is stopped (SIGTERM) and its
//! database read through `Store::open`. The foreground log also gets the
//! final statistics report at shutdown.

use switchyard_controlplane::store::Store;
use switchyard_tests::cp::ControlPlane;

const FARM_B: &str = r#"
servers:
  sha256:
    - name: "imp1"
      host: "imp1.example.com"
      port: 4401
      username: "wallet.b"
      password: "pw-audit-import"
sites:
  - name: "farm-b"
    timezone: "Europe/Berlin"
    schedule:
      sha256:
        - { server: "imp1", start: "00:00", end: "24:00" }
"#;

#[tokio::test]
async fn admin_changes_are_audited_without_secrets() {
    let mut cp = ControlPlane::start().await;
    let admin_token = cp.admin_token();
    let default_token = cp.site_token("default");
    let mut secrets = vec![admin_token.clone(), default_token];

    let add = cp
        .ctl(&[
            "-o",
            "json",
            "site",
            "add",
            "farm-a",
            "--timezone",
            "America/Chicago",
        ])
        .await
        .json();
    secrets.push(add["token"].as_str().unwrap().to_string());
    let steps: &[&[&str]] = &[
        &[
            "pool",
            "add",
            "p1",
            "--algo",
            "sha256",
            "--host",
            "p1.example.com",
            "--port",
            "3333",
            "--username",
            "w.p1",
            "--password",
            "pw-audit-add",
        ],
        &[
            "pool",
            "update",
            "p1",
            "--password",
            "pw-audit-update",
            "--port",
            "3334",
        ],
        &["pool", "disable", "p1"],
        &["pool", "enable", "p1"],
        &[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "btc@00:00-06:00",
            "p1@06:00-24:00",
        ],
        &[
            "schedule", "failover", "--site", "farm-a", "--algo", "sha256", "bch",
        ],
        &[
            "override", "--site", "farm-a", "--algo", "sha256", "--pool", "bch", "--until", "+3h",
        ],
        &["override", "clear", "--site", "farm-a", "--algo", "sha256"],
        &["breaker", "open", "--site", "farm-a", "--pool", "p1"],
        &["breaker", "reset", "--site", "farm-a", "--pool", "p1"],
        &[
            "schedule",
            "set",
            "--site",
            "farm-a",
            "--algo",
            "sha256",
            "btc@00:00-24:00",
        ],
        &["pool", "remove", "p1"],
        &["site", "remove", "farm-a"],
        &["config", "export"],
    ];
    for args in steps {
        cp.ctl(args).await.ok();
    }
    let file = cp.write("farm-b.yaml", FARM_B);
    let imported = cp
        .ctl(&["-o", "json", "config", "import", file.to_str().unwrap()])
        .await
        .json();
    secrets.push(
        imported["new_site_tokens"][0]["token"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    // Refused changes are not audited.
    cp.ctl(&["pool", "remove", "btc"]).await.fails(1);
    cp.ctl(&["site", "add", "farm-b", "--timezone", "UTC"])
        .await
        .fails(1);
    secrets.extend(["pw-audit-add", "pw-audit-update", "pw-audit-import"].map(String::from));

    assert!(cp.stop().await.success(), "a clean stop on SIGTERM");
    let log = cp.log();
    assert!(
        log.contains("PROXY STATISTICS site default sha256"),
        "the final report:\n{log}"
    );
    assert!(
        log.contains("PROXY STATISTICS site farm-b sha256"),
        "the final report:\n{log}"
    );
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log shows {secret}");
    }

    let store = Store::open(&cp.db)
        .await
        .expect("open the stopped control plane's database");
    let mut entries = store.audit_entries(1000).await.unwrap();
    store.close().await;
    entries.reverse();
    let got: Vec<(String, String)> = entries
        .iter()
        .map(|(_, _, action, target, _)| (action.clone(), target.clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("site.add", "farm-a"),
        ("pool.add", "p1"),
        ("pool.update", "p1"),
        ("pool.disable", "p1"),
        ("pool.enable", "p1"),
        ("schedule.set", "farm-a/sha256"),
        ("failover.set", "farm-a/sha256"),
        ("override.set", "farm-a/sha256"),
        ("override.clear", "farm-a/sha256"),
        ("breaker.open", "farm-a/p1"),
        ("breaker.reset", "farm-a/p1"),
        ("schedule.set", "farm-a/sha256"),
        ("pool.remove", "p1"),
        ("site.remove", "farm-a"),
        ("config.export", "config"),
        ("config.import", "config"),
    ]
    .iter()
    .map(|(a, t)| (a.to_string(), t.to_string()))
    .collect();
    assert_eq!(got, want, "{entries:#?}");

    let detail = |action: &str| -> &str { &entries.iter().find(|e| e.2 == action).unwrap().4 };
    assert_eq!(detail("site.add"), "timezone=America/Chicago");
    assert!(
        detail("pool.add").contains("p1.example.com:3333 user=w.p1"),
        "{entries:#?}"
    );
    assert!(
        detail("pool.update").contains(":3334")
            && detail("pool.update").contains("password=changed"),
        "{entries:#?}"
    );
    assert_eq!(entries[5].4, "btc@00:00-06:00 p1@06:00-24:00");
    assert!(
        detail("override.set").starts_with("pool=bch until="),
        "{entries:#?}"
    );
    assert!(
        detail("config.import").contains("sites=1 pools=1 schedules=1 replace=false"),
        "{entries:#?}"
    );
    for (at, actor, action, target, detail) in &entries {
        assert_eq!(actor, "admin");
        assert!(*at > 1_700_000_000_000);
        for secret in &secrets {
            assert!(
                !target.contains(secret.as_str()) && !detail.contains(secret.as_str()),
                "{action} {target} {detail} shows a secret"
            );
        }
    }
}
