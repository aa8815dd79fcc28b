//! The data plane's own YAML configuration (standalone mode): raw serde
//! structs with defaults, then `validate` into a checked config that names
//! every problem at once.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;
pub use switchyard_model::Algorithm;

use serde::Deserialize;

use crate::difficulty::buffer::BufferConfig;
use crate::difficulty::vardiff::VarDiffConfig;
use crate::limits::IpLimitsConfig;

mod defaults;
pub mod link;
pub mod seed;

pub use link::ControlPlaneLink;

/// A whole data-plane config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listeners: Listeners,
    pub limits: Limits,
    pub aggregation: Aggregation,
    pub validation: Validation,
    pub difficulty: Difficulty,
    pub upstream: UpstreamSettings,
    pub pools: Vec<Pool>,
    pub logging: Logging,
    pub controlplane: ControlPlaneLink,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listeners {
    pub sha256: Option<Listener>,
    /// RandomX (xmrig) miners; off unless configured (`randomx: {}` listens
    /// on 0.0.0.0:3334).
    #[serde(deserialize_with = "defaults::randomx_listener")]
    pub randomx: Option<Listener>,
    /// ALEO (zkSNARK) miners; off unless configured (`zksnark: {}` listens
    /// on 0.0.0.0:3335).
    #[serde(deserialize_with = "defaults::zksnark_listener")]
    pub zksnark: Option<Listener>,
}

impl Listeners {
    /// The listener of `algorithm`, if enabled.
    pub fn get(&self, algorithm: Algorithm) -> Option<&Listener> {
        match algorithm {
            Algorithm::Sha256 => self.sha256.as_ref(),
            Algorithm::Randomx => self.randomx.as_ref(),
            Algorithm::Zksnark => self.zksnark.as_ref(),
        }
    }

