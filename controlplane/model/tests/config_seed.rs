//! The seed's config format accepted as is: its README examples, each of its
//! schedule rules, and a named regression test for each of its defects.

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

fn problems(yaml: &str) -> Vec<Problem> {
    let p = config::validate(yaml, UTC);
    assert!(!p.is_empty(), "expected problems");
    p
}

fn has(p: &[Problem], field: &str, text: &str) -> bool {
    p.iter()
        .any(|p| p.field == field && p.message.contains(text))
}

/// Two sha256 servers around `start`/`end` pairs, plus extra YAML under each.
fn two_servers(a: (&str, &str), b: (&str, &str)) -> String {
    format!(
        "servers:\n  sha256:\n    - {{name: btc, host: h1, username: u, start: {}, end: {}}}\n    - {{name: bch, host: h2, username: u, start: {}, end: {}}}\n",
        a.0, a.1, b.0, b.1
    )
}

#[test]
fn quick_start_example_loads() {
    let yaml = fixture("quickstart.yaml");
    assert!(config::validate(&yaml, UTC).is_empty());
    let import = load(&yaml);
    assert_eq!(import.pools.len(), 2);
    assert_eq!(import.pools[0].name, "btc");
    assert_eq!(import.pools[0].host, "stratum.pool1.com");
    assert_eq!(import.pools[0].mode, PoolMode::Aggregate);
    let [site] = import.sites.as_slice() else {
        panic!("one site")
    };
    assert_eq!(site.name, "default");
    assert_eq!(site.timezone, UTC);
    let day = &site.schedules[&Algorithm::Sha256];
    assert_eq!(day.pool_at(0), "btc");
    assert_eq!(day.pool_at(719), "btc");
    assert_eq!(day.pool_at(720), "bch");
    assert_eq!(import.controlplane.listen, "127.0.0.1:50051");
    assert_eq!(import.controlplane.timezone.as_deref(), Some("UTC"));
}

#[test]
fn configuration_reference_loads_with_every_value() {
    let import = load(&fixture("reference.yaml"));
    let proxy = &import.sites[0].proxy;
    let g = &proxy.global;
    assert_eq!(
        (
            g.max_connections,
            g.miner_read_timeout,
            g.miner_write_timeout,
            g.upstream_idle_timeout,
            g.server_switch_timeout
        ),
        (1024, 180, 30, 300, 900)
    );
    assert!(g.tcp_keepalive);
    assert_eq!(
        (g.keepalive_idle, g.keepalive_interval, g.keepalive_count),
        (60, 10, 3)
    );
    assert_eq!((g.share_submit_retries, g.pending_shares_timeout), (3, 10));
    let v = &proxy.validation;
    assert!(v.reject_duplicates && v.reject_stale);
    assert_eq!(
        (v.share_cache_size, v.share_cache_ttl, v.job_cache_size),
        (1000, 300, 10)
    );
    let d = &proxy.difficulty;
    assert_eq!(
        (
            d.change_cooldown,
            d.decay_interval,
            d.share_rate_window,
            d.share_rate_min_shares
        ),
        (30, 300, 300, 3)
    );
    assert!(d.decay_enabled);
    assert_eq!(
        (
            d.decay_percent,
            d.floor_trigger_ratio,
            d.floor_reset_ratio,
            d.share_rate_low_multiplier
        ),
        (0.05, 0.50, 0.75, 0.5)
    );
    assert_eq!(
        (
            d.buffer_start,
            d.buffer_min,
            d.buffer_max,
            d.buffer_increase_step
        ),
        (0.05, 0.02, 0.20, 0.01)
    );
    assert_eq!(d.buffer_decrease_interval, 3600);
    assert_eq!(
        import.breaker,
        switchyard_model::breaker::BreakerSettings::default()
    );
    assert_eq!(
        (
            proxy.sha256.enabled,
            proxy.sha256.bind_host.as_str(),
            proxy.sha256.bind_port
        ),
        (true, "0.0.0.0", 3333)
    );
    assert_eq!(
        (proxy.randomx.enabled, proxy.randomx.bind_port),
        (false, 3334)
    );
    assert_eq!(
        (proxy.zksnark.enabled, proxy.zksnark.bind_port),
        (false, 3335)
    );

    let names: Vec<(&str, Algorithm)> = import
        .pools
        .iter()
        .map(|p| (p.name.as_str(), p.algorithm))
        .collect();
    assert_eq!(
        names,
        [
            ("unique_name", Algorithm::Sha256),
            ("second_half", Algorithm::Sha256),
            ("xmr_pool", Algorithm::Randomx),
            ("aleo_pool", Algorithm::Zksnark)
        ]
    );
    let p = &import.pools[0];
    assert_eq!(
        (
            p.host.as_str(),
            p.port,
            p.username.as_str(),
            p.password.expose()
        ),
        ("pool.example.com", 3333, "wallet.worker", "x")
    );
    assert_eq!(
        (p.tls, p.connect_timeout_s, p.retry_interval_s),
        (false, 30, 5)
    );
    assert_eq!(
        (p.buffer_percent, p.min_difficulty, p.max_difficulty),
        (Some(0.10), Some(1000.0), Some(1_000_000.0))
    );
    let q = &import.pools[1];
    assert_eq!(
        (
            q.tls,
            q.port,
            q.connect_timeout_s,
            q.retry_interval_s,
            q.buffer_percent
        ),
        (true, 3334, 20, 7, None)
    );

    // Only the enabled algorithm gets a day.
    let site = &import.sites[0];
    assert_eq!(
        site.schedules.keys().copied().collect::<Vec<_>>(),
        [Algorithm::Sha256]
    );
    assert_eq!(
        site.schedules[&Algorithm::Sha256].pool_at(12 * 60),
        "second_half"
    );

    let l = &import.logging;
    assert_eq!(
        (
            l.level.as_str(),
            l.file.as_deref(),
            l.rotation.as_str(),
            l.retention
        ),
        ("INFO", Some("/var/log/proxy.log"), "50 MB", 10)
    );
    assert_eq!(
        l.format,
        "{time:YYYY-MM-DD HH:mm:ss} | {level: <8} | {message}"
    );
}

