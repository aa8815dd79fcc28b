//! The extensions (`controlplane:`, multi-site `sites:`), every problem of a
//! file reported at once, `ctl`-style schedules, and export round trips.

use chrono_tz::Tz;
use switchyard_model::config::{self, Import, PoolMode};
use switchyard_model::{Algorithm, Problem};

const UTC: Tz = chrono_tz::UTC;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(yaml: &str) -> Import {
    config::load(yaml, UTC).unwrap_or_else(|p| panic!("{}", switchyard_model::problem::render(&p)))
}

fn has(p: &[Problem], field: &str, text: &str) -> bool {
    p.iter()
        .any(|p| p.field == field && p.message.contains(text))
}

const POOLS: &str = "servers:\n  sha256:\n    - {name: btc, host: h, username: u, start: \"00:00\", end: \"12:00\"}\n    - {name: bch, host: h, username: u, start: \"12:00\", end: \"24:00\"}\n    - {name: off, host: h, username: u, enabled: false}\n  randomx:\n    - {name: xmr, host: h, username: u}\n";

#[test]
fn multi_site_two_zones() {
    let import = load(&fixture("multisite.yaml"));
    let cp = &import.controlplane;
    assert_eq!(
        (
            cp.listen.as_str(),
            cp.grace_period,
            cp.switch_lead,
            cp.plan_horizon_hours,
            cp.share_retention_days
        ),
        ("0.0.0.0:50051", 45, 20, 72, 90)
    );
    assert_eq!(cp.pid_file.as_deref(), Some("/run/switchyard.pid"));
    assert_eq!(cp.tls_key.as_deref(), Some("/etc/switchyard/cp.key"));
    assert_eq!(
        import
            .pools
            .iter()
            .find(|p| p.name == "bch")
            .map(|p| p.mode),
        Some(PoolMode::Passthrough)
    );

    let [texas, berlin] = import.sites.as_slice() else {
        panic!("two sites")
    };
    assert_eq!(
        (texas.name.as_str(), texas.timezone),
        ("texas", chrono_tz::America::Chicago)
    );
    assert_eq!(
        (berlin.name.as_str(), berlin.timezone),
        ("berlin", chrono_tz::Europe::Berlin)
    );
    // Texas: its own sha256 day, crossing midnight; randomx not enabled there.
    let day = &texas.schedules[&Algorithm::Sha256];
    assert_eq!(
        (
            day.pool_at(23 * 60),
            day.pool_at(5 * 60),
            day.pool_at(6 * 60)
        ),
        ("bch", "bch", "btc")
    );
    assert!(!texas.schedules.contains_key(&Algorithm::Randomx));
    assert_eq!(texas.failover[&Algorithm::Sha256], ["btc", "bch"]);
    assert_eq!(texas.proxy.circuit_breaker.failure_threshold, 5);
    // Berlin: its own proxy; sha256 from the servers' times, randomx its own day.
    assert_eq!(berlin.schedules[&Algorithm::Sha256].pool_at(11 * 60), "btc");
    assert_eq!(
        berlin.schedules[&Algorithm::Randomx].pool_at(23 * 60),
        "xmr2"
    );
    assert_eq!(berlin.proxy.circuit_breaker.failure_threshold, 3);
    assert!(berlin.failover.is_empty());
    // The breaker settings come from the top-level proxy.
    assert_eq!(import.breaker.failure_threshold, 5);
}

#[test]
fn single_site_zone_comes_from_controlplane_or_the_caller() {
    let with_zone = format!("controlplane: {{timezone: Asia/Tokyo, site_name: tokyo}}\n{POOLS}");
    let import = load(&with_zone);
    assert_eq!(
        (import.sites[0].name.as_str(), import.sites[0].timezone),
        ("tokyo", chrono_tz::Asia::Tokyo)
    );
    let import = config::load(POOLS, chrono_tz::Europe::Paris).unwrap();
    assert_eq!(import.sites[0].timezone, chrono_tz::Europe::Paris);
    assert_eq!(
        import.controlplane.timezone.as_deref(),
        Some("Europe/Paris")
    );
}

#[test]
fn every_problem_at_once() {
    let p = config::validate(&fixture("five_problems.yaml"), UTC);
    let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert_eq!(p.len(), 5, "{text:#?}");
    assert!(
        has(&p, "proxy.global.max_connections", "must be from 1 to"),
        "{text:#?}"
    );
    assert!(
        has(&p, "servers.sha256[0].port", "found the string \"abc\""),
        "{text:#?}"
    );
    assert!(has(&p, "servers.sha256", "gap 12:00-13:00"), "{text:#?}");
    assert!(has(&p, "servers.scrypt", "unknown algorithm"), "{text:#?}");
    assert!(
        has(&p, "logging.level", "unknown log level \"LOUD\""),
        "{text:#?}"
    );
}

