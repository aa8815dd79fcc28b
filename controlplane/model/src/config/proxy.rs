//! The seed's `proxy:` section (global, validation, difficulty,
//! circuit_breaker and the three per-algorithm listeners): its types, the
//! seed's defaults and ranges, and reading it field by field.

use serde::{Deserialize, Serialize};

use super::reader::{Problems, Section};
use crate::algo::Algorithm;
use crate::breaker::BreakerSettings;
use crate::problem::Problem;

/// A whole `proxy:` section with defaults applied. Stored per site as YAML
/// (see [`super::proxy_yaml`]); the control plane sends data planes its
/// settings as the contract's typed fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    pub global: ProxyGlobal,
    pub validation: ShareValidation,
    pub difficulty: DifficultySettings,
    pub circuit_breaker: CircuitBreakerSettings,
    pub sha256: Listener,
    pub randomx: Listener,
    pub zksnark: Listener,
}

/// `proxy.global`: limits and timeouts shared by every algorithm (seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyGlobal {
    pub max_connections: u32,
    pub miner_read_timeout: u32,
    pub miner_write_timeout: u32,
    pub upstream_idle_timeout: u32,
    pub server_switch_timeout: u32,
    pub tcp_keepalive: bool,
    pub keepalive_idle: u32,
    pub keepalive_interval: u32,
    pub keepalive_count: u32,
    pub share_submit_retries: u32,
    pub pending_shares_timeout: u32,
    /// A worker with no share for this long is no longer online: `idle`
    /// while a data plane still has it connected, `offline` once gone
    /// (`ctl workers`). Switchyard's own; absent from older stored sections.
    #[serde(default = "default_offline_after")]
    pub offline_after: u32,
}

/// `proxy.global.offline_after` when not set: 10 minutes.
pub const DEFAULT_OFFLINE_AFTER: u32 = 600;

fn default_offline_after() -> u32 {
    DEFAULT_OFFLINE_AFTER
}

/// `proxy.validation`: local duplicate and stale share checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareValidation {
    pub reject_duplicates: bool,
    pub reject_stale: bool,
    pub share_cache_size: u32,
    pub share_cache_ttl: u32,
    pub job_cache_size: u32,
}

/// `proxy.difficulty`: the adaptive buffer, decay, floor reset and share-rate
/// monitor. Fractions are written as fractions (0.05 = 5%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DifficultySettings {
    pub change_cooldown: u32,
    pub decay_enabled: bool,
    pub decay_interval: u32,
    pub decay_percent: f64,
    pub floor_trigger_ratio: f64,
    pub floor_reset_ratio: f64,
    pub share_rate_window: u32,
    pub share_rate_min_shares: u32,
    pub share_rate_low_multiplier: f64,
    pub buffer_start: f64,
    pub buffer_min: f64,
    pub buffer_max: f64,
    pub buffer_increase_step: f64,
    pub buffer_decrease_interval: u32,
}

/// `proxy.circuit_breaker`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerSettings {
    pub enabled: bool,
    pub failure_threshold: u32,
    pub recovery_timeout: u32,
    pub success_threshold: u32,
}

/// `proxy.sha256` / `proxy.randomx` / `proxy.zksnark`: one miner listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub enabled: bool,
    pub bind_host: String,
    pub bind_port: u16,
    /// TLS from miners (single-machine mode): the certificate chain and
    /// private key, PEM files; with them the listener accepts only TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
}

impl Default for ProxyGlobal {
    fn default() -> Self {
        ProxyGlobal {
            max_connections: 1024,
            miner_read_timeout: 180,
            miner_write_timeout: 30,
            upstream_idle_timeout: 300,
            server_switch_timeout: 900,
            tcp_keepalive: true,
            keepalive_idle: 60,
            keepalive_interval: 10,
            keepalive_count: 3,
            share_submit_retries: 3,
            pending_shares_timeout: 10,
            offline_after: DEFAULT_OFFLINE_AFTER,
        }
    }
}

impl Default for ShareValidation {
    fn default() -> Self {
        ShareValidation {
            reject_duplicates: true,
            reject_stale: true,
            share_cache_size: 1000,
            share_cache_ttl: 300,
            job_cache_size: 10,
        }
    }
}

