//! The whole file as written: the seed's top-level sections (`proxy`,
//! `servers`, `logging`) plus the optional `controlplane:` and `sites:`
//! extensions, and reading it from YAML text with every field-level problem
//! (syntax, types, ranges, unknown keys) named at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use super::proxy::{Proxy, read_proxy};
use super::reader::{Problems, Section, list_items};
use super::servers::{Server, algorithm_key, read_servers};
use super::settings::{
    ControlPlaneSettings, Logging, check_site_name, check_timezone, read_controlplane, read_logging,
};
use crate::algo::Algorithm;
use crate::problem::Problem;
use crate::timeofday::TimeOfDay;

/// A config file. Without `sites`, there is one site: `controlplane.site_name`
/// in `controlplane.timezone` (or the caller's zone), scheduled by the
/// servers' `start`/`end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlplane: Option<ControlPlaneSettings>,
    pub proxy: Proxy,
    pub servers: BTreeMap<Algorithm, Vec<Server>>,
    pub logging: Logging,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<Site>>,
}

/// One entry of `sites:` (the multi-site form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    /// IANA time zone of the site's schedules.
    pub timezone: String,
    /// This site's whole `proxy:` section (seed defaults for what it leaves
    /// out); absent: the top-level `proxy:` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// Per algorithm, the site's day; an algorithm left out uses the servers'
    /// own `start`/`end`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedule: BTreeMap<Algorithm, Vec<ScheduleEntry>>,
    /// Per algorithm, the pools to fail over to, in order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failover: BTreeMap<Algorithm, Vec<String>>,
}

/// One slot of a site's `schedule:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    pub server: String,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    /// Entries with the same times and a weight share one window, split
    /// by their weights (issue 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// A file read field by field. `broken_days` lists the days (by field path:
/// `servers.sha256`, `sites[0].schedule.sha256`) with an entry whose times
/// could not be read, and those entries (`sites[0].schedule.sha256[2]`); such
/// days are not checked for gaps, which would only echo the first problem.
pub(crate) struct ReadFile {
    pub file: ConfigFile,
    pub broken_days: BTreeSet<String>,
}

/// Parses YAML text and reads every section. Problems go to `p`; the result
/// is `None` only when the text is not a YAML mapping at all.
pub(crate) fn read_file(yaml: &str, p: &mut Problems) -> Option<ReadFile> {
    if yaml.trim().is_empty() {
        p.push(Problem::new(
            "config",
            "the file is empty: expected at least a `servers:` section",
        ));
        return None;
    }
    let mut root: Value = match serde_yaml_ng::from_str(yaml) {
        Ok(v) => v,
        Err(e) => {
            p.push(Problem::new("config", format!("not valid YAML: {e}")));
            return None;
        }
    };
    if let Err(e) = root.apply_merge() {
        p.push(Problem::new(
            "config",
            format!("a YAML merge key (<<) could not be applied: {e}"),
        ));
        return None;
    }
    match &root {
        Value::Mapping(_) => {}
        Value::Null => {
            p.push(Problem::new(
                "config",
                "the file has no settings: expected at least a `servers:` section",
            ));
            return None;
        }
        other => {
            let found = super::reader::describe(other);
            p.push(Problem::new(
                "config",
                format!("expected a mapping of sections (proxy, servers, ...), found {found}"),
            ));
            return None;
        }
    }
    let mut broken_days = BTreeSet::new();
    let mut top = Section::new("", Some(&root), p);
    let controlplane = top.get("controlplane").map(|v| {
        let mut s = Section::new("controlplane", Some(v), p);
        let c = read_controlplane(&mut s, p);
        s.finish(p);
        c
    });
    let mut ps = top.section("proxy", p);
    let proxy = read_proxy(&mut ps, p);
    ps.finish(p);
    let servers = read_servers(&mut top, p, &mut broken_days);
    let mut ls = top.section("logging", p);
    let logging = read_logging(&mut ls, p);
    ls.finish(p);
    let sites_given = top.has("sites");
    let items = top.list(p, "sites");
    let sites = if sites_given {
        if items.is_empty() {
            p.push(Problem::new("sites", "an empty list: give at least one site, or remove `sites:` for the single-site form"));
        }
        Some(
            items
                .into_iter()
                .map(|(path, v)| read_site(&path, v, p, &mut broken_days))
                .collect(),
        )
    } else {
        None
    };
    top.finish(p);
    Some(ReadFile {
        file: ConfigFile {
            controlplane,
            proxy,
            servers,
            logging,
            sites,
        },
        broken_days,
    })
}

