//! The pure argument helpers: pool URLs and requests, schedule entries, plan
//! versions and stats arithmetic.

use clap::Parser;
use switchyard_ctl::cli::{Cli, Command};
use switchyard_ctl::cmd::dataplane::plan_text;
use switchyard_ctl::cmd::pool::{PoolCmd, add_request, parse_url, update_request, url_of};
use switchyard_ctl::cmd::schedule::{entries_text, parse_entry};
use switchyard_ctl::cmd::stats::{percentages, reasons_text};
use switchyard_proto::v1::{Algorithm, PoolMode, PoolSettings, Reason, ReasonCount};

fn pool_cmd(args: &[&str]) -> PoolCmd {
    let cli = Cli::try_parse_from(["ctl", "pool"].iter().chain(args)).unwrap();
    match cli.command {
        Command::Pool(p) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn pool_urls() {
    let u = parse_url("stratum+tcp://btc.example.com:3333").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.tls),
        ("btc.example.com", 3333, false)
    );
    assert!(parse_url("stratum+ssl://h:443/").unwrap().tls);
    assert!(parse_url("STRATUM+TLS://h:443").unwrap().tls);
    let v6 = parse_url("stratum+tcp://[2001:db8::1]:3333").unwrap();
    assert_eq!(v6.host, "2001:db8::1");
    assert_eq!(
        url_of(&PoolSettings {
            host: v6.host,
            port: 3333,
            ..Default::default()
        }),
        "stratum+tcp://[2001:db8::1]:3333"
    );
    for bad in [
        "h:3333",
        "tcp://h:3333",
        "stratum+tcp://h",
        "stratum+tcp://h:0",
        "stratum+tcp://h:70000",
        "stratum+tcp://:3333",
        "stratum+tcp://user:pw@h:3333",
        "stratum+tcp://h:3333/path",
        "stratum+tcp://[::1:3333",
        "stratum+tcp://h h:1",
        "",
    ] {
        let e = parse_url(bad).unwrap_err();
        assert!(e.contains("stratum+tcp://"), "{bad}: {e}");
    }
}

#[test]
fn pool_add_request() {
    let PoolCmd::Add(a) = pool_cmd(&[
        "add",
        "btc",
        "--algo",
        "sha256",
        "--url",
        "stratum+ssl://h:443",
        "--username",
        "w.{worker}",
        "--mode",
        "passthrough",
        "--disabled",
        "--buffer-percent",
        "0.05",
        "--connect-timeout",
        "10",
    ]) else {
        panic!("not add")
    };
    let p = add_request(a);
    assert_eq!(
        (p.host.as_str(), p.port, p.tls, p.enabled),
        ("h", 443, true, false)
    );
    assert_eq!(
        (p.algorithm(), p.mode()),
        (Algorithm::Sha256, PoolMode::Passthrough)
    );
    assert_eq!(
        (p.buffer_percent, p.connect_timeout_s, p.retry_interval_s),
        (Some(0.05), 10, 0)
    );
    assert_eq!(p.password, "");

    let PoolCmd::Add(a) = pool_cmd(&[
        "add",
        "x",
        "--algo",
        "randomx",
        "--host",
        "h",
        "--port",
        "1",
        "--username",
        "u",
        "--tls",
    ]) else {
        panic!("not add")
    };
    let p = add_request(a);
    assert_eq!(
        (p.tls, p.enabled, p.mode()),
        (true, true, PoolMode::Aggregate)
    );
}