#[test]
fn site_schedule_problems() {
    let yaml = format!(
        "{POOLS}sites:\n  - name: a\n    timezone: Europe/Berln\n    schedule:\n      sha256:\n        - {{server: nope, start: \"00:00\", end: \"06:00\"}}\n        - {{server: off, start: \"06:00\", end: \"12:00\"}}\n        - {{server: xmr, start: \"12:00\", end: \"18:00\"}}\n        - {{server: btc, start: \"18:00\", end: \"24:00\", extra: 1}}\n      bitcoin: []\n    failover:\n      sha256: [bch, xmr, bch]\n  - name: a\n    timezone: UTC\n  - {{timezone: UTC}}\n"
    );
    let p = config::validate(&yaml, UTC);
    let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert!(
        has(
            &p,
            "sites[0].timezone",
            "unknown time zone \"Europe/Berln\""
        ),
        "{text:#?}"
    );
    assert!(
        has(
            &p,
            "sites[0].schedule.sha256[0].server",
            "unknown server \"nope\" (sha256 servers: btc, bch, off)"
        ),
        "{text:#?}"
    );
    assert!(
        has(
            &p,
            "sites[0].schedule.sha256[1].server",
            "server \"off\" is disabled"
        ),
        "{text:#?}"
    );
    assert!(
        has(
            &p,
            "sites[0].schedule.sha256[2].server",
            "server \"xmr\" is a randomx server, not sha256"
        ),
        "{text:#?}"
    );
    assert!(
        has(&p, "sites[0].schedule.sha256[3].extra", "unknown field"),
        "{text:#?}"
    );
    assert!(
        has(&p, "sites[0].schedule.bitcoin", "unknown algorithm"),
        "{text:#?}"
    );
    assert!(
        has(&p, "sites[0].failover.sha256[1]", "is a randomx server"),
        "{text:#?}"
    );
    assert!(
        has(&p, "sites[0].failover.sha256[2]", "listed twice"),
        "{text:#?}"
    );
    assert!(
        has(&p, "sites[1].name", "already used by sites[0]"),
        "{text:#?}"
    );
    assert!(has(&p, "sites[2].name", "missing"), "{text:#?}");
    assert_eq!(p.len(), 10, "{text:#?}");
}

#[test]
fn site_schedule_overlap_gap_and_bad_times() {
    let yaml = format!(
        "{POOLS}sites:\n  - name: a\n    timezone: UTC\n    schedule:\n      sha256:\n        - {{server: btc, start: \"00:00\", end: \"13:00\"}}\n        - {{server: bch, start: \"12:00\", end: \"23:00\"}}\n  - name: b\n    timezone: UTC\n    schedule:\n      sha256:\n        - {{server: btc, start: 0, end: \"12:00\"}}\n        - {{server: bch, start: \"12:00\"}}\n"
    );
    let p = config::validate(&yaml, UTC);
    let text: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        text,
        [
            "sites[1].schedule.sha256[0].start: found the number 0, not a time: write times as quoted \"HH:MM\" strings (e.g. start: \"12:00\"); a YAML 1.1 reader turns an unquoted 12:00 into the number 720",
            "sites[1].schedule.sha256[1].end: missing: every schedule entry needs a `end` (\"HH:MM\")",
            "sites[0].schedule.sha256: btc 00:00-13:00 overlaps bch 12:00-23:00 (12:00-13:00 covered by both)",
            "sites[0].schedule.sha256: gap 23:00-24:00: no pool is scheduled between bch 12:00-23:00 and btc 00:00-13:00",
        ]
    );
}

#[test]
fn sites_form_problems() {
    let p = config::validate(&format!("{POOLS}sites: []\n"), UTC);
    assert!(has(&p, "sites", "an empty list"), "{p:?}");
    let p = config::validate(
        &format!(
            "{POOLS}sites:\n  - {{name: '', timezone: UTC, proxy: {{sha256: {{bind_port: 70000}}}}}}\n"
        ),
        UTC,
    );
    assert!(has(&p, "sites[0].name", "non-empty"), "{p:?}");
    assert!(has(&p, "sites[0].proxy.sha256.bind_port", "65535"), "{p:?}");
    // A site enabling randomx with no randomx day anywhere.
    let p = config::validate(
        &format!(
            "{POOLS}sites:\n  - {{name: x, timezone: UTC, proxy: {{randomx: {{enabled: true}}}}}}\n"
        ),
        UTC,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        has(
            &p,
            "servers.randomx",
            "randomx is enabled (sites[0].proxy.randomx.enabled) at site \"x\", which gives no schedule for it but no enabled server has a schedule"
        ),
        "{p:?}"
    );
}

