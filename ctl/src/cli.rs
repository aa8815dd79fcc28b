//! The command line: global flags, the command tree and the value types
//! shared by several commands. Each command group's own arguments live in its
//! module under `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use switchyard_model::Secret;
use switchyard_proto::v1 as pb;

use crate::cmd;
use crate::output::Format;

/// Operate a Switchyard control plane: sites, pools, schedules, overrides,
/// breakers, data planes and the share history.
#[derive(Debug, Parser)]
#[command(name = "ctl", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Globals {
    /// The control plane's admin gRPC address.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_ENDPOINT",
        default_value = "http://127.0.0.1:50051",
        value_name = "URL"
    )]
    pub endpoint: String,
    /// The admin token (else --token-file, else the SWITCHYARD_TOKEN environment variable).
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<Secret>,
    /// Read the admin token from this file (surrounding whitespace is trimmed).
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// PEM CA certificate for an https:// endpoint.
    #[arg(long, global = true, env = "SWITCHYARD_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Control-plane health, counts and the active pool of every site.
    Status,
    /// Rig sites and their data-plane tokens.
    #[command(subcommand)]
    Site(cmd::site::SiteCmd),
    /// Upstream pools.
    #[command(subcommand)]
    Pool(cmd::pool::PoolCmd),
    /// Daily schedules, their preview and failover order.
    #[command(subcommand)]
    Schedule(cmd::schedule::ScheduleCmd),
    /// Pin a site's algorithm to a pool until a time (or `override clear`).
    Override(cmd::overrides::OverrideArgs),
    /// Per-site pool circuit breakers.
    #[command(subcommand)]
    Breaker(cmd::breaker::BreakerCmd),
    /// Data planes known to the control plane.
    #[command(subcommand)]
    Dataplane(cmd::dataplane::DataplaneCmd),
    /// Individual shares from the history.
    Shares(cmd::shares::SharesArgs),
    /// Accepted/rejected counts and hashrate per pool and time window (default: the last 24h).
    Stats(cmd::stats::StatsArgs),
    /// Workers seen in the last 24h (--since): state, last share, hashrate, counts.
    Workers(cmd::workers::WorkersArgs),
    /// A site's last pool switches (newest first) with their reason.
    Switches(cmd::switches::SwitchesArgs),
    /// Validate, import or export the YAML configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
}

/// An algorithm family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algo {
    Sha256,
    Randomx,
    Zksnark,
}

impl Algo {
    pub fn as_str(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Randomx => "randomx",
            Algo::Zksnark => "zksnark",
        }
    }

    /// The contract's value (an `i32` field).
    pub fn to_wire(self) -> i32 {
        match self {
            Algo::Sha256 => pb::Algorithm::Sha256,
            Algo::Randomx => pb::Algorithm::Randomx,
            Algo::Zksnark => pb::Algorithm::Zksnark,
        }
        .into()
    }
}

/// The optional `--algo` filter as the wire's value (UNSPECIFIED = all).
pub fn algo_filter(a: Option<Algo>) -> i32 {
    a.map_or(pb::Algorithm::Unspecified.into(), Algo::to_wire)
}

/// A share's final verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Verdict {
    Accepted,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
        }
    }

    /// The contract's value (an `i32` field).
    pub fn to_wire(self) -> i32 {
        match self {
            Verdict::Accepted => pb::Verdict::Accepted,
            Verdict::Rejected => pb::Verdict::Rejected,
        }
        .into()
    }
}

/// A pool's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// All miners share few pool connections.
    Aggregate,
    /// One pool connection per miner.
    Passthrough,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Aggregate => "aggregate",
            Mode::Passthrough => "passthrough",
        }
    }

    /// The contract's value (an `i32` field).
    pub fn to_wire(self) -> i32 {
        match self {
            Mode::Aggregate => pb::PoolMode::Aggregate,
            Mode::Passthrough => pb::PoolMode::Passthrough,
        }
        .into()
    }
}

/// An ALEO pool's stratum dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// AleoStratum/3.0.0, with mining.set_target.
    Aleostratum3,
    /// The IceRiver-style notify and submit.
    Iceriver,
    /// Let the data plane detect it from the pool's first answers.
    Detect,
}

impl Dialect {
    /// The name the control plane stores; empty for `detect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Aleostratum3 => "aleostratum3",
            Dialect::Iceriver => "iceriver",
            Dialect::Detect => "",
        }
    }

    /// The contract's value (an `i32` field); UNSPECIFIED is `detect`.
    pub fn to_wire(self) -> i32 {
        match self {
            Dialect::Aleostratum3 => pb::AleoDialect::Aleostratum3,
            Dialect::Iceriver => pb::AleoDialect::Iceriver,
            Dialect::Detect => pb::AleoDialect::Unspecified,
        }
        .into()
    }
}
