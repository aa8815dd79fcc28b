//! `ctl pool add|update|remove|enable|disable|list` against a real control
//! plane: passwords are never printed, a scheduled pool cannot be removed
//! (the error names the site), bad input names the field, and the json / csv
//! outputs parse. ALEO pools carry their stratum dialect.

use switchyard_tests::cp::ControlPlane;

#[tokio::test]
async fn pools_are_added_updated_disabled_enabled_and_removed_without_showing_passwords() {
    let cp = ControlPlane::start().await;
    let secret = "hunter2-pool-secret";
    let add = cp
        .ctl(&[
            "pool",
            "add",
            "nicehash",
            "--algo",
            "sha256",
            "--url",
            "stratum+tcp://sha256.example.com:3334",
            "--username",
            "wallet.farm",
            "--password",
            secret,
            "--mode",
            "passthrough",
            "--connect-timeout",
            "12",
        ])
        .await;
    let text = add.ok();
    assert!(text.starts_with("pool nicehash added\n"), "{text}");
    assert!(
        text.contains("stratum+tcp://sha256.example.com:3334") && text.contains("passthrough"),
        "{text}"
    );
    assert!(!text.contains(secret) && !add.stderr.contains(secret));

    let list = cp.ctl(&["pool", "list"]).await;
    let table = list.ok();
    assert!(!table.contains(secret));
    let row = table
        .lines()
        .find(|l| l.starts_with("nicehash"))
        .expect("listed");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "nicehash",
            "sha256",
            "stratum+tcp://sha256.example.com:3334",
            "wallet.farm",
            "set",
            "passthrough",
            "yes",
            "12",
            "5",
            "-",
            "-",
            "-",
            "-",
            "all"
        ]
    );

    let json = cp.ctl(&["-o", "json", "pool", "list"]).await;
    assert!(!json.stdout.contains(secret));
    let pools = json.json();
    let names: Vec<&str> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["btc", "bch", "nicehash"]);
    let p = &pools[2];
    assert_eq!(
        (p["host"].as_str(), p["port"].as_u64(), p["tls"].as_bool()),
        (Some("sha256.example.com"), Some(3334), Some(false))
    );
    assert_eq!(p["password_set"], true);
    assert!(p.get("password").is_none());

    // Update: only what is given changes; TLS through the URL scheme.
    let upd = cp
        .ctl(&[
            "pool",
            "update",
            "nicehash",
            "--url",
            "stratum+ssl://ssl.example.com:443",
            "--password",
            "new-secret-9",
        ])
        .await;
    assert!(!upd.ok().contains("new-secret-9"));
    let csv = cp
        .ctl(&["-o", "csv", "pool", "list", "--algo", "sha256"])
        .await;
    assert!(!csv.stdout.contains("new-secret-9") && !csv.stdout.contains(secret));
    let rows = csv.csv();
    let n = rows.iter().find(|r| r["name"] == "nicehash").unwrap();
    assert_eq!(n["url"], "stratum+ssl://ssl.example.com:443");
    assert_eq!(
        (n["host"].as_str(), n["port"].as_str(), n["tls"].as_str()),
        ("ssl.example.com", "443", "true")
    );
    assert_eq!(
        (
            n["username"].as_str(),
            n["mode"].as_str(),
            n["connect_timeout_s"].as_str()
        ),
        ("wallet.farm", "passthrough", "12")
    );
    assert_eq!(n["password_set"], "true");
    let empty = cp
        .ctl(&["-o", "json", "pool", "list", "--algo", "randomx"])
        .await
        .json();
    assert_eq!(empty, serde_json::json!([]));

    let off = cp
        .ctl(&["-o", "json", "pool", "disable", "nicehash"])
        .await
        .json();
    assert_eq!(
        (off["name"].as_str(), off["enabled"].as_bool()),
        (Some("nicehash"), Some(false))
    );
    let on = cp.ctl(&["pool", "enable", "nicehash"]).await;
    assert!(on.ok().starts_with("pool nicehash enabled\n"), "{on:?}");
    let pools = cp.ctl(&["-o", "json", "pool", "list"]).await.json();
    assert_eq!(pools[2]["enabled"], true);

    // A scheduled pool cannot go; the error names the site.
    let busy = cp.ctl(&["pool", "remove", "btc"]).await;
    let err = busy.fails(1);
    assert!(err.contains("btc") && err.contains("site default"), "{err}");
    let gone = cp.ctl(&["pool", "remove", "nicehash"]).await;
    assert_eq!(gone.ok(), "pool nicehash removed\n");
    let pools = cp.ctl(&["-o", "json", "pool", "list"]).await.json();
    assert_eq!(pools.as_array().unwrap().len(), 2);
    let again = cp.ctl(&["pool", "remove", "nicehash"]).await;
    assert!(again.fails(1).contains("not found"), "{again:?}");
}

