//! Writing configs back out: a whole [`Import`] as a file that [`super::load`]
//! reads back to an equal import, the `proxy:` section alone for data
//! planes, and the commented sample that `controlplane init` writes.

use std::collections::BTreeMap;

use super::file::{ConfigFile, ScheduleEntry, Site};
use super::import::Import;
use super::proxy::{CircuitBreakerSettings, Proxy, read_proxy};
use super::reader::Section;
use super::servers::Server;
use crate::algo::Algorithm;
use crate::breaker::BreakerSettings;
use crate::problem::Problem;
use crate::timeofday::TimeOfDay;

const HEADER: &str = "# Switchyard configuration (crypto-stratum-proxy format), exported.\n";

/// The import as a config file: the seed's form (servers with `start`/`end`)
/// when there is a single site whose days the servers' times can express,
/// the multi-site form otherwise. Contains pool passwords.
pub fn export(import: &Import) -> String {
    let file = seed_form(import).unwrap_or_else(|| multi_site_form(import));
    format!("{HEADER}{}", to_yaml(&file))
}

/// A `proxy:` section's fields as YAML (without the `proxy:` key), as the
/// control plane stores a site's settings; [`parse_proxy_yaml`] (or serde)
/// reads it back. Data planes get them as typed fields, never this text.
pub fn proxy_yaml(proxy: &Proxy) -> String {
    to_yaml(proxy)
}

/// Reads the fields of a `proxy:` section (as [`proxy_yaml`] writes them, or
/// any partial section: seed defaults fill the rest), every problem named.
pub fn parse_proxy_yaml(yaml: &str) -> Result<Proxy, Vec<Problem>> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml)
        .map_err(|e| vec![Problem::new("proxy", format!("not valid YAML: {e}"))])?;
    let mut p = Vec::new();
    let mut s = Section::new("proxy", Some(&value), &mut p);
    let proxy = read_proxy(&mut s, &mut p);
    s.finish(&mut p);
    if p.is_empty() { Ok(proxy) } else { Err(p) }
}

/// A commented sample config in the seed's format (two sha256 pools, `btc`
/// 00:00-12:00 and `bch` 12:00-24:00, on loopback), which `load` accepts.
pub fn sample() -> &'static str {
    include_str!("sample.yaml")
}

/// A slot's pools as file entries: one without a weight, or each pool of a
/// weighted window with its weight.
fn slot_pools(slot: &crate::schedule::Slot) -> Box<dyn Iterator<Item = (&str, Option<u32>)> + '_> {
    if slot.split.is_empty() {
        Box::new(std::iter::once((slot.pool.as_str(), None)))
    } else {
        Box::new(slot.split.iter().map(|p| (p.pool.as_str(), Some(p.weight))))
    }
}

fn seed_form(import: &Import) -> Option<ConfigFile> {
    let [site] = import.sites.as_slice() else {
        return None;
    };
    let cp = &import.controlplane;
    let same_site =
        site.name == cp.site_name && cp.timezone.as_deref() == Some(site.timezone.name());
    let same_breaker = BreakerSettings::from(&site.proxy.circuit_breaker) == import.breaker;
    let days: Vec<Algorithm> = site.schedules.keys().copied().collect();
    if !same_site
        || !same_breaker
        || !site.failover.is_empty()
        || days != site.proxy.enabled_algorithms()
    {
        return None;
    }
    // Each server has one slot at most: a day where a pool appears twice
    // needs the multi-site form.
    type Times = (TimeOfDay, TimeOfDay, Option<u32>);
    let mut times: BTreeMap<&str, Times> = BTreeMap::new();
    for (a, day) in &site.schedules {
        for slot in day.slots() {
            for (name, weight) in slot_pools(slot) {
                let pool = import.pools.iter().find(|p| p.name == name)?;
                if pool.algorithm != *a
                    || !pool.enabled
                    || times.insert(name, (slot.start, slot.end, weight)).is_some()
                {
                    return None;
                }
            }
        }
    }
    let mut servers: BTreeMap<Algorithm, Vec<Server>> = BTreeMap::new();
    for pool in &import.pools {
        let t = times.get(pool.name.as_str());
        servers
            .entry(pool.algorithm)
            .or_default()
            .push(pool.to_server(t.map(|t| t.0), t.map(|t| t.1), t.and_then(|t| t.2)));
    }
    Some(ConfigFile {
        controlplane: Some(cp.clone()),
        proxy: site.proxy.clone(),
        servers,
        logging: import.logging.clone(),
        sites: None,
    })
}

