//! The seed's `servers:` section: one list of pool servers per algorithm,
//! each with its credentials, connection settings, optional `start`/`end`
//! schedule and difficulty overrides, read and checked field by field.
//! Passwords never appear in `Debug` output.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use super::pool::{AleoDialect, PoolMode};
use super::reader::{Problems, Section, list_items};
use crate::Secret;
use crate::algo::Algorithm;
use crate::problem::Problem;
use crate::timeofday::TimeOfDay;

/// One entry of `servers.<algorithm>` as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub name: String,
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub ssl: bool,
    pub connect_timeout: u32,
    pub retry_interval: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<TimeOfDay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<TimeOfDay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_difficulty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_difficulty: Option<f64>,
    #[serde(default, skip_serializing_if = "PoolMode::is_default")]
    pub mode: PoolMode,
    /// ALEO servers only: `aleostratum3` or `iceriver`; absent is "detect".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<AleoDialect>,
    /// The sites that may use this server (Switchyard's extension); empty:
    /// every site.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    /// Servers with the same `start`/`end` and a weight share one window,
    /// split by their weights (issue 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// An algorithm key of `servers:`, `schedule:` or `failover:`; exact names
/// only (`sha256`, `randomx`, `zksnark`).
pub(crate) fn algorithm_key(path: &str, key: &str, p: &mut Problems) -> Option<Algorithm> {
    if let Some(a) = Algorithm::ALL.into_iter().find(|a| a.as_str() == key) {
        return Some(a);
    }
    let msg = match key.parse::<Algorithm>() {
        Ok(a) => format!("unknown algorithm {key:?}: write {:?}", a.as_str()),
        Err(e) => e.to_string(),
    };
    p.push(Problem::new(format!("{path}.{key}"), msg));
    None
}

/// Reads `servers:`. Days whose times could not be read are added to
/// `broken_days` (as `servers.<algorithm>`) so that they are not also
/// reported as gaps.
pub(crate) fn read_servers(
    top: &mut Section<'_>,
    p: &mut Problems,
    broken_days: &mut BTreeSet<String>,
) -> BTreeMap<Algorithm, Vec<Server>> {
    let mut out = BTreeMap::new();
    let mut servers = top.section("servers", p);
    for (key, value) in servers.entries() {
        let Some(algorithm) = algorithm_key("servers", key, p) else {
            continue;
        };
        let path = format!("servers.{key}");
        let list = list_items(&path, value, p)
            .into_iter()
            .map(|(item_path, item)| {
                let (server, times_ok) = read_server(&item_path, item, algorithm, p);
                if !times_ok {
                    broken_days.insert(path.clone());
                }
                server
            })
            .collect();
        out.insert(algorithm, list);
    }
    servers.finish(p);
    out
}

/// One server; `false` when its `start`/`end` could not be read.
fn read_server(path: &str, item: &Value, algorithm: Algorithm, p: &mut Problems) -> (Server, bool) {
    let mut s = Section::new(path, Some(item), p);
    let what = "every server";
    let name = s.required_string(p, "name", what);
    if let Some(name) = &name {
        check_name(&s.at("name"), name, p);
    }
    let host = s.required_string(p, "host", what);
    if let Some(host) = &host {
        check_host(&s.at("host"), host, p);
    }
    let (name, host) = (name.unwrap_or_default(), host.unwrap_or_default());
    let username = s.required_string(p, "username", what).unwrap_or_default();
    let start = s.time(p, "start");
    let end = s.time(p, "end");
    let mut times_ok = start.is_ok() && end.is_ok();
    let server = Server {
        name,
        enabled: s.bool(p, "enabled", true),
        host,
        port: s.u16(p, "port", 3333, 1..=65535),
        username,
        password: s.string(p, "password", "x").into(),
        ssl: s.bool(p, "ssl", false),
        connect_timeout: s.u32(p, "connect_timeout", 30, 1..=600),
        retry_interval: s.u32(p, "retry_interval", 5, 1..=3600),
        start: start.ok().flatten(),
        end: end.ok().flatten(),
        buffer_percent: s.opt_float(p, "buffer_percent", 0.01..=0.50),
        min_difficulty: s.opt_float(p, "min_difficulty", 0.001..=f64::MAX),
        max_difficulty: s.opt_float(p, "max_difficulty", 1.0..=f64::MAX),
        mode: match s.opt_string(p, "mode").map(|m| m.parse::<PoolMode>()) {
            None => PoolMode::Aggregate,
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                p.push(Problem::new(s.at("mode"), e));
                PoolMode::Aggregate
            }
        },
        dialect: read_dialect(&mut s, algorithm, p),
        sites: read_sites(&mut s, p),
        weight: super::file::read_weight(&mut s, p),
    };
    check_credential(&s.at("username"), "username", &server.username, p);
    check_credential(&s.at("password"), "password", server.password.expose(), p);
    if let (Some(min), Some(max)) = (server.min_difficulty, server.max_difficulty)
        && min > max
    {
        p.push(Problem::new(
            s.at("max_difficulty"),
            format!("max_difficulty {max} is below min_difficulty {min}"),
        ));
    }
    match (server.start, server.end) {
        (Some(_), None) if times_ok => {
            p.push(Problem::new(
                s.at("end"),
                "start is given without end: give both or neither",
            ));
            times_ok = false;
        }
        (None, Some(_)) if times_ok => {
            p.push(Problem::new(
                s.at("start"),
                "end is given without start: give both or neither",
            ));
            times_ok = false;
        }
        _ => {}
    }
    s.finish(p);
    (server, times_ok)
}

