//! `ctl pool add|update|remove|enable|disable|list`: upstream pools, their
//! address (`--url stratum+tcp://host:port` or `--host/--port`), credentials
//! and tuning. Passwords are write-only: lists show "set" or "-".

use clap::{ArgGroup, Args, Subcommand};
use switchyard_model::Secret;
use switchyard_proto::v1::{
    ListPoolsRequest, Pool, PoolName, PoolSettings, SetPoolEnabledRequest, SiteList,
    UpdatePoolRequest,
};

use crate::cli::{Algo, Dialect, Mode, algo_filter};
use crate::client::{Ctx, Reply};
use crate::error::{CtlError, CtlResult};
use crate::output::{Cell, Column, Sheet, done};

#[derive(Debug, Subcommand)]
pub enum PoolCmd {
    /// Add a pool.
    Add(PoolAdd),
    /// Change some settings of a pool; unset flags keep their value.
    Update(PoolUpdate),
    /// Remove a pool (it must not be scheduled anywhere).
    Remove { name: String },
    /// Let schedules and failover use the pool again.
    Enable { name: String },
    /// Take the pool out of service without removing it.
    Disable { name: String },
    /// List pools.
    List {
        /// Only pools of this algorithm.
        #[arg(long, value_enum)]
        algo: Option<Algo>,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("address").required(true).args(["url", "host"])))]
pub struct PoolAdd {
    /// Pool name (used by schedules, overrides and breakers).
    pub name: String,
    #[arg(long, value_enum)]
    pub algo: Algo,
    /// stratum+tcp://host:port (stratum+ssl:// or stratum+tls:// for TLS).
    #[arg(long, value_parser = parse_url, conflicts_with_all = ["host", "port"])]
    pub url: Option<PoolUrl>,
    /// Pool host name or IP (with --port, instead of --url).
    #[arg(long, requires = "port")]
    pub host: Option<String>,
    /// Pool port (with --host).
    #[arg(long, requires = "host", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// The pool account or wallet (aggregate) / template with {worker} (passthrough).
    #[arg(long)]
    pub username: String,
    /// Add the pool disabled.
    #[arg(long)]
    pub disabled: bool,
    /// Only these sites may use the pool (comma-separated); other sites'
    /// plans never carry it. Default: every site.
    #[arg(long, value_name = "SITE,...", value_delimiter = ',', num_args = 1..)]
    pub sites: Vec<String>,
    #[command(flatten)]
    pub opts: PoolOptions,
}

#[derive(Debug, Args)]
pub struct PoolUpdate {
    pub name: String,
    /// stratum+tcp://host:port (stratum+ssl:// or stratum+tls:// for TLS).
    #[arg(long, value_parser = parse_url, conflicts_with_all = ["host", "port"])]
    pub url: Option<PoolUrl>,
    /// New pool host (keeps the port unless --port is given).
    #[arg(long)]
    pub host: Option<String>,
    /// New pool port.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// New pool username.
    #[arg(long)]
    pub username: Option<String>,
    /// Connect without TLS.
    #[arg(long, conflicts_with = "tls")]
    pub no_tls: bool,
    /// Clear --buffer-percent, --min-difficulty and --max-difficulty first.
    #[arg(long)]
    pub clear_difficulty_overrides: bool,
    /// Grant the pool to these sites only (comma-separated), replacing the
    /// list.
    #[arg(long, value_name = "SITE,...", value_delimiter = ',', num_args = 1.., conflicts_with = "all_sites")]
    pub sites: Option<Vec<String>>,
    /// Share the pool with every site again.
    #[arg(long)]
    pub all_sites: bool,
    #[command(flatten)]
    pub opts: PoolOptions,
}

/// Settings shared by `add` and `update`.
#[derive(Debug, Args)]
pub struct PoolOptions {
    /// The pool password (write-only; never shown).
    #[arg(long)]
    pub password: Option<Secret>,
    /// Connect with TLS.
    #[arg(long)]
    pub tls: bool,
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Seconds to wait for the pool to connect (server default when unset).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..))]
    pub connect_timeout: Option<u32>,
    /// Seconds between reconnect attempts (server default when unset).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..))]
    pub retry_interval: Option<u32>,
    /// Passthrough: buffer added to the pool's difficulty for miners, as a
    /// fraction like the config's `buffer_percent` (0.05 = 5%; 0.01 to 0.50).
    #[arg(long, value_name = "FRACTION", value_parser = buffer_fraction)]
    pub buffer_percent: Option<f64>,
    /// Passthrough: lowest difficulty given to miners.
    #[arg(long, value_name = "D", value_parser = positive)]
    pub min_difficulty: Option<f64>,
    /// Passthrough: highest difficulty given to miners.
    #[arg(long, value_name = "D", value_parser = positive)]
    pub max_difficulty: Option<f64>,
    /// ALEO pools: the pool's stratum dialect (detected when unset).
    #[arg(long, value_enum)]
    pub dialect: Option<Dialect>,
}

