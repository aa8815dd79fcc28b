//! The data plane's own YAML configuration (standalone mode): raw serde
//! structs with defaults, then `validate` into a checked config that names
//! every problem at once.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::algorithm::Algorithm;
use std::time::Duration;
use switchyard_proto::Secret;

use serde::Deserialize;

use crate::difficulty::buffer::BufferConfig;
use crate::difficulty::vardiff::VarDiffConfig;
use crate::limits::IpLimitsConfig;

mod defaults;
pub mod http;
pub mod link;
pub mod site;
mod validate;

pub use http::{Http, Workers};
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
    pub http: Http,
    pub workers: Workers,
}

/// The miner listeners. A file without `listeners:` gets SHA-256 on
/// 0.0.0.0:3333 ([`Listeners::default`]); a `listeners:` map opens exactly
/// the listeners it names (an empty one is a validation error). Each
/// algorithm takes one listener (a map) or several (a list of maps: plain
/// TCP and TLS side by side, or several addresses), all serving the same
/// miners and pools.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    /// SHA-256 miners (`sha256: {}` listens on 0.0.0.0:3333).
    #[serde(default, deserialize_with = "defaults::sha256_listeners")]
    pub sha256: Vec<Listener>,
    /// RandomX (xmrig) miners (`randomx: {}` listens on 0.0.0.0:3334).
    #[serde(default, deserialize_with = "defaults::randomx_listeners")]
    pub randomx: Vec<Listener>,
    /// ALEO (zkSNARK) miners (`zksnark: {}` listens on 0.0.0.0:3335).
    #[serde(default, deserialize_with = "defaults::zksnark_listeners")]
    pub zksnark: Vec<Listener>,
}

impl Listeners {
    /// The listeners of `algorithm` (none when it is off).
    pub fn get(&self, algorithm: Algorithm) -> &[Listener] {
        match algorithm {
            Algorithm::Sha256 => &self.sha256,
            Algorithm::Randomx => &self.randomx,
            Algorithm::Zksnark => &self.zksnark,
        }
    }

    /// The algorithms this data plane serves miners of.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(|a| !self.get(*a).is_empty())
            .collect()
    }

    /// Every listener with its algorithm and its path in the file
    /// (`listeners.sha256`, or `listeners.sha256[1]` in a list).
    pub fn all(&self) -> Vec<(Algorithm, String, &Listener)> {
        let mut out = Vec::new();
        for a in Algorithm::ALL {
            let ls = self.get(a);
            for (i, l) in ls.iter().enumerate() {
                let field = if ls.len() == 1 {
                    format!("listeners.{a}")
                } else {
                    format!("listeners.{a}[{i}]")
                };
                out.push((a, field, l));
            }
        }
        out
    }

    /// One line per listener that will open, for `dataplane validate`:
    /// `sha256 on 0.0.0.0:3333`, with ` (TLS)` for a TLS listener.
    pub fn describe(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .map(|(a, _, l)| {
                let tls = if l.tls.is_some() { " (TLS)" } else { "" };
                format!("{a} on {}{tls}", l.bind)
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listener {
    pub bind: String,
    pub max_connections: usize,
    /// TLS from miners: with it the listener accepts only TLS.
    pub tls: Option<ListenerTls>,
}

/// A listener's certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    pub cert_file: String,
    pub key_file: String,
}

impl ListenerTls {
    /// Reads and checks the files (what `validate` and start-up both do).
    pub fn load(&self) -> Result<crate::miner_tls::MinerTls, String> {
        crate::miner_tls::MinerTls::load(
            std::path::Path::new(&self.cert_file),
            std::path::Path::new(&self.key_file),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections_per_ip: u32,
    pub max_connections_per_minute: u32,
    pub ban_duration: f64,
    pub allow: Vec<String>,
    /// Connections per address that have not finished their handshake,
    /// allow-listed networks included; 0 = no cap.
    pub max_pending_per_ip: u32,
    /// Consecutive protocol errors (unparseable lines, malformed requests)
    /// after which a miner is disconnected; 0 = never.
    pub max_protocol_errors: u32,
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
    /// PEM certificates trusted for TLS pools besides the built-in Mozilla
    /// roots (a pool with a private CA).
    pub tls_ca_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub name: String,
    pub url: String,
    pub username: String,
    #[serde(default = "default_password")]
    pub password: Secret,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
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
    /// A log file (relative to the working directory); none: stderr.
    pub file: Option<String>,
    /// When the file rotates: a size (`"50 MB"`) or `"daily"` / `"hourly"`.
    pub rotation: String,
    /// Rotated files kept besides the live one.
    pub retention: u32,
    /// `text` or `json` (one JSON object a line).
    pub format: String,
}

fn sha256() -> Algorithm {
    Algorithm::Sha256
}

fn default_password() -> Secret {
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
