//! The deployment files in `deploy/`: the systemd units pass `systemd-analyze
//! verify` (with `ExecStart` pointed at the built binaries) and use only flags
//! the binaries accept, the sysusers.d file creates the units' user, the
//! Prometheus config and rules pass `promtool check` and the rules' own unit
//! tests (`promtool test rules`), every PromQL expression of the Grafana
//! dashboard parses, and every metric name the rules and the dashboard use
//! is one the binaries export ([`METRICS`], [`names_used`]).
//!
//! A missing tool skips its test with a `SKIPPED:` line on stderr, or fails
//! it when `SWITCHYARD_CI` is set (`.ci/run` installs the tools).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use switchyard_tests::cp::bin;

/// Every metric the data plane and the control plane export (issue 12):
/// the rules and the dashboard may use only these. Histograms by their base
/// name (their `_bucket`, `_sum` and `_count` series are the same name).
pub(crate) const METRICS: &[&str] = &[
    // Data plane.
    "switchyard_build_info",
    "switchyard_miners_connected",
    "switchyard_miner_connections_total",
    "switchyard_miner_disconnects_total",
    "switchyard_shares_total",
    "switchyard_shares_rejected_total",
    "switchyard_share_work_total",
    "switchyard_shares_forwarded_total",
    "switchyard_pool_verdict_latency_seconds",
    "switchyard_upstream_up",
    "switchyard_upstream_connect_attempts_total",
    "switchyard_upstream_last_job_timestamp_seconds",
    "switchyard_upstream_jobs_total",
    "switchyard_upstream_difficulty",
    "switchyard_aggregation_prefixes_used",
    "switchyard_aggregation_prefixes_capacity",
    "switchyard_route_info",
    "switchyard_pool_switches_total",
    "switchyard_split_weight",
    "switchyard_split_target_ratio",
    "switchyard_split_achieved_ratio",
    "switchyard_split_miners",
    "switchyard_split_moves_total",
    "switchyard_ip_bans_total",
    "switchyard_banned_ips",
    "switchyard_plan_version",
    "switchyard_plan_acked_version",
    "switchyard_controlplane_connected",
    "switchyard_spool_bytes",
    "switchyard_spool_events",
    "switchyard_share_events_lost_total",
    "switchyard_workers",
    "switchyard_worker_offline_total",
    // Data plane, opt-in (http.worker_metrics).
    "switchyard_worker_share_work_total",
    "switchyard_worker_last_share_timestamp_seconds",
    // Control plane.
    "switchyard_cp_dataplanes_connected",
    "switchyard_cp_share_events_ingested_total",
    "switchyard_cp_ingest_batch_seconds",
    "switchyard_cp_db_size_bytes",
    "switchyard_breaker_state",
    "switchyard_breaker_transitions_total",
    "switchyard_cp_grpc_requests_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_start_time_seconds",
];

const UNITS: &[(&str, &str)] = &[
    ("switchyard-controlplane.service", "controlplane"),
    ("switchyard-dataplane.service", "dataplane"),
];

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("deploy")
        .join(rel)
}

fn read(rel: &str) -> String {
    let path = deploy(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) use switchyard_tests::tools::tool;

/// Runs the command and fails the test, with its output, unless it succeeds.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A unit's `ExecStart=` line, split into words.
fn exec_start(unit: &str) -> Vec<String> {
    let text = read(&format!("systemd/{unit}"));
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .collect();
    assert_eq!(lines.len(), 1, "{unit}: one ExecStart= line");
    lines[0].split_whitespace().map(str::to_string).collect()
}

/// `systemd-analyze verify` of both units, copied into a temporary directory
/// with `ExecStart=/usr/local/bin/NAME` pointed at the built binary
/// (verify checks that the command exists and is executable). Any message
/// it prints (an unknown key, a value it cannot parse) fails the test: it
/// exits 0 for those.
#[test]
fn systemd_units_verify() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (unit, binary) in UNITS {
        let installed = format!("ExecStart=/usr/local/bin/{binary} ");
        let text = read(&format!("systemd/{unit}"));
        assert!(text.contains(&installed), "{unit}: {installed}...");
        let built = format!("ExecStart={} ", bin(binary).display());
        let path = dir.path().join(unit);
        std::fs::write(&path, text.replace(&installed, &built)).unwrap();
        paths.push(path);
    }
    let out = run(Command::new(analyze)
        .args(["verify", "--man=no"])
        .args(&paths)
        .current_dir(dir.path()));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify complained:\n{said}"
    );
}

