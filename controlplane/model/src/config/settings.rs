//! The `controlplane:` section (this project's extension: where the control
//! plane listens and keeps its data, timings of switches and plans, the
//! default site) and the seed's `logging:` section, each with its defaults
//! and ranges.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::reader::{Problems, Section};
use crate::problem::Problem;

/// `controlplane:` with defaults applied. After [`super::load`], `timezone`
/// is always set (to the caller's local zone when the file gives none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneSettings {
    /// gRPC listen address, `host:port` (default `127.0.0.1:50051`).
    pub listen: String,
    /// SQLite database path (default `switchyard.db`).
    pub database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// Seconds an old pool keeps receiving its jobs' shares after a switch.
    pub grace_period: u32,
    /// Seconds before a switch at which the new pool is connected.
    pub switch_lead: u32,
    /// How far ahead routing plans reach.
    pub plan_horizon_hours: u32,
    /// How long raw share events are kept before roll-up.
    pub share_retention_days: u32,
    /// IANA zone of the default site (single-site form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Name of the default site (single-site form).
    pub site_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// The monitoring endpoints (`/healthz`, `/readyz`, `/status`,
    /// `/metrics`), `host:port`; none: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<String>,
    /// A file with the bearer token `/status` and `/metrics` require.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_token_file: Option<String>,
    /// Share events one site's data planes may store per day (a bucket
    /// that refills over 24 h, so a backlog after an outage still goes
    /// through); 0: no quota. Beyond it, batches are refused and stay in
    /// the data planes' spools.
    pub max_site_events_per_day: u64,
    /// Distinct data-plane ids one site may have registered that were seen
    /// in the last 7 days; a new id beyond it is refused.
    pub max_dataplanes_per_site: u32,
}

impl Default for ControlPlaneSettings {
    fn default() -> Self {
        ControlPlaneSettings {
            listen: "127.0.0.1:50051".to_string(),
            database: "switchyard.db".to_string(),
            pid_file: None,
            log_file: None,
            grace_period: 30,
            switch_lead: 10,
            plan_horizon_hours: 48,
            share_retention_days: 30,
            timezone: None,
            site_name: "default".to_string(),
            tls_cert: None,
            tls_key: None,
            http_listen: None,
            http_token_file: None,
            max_site_events_per_day: 50_000_000,
            max_dataplanes_per_site: 64,
        }
    }
}

/// The seed's `logging:` section with defaults applied; `level` is upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    pub level: String,
    /// Log file path; `None` logs to the console only.
    #[serde(default)]
    pub file: Option<String>,
    pub rotation: String,
    pub retention: u32,
    pub format: String,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "INFO".to_string(),
            file: None,
            rotation: "50 MB".to_string(),
            retention: 10,
            format: "{time:YYYY-MM-DD HH:mm:ss} | {level: <8} | {message}".to_string(),
        }
    }
}

pub const LOG_LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

pub(crate) fn read_controlplane(s: &mut Section<'_>, p: &mut Problems) -> ControlPlaneSettings {
    let d = ControlPlaneSettings::default();
    let c = ControlPlaneSettings {
        listen: s.string(p, "listen", &d.listen),
        database: s.string(p, "database", &d.database),
        pid_file: s.opt_string(p, "pid_file"),
        log_file: s.opt_string(p, "log_file"),
        grace_period: s.u32(p, "grace_period", d.grace_period, 0..=3600),
        switch_lead: s.u32(p, "switch_lead", d.switch_lead, 0..=600),
        plan_horizon_hours: s.u32(p, "plan_horizon_hours", d.plan_horizon_hours, 24..=168),
        share_retention_days: s.u32(p, "share_retention_days", d.share_retention_days, 1..=3650),
        timezone: s.opt_string(p, "timezone"),
        site_name: s.string(p, "site_name", &d.site_name),
        tls_cert: s.opt_string(p, "tls_cert"),
        tls_key: s.opt_string(p, "tls_key"),
        http_listen: s.opt_string(p, "http_listen"),
        http_token_file: s.opt_string(p, "http_token_file"),
        max_site_events_per_day: s.uint(
            p,
            "max_site_events_per_day",
            d.max_site_events_per_day,
            0..=1_000_000_000_000,
        ),
        max_dataplanes_per_site: s.u32(
            p,
            "max_dataplanes_per_site",
            d.max_dataplanes_per_site,
            1..=100_000,
        ),
    };
    if let Err(e) = check_listen(&c.listen) {
        p.push(Problem::new(s.at("listen"), e));
    }
    if let Some(Err(e)) = c.http_listen.as_deref().map(|l| check_address(l, true)) {
        p.push(Problem::new(s.at("http_listen"), e));
    }
    for (key, v) in [
        ("database", Some(&c.database)),
        ("pid_file", c.pid_file.as_ref()),
        ("log_file", c.log_file.as_ref()),
        ("http_token_file", c.http_token_file.as_ref()),
    ] {
        if v.is_some_and(|v| v.trim().is_empty()) {
            p.push(Problem::new(
                s.at(key),
                "is empty: give a file path (or leave the field out)",
            ));
        }
    }
    if let Some(tz) = &c.timezone {
        check_timezone(&s.at("timezone"), tz, p);
    }
    check_site_name(&s.at("site_name"), &c.site_name, p);
    match (&c.tls_cert, &c.tls_key) {
        (Some(_), None) => p.push(Problem::new(
            s.at("tls_key"),
            "tls_cert is set but tls_key is not: give both or neither",
        )),
        (None, Some(_)) => p.push(Problem::new(
            s.at("tls_cert"),
            "tls_key is set but tls_cert is not: give both or neither",
        )),
        _ => {}
    }
    c
}