/// A parsed `--url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

const URL_EXAMPLE: &str =
    "e.g. stratum+tcp://btc.example.com:3333 or stratum+ssl://btc.example.com:443";

/// Parses `stratum+tcp://host:port` (TLS for `stratum+ssl` / `stratum+tls`).
pub fn parse_url(s: &str) -> Result<PoolUrl, String> {
    let (scheme, rest) = s
        .trim()
        .split_once("://")
        .ok_or_else(|| format!("missing scheme; {URL_EXAMPLE}"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "stratum+tcp" => false,
        "stratum+ssl" | "stratum+tls" => true,
        other => return Err(format!("unsupported scheme {other:?}; {URL_EXAMPLE}")),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '@', '?', '#']) {
        return Err(format!(
            "only host:port may follow the scheme (put credentials in --username/--password); {URL_EXAMPLE}"
        ));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed '['; {URL_EXAMPLE}"))?;
        (h, p.strip_prefix(':').unwrap_or(""))
    } else {
        rest.rsplit_once(':').unwrap_or((rest, ""))
    };
    if host.is_empty()
        || host.contains(|c: char| !(c.is_ascii_alphanumeric() || "-._:".contains(c)))
    {
        return Err(format!("invalid host {host:?}; {URL_EXAMPLE}"));
    }
    if port.is_empty() {
        return Err(format!("missing port; {URL_EXAMPLE}"));
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => return Err(format!("invalid port {port:?} (1-65535); {URL_EXAMPLE}")),
    };
    Ok(PoolUrl {
        host: host.to_string(),
        port,
        tls,
    })
}

fn buffer_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.01..=0.50).contains(&v) => Ok(v),
        Ok(v) if v > 0.50 && v <= 50.0 => Err(format!(
            "{v} is not a fraction in 0.01..=0.50; for {v}% write {}",
            v / 100.0
        )),
        _ => Err("expected a fraction in 0.01..=0.50, e.g. 0.05 for 5%".to_string()),
    }
}

fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a number above 0, e.g. 1024 or 65536".to_string()),
    }
}

const COLUMNS: &[Column] = &[
    Column::new("name", "NAME"),
    Column::new("algorithm", "ALGO"),
    Column::new("url", "URL"),
    Column::machine("host"),
    Column::machine("port"),
    Column::machine("tls"),
    Column::new("username", "USERNAME"),
    Column::human("PASSWORD"),
    Column::machine("password_set"),
    Column::new("mode", "MODE"),
    Column::new("enabled", "ENABLED"),
    Column::new("connect_timeout_s", "CONNECT S"),
    Column::new("retry_interval_s", "RETRY S"),
    Column::new("buffer_percent", "BUFFER"),
    Column::new("min_difficulty", "MIN DIFF"),
    Column::new("max_difficulty", "MAX DIFF"),
    Column::new("dialect", "DIALECT"),
    Column::new("sites", "SITES"),
];

/// `stratum+tcp://host:port` (brackets around IPv6 hosts).
pub fn url_of(p: &PoolSettings) -> String {
    let scheme = if p.tls { "stratum+ssl" } else { "stratum+tcp" };
    let host = if p.host.contains(':') {
        format!("[{}]", p.host)
    } else {
        p.host.clone()
    };
    format!("{scheme}://{host}:{}", p.port)
}

fn seconds(v: u32) -> Cell {
    if v == 0 {
        Cell::text("")
    } else {
        Cell::U64(u64::from(v))
    }
}

pub fn row(pool: &Pool) -> Vec<Cell> {
    let p = pool.settings.clone().unwrap_or_default();
    vec![
        Cell::text(&p.name),
        Cell::text(p.algorithm().label()),
        Cell::text(url_of(&p)),
        Cell::text(&p.host),
        Cell::U64(u64::from(p.port)),
        Cell::Bool(p.tls),
        Cell::text(&p.username),
        Cell::text(if pool.password_set { "set" } else { "" }),
        Cell::Bool(pool.password_set),
        Cell::text(p.mode().label()),
        Cell::Bool(p.enabled),
        seconds(p.connect_timeout_s),
        seconds(p.retry_interval_s),
        Cell::F64(p.buffer_percent),
        Cell::F64(p.min_difficulty),
        Cell::F64(p.max_difficulty),
        Cell::text(p.dialect().label()),
        Cell::text(if p.sites.is_empty() {
            "all".to_string()
        } else {
            p.sites.join(",")
        }),
    ]
}

fn show(ctx: &Ctx, p: &Pool, what: &str) -> CtlResult {
    let mut sheet = Sheet::new(COLUMNS);
    sheet.push(row(p));
    let name = p.settings.as_ref().map_or("", |s| s.name.as_str());
    sheet.print_one(ctx.out, &format!("pool {name} {what}"))
}