/// Each unit runs its binary's `start` in the foreground, and every flag
/// of its `ExecStart` is one that `start --help` lists.
#[test]
fn systemd_units_run_the_binaries_in_the_foreground_with_real_flags() {
    for (unit, binary) in UNITS {
        let words = exec_start(unit);
        assert_eq!(words[0], format!("/usr/local/bin/{binary}"), "{unit}");
        assert_eq!(words[1], "start", "{unit}");
        assert!(words.iter().any(|w| w == "--foreground"), "{unit}");
        assert!(
            words.iter().any(|w| w.starts_with("/etc/switchyard/")),
            "{unit}: config in /etc/switchyard/"
        );
        let help = run(Command::new(bin(binary)).args(["start", "--help"]));
        let help = String::from_utf8_lossy(&help.stdout);
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} ")),
                "{unit}: `{binary} start --help` has no {flag}:\n{help}"
            );
        }
    }
}

/// The settings the brief asks of both units, as written (verify accepts a
/// unit without any of them).
#[test]
fn systemd_units_are_hardened_and_sized_for_100k_miners() {
    for (unit, _) in UNITS {
        let text = read(&format!("systemd/{unit}"));
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::trim)
            .collect();
        for want in [
            "User=switchyard",
            "StateDirectory=switchyard",
            "LogsDirectory=switchyard",
            "Restart=on-failure",
            "KillSignal=SIGTERM",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes",
            "SystemCallArchitectures=native",
            "CapabilityBoundingSet=",
        ] {
            assert!(keys.contains(&want), "{unit}: no `{want}`");
        }
        assert!(
            !keys.iter().any(|k| k.starts_with("AmbientCapabilities=")),
            "{unit}: CAP_NET_BIND_SERVICE only as a comment (ports < 1024)"
        );
        let nofile: u64 = keys
            .iter()
            .find_map(|k| k.strip_prefix("LimitNOFILE="))
            .unwrap_or_else(|| panic!("{unit}: no LimitNOFILE="))
            .parse()
            .unwrap();
        assert!(nofile >= 200_000, "{unit}: LimitNOFILE={nofile}");
    }
}

/// The sysusers.d file creates the units' user (in a scratch root).
#[test]
fn sysusers_creates_the_units_user() {
    let Some(sysusers) = tool("systemd-sysusers", "systemd") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    run(Command::new(sysusers)
        .arg(format!("--root={}", root.path().display()))
        .arg(deploy("systemd/switchyard.conf")));
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("switchyard:") && l.ends_with(":/usr/sbin/nologin")),
        "{passwd}"
    );
}

/// `promtool check rules`, `promtool test rules` (the rules' unit tests in
/// `switchyard.rules.test.yml`) and `promtool check config` (in a copy whose
/// `credentials_file` exists: promtool requires it).
#[test]
fn prometheus_config_and_rules_check() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(deploy("prometheus/switchyard.rules.yml")));
    run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(deploy("prometheus/switchyard.rules.test.yml")));

    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("switchyard.token");
    std::fs::write(&token, "token\n").unwrap();
    let config = read("prometheus/prometheus.yml");
    assert!(config.contains("credentials_file: /etc/prometheus/switchyard.token"));
    std::fs::write(
        dir.path().join("prometheus.yml"),
        config.replace(
            "/etc/prometheus/switchyard.token",
            &token.display().to_string(),
        ),
    )
    .unwrap();
    std::fs::copy(
        deploy("prometheus/switchyard.rules.yml"),
        dir.path().join("switchyard.rules.yml"),
    )
    .unwrap();
    run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(dir.path().join("prometheus.yml")));
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("grafana/switchyard.json")).expect("the dashboard is JSON")
}