    /// The algorithms this data plane serves miners of, with their listeners.
    pub fn enabled(&self) -> Vec<(Algorithm, &Listener)> {
        Algorithm::ALL
            .into_iter()
            .filter_map(|a| self.get(a).map(|l| (a, l)))
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listener {
    pub bind: String,
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections_per_ip: u32,
    pub max_connections_per_minute: u32,
    pub ban_duration: f64,
    pub allow: Vec<String>,
    pub max_line_length: usize,
    pub outbound_queue: usize,
    pub handshake_timeout: f64,
    pub miner_idle_timeout: f64,
    pub miner_write_timeout: f64,
    pub tcp_keepalive: bool,
    pub keepalive_idle: u64,
    pub keepalive_interval: u64,
    pub keepalive_count: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Aggregation {
    pub extranonce_prefix_size: usize,
    pub miner_extranonce2_size: usize,
    pub miners_per_upstream: usize,
    pub subscribe_wait: f64,
    pub version_mask: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Validation {
    pub reject_duplicates: bool,
    pub reject_stale: bool,
    pub share_cache_size: usize,
    pub share_cache_ttl: f64,
    pub job_cache_size: usize,
    pub ntime_max_future: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Difficulty {
    pub change_cooldown: f64,
    pub decay_enabled: bool,
    pub decay_interval: f64,
    pub decay_percent: f64,
    pub floor_trigger_ratio: f64,
    pub floor_reset_ratio: f64,
    pub share_rate_window: f64,
    pub share_rate_min_shares: u32,
    pub share_rate_low_multiplier: f64,
    pub buffer_start: f64,
    pub buffer_min: f64,
    pub buffer_max: f64,
    pub buffer_increase_step: f64,
    pub buffer_decrease_interval: f64,
    pub vardiff: VarDiff,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VarDiff {
    pub target_interval: f64,
    pub retarget_every: f64,
    pub min_difficulty: f64,
    pub max_difficulty: f64,
    pub initial_difficulty: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    pub connect_timeout: f64,
    pub handshake_timeout: f64,
    pub request_timeout: f64,
    pub idle_timeout: f64,
    pub backoff_min: f64,
    pub backoff_max: f64,
    pub grace_period: f64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub name: String,
    pub url: String,
    pub username: String,
    #[serde(default = "default_password")]
    pub password: String,
    #[serde(default)]
    pub mode: PoolMode,
    /// The algorithm family (and so the stratum dialect) the pool speaks.
    #[serde(default = "sha256")]
    pub algorithm: Algorithm,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub buffer_percent: Option<f64>,
    pub min_difficulty: Option<f64>,
    pub max_difficulty: Option<f64>,
    /// ALEO pools: the stratum dialect (`aleostratum3` or `iceriver`); left
    /// out, it is detected from the pool's answers.
    #[serde(default, deserialize_with = "defaults::aleo_dialect")]
    pub dialect: Option<switchyard_stratum::aleo::Dialect>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("mode", &self.mode)
            .field("algorithm", &self.algorithm)
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    #[default]
    Aggregate,
    Passthrough,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    /// error, warn, info, debug or trace (or a tracing filter).
    pub level: String,
}

fn sha256() -> Algorithm {
    Algorithm::Sha256
}

fn default_password() -> String {
    "x".into()
}
fn yes() -> bool {
    true
}

/// Every problem found in a config, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

/// A pool's address parsed from its url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// Parses `stratum+tcp://host:port` (also `stratum+ssl`/`stratum+tls`, or bare `host:port`).
pub fn parse_pool_url(url: &str) -> Result<PoolAddr, String> {
    let (tls, rest) = match url.split_once("://") {
        Some(("stratum+tcp" | "stratum" | "tcp", rest)) => (false, rest),
        Some(("stratum+ssl" | "stratum+tls" | "ssl" | "tls", rest)) => (true, rest),
        Some((scheme, _)) => {
            return Err(format!(
                "unknown scheme {scheme:?} (use stratum+tcp:// or stratum+ssl://)"
            ));
        }
        None => (false, url),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("{url:?} has no :port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port number"))?;
    if port == 0 {
        return Err("port 0 is not a pool port".into());
    }
    Ok(PoolAddr {
        host: host.to_owned(),
        port,
        tls,
    })
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0))
}

impl Config {
    pub fn from_yaml(text: &str) -> Result<Config, ConfigErrors> {
        let cfg: Config =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigErrors(vec![e.to_string()]))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors(vec![format!("cannot read {}: {e}", path.display())]))?;
        Config::from_yaml(&text)
    }

    /// Checks every field; reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errs = self.controlplane.problems();
        let enabled = self.listeners.enabled();
        if enabled.is_empty() {
            errs.push(
                "listeners: no listener configured; set listeners.sha256, listeners.randomx or listeners.zksnark"
                    .into(),
            );
        }
        for (algorithm, l) in &enabled {
            let port = algorithm.default_port();
            if l.bind.parse::<SocketAddr>().is_err() {
                errs.push(format!(
                    "listeners.{algorithm}.bind: {:?} is not an address like 0.0.0.0:{port}",
                    l.bind
                ));
            }
            if l.max_connections == 0 {
                errs.push(format!(
                    "listeners.{algorithm}.max_connections: must be at least 1"
                ));
            }
        }
        for (i, (b, y)) in enabled.iter().enumerate() {
            if let Some((a, _)) = enabled[..i]
                .iter()
                .find(|(_, x)| x.bind == y.bind && !x.bind.ends_with(":0"))
            {
                errs.push(format!(
                    "listeners.{b}.bind: {:?} is already the address of listeners.{a}",
                    y.bind
                ));
            }
        }
        let l = &self.limits;
        for cidr in &l.allow {
            if self.allow_net(cidr).is_none() {
                errs.push(format!(
                    "limits.allow: {cidr:?} is not a CIDR like 10.0.0.0/8 or an IP address"
                ));
            }
        }
        if !(1024..=1 << 20).contains(&l.max_line_length) {
            errs.push(format!(
                "limits.max_line_length: {} must be between 1024 and 1048576",
                l.max_line_length
            ));
        }
        if !(8..=65_536).contains(&l.outbound_queue) {
            errs.push(format!(
                "limits.outbound_queue: {} must be between 8 and 65536",
                l.outbound_queue
            ));
        }
        for (name, v) in [
            ("limits.handshake_timeout", l.handshake_timeout),
            ("limits.miner_idle_timeout", l.miner_idle_timeout),
            ("limits.miner_write_timeout", l.miner_write_timeout),
            ("upstream.connect_timeout", self.upstream.connect_timeout),
            (
                "upstream.handshake_timeout",
                self.upstream.handshake_timeout,
            ),
            ("upstream.request_timeout", self.upstream.request_timeout),
            ("upstream.idle_timeout", self.upstream.idle_timeout),
            ("upstream.backoff_min", self.upstream.backoff_min),
            ("upstream.backoff_max", self.upstream.backoff_max),
            (
                "aggregation.subscribe_wait",
                self.aggregation.subscribe_wait,
            ),
            (
                "difficulty.vardiff.target_interval",
                self.difficulty.vardiff.target_interval,
            ),
            (
                "difficulty.vardiff.retarget_every",
                self.difficulty.vardiff.retarget_every,
            ),
            (
                "validation.share_cache_ttl",
                self.validation.share_cache_ttl,
            ),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                errs.push(format!(
                    "{name}: {v} must be a number of seconds above 0 and at most 86400"
                ));
            }
        }
        if !(self.upstream.grace_period.is_finite()
            && (0.0..=3600.0).contains(&self.upstream.grace_period))
        {
            errs.push(format!(
                "upstream.grace_period: {} must be between 0 and 3600 seconds",
                self.upstream.grace_period
            ));
        }
        if self.upstream.backoff_min > self.upstream.backoff_max {
            errs.push("upstream.backoff_min: must not exceed upstream.backoff_max".into());
        }
        if l.miner_idle_timeout < 300.0 {
            errs.push(format!(
                "limits.miner_idle_timeout: {} s would drop slow ASICs; use at least 300",
                l.miner_idle_timeout
            ));
        }
        let a = &self.aggregation;
        if !(1..=4).contains(&a.extranonce_prefix_size) {
            errs.push(format!(
                "aggregation.extranonce_prefix_size: {} must be 1 to 4 bytes",
                a.extranonce_prefix_size
            ));
        }
        if !(2..=16).contains(&a.miner_extranonce2_size) {
            errs.push(format!(
                "aggregation.miner_extranonce2_size: {} must be 2 to 16 bytes",
                a.miner_extranonce2_size
            ));
        }
        if a.miners_per_upstream == 0 {
            errs.push("aggregation.miners_per_upstream: must be at least 1".into());
        }
        if switchyard_stratum::hexutil::parse_hex_u32(&a.version_mask).is_err() {
            errs.push(format!(
                "aggregation.version_mask: {:?} is not 8 hex digits like 1fffe000",
                a.version_mask
            ));
        }
        let v = &self.validation;
        if !(1..=100_000).contains(&v.share_cache_size) {
            errs.push(format!(
                "validation.share_cache_size: {} must be 1 to 100000",
                v.share_cache_size
            ));
        }
        if !(1..=1000).contains(&v.job_cache_size) {
            errs.push(format!(
                "validation.job_cache_size: {} must be 1 to 1000",
                v.job_cache_size
            ));
        }
        self.validate_difficulty(&mut errs);
        self.validate_pools(&mut errs);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }

    fn validate_difficulty(&self, errs: &mut Vec<String>) {
        let d = &self.difficulty;
        for (name, v, lo, hi) in [
            ("difficulty.decay_percent", d.decay_percent, 0.0, 1.0),
            (
                "difficulty.floor_trigger_ratio",
                d.floor_trigger_ratio,
                0.0,
                1.0,
            ),
            (
                "difficulty.floor_reset_ratio",
                d.floor_reset_ratio,
                0.0,
                1.0,
            ),
            (
                "difficulty.share_rate_low_multiplier",
                d.share_rate_low_multiplier,
                0.0,
                1.0,
            ),
            ("difficulty.buffer_start", d.buffer_start, 0.0, 1.0),
            ("difficulty.buffer_min", d.buffer_min, 0.0, 1.0),
            ("difficulty.buffer_max", d.buffer_max, 0.0, 1.0),
            (
                "difficulty.buffer_increase_step",
                d.buffer_increase_step,
                0.0,
                1.0,
            ),
            (
                "difficulty.change_cooldown",
                d.change_cooldown,
                0.0,
                86_400.0,
            ),
            ("difficulty.decay_interval", d.decay_interval, 1.0, 86_400.0),
            (
                "difficulty.share_rate_window",
                d.share_rate_window,
                1.0,
                86_400.0,
            ),
            (
                "difficulty.buffer_decrease_interval",
                d.buffer_decrease_interval,
                1.0,
                864_000.0,
            ),
        ] {
            if !(v.is_finite() && v >= lo && v <= hi) {
                errs.push(format!("{name}: {v} must be between {lo} and {hi}"));
            }
        }
        if d.buffer_min > d.buffer_max
            || d.buffer_start < d.buffer_min
            || d.buffer_start > d.buffer_max
        {
            errs.push(format!(
                "difficulty.buffer_start: {} must lie within buffer_min {} and buffer_max {}",
                d.buffer_start, d.buffer_min, d.buffer_max
            ));
        }
        let vd = &d.vardiff;
        if !(vd.min_difficulty.is_finite()
            && vd.min_difficulty > 0.0
            && vd.min_difficulty <= vd.max_difficulty)
        {
            errs.push(format!(
                "difficulty.vardiff.min_difficulty: {} must be above 0 and at most max_difficulty {}",
                vd.min_difficulty, vd.max_difficulty
            ));
        }
        if let Some(i) = vd
            .initial_difficulty
            .filter(|i| !(i.is_finite() && *i > 0.0))
        {
            errs.push(format!(
                "difficulty.vardiff.initial_difficulty: {i} must be above 0"
            ));
        }
    }