#[test]
fn controlplane_section_problems() {
    let yaml = format!(
        "controlplane:\n  grace_period: -1\n  switch_lead: 601\n  tls_key: k.pem\n  timezone: Nowhere/City\n  listen: nope\n  bogus: 1\n{POOLS}"
    );
    let p = config::validate(&yaml, UTC);
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "controlplane.grace_period",
            "controlplane.switch_lead",
            "controlplane.listen",
            "controlplane.timezone",
            "controlplane.tls_cert",
            "controlplane.bogus"
        ]
    );
}

#[test]
fn ctl_schedule_set_uses_the_same_rules() {
    let import = load(POOLS);
    let entries = |list: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        list.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    };
    let day = config::validate_schedule_entries(
        "schedule",
        Algorithm::Sha256,
        &entries(&[("bch", "18:00", "06:00"), ("btc", "06:00", "18:00")]),
        &import.pools,
    )
    .unwrap();
    assert_eq!(day.pool_at(0), "bch");
    let p = config::validate_schedule_entries(
        "schedule",
        Algorithm::Sha256,
        &entries(&[("btc", "00:00", "12:00"), ("off", "12:00", "24:00")]),
        &import.pools,
    )
    .unwrap_err();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p[0].to_string(),
        "schedule[1]: pool \"off\" is disabled; enable it or schedule another pool"
    );
}

fn round_trip(yaml: &str, tz: Tz) -> String {
    let import = config::load(yaml, tz).unwrap();
    let out = config::export(&import);
    let again = config::load(&out, chrono_tz::Asia::Kolkata)
        .unwrap_or_else(|p| panic!("{out}\n{}", switchyard_model::problem::render(&p)));
    assert_eq!(again, import, "{out}");
    // Exporting again gives the same text.
    assert_eq!(config::export(&again), out);
    out
}

#[test]
fn export_round_trip_seed_form() {
    for name in ["quickstart.yaml", "reference.yaml"] {
        let out = round_trip(&fixture(name), UTC);
        assert!(!out.contains("sites:"), "{out}");
        assert!(
            out.contains("start: \"00:00\""),
            "quoted for YAML 1.1 readers: {out}"
        );
    }
    let out = round_trip(config::sample(), chrono_tz::America::New_York);
    assert!(out.contains("timezone: America/New_York"), "{out}");
}

#[test]
fn export_round_trip_multi_site_form() {
    let out = round_trip(&fixture("multisite.yaml"), UTC);
    assert!(out.contains("sites:"), "{out}");
    // Texas runs the top-level proxy settings: only Berlin writes its own.
    assert_eq!(out.matches("\n  proxy:\n").count(), 1, "{out}");
    assert!(
        out.contains("mode: passthrough") && !out.contains("mode: aggregate"),
        "{out}"
    );
    // A single site whose day gives a pool two slots needs the sites form too.
    let yaml = format!(
        "{POOLS}sites:\n  - name: only\n    timezone: UTC\n    schedule:\n      sha256:\n        - {{server: btc, start: \"00:00\", end: \"06:00\"}}\n        - {{server: bch, start: \"06:00\", end: \"18:00\"}}\n        - {{server: btc, start: \"18:00\", end: \"24:00\"}}\n"
    );
    assert!(round_trip(&yaml, UTC).contains("sites:"));
}

#[test]
fn proxy_yaml_is_the_section_alone() {
    let import = load(&fixture("multisite.yaml"));
    let berlin = &import.sites[1].proxy;
    let yaml = config::proxy_yaml(berlin);
    assert!(yaml.starts_with("global:"), "{yaml}");
    assert!(
        !yaml.contains("servers") && !yaml.contains("password"),
        "{yaml}"
    );
    assert_eq!(config::parse_proxy_yaml(&yaml).as_ref(), Ok(berlin));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// No input makes `load` panic: arbitrary text, and the multi-site
    /// fixture with a slice cut out or replaced.
    #[test]
    fn load_never_panics(text in "\\PC{0,200}", cut in 0usize..2000, len in 0usize..40, insert in "[ :\\-\\[\\]{}a-z0-9\\n]{0,8}") {
        let _ = config::validate(&text, UTC);
        let base = fixture("multisite.yaml");
        let start = cut.min(base.len());
        let end = (start + len).min(base.len());
        if base.is_char_boundary(start) && base.is_char_boundary(end) {
            let mutated = format!("{}{}{}", &base[..start], insert, &base[end..]);
            if let Ok(import) = config::load(&mutated, UTC) {
                // Whatever loads also exports and loads back the same.
                proptest::prop_assert_eq!(config::load(&config::export(&import), UTC), Ok(import));
            }
        }
    }
}