#[tokio::test]
async fn bad_pool_input_is_refused_with_the_field_named() {
    let cp = ControlPlane::start().await;
    let base = ["pool", "add", "p9", "--username", "w.x"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(extra).copied().collect()
    };

    let out = cp
        .ctl(&with(&[
            "--algo",
            "sha256",
            "--host",
            "h.example",
            "--port",
            "0",
        ]))
        .await;
    let err = out.fails(2);
    assert!(err.contains("--port") && err.contains("'0'"), "{err}");
    let out = cp
        .ctl(&with(&[
            "--algo",
            "scrypt",
            "--host",
            "h.example",
            "--port",
            "3333",
        ]))
        .await;
    let err = out.fails(2);
    assert!(
        err.contains("--algo") && err.contains("scrypt") && err.contains("sha256"),
        "{err}"
    );
    let out = cp
        .ctl(&with(&[
            "--algo",
            "sha256",
            "--url",
            "http://h.example:3333",
        ]))
        .await;
    let err = out.fails(2);
    assert!(err.contains("--url") && err.contains("scheme"), "{err}");
    let out = cp
        .ctl(&with(&[
            "--algo",
            "sha256",
            "--url",
            "stratum+tcp://h.example",
        ]))
        .await;
    assert!(out.fails(2).contains("missing port"), "{out:?}");
    // Checked by the server: the message starts with the field.
    let out = cp
        .ctl(&with(&[
            "--algo",
            "sha256",
            "--host",
            "h.example",
            "--port",
            "3333",
            "--connect-timeout",
            "601",
        ]))
        .await;
    let err = out.fails(1);
    assert!(err.starts_with("error: connect_timeout_s:"), "{err}");
    let out = cp
        .ctl(&with(&[
            "--algo",
            "sha256",
            "--host",
            "h.example",
            "--port",
            "3333",
            "--min-difficulty",
            "100",
            "--max-difficulty",
            "10",
        ]))
        .await;
    assert!(
        out.fails(1).starts_with("error: min_difficulty:"),
        "{out:?}"
    );
    let out = cp
        .ctl(&[
            "pool",
            "add",
            "btc",
            "--algo",
            "sha256",
            "--host",
            "h.example",
            "--port",
            "1",
            "--username",
            "u",
        ])
        .await;
    let err = out.fails(1);
    assert!(
        err.contains("btc") && err.contains("already exists"),
        "{err}"
    );
    let out = cp.ctl(&["pool", "update", "btc"]).await;
    assert!(out.fails(2).contains("nothing to update"), "{out:?}");
    let out = cp.ctl(&["pool", "update", "ghost", "--port", "1"]).await;
    assert!(out.fails(1).contains("ghost"), "{out:?}");

    let pools = cp.ctl(&["-o", "json", "pool", "list"]).await.json();
    let names: Vec<&str> = pools
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["btc", "bch"], "no refused pool was stored");
}

#[tokio::test]
async fn buffer_percent_is_a_fraction_like_the_config_and_a_percent_is_explained() {
    let cp = ControlPlane::start().await;
    let out = cp
        .ctl(&[
            "pool",
            "add",
            "pt",
            "--algo",
            "sha256",
            "--host",
            "h.example",
            "--port",
            "3333",
            "--username",
            "w",
            "--mode",
            "passthrough",
            "--buffer-percent",
            "5",
        ])
        .await;
    let err = out.fails(2);
    assert!(
        err.contains("0.05"),
        "the message says how to write 5%: {err}"
    );
    let out = cp
        .ctl(&[
            "pool",
            "add",
            "pt",
            "--algo",
            "sha256",
            "--host",
            "h.example",
            "--port",
            "3333",
            "--username",
            "w",
            "--mode",
            "passthrough",
            "--buffer-percent",
            "0.05",
        ])
        .await;
    out.ok();
    let pools = cp.ctl(&["-o", "json", "pool", "list"]).await.json();
    let pt = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pt")
        .unwrap();
    assert_eq!(pt["buffer_percent"].as_f64(), Some(0.05));
}

#[tokio::test]
async fn aleo_pools_carry_their_dialect_and_only_they_may() {
    let cp = ControlPlane::start().await;
    let add = cp
        .ctl(&[
            "-o",
            "json",
            "pool",
            "add",
            "ice",
            "--algo",
            "zksnark",
            "--url",
            "stratum+tcp://aleo.example.com:4040",
            "--username",
            "aleo1acct",
            "--mode",
            "passthrough",
            "--dialect",
            "iceriver",
        ])
        .await
        .json();
    assert_eq!(add["dialect"], "iceriver");
    let out = cp.ctl(&["pool", "list", "--algo", "zksnark"]).await;
    let table = out.ok();
    assert!(
        table.contains("DIALECT") && table.contains("iceriver"),
        "{table}"
    );

    let detect = cp
        .ctl(&["-o", "json", "pool", "update", "ice", "--dialect", "detect"])
        .await
        .json();
    assert_eq!(detect["dialect"], "", "back to detection");
    let again = cp
        .ctl(&[
            "-o",
            "json",
            "pool",
            "update",
            "ice",
            "--dialect",
            "aleostratum3",
        ])
        .await
        .json();
    assert_eq!(again["dialect"], "aleostratum3");

    // Only ALEO pools have a dialect; unknown names are refused by ctl.
    let out = cp
        .ctl(&["pool", "update", "btc", "--dialect", "iceriver"])
        .await;
    let err = out.fails(1);
    assert!(err.contains("dialect") && err.contains("sha256"), "{err}");
    let out = cp
        .ctl(&["pool", "update", "ice", "--dialect", "stratum2"])
        .await;
    let err = out.fails(2);
    assert!(
        err.contains("--dialect") && err.contains("iceriver"),
        "{err}"
    );

    // The export carries it, for the server's next import.
    let out = cp.ctl(&["config", "export"]).await;
    let export = out.ok();
    assert!(export.contains("dialect: aleostratum3"), "{export}");
}