/// Every leaf of the reference file is read: changing any one of them either
/// changes the import or is reported under exactly that field.
#[test]
fn configuration_reference_every_leaf_is_read() {
    use serde_yaml_ng::Value;
    let text = fixture("reference.yaml");
    let base = load(&text);
    let root: Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut leaves = Vec::new();
    collect_leaves(&root, String::new(), &mut leaves);
    assert!(leaves.len() > 80, "{}", leaves.len());
    for (path, keys) in leaves {
        let mut changed = root.clone();
        let mut node = &mut changed;
        for k in &keys {
            node = match k {
                Key::Name(n) => &mut node[n.as_str()],
                Key::Index(i) => &mut node[*i],
            };
        }
        *node = match node.clone() {
            Value::Bool(b) => Value::Bool(!b),
            Value::Number(n) if n.is_f64() => Value::from(n.as_f64().unwrap() * 1.5),
            Value::Number(n) => Value::from(n.as_u64().unwrap() + 1),
            Value::String(s) if path.ends_with("start") || path.ends_with("end") => {
                Value::from(if s == "00:00" { "01:00" } else { "00:00" })
            }
            Value::String(s) => Value::from(format!("{s}x")),
            other => other,
        };
        let yaml = serde_yaml_ng::to_string(&changed).unwrap();
        match config::load(&yaml, UTC) {
            // The times of a disabled algorithm's servers are checked but
            // scheduled nowhere.
            Ok(import) => {
                let disabled = path.starts_with("servers.randomx[0].")
                    || path.starts_with("servers.zksnark[0].");
                if !(disabled && (path.ends_with(".start") || path.ends_with(".end"))) {
                    assert_ne!(import, base, "{path} was not read");
                }
            }
            Err(p) => assert!(
                p.iter()
                    .any(|p| p.field.starts_with(&path) || path.starts_with(&p.field)),
                "{path}: {p:?}"
            ),
        }
    }
}

enum Key {
    Name(String),
    Index(usize),
}

fn collect_leaves(v: &serde_yaml_ng::Value, path: String, out: &mut Vec<(String, Vec<Key>)>) {
    fn keys_of(path: &str) -> Vec<Key> {
        let mut keys = Vec::new();
        for part in path.split('.') {
            let (name, rest) = part.split_once('[').unwrap_or((part, ""));
            keys.push(Key::Name(name.to_string()));
            if let Some(i) = rest.strip_suffix(']') {
                keys.push(Key::Index(i.parse().unwrap()));
            }
        }
        keys
    }
    match v {
        serde_yaml_ng::Value::Mapping(m) => {
            for (k, v) in m {
                let k = k.as_str().unwrap();
                let p = if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                };
                collect_leaves(v, p, out);
            }
        }
        serde_yaml_ng::Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_leaves(v, format!("{path}[{i}]"), out);
            }
        }
        _ => {
            let keys = keys_of(&path);
            out.push((path, keys));
        }
    }
}