/// A server's `sites:`: a list of site names (checked against the sites
/// once they are read).
fn read_sites(s: &mut Section<'_>, p: &mut Problems) -> Vec<String> {
    let mut out = Vec::new();
    for (path, v) in s.list(p, "sites") {
        match v.as_str() {
            Some(name) if !name.trim().is_empty() => {
                if out.iter().any(|n| n == name) {
                    p.push(Problem::new(path, format!("site {name:?} is listed twice")));
                } else {
                    out.push(name.to_string());
                }
            }
            _ => p.push(Problem::new(path, "expected a site name")),
        }
    }
    out
}

/// A server's `dialect:`: a known ALEO dialect, and only on ALEO servers.
fn read_dialect(
    s: &mut Section<'_>,
    algorithm: Algorithm,
    p: &mut Problems,
) -> Option<AleoDialect> {
    let name = s.opt_string(p, "dialect")?;
    if algorithm != Algorithm::Zksnark {
        p.push(Problem::new(
            s.at("dialect"),
            format!("only ALEO servers (zksnark) have a dialect; this one is {algorithm}"),
        ));
        return None;
    }
    name.parse()
        .map_err(|e: String| p.push(Problem::new(s.at("dialect"), e)))
        .ok()
}

/// The seed's rule for server names: 1-64 letters, digits, `_` and `-`,
/// starting with a letter or digit (pools are referred to by name alone).
pub(crate) fn check_name(field: &str, name: &str, p: &mut Problems) {
    let ok = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        p.push(Problem::new(
            field,
            format!("{name:?} is not a valid name: use 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"),
        ));
    }
}

fn check_host(field: &str, host: &str, p: &mut Problems) {
    let msg = if host.is_empty() {
        "is empty: give the pool's host name or IP address".to_string()
    } else if host.contains("://") {
        format!(
            "{host:?} has a URL scheme: write the host alone (use `port:` for the port and `ssl: true` for TLS)"
        )
    } else if host.chars().any(|c| c.is_whitespace() || c.is_control()) || host.len() > 253 {
        format!("{host:?} is not a host name or IP address")
    } else if host.contains(':') && host.trim_matches(['[', ']']).parse::<Ipv6Addr>().is_err() {
        format!("{host:?} has a port in it: write the host alone and the port in `port:`")
    } else {
        return;
    };
    p.push(Problem::new(field, msg));
}