impl Default for DifficultySettings {
    fn default() -> Self {
        DifficultySettings {
            change_cooldown: 30,
            decay_enabled: true,
            decay_interval: 300,
            decay_percent: 0.05,
            floor_trigger_ratio: 0.50,
            floor_reset_ratio: 0.75,
            share_rate_window: 300,
            share_rate_min_shares: 3,
            share_rate_low_multiplier: 0.5,
            buffer_start: 0.05,
            buffer_min: 0.02,
            buffer_max: 0.20,
            buffer_increase_step: 0.01,
            buffer_decrease_interval: 3600,
        }
    }
}

impl Default for CircuitBreakerSettings {
    fn default() -> Self {
        CircuitBreakerSettings {
            enabled: true,
            failure_threshold: 5,
            recovery_timeout: 60,
            success_threshold: 2,
        }
    }
}

impl Listener {
    /// The seed's listener for an algorithm: sha256 enabled on 3333, randomx
    /// and zksnark disabled on 3334 and 3335, all on 0.0.0.0.
    pub fn default_for(algorithm: Algorithm) -> Self {
        Listener {
            enabled: algorithm == Algorithm::Sha256,
            bind_host: "0.0.0.0".to_string(),
            bind_port: algorithm.default_port(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            global: ProxyGlobal::default(),
            validation: ShareValidation::default(),
            difficulty: DifficultySettings::default(),
            circuit_breaker: CircuitBreakerSettings::default(),
            sha256: Listener::default_for(Algorithm::Sha256),
            randomx: Listener::default_for(Algorithm::Randomx),
            zksnark: Listener::default_for(Algorithm::Zksnark),
        }
    }
}

impl Proxy {
    pub fn listener(&self, algorithm: Algorithm) -> &Listener {
        match algorithm {
            Algorithm::Sha256 => &self.sha256,
            Algorithm::Randomx => &self.randomx,
            Algorithm::Zksnark => &self.zksnark,
        }
    }

    /// The algorithms whose listener is enabled, in [`Algorithm::ALL`] order.
    pub fn enabled_algorithms(&self) -> Vec<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(|a| self.listener(*a).enabled)
            .collect()
    }
}

impl From<&CircuitBreakerSettings> for BreakerSettings {
    fn from(c: &CircuitBreakerSettings) -> Self {
        BreakerSettings {
            enabled: c.enabled,
            failure_threshold: c.failure_threshold,
            recovery_timeout_s: c.recovery_timeout,
            success_threshold: c.success_threshold,
        }
    }
}

/// Reads a `proxy:` section (`s` is the section itself), applying the seed's
/// defaults and ranges; every problem goes to `p`.
pub(crate) fn read_proxy(s: &mut Section<'_>, p: &mut Problems) -> Proxy {
    let mut g = s.section("global", p);
    let global = read_global(&mut g, p);
    g.finish(p);
    let mut v = s.section("validation", p);
    let validation = ShareValidation {
        reject_duplicates: v.bool(p, "reject_duplicates", true),
        reject_stale: v.bool(p, "reject_stale", true),
        share_cache_size: v.u32(p, "share_cache_size", 1000, 100..=1_000_000),
        share_cache_ttl: v.u32(p, "share_cache_ttl", 300, 60..=86_400),
        job_cache_size: v.u32(p, "job_cache_size", 10, 2..=1000),
    };
    v.finish(p);
    let mut d = s.section("difficulty", p);
    let difficulty = read_difficulty(&mut d, p);
    d.finish(p);
    let mut c = s.section("circuit_breaker", p);
    let circuit_breaker = CircuitBreakerSettings {
        enabled: c.bool(p, "enabled", true),
        failure_threshold: c.u32(p, "failure_threshold", 5, 2..=20),
        recovery_timeout: c.u32(p, "recovery_timeout", 60, 10..=600),
        success_threshold: c.u32(p, "success_threshold", 2, 1..=10),
    };
    c.finish(p);
    let [sha256, randomx, zksnark] = Algorithm::ALL.map(|a| {
        let mut l = s.section(a.as_str(), p);
        let listener = read_listener(&mut l, a, p);
        l.finish(p);
        listener
    });
    let proxy = Proxy {
        global,
        validation,
        difficulty,
        circuit_breaker,
        sha256,
        randomx,
        zksnark,
    };
    check_listener_ports(s.path(), &proxy, p);
    proxy
}