pub(crate) fn read_logging(s: &mut Section<'_>, p: &mut Problems) -> Logging {
    let d = Logging::default();
    let mut l = Logging {
        level: s.string(p, "level", &d.level),
        file: s.opt_string(p, "file"),
        rotation: s.string(p, "rotation", &d.rotation),
        retention: s.u32(p, "retention", d.retention, 1..=10_000),
        format: s.string(p, "format", &d.format),
    };
    let upper = l.level.trim().to_ascii_uppercase();
    if LOG_LEVELS.contains(&upper.as_str()) {
        l.level = upper;
    } else {
        p.push(Problem::new(
            s.at("level"),
            format!(
                "unknown log level {:?} (known: {})",
                l.level,
                LOG_LEVELS.join(", ")
            ),
        ));
    }
    if l.rotation.trim().is_empty() {
        p.push(Problem::new(
            s.at("rotation"),
            "is empty: give a size such as \"50 MB\"",
        ));
    }
    l
}

/// `host:port` (IPv6 hosts in brackets), with a port from 1 to 65535.
fn check_listen(listen: &str) -> Result<(), String> {
    check_address(listen, false)
}

/// As [`check_listen`]; port 0 (any free port, printed at start) allowed
/// when `any_port`.
fn check_address(listen: &str, any_port: bool) -> Result<(), String> {
    let bad = || {
        format!("{listen:?} is not a listen address: expected host:port, e.g. \"127.0.0.1:50051\"")
    };
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0 || any_port);
    let host_ok = !host.is_empty()
        && !host.contains(char::is_whitespace)
        && (!host.contains(':') || host.starts_with('['));
    if port_ok && host_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// An IANA time zone name, as `chrono_tz` knows it.
pub(crate) fn parse_timezone(tz: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(tz.trim()).map_err(|_| {
        format!("unknown time zone {tz:?}: use an IANA name such as \"Europe/Berlin\", \"America/Chicago\" or \"UTC\"")
    })
}

pub(crate) fn check_timezone(field: &str, tz: &str, p: &mut Problems) -> Option<chrono_tz::Tz> {
    parse_timezone(tz)
        .map_err(|e| p.push(Problem::new(field, e)))
        .ok()
}

/// Site names: non-empty, at most 64 characters, no control characters.
pub(crate) fn check_site_name(field: &str, name: &str, p: &mut Problems) {
    if name.trim().is_empty() {
        p.push(Problem::new(field, "a site needs a non-empty name"));
    } else if name.chars().count() > 64 || name.chars().any(char::is_control) || name.trim() != name
    {
        p.push(Problem::new(field, format!("{name:?} is not a valid site name: at most 64 characters, no control characters or surrounding spaces")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_cp(yaml: &str) -> (ControlPlaneSettings, Problems) {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut p = Vec::new();
        let mut s = Section::new("controlplane", Some(&v), &mut p);
        let c = read_controlplane(&mut s, &mut p);
        s.finish(&mut p);
        (c, p)
    }

    #[test]
    fn controlplane_defaults() {
        let (c, p) = read_cp("{}");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(c, ControlPlaneSettings::default());
    }

    #[test]
    fn controlplane_problems() {
        let (_, p) = read_cp(
            "listen: 'localhost'\ngrace_period: 4000\nplan_horizon_hours: 12\ntimezone: Mars/Olympus\nsite_name: ''\ntls_cert: c.pem\n",
        );
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "controlplane.grace_period",
                "controlplane.plan_horizon_hours",
                "controlplane.listen",
                "controlplane.timezone",
                "controlplane.site_name",
                "controlplane.tls_key",
            ]
        );
    }

    #[test]
    fn listen_addresses() {
        assert!(check_listen("0.0.0.0:50051").is_ok());
        assert!(check_listen("[::1]:50051").is_ok());
        assert!(check_listen("cp.example:443").is_ok());
        assert!(check_listen("::1:50051").is_err());
        assert!(check_listen("host:0").is_err());
        assert!(check_listen("host:http").is_err());
    }

    #[test]
    fn logging_level_is_case_insensitive() {
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str("level: warning\nretention: 0\n").unwrap();
        let mut p = Vec::new();
        let mut s = Section::new("logging", Some(&v), &mut p);
        let l = read_logging(&mut s, &mut p);
        assert_eq!(l.level, "WARNING");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].field, "logging.retention");
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str("level: verbose\n").unwrap();
        let mut p = Vec::new();
        let mut s = Section::new("logging", Some(&v), &mut p);
        read_logging(&mut s, &mut p);
        assert!(
            p[0].message
                .contains("DEBUG, INFO, WARNING, ERROR, CRITICAL")
        );
    }
}