const GRANTS: &str = r#"
servers:
  sha256:
    - { name: apool, host: h, username: u, sites: [a] }
    - { name: bpool, host: h, username: u, sites: [b, a] }
    - { name: spare, host: h, username: u }
sites:
  - name: a
    timezone: UTC
    schedule:
      sha256:
        - { server: apool, start: "00:00", end: "24:00" }
  - name: b
    timezone: UTC
    schedule:
      sha256:
        - { server: bpool, start: "00:00", end: "24:00" }
"#;

#[test]
fn servers_granted_to_sites_load_and_export() {
    let import = load(GRANTS);
    let sites = |n: &str| {
        import
            .pools
            .iter()
            .find(|p| p.name == n)
            .map(|p| p.sites.clone())
            .unwrap()
    };
    assert_eq!(sites("apool"), ["a"]);
    assert_eq!(sites("bpool"), ["b", "a"]);
    assert!(sites("spare").is_empty());
    let again = load(&config::export(&import));
    assert_eq!(again.pools, import.pools);
}

#[test]
fn a_grant_to_an_unknown_site_or_one_that_strands_a_schedule_is_a_problem() {
    let bad = GRANTS
        .replace("sites: [a] }", "sites: [a, nowhere] }")
        .replace("sites: [b, a] }", "sites: [a] }");
    let p = config::load(&bad, UTC).unwrap_err();
    assert!(
        has(
            &p,
            "servers.sha256[0].sites[1]",
            "no site named \"nowhere\" (sites: a, b)"
        ),
        "{p:?}"
    );
    assert!(
        has(
            &p,
            "servers.sha256[1].sites",
            "server \"bpool\" is granted to a only, but the schedule of site \"b\" names it"
        ),
        "{p:?}"
    );
    let p = config::load(&GRANTS.replace("sites: [a] }", "sites: [a, a] }"), UTC).unwrap_err();
    assert!(
        has(&p, "servers.sha256[0].sites[1]", "listed twice"),
        "{p:?}"
    );
    let p = config::load(&GRANTS.replace("sites: [a] }", "sites: a }"), UTC).unwrap_err();
    assert!(
        p.iter()
            .any(|p| p.field.starts_with("servers.sha256[0].sites")),
        "{p:?}"
    );
}

#[test]
fn a_grant_in_the_single_site_form_names_the_default_site() {
    let yaml = "controlplane: { site_name: farm }\nservers:\n  sha256:\n    - {name: btc, host: h, username: u, start: \"00:00\", end: \"24:00\", sites: [farm]}\n";
    assert_eq!(load(yaml).pools[0].sites, ["farm"]);
    let p = config::load(&yaml.replace("[farm]", "[other]"), UTC).unwrap_err();
    assert!(
        has(&p, "servers.sha256[0].sites[0]", "no site named \"other\""),
        "{p:?}"
    );
}

const WEIGHTED: &str = r#"
servers:
  sha256:
    - { name: btc, host: h, username: u }
    - { name: bch, host: h, username: u }
    - { name: nicehash, host: h, username: u }
  randomx:
    - { name: xmr, host: h, username: u }
sites:
  - name: farm-a
    timezone: UTC
    schedule:
      sha256:
        - { server: btc, start: "00:00", end: "18:00", weight: 70 }
        - { server: bch, start: "00:00", end: "18:00", weight: 30 }
        - { server: nicehash, start: "18:00", end: "24:00" }
"#;

#[test]
fn a_weighted_window_loads_exports_and_reads_back() {
    let import = load(WEIGHTED);
    let day = &import.sites[0].schedules[&Algorithm::Sha256];
    let [window, evening] = day.slots() else {
        panic!("two slots: {day:?}")
    };
    assert_eq!(window.pools_text(), "btc:70,bch:30");
    assert_eq!(window.pool, "btc");
    assert_eq!(evening.pools_text(), "nicehash");
    assert!(evening.split.is_empty());
    let yaml = config::export(&import);
    assert!(
        yaml.contains("weight: 70") && yaml.contains("weight: 30"),
        "{yaml}"
    );
    assert_eq!(load(&yaml).sites, import.sites);
}

