//! The pools a config's servers become ([`PoolDef`]), as the control plane
//! stores them, and how a data plane connects to one ([`PoolMode`]).
//! Passwords never appear in `Debug` output.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::servers::Server;
use crate::Secret;
use crate::algo::Algorithm;
use crate::timeofday::TimeOfDay;

/// How a data plane connects miners to a pool: one shared upstream
/// connection per pool (`aggregate`, the default) or one per miner
/// (`passthrough`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    #[default]
    Aggregate,
    Passthrough,
}

impl PoolMode {
    /// Whether this is the default mode (`aggregate`), left out on export.
    pub fn is_default(&self) -> bool {
        *self == PoolMode::Aggregate
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Aggregate => "aggregate",
            PoolMode::Passthrough => "passthrough",
        }
    }
}

impl fmt::Display for PoolMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PoolMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "aggregate" => Ok(PoolMode::Aggregate),
            "passthrough" => Ok(PoolMode::Passthrough),
            _ => Err(format!(
                "unknown pool mode {s:?} (known: aggregate, passthrough)"
            )),
        }
    }
}

/// Which of the two ALEO stratum dialects (protocols.md §3) a pool speaks:
/// `aleostratum3` (AleoStratum/3.0.0 with `mining.set_target`) or `iceriver`
/// (the IceRiver-style notify/submit). A pool without one is detected by the
/// data plane from its first answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AleoDialect {
    AleoStratum3,
    IceRiver,
}

impl AleoDialect {
    pub const NAMES: &'static str = "aleostratum3, iceriver";

    pub fn as_str(self) -> &'static str {
        match self {
            AleoDialect::AleoStratum3 => "aleostratum3",
            AleoDialect::IceRiver => "iceriver",
        }
    }
}

impl fmt::Display for AleoDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AleoDialect {
    type Err = String;

    /// `aleostratum3` (also `aleo-stratum-3`, `AleoStratum/3.0.0`) or
    /// `iceriver`, in any case: the names the data plane's config accepts.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "aleostratum3" | "aleo-stratum-3" | "aleostratum/3.0.0" => {
                Ok(AleoDialect::AleoStratum3)
            }
            "iceriver" => Ok(AleoDialect::IceRiver),
            _ => Err(format!(
                "unknown ALEO dialect {s:?} (known: {})",
                AleoDialect::NAMES
            )),
        }
    }
}

impl TryFrom<String> for AleoDialect {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<AleoDialect> for String {
    fn from(d: AleoDialect) -> String {
        d.as_str().to_string()
    }
}

/// A pool, as the control plane stores it: a server of the file with its
/// algorithm, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDef {
    pub name: String,
    pub algorithm: Algorithm,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub tls: bool,
    pub mode: PoolMode,
    pub enabled: bool,
    pub connect_timeout_s: u32,
    pub retry_interval_s: u32,
    pub buffer_percent: Option<f64>,
    pub min_difficulty: Option<f64>,
    pub max_difficulty: Option<f64>,
    /// ALEO pools only: the dialect, or `None` to detect it.
    pub dialect: Option<AleoDialect>,
    /// The sites that may use the pool; empty: every site.
    pub sites: Vec<String>,
}

impl PoolDef {
    pub fn from_server(algorithm: Algorithm, s: &Server) -> Self {
        PoolDef {
            name: s.name.clone(),
            algorithm,
            host: s.host.clone(),
            port: s.port,
            username: s.username.clone(),
            password: s.password.clone(),
            tls: s.ssl,
            mode: s.mode,
            enabled: s.enabled,
            connect_timeout_s: s.connect_timeout,
            retry_interval_s: s.retry_interval,
            buffer_percent: s.buffer_percent,
            min_difficulty: s.min_difficulty,
            max_difficulty: s.max_difficulty,
            dialect: s.dialect,
            sites: s.sites.clone(),
        }
    }

    /// The server entry for the file, with an optional schedule slot.
    pub fn to_server(
        &self,
        start: Option<TimeOfDay>,
        end: Option<TimeOfDay>,
        weight: Option<u32>,
    ) -> Server {
        Server {
            name: self.name.clone(),
            enabled: self.enabled,
            host: self.host.clone(),
            port: self.port,
            username: self.username.clone(),
            password: self.password.clone(),
            ssl: self.tls,
            connect_timeout: self.connect_timeout_s,
            retry_interval: self.retry_interval_s,
            start,
            end,
            buffer_percent: self.buffer_percent,
            min_difficulty: self.min_difficulty,
            max_difficulty: self.max_difficulty,
            mode: self.mode,
            dialect: self.dialect,
            sites: self.sites.clone(),
            weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_mode_names() {
        for m in [PoolMode::Aggregate, PoolMode::Passthrough] {
            assert_eq!(m.as_str().parse::<PoolMode>(), Ok(m));
            assert_eq!(serde_yaml_ng::to_string(&m).unwrap().trim(), m.as_str());
        }
        assert_eq!("AGGREGATE".parse::<PoolMode>(), Ok(PoolMode::Aggregate));
        assert!(
            "relay"
                .parse::<PoolMode>()
                .unwrap_err()
                .contains("aggregate, passthrough")
        );
        assert_eq!(PoolMode::default(), PoolMode::Aggregate);
    }

    #[test]
    fn aleo_dialect_names() {
        for d in [AleoDialect::AleoStratum3, AleoDialect::IceRiver] {
            assert_eq!(d.as_str().parse::<AleoDialect>(), Ok(d));
            assert_eq!(serde_yaml_ng::to_string(&d).unwrap().trim(), d.as_str());
        }
        assert_eq!(
            "AleoStratum/3.0.0".parse::<AleoDialect>(),
            Ok(AleoDialect::AleoStratum3)
        );
        let err = "stratum2".parse::<AleoDialect>().unwrap_err();
        assert!(err.contains("aleostratum3, iceriver"), "{err}");
        assert!(serde_yaml_ng::from_str::<AleoDialect>("bogus").is_err());
    }
}
