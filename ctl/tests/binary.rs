//! The `ctl` binary end to end against an in-process fake `Admin` service
//! (`fake_admin`): the bearer token on every call, exit codes, error messages
//! and what each output format prints. Also the exits that need no server at
//! all (usage, missing token, unreachable endpoint).

mod fake_admin;

use fake_admin::{ctl, ctl_env, endpoint};

#[test]
fn no_server_needed_for_usage_token_and_unreachable_errors() {
    let (code, _, err) = ctl_env(
        &["site", "list", "--endpoint", "http://127.0.0.1:1"],
        &[],
        None,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--token") && err.contains("SWITCHYARD_TOKEN"),
        "{err}"
    );

    let (code, _, err) = ctl_env(
        &["status", "--endpoint", "http://127.0.0.1:1", "--token", "t"],
        &[],
        None,
    );
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("http://127.0.0.1:1") && err.contains("SWITCHYARD_ENDPOINT"),
        "{err}"
    );

    let (code, _, err) = ctl_env(&["shares", "--since", "soon"], &[], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("--since") && err.contains("2026-11-23T18:00:00Z"),
        "{err}"
    );

    let (code, _, err) = ctl_env(&["config", "validate", "/nonexistent/x.yaml"], &[], None);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /nonexistent/x.yaml"), "{err}");

    let (code, _, err) = ctl_env(&["pool", "update", "btc"], &[], None);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to update"), "{err}");
}

#[test]
fn token_is_sent_and_a_wrong_one_is_explained() {
    let (code, out, _) = ctl(&["status"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("share events  42") && out.contains("farm-a") && out.contains("btc2"),
        "{out}"
    );

    let all = ["--endpoint", endpoint(), "status"];
    let (code, _, err) = ctl_env(&all, &[("SWITCHYARD_TOKEN", "wrong")], None);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: invalid admin token") && err.contains("--token-file"),
        "{err}"
    );
}