/// Every panel of the dashboard (rows included).
fn panels(dash: &serde_json::Value) -> Vec<&serde_json::Value> {
    dash["panels"].as_array().expect("panels").iter().collect()
}

/// Every PromQL expression of the dashboard's panels parses: written as
/// recording rules and checked by `promtool check rules` (the `$site`-style
/// variables sit inside label matchers' strings, so they parse as they are).
#[test]
fn grafana_dashboard_queries_parse() {
    let dash = dashboard();
    let exprs: Vec<&str> = panels(&dash)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| t["expr"].as_str().expect("every target has an expr"))
        .collect();
    assert!(exprs.len() > 20, "{} queries", exprs.len());
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        // A JSON string is a YAML double-quoted scalar.
        rules += &format!(
            "      - record: dashboard_query_{i}\n        expr: {}\n",
            serde_json::Value::from(*e)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard.rules.yml");
    std::fs::write(&file, rules).unwrap();
    run(Command::new(promtool).args(["check", "rules"]).arg(&file));
}

/// Importable: one Prometheus datasource, `${DS_PROMETHEUS}`, chosen by a
/// datasource variable; the site, algo and pool variables from label_values;
/// panel ids unique.
#[test]
fn grafana_dashboard_is_importable() {
    let dash = dashboard();
    let vars = dash["templating"]["list"].as_array().expect("variables");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    assert_eq!(var("DS_PROMETHEUS")["query"], "prometheus");
    for name in ["site", "algo", "pool"] {
        let q = var(name)["definition"].as_str().unwrap();
        assert!(q.starts_with("label_values(") && q.ends_with(&format!(", {name})")));
    }
    let mut ids = BTreeSet::new();
    for p in panels(&dash) {
        assert!(ids.insert(p["id"].as_u64().expect("a panel id")), "{p}");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        }
    }
}

/// The `switchyard_*` and `process_*` names in `text`, histogram series
/// (`_bucket`, `_sum`, `_count`) by their base name.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for prefix in ["switchyard_", "process_"] {
        for (at, _) in text.match_indices(prefix) {
            if at > 0 && word(bytes[at - 1]) {
                continue;
            }
            let len = text[at..].bytes().take_while(|&b| word(b)).count();
            let name = &text[at..at + len];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(base.to_string());
        }
    }
    names
}

/// Every metric name the alert rules and the Grafana dashboard use (base
/// names of histograms): for a test against a real `/metrics`.
pub(crate) fn names_used() -> BTreeSet<String> {
    let mut names = metric_names(&read("prometheus/switchyard.rules.yml"));
    names.extend(metric_names(&read("grafana/switchyard.json")));
    names
}

#[test]
fn rules_and_dashboard_use_only_exported_metrics() {
    let used = names_used();
    // The extraction finds what is there (a histogram by its base name).
    for name in [
        "switchyard_upstream_up",
        "switchyard_pool_verdict_latency_seconds",
        "process_open_fds",
    ] {
        assert!(used.contains(name), "{name} not found in {used:?}");
    }
    let known: BTreeSet<String> = METRICS.iter().map(|m| m.to_string()).collect();
    let unknown: Vec<&String> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "not exported by the binaries: {unknown:?}"
    );
    let tests = metric_names(&read("prometheus/switchyard.rules.test.yml"));
    let unknown: Vec<&String> = tests.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "the rules' unit tests feed series the binaries do not export: {unknown:?}"
    );
}

#[test]
fn metric_names_strip_histogram_suffixes_at_word_boundaries() {
    let names = metric_names(
        "histogram_quantile(0.5, rate(switchyard_pool_verdict_latency_seconds_bucket[5m])) \
         switchyard_cp_ingest_batch_seconds_sum / switchyard_cp_ingest_batch_seconds_count \
         my_switchyard_thing process_open_fds{job=~\"switchyard.*\"}",
    );
    let want: BTreeSet<String> = [
        "switchyard_pool_verdict_latency_seconds",
        "switchyard_cp_ingest_batch_seconds",
        "process_open_fds",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, want);
}