fn read_site(path: &str, v: &Value, p: &mut Problems, broken_days: &mut BTreeSet<String>) -> Site {
    let mut s = Section::new(path, Some(v), p);
    let name = s.required_string(p, "name", "every site");
    if let Some(name) = &name {
        check_site_name(&s.at("name"), name, p);
    }
    let timezone = s.required_string(
        p,
        "timezone",
        "every site (an IANA name such as \"Europe/Berlin\")",
    );
    if let Some(tz) = &timezone {
        check_timezone(&s.at("timezone"), tz, p);
    }
    let (name, timezone) = (name.unwrap_or_default(), timezone.unwrap_or_default());
    let proxy = s.get("proxy").map(|v| {
        let mut ps = Section::new(s.at("proxy"), Some(v), p);
        let proxy = read_proxy(&mut ps, p);
        ps.finish(p);
        proxy
    });
    let mut schedule = BTreeMap::new();
    let mut sched = s.section("schedule", p);
    for (key, value) in sched.entries() {
        let Some(algorithm) = algorithm_key(sched.path(), key, p) else {
            continue;
        };
        let day = sched.at(key);
        let entries = list_items(&day, value, p)
            .into_iter()
            .map(|(entry_path, entry)| {
                read_entry(&entry_path, entry, p).unwrap_or_else(|server| {
                    broken_days.insert(day.clone());
                    broken_days.insert(entry_path.clone());
                    ScheduleEntry {
                        server,
                        start: TimeOfDay::MIDNIGHT,
                        end: TimeOfDay::MIDNIGHT,
                        weight: None,
                    }
                })
            })
            .collect();
        schedule.insert(algorithm, entries);
    }
    sched.finish(p);
    let mut failover = BTreeMap::new();
    let mut fo = s.section("failover", p);
    for (key, value) in fo.entries() {
        let Some(algorithm) = algorithm_key(fo.path(), key, p) else {
            continue;
        };
        let names = list_items(&fo.at(key), value, p)
            .into_iter()
            .filter_map(|(item_path, item)| match item {
                Value::String(name) => Some(name.clone()),
                other => {
                    let found = super::reader::describe(other);
                    p.push(Problem::new(
                        item_path,
                        format!("expected a server name, found {found}"),
                    ));
                    None
                }
            })
            .collect();
        failover.insert(algorithm, names);
    }
    fo.finish(p);
    s.finish(p);
    Site {
        name,
        timezone,
        proxy,
        schedule,
        failover,
    }
}

/// One schedule entry. When a field is unreadable (already reported), the
/// server name it gave (or "") so that the entry keeps its place, and with it
/// the paths of the entries after it; the day is then marked broken and the
/// placeholder never leaves `load`, which fails on any problem.
fn read_entry(path: &str, v: &Value, p: &mut Problems) -> Result<ScheduleEntry, String> {
    let mut s = Section::new(path, Some(v), p);
    let what = "every schedule entry";
    let server = s.required_string(p, "server", what);
    let start = s.time(p, "start");
    let end = s.time(p, "end");
    let weight = read_weight(&mut s, p);
    for (key, t) in [("start", &start), ("end", &end)] {
        if matches!(t, Ok(None)) {
            p.push(Problem::new(
                s.at(key),
                format!("missing: {what} needs a `{key}` (\"HH:MM\")"),
            ));
        }
    }
    s.finish(p);
    match (server, start, end) {
        (Some(server), Ok(Some(start)), Ok(Some(end))) => Ok(ScheduleEntry {
            server,
            start,
            end,
            weight,
        }),
        (server, _, _) => Err(server.unwrap_or_default()),
    }
}

/// An entry's `weight:` (1 to [`crate::schedule::MAX_WEIGHT`]), if given.
pub(crate) fn read_weight(s: &mut Section<'_>, p: &mut Problems) -> Option<u32> {
    if !s.has("weight") {
        return None;
    }
    let max = crate::schedule::MAX_WEIGHT;
    Some(s.u32(p, "weight", 1, 1..=max))
}