pub async fn run(ctx: &mut Ctx, cmd: PoolCmd) -> CtlResult {
    match cmd {
        PoolCmd::Add(a) => {
            let pool = add_request(a);
            let p = ctx
                .client()
                .await?
                .add_pool(pool)
                .await
                .reply(&ctx.endpoint)?;
            show(ctx, &p, "added")
        }
        PoolCmd::Update(u) => {
            let req = update_request(u)?;
            let p = ctx
                .client()
                .await?
                .update_pool(req)
                .await
                .reply(&ctx.endpoint)?;
            show(ctx, &p, "updated")
        }
        PoolCmd::Remove { name } => {
            let req = PoolName { name: name.clone() };
            ctx.client()
                .await?
                .remove_pool(req)
                .await
                .reply(&ctx.endpoint)?;
            done(ctx.out, &format!("pool {name} removed"))
        }
        PoolCmd::Enable { name } => set_enabled(ctx, name, true).await,
        PoolCmd::Disable { name } => set_enabled(ctx, name, false).await,
        PoolCmd::List { algo } => {
            let req = ListPoolsRequest {
                algorithm: algo_filter(algo),
            };
            let r = ctx
                .client()
                .await?
                .list_pools(req)
                .await
                .reply(&ctx.endpoint)?;
            let mut sheet = Sheet::new(COLUMNS);
            for p in &r.pools {
                sheet.push(row(p));
            }
            sheet.print(
                ctx.out,
                "no pools (add one with: ctl pool add NAME --algo ... --url ...)",
            )
        }
    }
}

async fn set_enabled(ctx: &mut Ctx, name: String, enabled: bool) -> CtlResult {
    let req = SetPoolEnabledRequest { name, enabled };
    let p = ctx
        .client()
        .await?
        .set_pool_enabled(req)
        .await
        .reply(&ctx.endpoint)?;
    show(ctx, &p, if enabled { "enabled" } else { "disabled" })
}

/// The `PoolSettings` message for `pool add`.
pub fn add_request(a: PoolAdd) -> PoolSettings {
    let (host, port, url_tls) = match a.url {
        Some(u) => (u.host, u.port, u.tls),
        None => (a.host.unwrap_or_default(), a.port.unwrap_or(0), false),
    };
    let o = a.opts;
    PoolSettings {
        name: a.name,
        algorithm: a.algo.to_wire(),
        host,
        port: u32::from(port),
        username: a.username,
        password: o
            .password
            .map(|p| p.expose().to_owned())
            .unwrap_or_default(),
        tls: url_tls || o.tls,
        mode: o.mode.unwrap_or(Mode::Aggregate).to_wire(),
        enabled: !a.disabled,
        connect_timeout_s: o.connect_timeout.unwrap_or(0),
        retry_interval_s: o.retry_interval.unwrap_or(0),
        buffer_percent: o.buffer_percent,
        min_difficulty: o.min_difficulty,
        max_difficulty: o.max_difficulty,
        dialect: o.dialect.map_or(0, Dialect::to_wire),
        sites: a.sites,
    }
}

/// The `UpdatePoolRequest` for `pool update`; an error when nothing changes.
pub fn update_request(u: PoolUpdate) -> CtlResult<UpdatePoolRequest> {
    let o = u.opts;
    let (host, port, tls) = match u.url {
        Some(url) => (Some(url.host), Some(url.port), Some(url.tls || o.tls)),
        None => (
            u.host,
            u.port,
            if o.tls {
                Some(true)
            } else {
                u.no_tls.then_some(false)
            },
        ),
    };
    let req = UpdatePoolRequest {
        name: u.name,
        host,
        port: port.map(u32::from),
        username: u.username,
        password: o.password.map(|p| p.expose().to_owned()),
        tls,
        mode: o.mode.map(Mode::to_wire),
        connect_timeout_s: o.connect_timeout,
        retry_interval_s: o.retry_interval,
        buffer_percent: o.buffer_percent,
        min_difficulty: o.min_difficulty,
        max_difficulty: o.max_difficulty,
        clear_difficulty_overrides: u.clear_difficulty_overrides,
        dialect: o.dialect.map(Dialect::to_wire),
        sites: if u.all_sites {
            Some(SiteList { names: Vec::new() })
        } else {
            u.sites.map(|names| SiteList { names })
        },
    };
    let unchanged = UpdatePoolRequest {
        name: req.name.clone(),
        ..Default::default()
    };
    if req == unchanged {
        return Err(CtlError::Usage(
            "nothing to update: give at least one setting, e.g. --url stratum+tcp://host:3333 or --password X"
                .to_string(),
        ));
    }
    Ok(req)
}