fn read_global(g: &mut Section<'_>, p: &mut Problems) -> ProxyGlobal {
    ProxyGlobal {
        max_connections: g.u32(p, "max_connections", 1024, 1..=1_000_000),
        miner_read_timeout: g.u32(p, "miner_read_timeout", 180, 10..=86_400),
        miner_write_timeout: g.u32(p, "miner_write_timeout", 30, 1..=3600),
        upstream_idle_timeout: g.u32(p, "upstream_idle_timeout", 300, 60..=86_400),
        server_switch_timeout: g.u32(p, "server_switch_timeout", 900, 60..=86_400),
        tcp_keepalive: g.bool(p, "tcp_keepalive", true),
        // Linux caps TCP_KEEPIDLE and TCP_KEEPINTVL at 32767 s, TCP_KEEPCNT at 127.
        keepalive_idle: g.u32(p, "keepalive_idle", 60, 10..=32_767),
        keepalive_interval: g.u32(p, "keepalive_interval", 10, 1..=32_767),
        keepalive_count: g.u32(p, "keepalive_count", 3, 1..=127),
        share_submit_retries: g.u32(p, "share_submit_retries", 3, 1..=10),
        pending_shares_timeout: g.u32(p, "pending_shares_timeout", 10, 1..=600),
        offline_after: g.u32(p, "offline_after", DEFAULT_OFFLINE_AFTER, 1..=86_400),
    }
}

fn read_difficulty(d: &mut Section<'_>, p: &mut Problems) -> DifficultySettings {
    let diff = DifficultySettings {
        change_cooldown: d.u32(p, "change_cooldown", 30, 5..=300),
        decay_enabled: d.bool(p, "decay_enabled", true),
        decay_interval: d.u32(p, "decay_interval", 300, 60..=3600),
        decay_percent: d.float(p, "decay_percent", 0.05, 0.01..=0.25),
        floor_trigger_ratio: d.float(p, "floor_trigger_ratio", 0.50, 0.25..=0.75),
        floor_reset_ratio: d.float(p, "floor_reset_ratio", 0.75, 0.50..=0.95),
        share_rate_window: d.u32(p, "share_rate_window", 300, 60..=1800),
        share_rate_min_shares: d.u32(p, "share_rate_min_shares", 3, 2..=20),
        share_rate_low_multiplier: d.float(p, "share_rate_low_multiplier", 0.5, 0.1..=0.9),
        buffer_start: d.float(p, "buffer_start", 0.05, 0.01..=0.20),
        buffer_min: d.float(p, "buffer_min", 0.02, 0.01..=0.20),
        buffer_max: d.float(p, "buffer_max", 0.20, 0.05..=0.50),
        buffer_increase_step: d.float(p, "buffer_increase_step", 0.01, 0.005..=0.05),
        buffer_decrease_interval: d.u32(p, "buffer_decrease_interval", 3600, 300..=86_400),
    };
    let (min, start, max) = (diff.buffer_min, diff.buffer_start, diff.buffer_max);
    if min > max {
        p.push(Problem::new(
            d.at("buffer_min"),
            format!("buffer_min {min} is above buffer_max {max}"),
        ));
    } else if start < min || start > max {
        p.push(Problem::new(
            d.at("buffer_start"),
            format!("buffer_start {start} is outside buffer_min {min} to buffer_max {max}"),
        ));
    }
    diff
}

fn read_listener(l: &mut Section<'_>, algorithm: Algorithm, p: &mut Problems) -> Listener {
    let default = Listener::default_for(algorithm);
    let listener = Listener {
        enabled: l.bool(p, "enabled", default.enabled),
        bind_host: l.string(p, "bind_host", &default.bind_host),
        // 0 = any free port (printed at start; for tests).
        bind_port: l.u16(p, "bind_port", default.bind_port, 0..=65535),
        tls_cert: l.opt_string(p, "tls_cert"),
        tls_key: l.opt_string(p, "tls_key"),
    };
    match (&listener.tls_cert, &listener.tls_key) {
        (Some(_), None) => p.push(Problem::new(
            l.at("tls_key"),
            "tls_cert is set but tls_key is not: TLS from miners needs both",
        )),
        (None, Some(_)) => p.push(Problem::new(
            l.at("tls_cert"),
            "tls_key is set but tls_cert is not: TLS from miners needs both",
        )),
        (Some(c), Some(k)) if c.trim().is_empty() || k.trim().is_empty() => p.push(Problem::new(
            l.at("tls_cert"),
            "tls_cert and tls_key must name files",
        )),
        _ => {}
    }
    let host = &listener.bind_host;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        p.push(Problem::new(
            l.at("bind_host"),
            format!("{host:?} is not an address to listen on (e.g. \"0.0.0.0\")"),
        ));
    }
    listener
}