#[test]
fn rule_overlap_names_servers_and_times() {
    let p = problems(&two_servers(
        ("\"00:00\"", "\"12:00\""),
        ("\"11:00\"", "\"24:00\""),
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].field, "servers.sha256");
    assert_eq!(
        p[0].message,
        "btc 00:00-12:00 overlaps bch 11:00-24:00 (11:00-12:00 covered by both)"
    );
}

#[test]
fn rule_gap_names_times_and_neighbours() {
    let p = problems(&two_servers(
        ("\"00:00\"", "\"12:00\""),
        ("\"13:00\"", "\"24:00\""),
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p[0].to_string(),
        "servers.sha256: gap 12:00-13:00: no pool is scheduled between btc 00:00-12:00 and bch 13:00-24:00"
    );
}

#[test]
fn rule_day_must_be_fully_covered() {
    let p = problems(
        "servers:\n  sha256:\n    - {name: btc, host: h, username: u, start: \"06:00\", end: \"18:00\"}\n",
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].message.starts_with("gap 18:00-06:00"), "{p:?}");
}

#[test]
fn rule_24_00_is_end_of_day_only() {
    let import = load(&two_servers(
        ("\"00:00\"", "\"12:00\""),
        ("\"12:00\"", "\"24:00\""),
    ));
    assert_eq!(
        import.sites[0].schedules[&Algorithm::Sha256].pool_at(1439),
        "bch"
    );
    let p = problems(&two_servers(
        ("\"24:00\"", "\"12:00\""),
        ("\"12:00\"", "\"24:00\""),
    ));
    assert!(
        has(
            &p,
            "servers.sha256[0].start",
            "24:00 is the end of the day and only valid as an end"
        ),
        "{p:?}"
    );
}

#[test]
fn rule_end_is_exclusive() {
    let import = load(&two_servers(
        ("\"00:00\"", "\"12:00\""),
        ("\"12:00\"", "\"24:00\""),
    ));
    let day = &import.sites[0].schedules[&Algorithm::Sha256];
    assert_eq!(day.pool_at(11 * 60 + 59), "btc");
    assert_eq!(day.pool_at(12 * 60), "bch");
}

#[test]
fn rule_midnight_crossover() {
    let import = load(&two_servers(
        ("\"22:00\"", "\"02:00\""),
        ("\"02:00\"", "\"22:00\""),
    ));
    let day = &import.sites[0].schedules[&Algorithm::Sha256];
    assert_eq!(day.pool_at(23 * 60), "btc");
    assert_eq!(day.pool_at(60), "btc");
    assert_eq!(day.pool_at(2 * 60), "bch");
}

#[test]
fn rule_server_names_unique_across_algorithms() {
    let yaml = "proxy: {randomx: {enabled: true}}\nservers:\n  sha256:\n    - {name: a, host: h, username: u, start: \"00:00\", end: \"24:00\"}\n  randomx:\n    - {name: a, host: h, username: u, start: \"00:00\", end: \"24:00\"}\n";
    let p = problems(yaml);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        has(
            &p,
            "servers.randomx[0].name",
            "already used by servers.sha256[0]"
        ),
        "{p:?}"
    );
}

