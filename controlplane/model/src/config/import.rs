//! From a file read field by field to what the control plane imports: pools
//! with names unique across algorithms, sites with their zones, proxy
//! settings, validated days and failover lists. Rules that span fields and
//! sections are checked here.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::days::{DayEntry, Noun, build_day, check_failover};
use super::file::ReadFile;
use super::pool::PoolDef;
use super::proxy::Proxy;
use super::reader::Problems;
use super::settings::{ControlPlaneSettings, Logging, parse_timezone};
use crate::algo::Algorithm;
use crate::breaker::BreakerSettings;
use crate::problem::Problem;
use crate::schedule::DaySchedule;

/// A validated config, ready for the control plane's database.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub controlplane: ControlPlaneSettings,
    pub logging: Logging,
    /// From the top-level `proxy.circuit_breaker`.
    pub breaker: BreakerSettings,
    /// Every server of every algorithm, disabled ones included, in file order
    /// within each algorithm.
    pub pools: Vec<PoolDef>,
    pub sites: Vec<SiteDef>,
}

/// One site: its zone, its proxy settings, and a day for each algorithm its
/// proxy enables.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteDef {
    pub name: String,
    pub timezone: Tz,
    pub proxy: Proxy,
    pub schedules: BTreeMap<Algorithm, DaySchedule>,
    /// Only the algorithms the file gives a list for.
    pub failover: BTreeMap<Algorithm, Vec<String>>,
}

/// Checks the rules across fields and builds the import; problems go to `p`.
pub(crate) fn convert(read: ReadFile, local_tz: Tz, p: &mut Problems) -> Import {
    let ReadFile { file, broken_days } = read;
    let pools = pools(&file.servers, p);

    let mut controlplane = file.controlplane.clone().unwrap_or_default();
    let default_tz = controlplane
        .timezone
        .as_deref()
        .and_then(|tz| parse_timezone(tz).ok())
        .unwrap_or(local_tz);
    controlplane.timezone = Some(default_tz.name().to_string());

    // The servers' own start/end, built once per algorithm for every site
    // that uses them.
    let mut server_days: BTreeMap<Algorithm, Option<DaySchedule>> = BTreeMap::new();
    let mut server_day = |a: Algorithm, why: &str, p: &mut Problems| -> Option<DaySchedule> {
        server_days
            .entry(a)
            .or_insert_with(|| {
                let field = format!("servers.{a}");
                let broken = broken_days.contains(&field);
                servers_day(&field, a, &file.servers, &pools, why, broken)
                    .map_err(|e| p.extend(e))
                    .ok()
            })
            .clone()
    };

    let mut sites = Vec::new();
    match &file.sites {
        None => {
            let proxy = file.proxy.clone();
            let mut schedules = BTreeMap::new();
            for a in proxy.enabled_algorithms() {
                let why = format!("{a} is enabled (proxy.{a}.enabled)");
                if let Some(day) = server_day(a, &why, p) {
                    schedules.insert(a, day);
                }
            }
            let name = controlplane.site_name.clone();
            sites.push(SiteDef {
                name,
                timezone: default_tz,
                proxy,
                schedules,
                failover: BTreeMap::new(),
            });
        }
        Some(file_sites) => {
            for (i, site) in file_sites.iter().enumerate() {
                let path = format!("sites[{i}]");
                if !site.name.is_empty()
                    && let Some(first) = file_sites[..i].iter().position(|s| s.name == site.name)
                {
                    p.push(Problem::new(
                        format!("{path}.name"),
                        format!("site name {:?} is already used by sites[{first}]; site names must be unique", site.name),
                    ));
                }
                let timezone = parse_timezone(&site.timezone).unwrap_or(local_tz);
                let proxy = site.proxy.clone().unwrap_or_else(|| file.proxy.clone());
                let proxy_path = if site.proxy.is_some() {
                    format!("{path}.proxy")
                } else {
                    "proxy".to_string()
                };
                let mut schedules = BTreeMap::new();
                for a in Algorithm::ALL {
                    let enabled = proxy.listener(a).enabled;
                    if let Some(entries) = site.schedule.get(&a) {
                        let field = format!("{path}.schedule.{a}");
                        let day: Vec<DayEntry> = entries
                            .iter()
                            .enumerate()
                            .map(|(j, e)| {
                                let slot_field = format!("{field}[{j}]");
                                DayEntry {
                                    pool: e.server.clone(),
                                    start: e.start,
                                    end: e.end,
                                    pool_field: format!("{slot_field}.server"),
                                    start_field: format!("{slot_field}.start"),
                                    times_known: !broken_days.contains(&slot_field),
                                    weight: e.weight,
                                    slot_field,
                                }
                            })
                            .collect();
                        // A day for an algorithm the site does not run is
                        // checked entry by entry, not as a day.
                        let broken = broken_days.contains(&field) || !enabled;
                        match build_day(&field, a, &day, &pools, Noun("server"), broken) {
                            Ok(d) if enabled => {
                                schedules.insert(a, d);
                            }
                            Ok(_) => {}
                            Err(e) => p.extend(e),
                        }
                    } else if enabled {
                        let why = format!(
                            "{a} is enabled ({proxy_path}.{a}.enabled) at site {:?}, which gives no schedule for it",
                            site.name
                        );
                        if let Some(day) = server_day(a, &why, p) {
                            schedules.insert(a, day);
                        }
                    }
                }
                for (a, names) in &site.failover {
                    check_failover(&format!("{path}.failover.{a}"), *a, names, &pools, p);
                }
                sites.push(SiteDef {
                    name: site.name.clone(),
                    timezone,
                    proxy,
                    schedules,
                    failover: site.failover.clone(),
                });
            }
        }
    }

    check_grants(&file.servers, &sites, p);

    Import {
        controlplane,
        logging: file.logging.clone(),
        breaker: BreakerSettings::from(&file.proxy.circuit_breaker),
        pools,
        sites,
    }
}