/// The seed's rule: enabled listeners need distinct ports.
fn check_listener_ports(path: &str, proxy: &Proxy, p: &mut Problems) {
    let enabled = proxy.enabled_algorithms();
    for (i, a) in enabled.iter().enumerate() {
        let port = proxy.listener(*a).bind_port;
        if port == 0 {
            continue;
        }
        if let Some(first) = enabled[..i]
            .iter()
            .find(|b| proxy.listener(**b).bind_port == port)
        {
            p.push(Problem::new(
                format!("{path}.{a}.bind_port"),
                format!("port {port} is also the port of {first} (proxy.{first}.bind_port); each algorithm listens on its own port"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (Proxy, Problems) {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut p = Vec::new();
        let mut s = Section::new("proxy", Some(&v), &mut p);
        let proxy = read_proxy(&mut s, &mut p);
        s.finish(&mut p);
        (proxy, p)
    }

    #[test]
    fn empty_section_is_the_seed_defaults() {
        let (proxy, p) = read("{}");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(proxy, Proxy::default());
        assert_eq!(proxy.enabled_algorithms(), vec![Algorithm::Sha256]);
        assert_eq!(
            BreakerSettings::from(&proxy.circuit_breaker),
            BreakerSettings::default()
        );
    }

    #[test]
    fn a_listener_section_keeps_its_own_defaults() {
        // The seed gave a bare `randomx: {enabled: true}` port 3333, which then
        // collided with sha256; here each algorithm keeps its own port.
        let (proxy, p) = read("randomx:\n  enabled: true\n");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(proxy.randomx.bind_port, 3334);
        assert_eq!(
            proxy.enabled_algorithms(),
            vec![Algorithm::Sha256, Algorithm::Randomx]
        );
    }

    #[test]
    fn tls_from_miners_needs_a_certificate_and_a_key() {
        let (proxy, p) = read("sha256: {tls_cert: a.crt, tls_key: a.key}\n");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            (
                proxy.sha256.tls_cert.as_deref(),
                proxy.sha256.tls_key.as_deref()
            ),
            (Some("a.crt"), Some("a.key"))
        );
        // Unset, they stay out of the YAML the plan carries.
        assert!(!crate::config::proxy_yaml(&Proxy::default()).contains("tls_"));
        let (_, p) = read("zksnark: {enabled: true, tls_cert: a.crt}\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "proxy.zksnark.tls_key");
        assert!(p[0].message.contains("needs both"), "{p:?}");
        let (_, p) = read("randomx: {tls_key: a.key}\n");
        assert_eq!(p[0].field, "proxy.randomx.tls_cert");
    }

    #[test]
    fn ranges_and_cross_field_rules() {
        let (_, p) = read(
            "global: {max_connections: 0, keepalive_count: 500, offline_after: 0}\nvalidation: {share_cache_size: 5}\n\
             difficulty: {buffer_min: 0.10, buffer_start: 0.05}\ncircuit_breaker: {failure_threshold: 0}\n\
             randomx: {enabled: true, bind_port: 3333}\n",
        );
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "proxy.global.max_connections",
                "proxy.global.keepalive_count",
                "proxy.global.offline_after",
                "proxy.validation.share_cache_size",
                "proxy.difficulty.buffer_start",
                "proxy.circuit_breaker.failure_threshold",
                "proxy.randomx.bind_port",
            ]
        );
        assert!(
            p[6].message.contains("also the port of sha256"),
            "{}",
            p[6].message
        );
    }

    #[test]
    fn buffer_min_above_max() {
        let (_, p) = read("difficulty: {buffer_min: 0.15, buffer_max: 0.10, buffer_start: 0.12}\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "proxy.difficulty.buffer_min");
    }
}