#[test]
fn rule_unknown_algorithm() {
    let p = problems(&format!(
        "{}  scrypt: []\n",
        two_servers(("\"00:00\"", "\"12:00\""), ("\"12:00\"", "\"24:00\""))
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        has(
            &p,
            "servers.scrypt",
            "unknown algorithm \"scrypt\" (known: sha256, randomx, zksnark)"
        ),
        "{p:?}"
    );
    let p = problems(
        "proxy:\n  scrypt: {enabled: true}\nservers: {sha256: [{name: a, host: h, username: u, start: \"00:00\", end: \"24:00\"}]}\n",
    );
    assert!(has(&p, "proxy.scrypt", "unknown field `scrypt`"), "{p:?}");
}

#[test]
fn rule_enabled_algorithm_needs_an_enabled_scheduled_server() {
    let p = problems(
        "servers:\n  sha256:\n    - {name: a, host: h, username: u, enabled: false, start: \"00:00\", end: \"24:00\"}\n",
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        has(
            &p,
            "servers.sha256",
            "sha256 is enabled (proxy.sha256.enabled) but has no enabled server"
        ),
        "{p:?}"
    );
    let p = problems("servers:\n  sha256:\n    - {name: a, host: h, username: u}\n");
    assert!(
        has(&p, "servers.sha256", "no enabled server has a schedule"),
        "{p:?}"
    );
    let p = problems(
        "proxy: {zksnark: {enabled: true}}\nservers: {sha256: [{name: a, host: h, username: u, start: \"00:00\", end: \"24:00\"}]}\n",
    );
    assert!(
        has(
            &p,
            "servers.zksnark",
            "zksnark is enabled (proxy.zksnark.enabled) but has no enabled server"
        ),
        "{p:?}"
    );
}

#[test]
fn rule_disabled_servers_take_no_slot_but_are_checked() {
    let yaml = format!(
        "{}    - {{name: old, host: h3, username: u, enabled: false, start: \"05:00\", end: \"07:00\"}}\n",
        two_servers(("\"00:00\"", "\"12:00\""), ("\"12:00\"", "\"24:00\""))
    );
    let import = load(&yaml);
    assert!(!import.pools[2].enabled);
    let yaml = format!(
        "{}    - {{name: old, host: h3, username: u, enabled: false, start: \"5pm\", end: \"07:00\"}}\n",
        two_servers(("\"00:00\"", "\"12:00\""), ("\"12:00\"", "\"24:00\""))
    );
    let p = problems(&yaml);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].field, "servers.sha256[2].start");
}

#[test]
fn rule_disabled_algorithm_is_not_scheduled() {
    // randomx is disabled by default: its servers need no full day.
    let yaml = format!(
        "{}  randomx:\n    - {{name: xmr, host: h, username: u, start: \"00:00\", end: \"06:00\"}}\n",
        two_servers(("\"00:00\"", "\"12:00\""), ("\"12:00\"", "\"24:00\""))
    );
    let import = load(&yaml);
    assert!(!import.sites[0].schedules.contains_key(&Algorithm::Randomx));
}

/// Seed defect: `start: "12:00:30"` passed minute validation and left
/// 12:00:00-12:00:30 unscheduled.
#[test]
fn regression_seconds_are_rejected() {
    let p = problems(&two_servers(
        ("\"00:00\"", "\"12:00:30\""),
        ("\"12:00:30\"", "\"24:00\""),
    ));
    assert!(
        has(&p, "servers.sha256[0].end", "minute resolution"),
        "{p:?}"
    );
    assert!(
        has(&p, "servers.sha256[1].start", "minute resolution"),
        "{p:?}"
    );
    // No gap is reported on top: the day is not checked with unreadable times.
    assert_eq!(p.len(), 2, "{p:?}");
}

/// Seed defect: `23:59:59` silently meant the end of the day.
#[test]
fn regression_23_59_59_is_not_end_of_day() {
    let p = problems(&two_servers(
        ("\"00:00\"", "\"12:00\""),
        ("\"12:00\"", "\"23:59:59\""),
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(has(&p, "servers.sha256[1].end", "write \"24:00\""), "{p:?}");
}

/// Seed defect: YAML 1.1 reads an unquoted 12:00 as the number 720. Here
/// (YAML 1.2) it is the time 12:00.
#[test]
fn regression_unquoted_times_read_as_times() {
    let import = load(&two_servers(("00:00", "12:00"), ("12:00", "24:00")));
    let day = &import.sites[0].schedules[&Algorithm::Sha256];
    assert_eq!(day.slots()[1].start.to_string(), "12:00");
    assert_eq!(day.pool_at(720), "bch");
}

/// A YAML integer is never turned into a time.
#[test]
fn regression_integer_time_is_rejected() {
    let p = problems(&two_servers(("0", "720"), ("720", "\"24:00\"")));
    assert!(
        has(
            &p,
            "servers.sha256[0].end",
            "found the number 720, not a time: write times as quoted \"HH:MM\""
        ),
        "{p:?}"
    );
    assert!(
        has(&p, "servers.sha256[0].start", "found the number 0"),
        "{p:?}"
    );
    assert!(
        has(&p, "servers.sha256[1].start", "found the number 720"),
        "{p:?}"
    );
    assert_eq!(p.len(), 3, "{p:?}");
}

/// Seed defect: unknown fields were silently ignored (a typo kept a default).
#[test]
fn regression_unknown_fields_all_named() {
    let yaml = "proxy:\n  global: {max_conections: 10}\n  sha256: {bind_prot: 4444}\n\
                servers:\n  sha256:\n    - {name: a, host: h, username: u, start: \"00:00\", end: \"24:00\", pasword: y}\n\
                logging: {levl: DEBUG}\nextra: 1\n";
    let p = problems(yaml);
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "proxy.global.max_conections",
            "proxy.sha256.bind_prot",
            "servers.sha256[0].pasword",
            "logging.levl",
            "extra"
        ]
    );
    assert!(
        p[0].message.contains("did you mean `max_connections`?"),
        "{p:?}"
    );
    assert!(
        p[4].message
            .contains("known here: controlplane, logging, proxy, servers, sites"),
        "{p:?}"
    );
}