/// Pool credentials go into JSON-RPC lines: no control characters (tab and
/// line breaks aside, as the seed allowed) and at most 256 characters.
fn check_credential(field: &str, what: &str, v: &str, p: &mut Problems) {
    if let Some(c) = v
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        p.push(Problem::new(
            field,
            format!(
                "the {what} contains a control character (U+{:04X})",
                u32::from(c)
            ),
        ));
    } else if v.chars().count() > 256 {
        p.push(Problem::new(
            field,
            format!("the {what} is longer than 256 characters"),
        ));
    } else if what == "username" && v.trim().is_empty() && !v.is_empty() {
        p.push(Problem::new(field, "the username is blank"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pool::PoolDef;

    fn read(yaml: &str) -> (BTreeMap<Algorithm, Vec<Server>>, Problems, BTreeSet<String>) {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let (mut p, mut broken) = (Vec::new(), BTreeSet::new());
        let mut top = Section::new("", Some(&v), &mut p);
        let servers = read_servers(&mut top, &mut p, &mut broken);
        (servers, p, broken)
    }

    #[test]
    fn defaults_and_mode() {
        let (s, p, _) =
            read("servers:\n  sha256:\n    - {name: a, host: h, username: u, mode: passthrough}\n");
        assert!(p.is_empty(), "{p:?}");
        let a = &s[&Algorithm::Sha256][0];
        assert_eq!(
            (
                a.port,
                a.password.expose(),
                a.ssl,
                a.connect_timeout,
                a.retry_interval
            ),
            (3333, "x", false, 30, 5)
        );
        assert!(a.enabled);
        assert_eq!(a.mode, PoolMode::Passthrough);
        assert_eq!("AGGREGATE".parse::<PoolMode>(), Ok(PoolMode::Aggregate));
        assert!(
            "relay"
                .parse::<PoolMode>()
                .unwrap_err()
                .contains("aggregate, passthrough")
        );
    }

    #[test]
    fn aleo_servers_may_name_their_dialect() {
        let (servers, p, _) = read(
            "servers:\n  zksnark:\n    - {name: a, host: h, username: u, dialect: iceriver}\n    \
             - {name: b, host: h, username: u}\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let z = &servers[&Algorithm::Zksnark];
        assert_eq!(z[0].dialect, Some(AleoDialect::IceRiver));
        assert_eq!(z[1].dialect, None);
        let (_, p, _) = read(
            "servers:\n  zksnark:\n    - {name: a, host: h, username: u, dialect: stratum2}\n  \
             sha256:\n    - {name: b, host: h, username: u, dialect: iceriver}\n",
        );
        let got: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.field.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, "servers.zksnark[0].dialect");
        assert!(
            got[0].1.contains("known: aleostratum3, iceriver"),
            "{got:?}"
        );
        assert_eq!(got[1].0, "servers.sha256[0].dialect");
        assert!(got[1].1.contains("only ALEO servers"), "{got:?}");
    }

    #[test]
    fn field_problems_are_named() {
        let (_, p, broken) = read(
            "servers:\n  sha256:\n    - {name: 'bad name', host: 'stratum+tcp://x', username: u, port: 'abc', \
             buffer_percent: 0.9, min_difficulty: 10, max_difficulty: 5, start: '12:00'}\n  scrypt: []\n  SHA256: []\n",
        );
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "servers.sha256[0].name",
                "servers.sha256[0].host",
                "servers.sha256[0].port",
                "servers.sha256[0].buffer_percent",
                "servers.sha256[0].max_difficulty",
                "servers.sha256[0].end",
                "servers.scrypt",
                "servers.SHA256",
            ]
        );
        assert!(
            p[6].message.contains("known: sha256, randomx, zksnark"),
            "{}",
            p[6].message
        );
        assert!(
            p[7].message.contains("write \"sha256\""),
            "{}",
            p[7].message
        );
        assert!(broken.contains("servers.sha256"));
    }

    #[test]
    fn missing_required_fields() {
        let (_, p, _) = read("servers:\n  sha256:\n    - {enabled: false}\n");
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "servers.sha256[0].name",
                "servers.sha256[0].host",
                "servers.sha256[0].username"
            ]
        );
    }

    #[test]
    fn ipv6_hosts_are_fine() {
        let (_, p, _) = read(
            "servers:\n  sha256:\n    - {name: a, host: '::1', username: u}\n    - {name: b, host: 'h:3333', username: u}\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("has a port in it"));
    }

    #[test]
    fn debug_redacts_passwords() {
        let (s, _, _) =
            read("servers:\n  sha256:\n    - {name: a, host: h, username: u, password: hunter2}\n");
        let server = &s[&Algorithm::Sha256][0];
        let pool = PoolDef::from_server(Algorithm::Sha256, server);
        for text in [
            format!("{server:?}"),
            format!("{pool:?}"),
            format!("{pool:#?}"),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
    }
}