/// Servers granted to some sites (`sites:`): each name is a site, and no
/// other site's schedule or failover list names the server.
fn check_grants(
    servers: &BTreeMap<Algorithm, Vec<super::servers::Server>>,
    sites: &[SiteDef],
    p: &mut Problems,
) {
    let known: Vec<&str> = sites.iter().map(|s| s.name.as_str()).collect();
    for (a, list) in servers {
        for (i, server) in list.iter().enumerate() {
            if server.sites.is_empty() {
                continue;
            }
            let path = format!("servers.{a}[{i}].sites");
            for (j, name) in server.sites.iter().enumerate() {
                if !known.contains(&name.as_str()) {
                    p.push(Problem::new(
                        format!("{path}[{j}]"),
                        format!("no site named {name:?} (sites: {})", known.join(", ")),
                    ));
                }
            }
            for site in sites {
                if server.sites.contains(&site.name) {
                    continue;
                }
                let scheduled = site.schedules.get(a).is_some_and(|d| {
                    d.slots()
                        .iter()
                        .any(|s| s.pools().any(|p| p == server.name))
                });
                let failover = site
                    .failover
                    .get(a)
                    .is_some_and(|l| l.contains(&server.name));
                if scheduled || failover {
                    p.push(Problem::new(
                        path.clone(),
                        format!(
                            "server {:?} is granted to {} only, but the {} of site {:?} names it: add the site or change its {}",
                            server.name,
                            server.sites.join(", "),
                            if scheduled { "schedule" } else { "failover list" },
                            site.name,
                            if scheduled { "schedule" } else { "failover list" },
                        ),
                    ));
                }
            }
        }
    }
}

/// Every server as a pool; names must be unique across all algorithms, as
/// pools are referred to by name alone.
fn pools(
    servers: &BTreeMap<Algorithm, Vec<super::servers::Server>>,
    p: &mut Problems,
) -> Vec<PoolDef> {
    let mut out: Vec<PoolDef> = Vec::new();
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (a, list) in servers {
        for (i, s) in list.iter().enumerate() {
            let path = format!("servers.{a}[{i}]");
            if !s.name.is_empty() {
                match seen.get(s.name.as_str()) {
                    Some(first) => p.push(Problem::new(
                        format!("{path}.name"),
                        format!("server name {:?} is already used by {first}; server names must be unique across all algorithms", s.name),
                    )),
                    None => {
                        seen.insert(&s.name, path);
                    }
                }
            }
            out.push(PoolDef::from_server(*a, s));
        }
    }
    out
}

/// The day made of the enabled servers' `start`/`end` for one algorithm;
/// disabled servers take no slot. `why` says why a day is needed.
fn servers_day(
    field: &str,
    a: Algorithm,
    servers: &BTreeMap<Algorithm, Vec<super::servers::Server>>,
    pools: &[PoolDef],
    why: &str,
    broken: bool,
) -> Result<DaySchedule, Vec<Problem>> {
    let list = servers.get(&a).map(Vec::as_slice).unwrap_or_default();
    let mut entries = Vec::new();
    for (i, s) in list.iter().enumerate() {
        if let (true, Some(start), Some(end)) = (s.enabled, s.start, s.end) {
            let slot_field = format!("{field}[{i}]");
            entries.push(DayEntry {
                pool: s.name.clone(),
                start,
                end,
                pool_field: format!("{slot_field}.name"),
                start_field: format!("{slot_field}.start"),
                slot_field,
                times_known: true,
                weight: s.weight,
            });
        }
    }
    if entries.is_empty() && !broken {
        let msg = if !list.iter().any(|s| s.enabled) {
            format!("{why} but has no enabled server: add one under servers.{a}")
        } else {
            format!(
                "{why} but no enabled server has a schedule: give at least one `start` and `end`"
            )
        };
        return Err(vec![Problem::new(field, msg)]);
    }
    build_day(field, a, &entries, pools, Noun("server"), broken)
}