    fn validate_pools(&self, errs: &mut Vec<String>) {
        // With a control plane the pools come from its routing plans.
        if self.controlplane.endpoint.is_none() && !self.pools.iter().any(|p| p.enabled) {
            errs.push("pools: at least one enabled pool is needed".into());
        }
        for (i, p) in self.pools.iter().enumerate() {
            let at = format!("pools[{i}] ({:?})", p.name);
            if p.name.trim().is_empty() {
                errs.push(format!("pools[{i}].name: must not be empty"));
            }
            if self.pools[..i].iter().any(|q| q.name == p.name) {
                errs.push(format!("{at}.name: duplicate pool name {:?}", p.name));
            }
            if let Err(e) = parse_pool_url(&p.url) {
                errs.push(format!("{at}.url: {e}"));
            } else if parse_pool_url(&p.url).is_ok_and(|a| a.tls) {
                errs.push(format!("{at}.url: TLS to pools is not supported by the data plane yet; use stratum+tcp://"));
            }
            if p.username.is_empty() {
                errs.push(format!("{at}.username: must not be empty"));
            }
            if let Some(b) = p.buffer_percent.filter(|b| !(0.01..=0.50).contains(b)) {
                errs.push(format!(
                    "{at}.buffer_percent: {b} must be between 0.01 and 0.50"
                ));
            }
            for (field, v) in [
                ("min_difficulty", p.min_difficulty),
                ("max_difficulty", p.max_difficulty),
            ] {
                if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                    errs.push(format!("{at}.{field}: {v} must be above 0"));
                }
            }
            if p.dialect.is_some() && p.algorithm != Algorithm::Zksnark {
                errs.push(format!(
                    "{at}.dialect: only ALEO pools (algorithm: zksnark) have a dialect"
                ));
            }
            if let (Some(lo), Some(hi)) = (p.min_difficulty, p.max_difficulty)
                && lo > hi
            {
                errs.push(format!(
                    "{at}.min_difficulty: {lo} exceeds max_difficulty {hi}"
                ));
            }
        }
    }

    fn allow_net(&self, s: &str) -> Option<ipnet::IpNet> {
        s.parse::<ipnet::IpNet>()
            .ok()
            .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
    }

    pub fn ip_limits(&self) -> IpLimitsConfig {
        IpLimitsConfig {
            max_connections_per_ip: self.limits.max_connections_per_ip,
            max_connections_per_minute: self.limits.max_connections_per_minute,
            ban_duration: secs(self.limits.ban_duration),
            allow: self
                .limits
                .allow
                .iter()
                .filter_map(|s| self.allow_net(s))
                .collect(),
        }
    }

    pub fn vardiff(&self) -> VarDiffConfig {
        let v = &self.difficulty.vardiff;
        VarDiffConfig {
            target_interval: secs(v.target_interval),
            retarget_every: secs(v.retarget_every),
            cooldown: secs(self.difficulty.change_cooldown),
            min_difficulty: v.min_difficulty,
            max_difficulty: v.max_difficulty,
            initial_difficulty: v.initial_difficulty,
            ..VarDiffConfig::default()
        }
    }

    pub fn buffer(&self, pool: &Pool) -> BufferConfig {
        let d = &self.difficulty;
        BufferConfig {
            change_cooldown: secs(d.change_cooldown),
            decay_enabled: d.decay_enabled,
            decay_interval: secs(d.decay_interval),
            decay_percent: d.decay_percent,
            floor_trigger_ratio: d.floor_trigger_ratio,
            floor_reset_ratio: d.floor_reset_ratio,
            share_rate_window: secs(d.share_rate_window),
            share_rate_min_shares: d.share_rate_min_shares,
            share_rate_low_multiplier: d.share_rate_low_multiplier,
            buffer_start: d.buffer_start,
            buffer_min: d.buffer_min,
            buffer_max: d.buffer_max,
            buffer_increase_step: d.buffer_increase_step,
            buffer_decrease_interval: secs(d.buffer_decrease_interval),
            buffer_override: pool.buffer_percent,
            min_difficulty: pool.min_difficulty,
            max_difficulty: pool.max_difficulty,
        }
    }
}