#[test]
fn pool_update_request_sends_only_what_changes() {
    let PoolCmd::Update(u) = pool_cmd(&["update", "btc", "--port", "4444"]) else {
        panic!()
    };
    let r = update_request(u).unwrap();
    assert_eq!((r.port, r.host.as_ref(), r.tls), (Some(4444), None, None));

    let PoolCmd::Update(u) = pool_cmd(&["update", "btc", "--url", "stratum+tcp://h:1"]) else {
        panic!()
    };
    assert_eq!(update_request(u).unwrap().tls, Some(false));
    let PoolCmd::Update(u) = pool_cmd(&["update", "btc", "--no-tls"]) else {
        panic!()
    };
    assert_eq!(update_request(u).unwrap().tls, Some(false));
    let PoolCmd::Update(u) = pool_cmd(&["update", "btc", "--clear-difficulty-overrides"]) else {
        panic!()
    };
    assert!(update_request(u).unwrap().clear_difficulty_overrides);

    let PoolCmd::Update(u) = pool_cmd(&["update", "btc"]) else {
        panic!()
    };
    let e = update_request(u).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("nothing to update"));
}

#[test]
fn schedule_entries() {
    let e = parse_entry("btc@22:00-2:00").unwrap().0.remove(0);
    assert_eq!(
        (e.pool.as_str(), e.start.as_str(), e.end.as_str()),
        ("btc", "22:00", "02:00")
    );
    assert_eq!(parse_entry("a@b@00:00-24:00").unwrap().0[0].pool, "a@b");
    let x = parse_entry("x@02:00-22:00").unwrap().0;
    assert_eq!(
        entries_text(&[e.clone(), x[0].clone()]),
        "btc@22:00-02:00 x@02:00-22:00"
    );
    // A weighted window: one entry per pool, written back as one window.
    let w = parse_entry("btc:70, bch:30@00:00-22:00").unwrap().0;
    let got: Vec<_> = w.iter().map(|e| (e.pool.as_str(), e.weight)).collect();
    assert_eq!(got, [("btc", 70), ("bch", 30)]);
    let mut day = w.clone();
    day.push(parse_entry("nh@22:00-24:00").unwrap().0.remove(0));
    assert_eq!(
        entries_text(&day),
        "btc:70,bch:30@00:00-22:00 nh@22:00-24:00"
    );
    for (bad, why) in [
        ("btc:70,bch@00:00-12:00", "has no weight"),
        ("btc:0,bch:30@00:00-12:00", "weight"),
        ("btc:x,bch:30@00:00-12:00", "weight"),
    ] {
        let e = parse_entry(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
    for (bad, why) in [
        ("btc", "missing '@'"),
        ("@00:00-12:00", "missing pool"),
        ("btc@00:00", "missing '-'"),
        ("btc@00:00-12:60", "out of range"),
        ("btc@24:00-12:00", "only valid as an end"),
        ("btc@24:30-12:00", "out of range"),
        ("btc@12:00-12:00", "empty slot"),
        ("btc@1200-1300", "invalid start"),
        ("btc@12:0-13:00", "invalid start"),
        ("btc@+1:00-13:00", "invalid start"),
        ("btc@00:00-١٢:00", "invalid end"),
    ] {
        let e = parse_entry(bad).unwrap_err();
        assert!(
            e.contains(why) && e.contains("btc@00:00-12:00"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn plan_versions_and_stats() {
    assert_eq!(plan_text(7, 7), "7/7");
    assert_eq!(plan_text(6, 7), "6/7 behind");
    assert_eq!(percentages(0, 0), (None, None));
    let (a, r) = percentages(3, 1);
    assert_eq!((a, r), (Some(75.0), Some(25.0)));
    let reasons: Vec<ReasonCount> = [
        ("stale", 2),
        ("low difficulty", 9),
        ("duplicate", 2),
        ("other", 1),
    ]
    .iter()
    .map(|(r, c)| {
        let (reason, text) = Reason::from_stored(r);
        ReasonCount {
            reason: reason.into(),
            reason_text: text.to_string(),
            count: *c,
        }
    })
    .collect();
    assert_eq!(
        reasons_text(&reasons, 3),
        "low difficulty: 9, duplicate: 2, stale: 2, +1 more"
    );
    assert_eq!(reasons_text(&[], 3), "");
}