#[test]
fn weighted_servers_in_the_seed_form_share_a_window() {
    let yaml = "servers:\n  sha256:\n    - {name: btc, host: h, username: u, start: \"00:00\", end: \"24:00\", weight: 98}\n    - {name: fee, host: h, username: u, start: \"00:00\", end: \"24:00\", weight: 2}\n";
    let import = load(yaml);
    let day = &import.sites[0].schedules[&Algorithm::Sha256];
    assert_eq!(day.slots().len(), 1);
    assert_eq!(day.slots()[0].pools_text(), "btc:98,fee:2");
    let again = load(&config::export(&import));
    assert_eq!(again.sites[0].schedules, import.sites[0].schedules);
}

#[test]
fn weighted_window_problems_are_named() {
    // A server without a weight in a weighted window.
    let p = config::load(&WEIGHTED.replace(", weight: 30", ""), UTC).unwrap_err();
    assert!(
        has(
            &p,
            "sites[0].schedule.sha256[1]",
            "shares its window with weighted servers; give it a `weight` too"
        ),
        "{p:?}"
    );
    // Zero and huge weights.
    let p = config::load(&WEIGHTED.replace("weight: 30", "weight: 0"), UTC).unwrap_err();
    assert!(
        p.iter()
            .any(|p| p.field == "sites[0].schedule.sha256[1].weight"),
        "{p:?}"
    );
    let p = config::load(&WEIGHTED.replace("weight: 30", "weight: 2000000"), UTC).unwrap_err();
    assert!(
        p.iter()
            .any(|p| p.field == "sites[0].schedule.sha256[1].weight"),
        "{p:?}"
    );
    // A pool of another algorithm in the window.
    let p = config::load(&WEIGHTED.replace("server: bch,", "server: xmr,"), UTC).unwrap_err();
    assert!(
        has(
            &p,
            "sites[0].schedule.sha256[1].server",
            "is a randomx server, not sha256"
        ),
        "{p:?}"
    );
    // A window that overlaps the next slot is still an overlap.
    let p = config::load(
        &WEIGHTED.replace("start: \"18:00\"", "start: \"17:00\""),
        UTC,
    )
    .unwrap_err();
    assert!(
        p.iter().any(|p| p
            .message
            .contains("btc:70,bch:30 00:00-18:00 overlaps nicehash 17:00-24:00")),
        "{p:?}"
    );
}

#[test]
fn ctl_weighted_windows_use_the_same_rules() {
    let import = load(POOLS);
    let entries = |v: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        v.iter()
            .map(|(p, s, e)| (p.to_string(), s.to_string(), e.to_string()))
            .collect()
    };
    let day = config::validate_schedule_entries(
        "schedule",
        Algorithm::Sha256,
        &entries(&[
            ("btc:70,bch:30", "00:00", "18:00"),
            ("btc", "18:00", "24:00"),
        ]),
        &import.pools,
    )
    .unwrap();
    assert_eq!(day.slots()[0].pools_text(), "btc:70,bch:30");
    assert_eq!(day.slot_at(0).split.len(), 2);
    assert_eq!(day.pool_at(19 * 60), "btc");
    for (text, why) in [
        ("btc:70,bch", "has no weight"),
        ("btc:0,bch:30", "whole number from 1 to 1000000"),
        ("btc:70,btc:30", "named twice"),
        ("btc:70,xmr:30", "is a randomx pool, not sha256"),
        ("btc:70,off:30", "is disabled"),
        ("btc:70,nope:30", "unknown pool \"nope\""),
    ] {
        let p = config::validate_schedule_entries(
            "schedule",
            Algorithm::Sha256,
            &entries(&[(text, "00:00", "24:00")]),
            &import.pools,
        )
        .unwrap_err();
        assert!(
            p.iter()
                .any(|p| p.field == "schedule[0]" && p.message.contains(why)),
            "{text}: {p:?}"
        );
    }
    // A single pool with a weight is that pool.
    let day = config::validate_schedule_entries(
        "schedule",
        Algorithm::Sha256,
        &entries(&[("btc:5", "00:00", "24:00")]),
        &import.pools,
    )
    .unwrap();
    assert!(day.slots()[0].split.is_empty());
}