#[test]
fn wrong_types_are_named_never_panic() {
    let p = problems(
        "proxy: {global: {tcp_keepalive: maybe}}\nservers:\n  sha256:\n    - {name: a, host: h, username: u, port: abc, start: \"00:00\", end: \"24:00\"}\n",
    );
    assert!(
        has(
            &p,
            "servers.sha256[0].port",
            "expected a whole number, found the string \"abc\""
        ),
        "{p:?}"
    );
    assert!(
        has(&p, "proxy.global.tcp_keepalive", "expected true or false"),
        "{p:?}"
    );
    for yaml in [
        "",
        "   \n",
        "# only a comment\n",
        "[1, 2]",
        "servers: [",
        "servers: 5",
        "servers: {sha256: 5}",
        "proxy: 5",
        "sites: 5",
        ":\n- : [",
    ] {
        let p = config::validate(yaml, UTC);
        assert!(!p.is_empty(), "{yaml:?}");
    }
    assert!(has(
        &config::validate("", UTC),
        "config",
        "the file is empty"
    ));
    assert!(has(
        &config::validate("servers: [", UTC),
        "config",
        "not valid YAML"
    ));
}

#[test]
fn yaml_1_1_booleans_and_merge_keys_are_accepted() {
    let yaml = "defaults: &d {host: h, username: u}\n";
    // `defaults` is not a known section: anchors belong inside servers.
    assert!(has(
        &problems(&format!("{yaml}servers: {{}}\n")),
        "defaults",
        "unknown field"
    ));
    let import = load(
        "servers:\n  sha256:\n    - &d {name: a, host: h, username: u, ssl: yes, start: \"00:00\", end: \"12:00\"}\n    - {<<: *d, name: b, ssl: off, start: \"12:00\", end: \"24:00\"}\n",
    );
    assert!(import.pools[0].tls);
    assert!(!import.pools[1].tls);
    assert_eq!(import.pools[1].host, "h");
}

#[test]
fn numeric_ranges() {
    let p = problems(
        "proxy:\n  global: {keepalive_count: 0, miner_read_timeout: 5}\n  difficulty: {decay_percent: 2}\n\
         servers:\n  sha256:\n    - {name: a, host: h, username: u, port: 70000, connect_timeout: 0, buffer_percent: 0.9, start: \"00:00\", end: \"24:00\"}\n",
    );
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "proxy.global.miner_read_timeout",
            "proxy.global.keepalive_count",
            "proxy.difficulty.decay_percent",
            "servers.sha256[0].port",
            "servers.sha256[0].connect_timeout",
            "servers.sha256[0].buffer_percent",
        ]
    );
    assert_eq!(p[3].message, "must be from 1 to 65535, found 70000");
}

#[test]
fn passwords_never_in_debug() {
    let import = load(&fixture("reference.yaml"));
    assert!(
        import
            .pools
            .iter()
            .any(|p| p.password.expose() == "secret-two")
    );
    let text = format!("{import:?} {import:#?}");
    assert!(!text.contains("secret-two"));
    assert!(text.contains("***"));
}

#[test]
fn sample_loads_and_is_the_seed_example() {
    let import = load(config::sample());
    let day = &import.sites[0].schedules[&Algorithm::Sha256];
    assert_eq!(day.slots().len(), 2);
    assert_eq!((day.pool_at(0), day.pool_at(720)), ("btc", "bch"));
    assert!(import.pools.iter().all(|p| p.host == "127.0.0.1"));
}
