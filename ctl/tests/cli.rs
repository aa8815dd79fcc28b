//! Command-line parsing: global flags anywhere, the override/clear shape,
//! pool address rules, schedule entries, time flags and defaults.

use clap::Parser;
use switchyard_ctl::cli::{Algo, Cli, Command};
use switchyard_ctl::cmd::overrides::OverrideAction;
use switchyard_ctl::cmd::pool::PoolCmd;
use switchyard_ctl::cmd::schedule::ScheduleCmd;
use switchyard_ctl::output::Format;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("ctl").chain(args.iter().copied()))
}

fn error(args: &[&str]) -> String {
    let e = parse(args).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{args:?}");
    e.to_string()
}

#[test]
fn global_flags_go_before_or_after_the_command() {
    let a = parse(&[
        "--output",
        "json",
        "--endpoint",
        "http://cp:1",
        "site",
        "list",
    ])
    .unwrap();
    let b = parse(&["site", "list", "-o", "json", "--endpoint", "http://cp:1"]).unwrap();
    for c in [a, b] {
        assert_eq!(c.globals.output, Format::Json);
        assert_eq!(c.globals.endpoint, "http://cp:1");
    }
    let c = parse(&["status", "--token", "t", "--token-file", "/x"]).unwrap();
    assert_eq!(c.globals.token.as_ref().map(|t| t.expose()), Some("t"));
    assert!(c.globals.token_file.is_some());
    assert!(error(&["status", "-o", "xml"]).contains("table"));
}

#[test]
fn override_sets_or_clears() {
    let c = parse(&[
        "override", "--site", "a", "--algo", "sha256", "--pool", "p", "--until", "+2h",
    ])
    .unwrap();
    let Command::Override(o) = c.command else {
        panic!("not override")
    };
    assert!(o.action.is_none() && o.until.is_some() && o.algo == Some(Algo::Sha256));

    let c = parse(&[
        "override", "clear", "--site", "a", "--algo", "randomx", "-o", "json",
    ])
    .unwrap();
    let Command::Override(o) = c.command else {
        panic!("not override")
    };
    assert!(matches!(
        o.action,
        Some(OverrideAction::Clear {
            algo: Algo::Randomx,
            ..
        })
    ));

    assert!(
        error(&["override", "--site", "a", "--algo", "sha256", "--pool", "p"]).contains("--until")
    );
    assert!(error(&["override", "clear", "--site", "a"]).contains("--algo"));
    let e = error(&[
        "override", "--site", "a", "--algo", "sha256", "--pool", "p", "--until", "later",
    ]);
    assert!(e.contains("--until") && e.contains("+2h"), "{e}");
}

#[test]
fn pool_add_needs_one_address() {
    let base = ["pool", "add", "btc", "--algo", "sha256", "--username", "u"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&base[..], extra].concat() };
    assert!(parse(&with(&["--url", "stratum+tcp://h:3333"])).is_ok());
    assert!(parse(&with(&["--host", "h", "--port", "3333"])).is_ok());
    assert!(error(&with(&[])).contains("--url"));
    assert!(error(&with(&["--host", "h"])).contains("--port"));
    assert!(
        error(&with(&[
            "--url",
            "stratum+tcp://h:1",
            "--host",
            "h",
            "--port",
            "1"
        ]))
        .contains("cannot be used")
    );
    assert!(error(&with(&["--url", "http://h:1"])).contains("stratum+tcp://"));
    assert!(
        error(&with(&[
            "--url",
            "stratum+tcp://h:1",
            "--buffer-percent",
            "NaN"
        ]))
        .contains("--buffer-percent")
    );
    assert!(
        error(&with(&[
            "--url",
            "stratum+tcp://h:1",
            "--min-difficulty",
            "0"
        ]))
        .contains("above 0")
    );
    assert!(
        error(&with(&["--url", "stratum+tcp://h:1", "--mode", "solo"])).contains("passthrough")
    );
    let c = parse(&["pool", "update", "btc", "--tls", "--no-tls"]);
    assert!(c.is_err());
    let c = parse(&["pool", "list", "--algo", "zksnark"]).unwrap();
    assert!(matches!(
        c.command,
        Command::Pool(PoolCmd::List {
            algo: Some(Algo::Zksnark)
        })
    ));
}

#[test]
fn schedule_entries_are_checked_one_by_one() {
    let c = parse(&[
        "schedule",
        "set",
        "--site",
        "a",
        "--algo",
        "sha256",
        "btc@0:00-12:00",
        "ltc@12:00-24:00",
    ])
    .unwrap();
    let Command::Schedule(ScheduleCmd::Set { entries, .. }) = c.command else {
        panic!("not set")
    };
    assert_eq!(
        (entries[0].0[0].start.as_str(), entries[1].0[0].end.as_str()),
        ("00:00", "24:00")
    );

    let e = error(&[
        "schedule",
        "set",
        "--site",
        "a",
        "--algo",
        "sha256",
        "btc@00:00-12:00",
        "ltc@12:00-25:00",
    ]);
    assert!(
        e.contains("ltc@12:00-25:00") && e.contains("btc@00:00-12:00"),
        "{e}"
    );
    assert!(
        error(&["schedule", "set", "--site", "a", "--algo", "sha256"]).contains("POOL@HH:MM-HH:MM")
    );

    let c = parse(&["schedule", "preview"]).unwrap();
    assert!(matches!(
        c.command,
        Command::Schedule(ScheduleCmd::Preview { hours: 48, .. })
    ));
    assert!(error(&["schedule", "preview", "--hours", "0"]).contains("--hours"));
    assert!(
        parse(&[
            "schedule", "failover", "--site", "a", "--algo", "sha256", "--clear"
        ])
        .is_ok()
    );
    assert!(error(&["schedule", "failover", "--site", "a", "--algo", "sha256"]).contains("POOL"));
}

#[test]
fn share_and_stats_flags() {
    let c = parse(&["shares", "--verdict", "rejected", "--since", "2h"]).unwrap();
    let Command::Shares(s) = c.command else {
        panic!("not shares")
    };
    assert_eq!(s.limit, 100);
    assert!(s.filter.since.is_some());
    let e = error(&["shares", "--since", "yesterday"]);
    assert!(
        e.contains("--since") && e.contains("2026-11-23T18:00:00Z"),
        "{e}"
    );
    assert!(error(&["shares", "--limit", "0"]).contains("--limit"));
    assert!(error(&["shares", "--verdict", "maybe"]).contains("accepted"));

    let c = parse(&["stats", "--window", "15m", "--until", "now"]).unwrap();
    let Command::Stats(s) = c.command else {
        panic!("not stats")
    };
    assert_eq!(s.window, Some(900));
    let e = error(&["stats", "--window", "0h"]);
    assert!(e.contains("--window") && e.contains("15m"), "{e}");
}

#[test]
fn site_add_checks_the_zone() {
    assert!(parse(&["site", "add", "farm", "--timezone", "Europe/Berlin"]).is_ok());
    let e = error(&["site", "add", "farm", "--timezone", "Mars/Olympus"]);
    assert!(
        e.contains("--timezone") && e.contains("Europe/Berlin"),
        "{e}"
    );
}
