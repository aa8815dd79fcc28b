//! The `dataplane` binary: parse arguments, init tracing, load the config,
//! run the data plane until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::Config;

#[derive(Parser)]
#[command(
    name = "dataplane",
    version,
    about = "Switchyard data plane: stratum relay for mining farms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the data plane from its own YAML config (standalone mode).
    Start {
        /// Stay in the foreground (the only mode: run it under systemd or `controlplane start`).
        #[arg(short, long)]
        foreground: bool,
        #[arg(short, long)]
        config: PathBuf,
        /// Overrides logging.level (error, warn, info, debug, trace).
        #[arg(long)]
        log_level: Option<String>,
    },
    /// Check a config file and name every problem.
    Validate { config: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { config } => match Config::load(&config) {
            Ok(cfg) => {
                println!("{}: valid", config.display());
                for line in cfg.listeners.describe() {
                    println!("listener: {line}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", config.display());
                ExitCode::from(2)
            }
        },
        Command::Start {
            foreground,
            config,
            log_level,
        } => {
            if !foreground {
                eprintln!(
                    "dataplane start: pass --foreground (background mode is `controlplane start`, or run it under systemd)"
                );
                return ExitCode::from(2);
            }
            let cfg = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{}: {e}", config.display());
                    return ExitCode::from(2);
                }
            };
            let level = log_level.unwrap_or_else(|| cfg.logging.level.clone());
            let l = &cfg.logging;
            // Logs on stderr (or the configured file): stdout carries the
            // listening line for scripts.
            let spec = switchyard_dataplane::logfile::LogSpec {
                filter: &level,
                file: l.file.as_deref().map(std::path::Path::new),
                // Checked by Config::load.
                rotation: l
                    .rotation
                    .parse()
                    .unwrap_or(switchyard_dataplane::logfile::Rotation::Daily),
                retention: l.retention as usize,
                json: l.format == "json",
            };
            if let Err(e) = switchyard_dataplane::logfile::init(&spec) {
                eprintln!("{}: {e:#}", config.display());
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let dp = match DataPlane::start(cfg).await {
                    Ok(dp) => dp,
                    Err(e) => {
                        eprintln!("dataplane: {e:#}");
                        return ExitCode::FAILURE;
                    }
                };
                // On stdout for whoever started it (scripts, tests with port 0).
                if let Some(a) = dp.sha256_addr() {
                    println!("dataplane listening for sha256 miners on {a}");
                }
                if let Some(a) = dp.randomx_addr() {
                    println!("dataplane listening for randomx miners on {a}");
                }
                if let Some(a) = dp.zksnark_addr() {
                    println!("dataplane listening for zksnark miners on {a}");
                }
                wait_for_signal().await;
                tracing::info!("shutting down");
                dp.shutdown(Duration::from_secs(5)).await;
                ExitCode::SUCCESS
            })
        }
    }
}

async fn wait_for_signal() {
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