fn multi_site_form(import: &Import) -> ConfigFile {
    let mut proxy = import
        .sites
        .first()
        .map(|s| s.proxy.clone())
        .unwrap_or_default();
    proxy.circuit_breaker = CircuitBreakerSettings::from(&import.breaker);
    let mut servers: BTreeMap<Algorithm, Vec<Server>> = BTreeMap::new();
    for pool in &import.pools {
        servers
            .entry(pool.algorithm)
            .or_default()
            .push(pool.to_server(None, None, None));
    }
    let sites = import
        .sites
        .iter()
        .map(|s| Site {
            name: s.name.clone(),
            timezone: s.timezone.name().to_string(),
            // A site running the top-level settings leaves them out.
            proxy: (s.proxy != proxy).then(|| s.proxy.clone()),
            schedule: s
                .schedules
                .iter()
                .map(|(a, day)| {
                    let entries = day
                        .slots()
                        .iter()
                        .flat_map(|slot| {
                            slot_pools(slot).map(|(name, weight)| ScheduleEntry {
                                server: name.to_string(),
                                start: slot.start,
                                end: slot.end,
                                weight,
                            })
                        })
                        .collect();
                    (*a, entries)
                })
                .collect(),
            failover: s.failover.clone(),
        })
        .collect();
    ConfigFile {
        controlplane: Some(import.controlplane.clone()),
        proxy,
        servers,
        logging: import.logging.clone(),
        sites: Some(sites),
    }
}

impl From<&BreakerSettings> for CircuitBreakerSettings {
    fn from(b: &BreakerSettings) -> Self {
        CircuitBreakerSettings {
            enabled: b.enabled,
            failure_threshold: b.failure_threshold,
            recovery_timeout: b.recovery_timeout_s,
            success_threshold: b.success_threshold,
        }
    }
}

fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    match serde_yaml_ng::to_string(value) {
        Ok(yaml) => quote_times(&yaml),
        // Unreachable for these types (string keys, finite numbers).
        Err(e) => format!("# could not write YAML: {e}\n"),
    }
}

/// Quotes `start:`/`end:` times, which serde writes plain: a YAML 1.1 reader
/// (the seed's PyYAML) would read a plain 12:00 as the number 720.
fn quote_times(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 64);
    for line in yaml.lines() {
        let body = line.trim_start().trim_start_matches("- ");
        let quoted = ["start: ", "end: "].iter().find_map(|key| {
            let value = body.strip_prefix(key)?;
            TimeOfDay::parse(value)
                .ok()
                .filter(|_| !value.starts_with(['\'', '"']))?;
            let head = &line[..line.len() - value.len()];
            Some(format!("{head}\"{value}\""))
        });
        out.push_str(quoted.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_quoted() {
        let yaml = "servers:\n  sha256:\n  - name: a\n    start: 12:00\n    end: '24:00'\n- start: 0:00\nname: start: 1\n";
        assert_eq!(
            quote_times(yaml),
            "servers:\n  sha256:\n  - name: a\n    start: \"12:00\"\n    end: '24:00'\n- start: \"0:00\"\nname: start: 1\n"
        );
    }

    #[test]
    fn proxy_yaml_round_trips_through_serde_and_the_reader() {
        let mut proxy = Proxy::default();
        proxy.difficulty.buffer_start = 0.07;
        proxy.randomx.enabled = true;
        let yaml = proxy_yaml(&proxy);
        assert!(!yaml.starts_with("proxy:"), "{yaml}");
        assert_eq!(parse_proxy_yaml(&yaml), Ok(proxy.clone()));
        assert_eq!(serde_yaml_ng::from_str::<Proxy>(&yaml).unwrap(), proxy);
        let err = parse_proxy_yaml("global: {max_connections: 0}\nbogus: 1\n").unwrap_err();
        assert_eq!(err.len(), 2);
    }
}