/// Durations of the config as `Duration`s, computed once. The grace period
/// alone can change at run time (a routing plan carries the control plane's).
#[derive(Debug)]
pub struct Timing {
    pub handshake: Duration,
    pub miner_idle: Duration,
    pub miner_write: Duration,
    pub subscribe_wait: Duration,
    pub connect: Duration,
    pub upstream_handshake: Duration,
    pub request: Duration,
    pub upstream_idle: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    grace_ms: AtomicU64,
    pub share_cache_ttl: Duration,
}

impl Timing {
    pub fn from_config(c: &Config) -> Timing {
        Timing {
            handshake: secs(c.limits.handshake_timeout),
            miner_idle: secs(c.limits.miner_idle_timeout),
            miner_write: secs(c.limits.miner_write_timeout),
            subscribe_wait: secs(c.aggregation.subscribe_wait),
            connect: secs(c.upstream.connect_timeout),
            upstream_handshake: secs(c.upstream.handshake_timeout),
            request: secs(c.upstream.request_timeout),
            upstream_idle: secs(c.upstream.idle_timeout),
            backoff_min: secs(c.upstream.backoff_min),
            backoff_max: secs(c.upstream.backoff_max),
            grace_ms: AtomicU64::new(secs(c.upstream.grace_period).as_millis() as u64),
            share_cache_ttl: secs(c.validation.share_cache_ttl),
        }
    }
}

impl Timing {
    /// How long jobs of a pool the hashrate left stay valid.
    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms.load(Ordering::Relaxed))
    }

    /// Sets the grace period (from a routing plan); applies to the next switch.
    pub fn set_grace(&self, grace: Duration) {
        self.grace_ms
            .store(grace.as_millis() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
