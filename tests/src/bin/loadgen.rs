//! `loadgen`: load generator and benchmark helper for the data plane: share
//! throughput and latency (SHA-256, RandomX, ALEO), idle and silent (hostile) connections, job
//! fan-out, a scheduled switch (through a control plane's data plane), and
//! scripted pools or an in-process data plane to point them at. Figures go to stdout; each
//! measuring mode ends with one `RESULT ...` line of `key=value` pairs.

#[path = "loadgen/aleo.rs"]
mod aleo;
#[path = "loadgen/algo_pool.rs"]
mod algo_pool;
#[path = "loadgen/algo_shares.rs"]
mod algo_shares;
#[path = "loadgen/client.rs"]
mod client;
#[path = "loadgen/engine.rs"]
mod engine;
#[path = "loadgen/fanout.rs"]
mod fanout;
#[path = "loadgen/forward.rs"]
mod forward;
#[path = "loadgen/idle.rs"]
mod idle;
#[path = "loadgen/plan.rs"]
mod plan;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/rx.rs"]
mod rx;
#[path = "loadgen/serve.rs"]
mod serve;
#[path = "loadgen/shares.rs"]
mod shares;
#[path = "loadgen/silent.rs"]
mod silent;
#[path = "loadgen/stats.rs"]
mod stats;
#[path = "loadgen/switch.rs"]
mod switch;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Switchyard load generator: simulated miners, a scripted pool, fan-out timing"
)]
struct Cli {
    /// Tokio worker threads (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N miners submit shares at an aggregate rate; prints shares/s, answers,
    /// rejections and write-to-answer latency.
    Shares(shares::Args),
    /// Opens N miners (subscribe, authorize, first job) and holds them.
    Idle(idle::Args),
    /// Opens N connections that never say a word, from many loopback source
    /// addresses (a hostile LAN device), optionally reopening each one closed.
    Silent(silent::Args),
    /// Connects N miners, triggers new jobs at a `loadgen pool` through its
    /// control port and times how long until every miner has each one.
    Fanout(fanout::Args),
    /// Connects N miners to a data plane, keeps them submitting through a
    /// scheduled switch and times how long after the instant each has the
    /// new pool's job; counts shares before and after it.
    Switch(switch::Args),
    /// `shares` for RandomX (xmrig) miners: valid shares (the stand-in hash),
    /// in each miner's NiceHash slot.
    RxShares(algo_shares::RxArgs),
    /// `shares` for ALEO miners (`--dialect aleostratum3|iceriver`).
    AleoShares(algo_shares::AleoArgs),
    /// Runs a scripted pool (really verifies every share) with a control port.
    Pool(serve::PoolArgs),
    /// Runs the scripted RandomX pool (checks every claimed hash) with a
    /// control port (`stats`).
    RxPool(algo_pool::RxPoolArgs),
    /// Runs the scripted ALEO pool in one dialect with a control port (`stats`).
    AleoPool(algo_pool::AleoPoolArgs),
    /// Runs a data plane in-process in front of a pool (for quick tries; the
    /// benchmark script runs the real `dataplane` binary instead).
    Dataplane(serve::DataplaneArgs),
    /// Sends one command to a `loadgen pool` control port and prints the answer.
    Ctl(serve::CtlArgs),
    /// A bare 1:1 TCP forwarder to a target, the yardstick of the least a
    /// relay adds (prints `forward LISTEN -> TARGET`).
    Forward(forward::Args),
    /// Prints a free loopback TCP port (bind 127.0.0.1:0, then release it).
    FreePort,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Shares(a) => shares::run(a).await,
            Command::Idle(a) => idle::run(a).await,
            Command::Silent(a) => silent::run(a).await,
            Command::Fanout(a) => fanout::run(a).await,
            Command::Switch(a) => switch::run(a).await,
            Command::RxShares(a) => algo_shares::run_rx(a).await,
            Command::AleoShares(a) => algo_shares::run_aleo(a).await,
            Command::Pool(a) => serve::pool(a).await,
            Command::RxPool(a) => algo_pool::rx_pool(a).await,
            Command::AleoPool(a) => algo_pool::aleo_pool(a).await,
            Command::Dataplane(a) => serve::dataplane(a).await,
            Command::Ctl(a) => serve::ctl(a).await,
            Command::Forward(a) => forward::run(a).await,
            Command::FreePort => {
                let l = std::net::TcpListener::bind("127.0.0.1:0")?;
                println!("{}", l.local_addr()?.port());
                Ok(())
            }
        }
    })
}

/// Parses a duration in seconds (fractions allowed).
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("{s:?} is not a number of seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Resolves once SIGINT or SIGTERM (elsewhere Ctrl-C) arrives.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A target address argument.
pub type Target = SocketAddr;