#[test]
fn server_errors_print_their_message_and_exit_1() {
    let (code, _, err) = ctl(&["site", "add", "farm a", "--timezone", "UTC"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "error: name: must not contain spaces\n")
    );
    let (code, _, err) = ctl(&["site", "remove", "ghost"]);
    assert_eq!((code, err.as_str()), (1, "error: site ghost not found\n"));
    let (code, _, err) = ctl(&["breaker", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not support"), "{err}");
}

#[test]
fn site_add_shows_the_token_once() {
    let (code, out, _) = ctl(&["site", "add", "farm-a", "--timezone", "Europe/Berlin"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("dp-token-123") && out.contains("not shown again"),
        "{out}"
    );
    let (_, out, err) = ctl(&["-o", "json", "site", "add", "farm-a", "--timezone", "UTC"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["token"], "dp-token-123");
    assert!(err.contains("not shown again"));
    let (_, out, err) = ctl(&["site", "list"]);
    assert!(out.is_empty() && err.contains("no sites"), "{err}");
}

#[test]
fn pools_never_show_passwords() {
    let (code, out, _) = ctl(&["pool", "list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("PASSWORD"),
        "{out}"
    );
    assert!(
        lines[1].contains("stratum+tcp://btc.example.com:3333") && lines[1].contains(" set "),
        "{out}"
    );
    assert!(
        lines[2].contains("stratum+ssl://") && lines[2].contains(" 65536 "),
        "{out}"
    );
    let (_, out, _) = ctl(&["pool", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["password_set"], true);
    assert!(v[0].get("password").is_none());
    assert_eq!(v[1]["min_difficulty"], 65536.0);
    let (_, out, _) = ctl(&["pool", "list", "-o", "csv"]);
    assert!(
        out.starts_with("name,algorithm,url,host,port,tls,username,password_set,mode,enabled"),
        "{out}"
    );

    let args = [
        "pool",
        "add",
        "p",
        "--algo",
        "sha256",
        "--url",
        "stratum+tls://h:443",
        "--username",
        "u",
        "--password",
        "pw",
    ];
    let (code, out, _) = ctl(&args);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("pool p added\n")
            && out.contains("stratum+ssl://h:443")
            && !out.contains("pw "),
        "{out}"
    );
    let (_, out, _) = ctl(&["pool", "disable", "btc", "-o", "json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["enabled"],
        false
    );
}

#[test]
fn schedules() {
    let (code, out, _) = ctl(&[
        "schedule",
        "set",
        "--site",
        "farm-a",
        "--algo",
        "sha256",
        "btc@00:00-24:00",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("plan version 8") && out.contains("24:00"),
        "{out}"
    );
    let (_, out, _) = ctl(&["schedule", "show"]);
    assert!(
        out.contains("btc@00:00-12:00 btc2@12:00-24:00") && out.contains("btc2, btc"),
        "{out}"
    );
    assert!(
        out.contains("2026-11-23 19:00:00 CET"),
        "override until in site time: {out}"
    );
    let (_, out, _) = ctl(&["schedule", "show", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["entries"][1]["pool"], "btc2");
    assert_eq!(v[0]["override_until"], "2026-11-23T18:00:00Z");
    let (code, _, err) = ctl(&["schedule", "preview", "--hours", "12"]);
    assert_eq!(code, 0);
    assert!(err.contains("next 12 hours"));
    let (_, out, _) = ctl(&[
        "schedule", "failover", "--site", "farm-a", "--algo", "sha256", "btc2", "btc",
    ]);
    assert!(out.contains("btc2 -> btc"));
    let (_, out, _) = ctl(&[
        "override", "--site", "farm-a", "--algo", "sha256", "--pool", "btc2", "--until", "2h",
    ]);
    assert!(
        out.contains("uses btc2 until") && (out.contains("in 1h 59m") || out.contains("in 2h")),
        "{out}"
    );
    let (code, _, err) = ctl(&[
        "override", "--site", "farm-a", "--algo", "sha256", "--pool", "btc2", "--until", "-2h",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("in the past"));
    let (code, out, _) = ctl(&[
        "override", "clear", "--site", "farm-a", "--algo", "sha256", "-o", "json",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("\"ok\": true"));
}

#[test]
fn dataplanes_breakers_shares_stats() {
    let (_, out, _) = ctl(&["dataplane", "list"]);
    assert!(
        out.contains("6/7 behind") && out.contains("s ago (") && out.contains("yes"),
        "{out}"
    );
    assert!(
        out.lines().next().unwrap().contains("SPOOLED") && out.contains(" 340 "),
        "the spool is shown: {out}"
    );
    let (_, out, _) = ctl(&["-o", "json", "dataplane", "list"]);
    assert!(
        out.contains("\"spool_bytes\": 65536") && out.contains("\"events_dropped\": 0"),
        "{out}"
    );
    let (_, out, _) = ctl(&["breaker", "reset", "--site", "farm-a", "--pool", "btc"]);
    assert!(
        out.starts_with("breaker of btc at farm-a reset") && out.contains("closed"),
        "{out}"
    );

    let (code, out, err) = ctl(&["shares", "--limit", "2", "--since", "1d"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains("12.3ms") && out.contains("131072"), "{out}");
    assert!(
        out.contains(" 1e-5 ") && out.contains(" 0.000421 "),
        "small difficulties keep their digits: {out}"
    );
    assert!(err.contains("first 2 matching shares"), "{err}");
    let (_, out, _) = ctl(&["shares", "-o", "json", "--limit", "2"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[1]["miner_difficulty"].as_f64(), Some(0.00001), "{out}");
    assert_eq!(
        v[1]["share_difficulty"].as_f64(),
        Some(fake_admin::LAB_SHARE_DIFFICULTY),
        "{out}"
    );
    let (_, out, err) = ctl(&["shares", "-o", "csv"]);
    assert!(out.starts_with("id,at,at_unix_ms,site,"), "{out}");
    assert!(err.is_empty(), "{err}");

    let (code, out, _) = ctl(&["stats", "--window", "1h"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("per 1h window") && out.contains("66.7%") && out.contains("33.3%"),
        "{out}"
    );
    assert!(out.contains("stale: 1"), "{out}");
    let (_, out, _) = ctl(&["stats", "-o", "json", "--since", "2026-11-23 00:00"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["accepted_percent"], 66.7);
    assert_eq!(v[0]["reasons"][0]["count"], 1);
    let (code, _, err) = ctl(&["stats", "--since", "1h", "--until", "-2h"]);
    assert_eq!(code, 2);
    assert!(err.contains("is after --until"), "{err}");
}

#[test]
fn stats_hashrate_and_workers() {
    let (_, out, _) = ctl(&["stats"]);
    let head = out.lines().nth(2).unwrap();
    assert!(head.contains("HASHRATE"), "{out}");
    assert!(out.contains("112.4 TH/s"), "{out}");
    // A weighted window in force: its target and last hour, per pool and
    // as one line.
    assert!(out.contains("70.0/69.1"), "{out}");
    assert!(
        out.contains(
            "weighted window farm-a sha256: btc 70.0% (69.1% over the last hour), bch 30.0% (30.9%)"
        ),
        "{out}"
    );
    let (_, out, _) = ctl(&["stats", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["hashrate_hs"].as_f64(), Some(112.4e12), "{out}");
    assert_eq!(v[0]["split_target_percent"].as_f64(), Some(70.0), "{out}");
    assert_eq!(
        v[0]["split_achieved_percent"].as_f64(),
        Some(69.14),
        "{out}"
    );
    assert_eq!(v[0]["hashrate_unit"], "H/s");
    assert_eq!(v[0]["accepted_difficulty"].as_f64(), Some(131072.0));
    let (_, out, _) = ctl(&["stats", "-o", "csv"]);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .contains(",hashrate_hs,hashrate_unit,"),
        "{out}"
    );
    assert!(out.contains(",112400000000000,H/s,"), "{out}");

    let (code, out, _) = ctl(&["workers"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("workers with a share since"), "{out}");
    for title in [
        "SITE",
        "STATE",
        "LAST SHARE",
        "HASHRATE 15M",
        "HASHRATE 24H",
        "DATA PLANE",
    ] {
        assert!(lines[2].contains(title), "{title}: {out}");
    }
    let rig = lines[3];
    for cell in [
        "acct.rig1",
        "online",
        "s ago (",
        "112.4 TH/s",
        "110.0 TH/s",
        "8.1 kH/s",
        "1234",
        "65536",
        "dp-1",
    ] {
        assert!(rig.contains(cell), "{cell}: {out}");
    }
    // ALEO is work per second, never H/s; nothing known shows as -.
    let prover = lines[4];
    for cell in ["prover7", "idle", "0 work/s", "3.0 Mwork/s", "0.042 work/s"] {
        assert!(prover.contains(cell), "{cell}: {out}");
    }
    assert!(!prover.contains("H/s"), "{out}");

    let (_, out, _) = ctl(&["workers", "-o", "json", "--state", "idle"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(v[0]["state"], "idle");
    assert_eq!(v[0]["algorithm"], "zksnark");
    assert_eq!(v[0]["hashrate_unit"], "work/s");
    assert_eq!(v[0]["hashrate_1h_hs"].as_f64(), Some(3.0e6));
    assert_eq!(v[0]["last_share"], serde_json::Value::Null);
    assert_eq!(v[0]["difficulty"], serde_json::Value::Null);
    let (_, out, _) = ctl(&["workers", "-o", "json", "--algo", "sha256"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["hashrate_15m_hs"].as_f64(), Some(112.4e12));
    assert_eq!(v[0]["accepted"], 1234);
    assert_eq!(v[0]["dataplane_id"], "dp-1");
    assert!(v[0]["last_share_unix_ms"].as_i64().unwrap() > 0);
    let (_, out, _) = ctl(&["workers", "-o", "csv"]);
    assert!(
        out.starts_with(
            "site,algorithm,worker,state,last_share,last_share_unix_ms,hashrate_15m_hs,"
        ),
        "{out}"
    );

    let (code, _, err) = ctl(&["workers", "--state", "asleep"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = ctl(&["workers", "--since", "3d"]);
    assert_eq!(code, 1);
    assert!(err.contains("error: since: too far back"), "{err}");
}

#[test]
fn config_files() {
    let dir = std::env::temp_dir().join(format!("ctl-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    let bad = dir.join("bad.yaml");
    std::fs::write(&good, "pools: []\n").unwrap();
    std::fs::write(&bad, "bad: yes\n").unwrap();
    let (code, out, _) = ctl(&["config", "validate", good.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, "ok\n"));
    let (code, out, err) = ctl(&["config", "validate", bad.to_str().unwrap()]);
    assert_eq!(
        (code, out.as_str()),
        (1, "pools[0].port: must be 1-65535\n")
    );
    assert!(err.contains("1 problem"));
    let all = ["--endpoint", endpoint(), "config", "validate", "-"];
    let (code, out, _) = ctl_env(&all, &[("SWITCHYARD_TOKEN", "secret")], Some("bad"));
    assert_eq!(
        (code, out.as_str()),
        (1, "pools[0].port: must be 1-65535\n")
    );

    let (code, out, _) = ctl(&["config", "import", good.to_str().unwrap(), "--replace"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("1 site(s), 2 pool(s), 3 schedule(s)") && out.contains("tok-b"),
        "{out}"
    );
    assert!(out.contains("not shown again"));

    let (_, out, _) = ctl(&["config", "export"]);
    assert_eq!(out, "pools: []\n");
    let target = dir.join("export.yaml");
    let (code, _, err) = ctl(&["config", "export", "--file", target.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(err.contains("wrote"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "pools: []\n");

    let token = dir.join("token");
    std::fs::write(&token, " secret\n").unwrap();
    let all = [
        "--endpoint",
        endpoint(),
        "--token-file",
        token.to_str().unwrap(),
        "config",
        "export",
    ];
    let (code, _, _) = ctl_env(&all, &[("SWITCHYARD_TOKEN", "wrong")], None);
    assert_eq!(code, 0, "--token-file wins over SWITCHYARD_TOKEN");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warnings_go_to_stderr_and_the_command_still_succeeds() {
    let args = [
        "schedule",
        "set",
        "--site",
        "farm-z",
        "--algo",
        "zksnark",
        "a@00:00-24:00",
    ];
    let (code, out, err) = ctl(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("schedule of farm-z zksnark set"), "{out}");
    assert_eq!(
        err,
        "warning: site farm-z (zksnark): mixes ALEO dialects: iceriver (a) and aleostratum3 (b)\n"
    );
    let mut json = vec!["-o", "json"];
    json.extend(args);
    let (code, out, _) = ctl(&json);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout stays JSON");
    assert_eq!(v["warnings"][0]["field"], "site farm-z (zksnark)");
    let (code, _, err) = ctl(&[
        "schedule",
        "set",
        "--site",
        "farm-z",
        "--algo",
        "sha256",
        "a@00:00-24:00",
    ]);
    assert_eq!((code, err.as_str()), (0, ""), "no warning, no stderr");
}
