//! The `controlplane` binary: `init`, `validate`, `start [--foreground]`,
//! `stop`, `status`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchyard_controlplane::{ControlPlane, Options, daemon};
use switchyard_model::config;

#[derive(Parser)]
#[command(
    name = "controlplane",
    version,
    about = "Switchyard control plane: pools, site schedules, breakers and share history"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a sample config (unless it exists), create the database and an admin token.
    Init {
        #[arg(short, long, default_value = "config.yaml")]
        config: PathBuf,
        /// Database path (default: the config's `controlplane.database`, relative to the config file).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Replace the admin token of an existing database.
        #[arg(long)]
        new_admin_token: bool,
    },
    /// Check a config file; every problem is named, exit 2 if any.
    Validate { file: PathBuf },
    /// Start the control plane (in the background unless --foreground).
    Start {
        #[arg(short, long)]
        config: PathBuf,
        #[arg(short, long)]
        foreground: bool,
        /// Database path (default: the config's `controlplane.database`, relative to the config file).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Listen address (default: the config's `controlplane.listen`).
        #[arg(long)]
        listen: Option<String>,
        /// Pid file (default: the config's `controlplane.pid_file`, else a per-user runtime path).
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Log file (default for a background start: next to the database).
        #[arg(long)]
        log_file: Option<PathBuf>,
        /// DEBUG, INFO, WARNING, ERROR or CRITICAL (default: the config's `logging.level`).
        #[arg(long)]
        log_level: Option<String>,
        /// Do not run a data plane in this process (data planes run elsewhere).
        #[arg(long)]
        no_dataplane: bool,
    },
    /// Stop the running control plane and wait for it to exit (SIGTERM on unix;
    /// on Windows a stop request, and termination after 60 s without exit).
    Stop {
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
    /// Say whether the control plane runs (exit 0) or not (exit 3).
    Status {
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("controlplane: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn local_tz() -> chrono_tz::Tz {
    let name = std::env::var("TZ")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| iana_time_zone::get_timezone().ok());
    name.and_then(|n| chrono_tz::Tz::from_str(n.trim_start_matches(':')).ok())
        .unwrap_or(chrono_tz::Tz::UTC)
}

fn load(path: &Path) -> anyhow::Result<config::Import> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut import = config::load(&text, local_tz()).map_err(|p| {
        anyhow::anyhow!(
            "{} has {} problem(s):\n{}",
            path.display(),
            p.len(),
            switchyard_model::problem::render(&p)
        )
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    switchyard_controlplane::miner_tls::resolve_paths(&mut import, dir);
    Ok(import)
}

/// A path from the config, relative to the config file's directory.
fn beside(config: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        config.parent().unwrap_or(Path::new(".")).join(p)
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Validate { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut problems: Vec<String> = config::validate(&text, local_tz())
                .iter()
                .map(ToString::to_string)
                .collect();
            if problems.is_empty() {
                let import = load(&file)?;
                problems = switchyard_controlplane::miner_tls::problems(&import);
                if let Err(e) = import
                    .logging
                    .rotation
                    .parse::<switchyard_dataplane::logfile::Rotation>()
                {
                    problems.push(format!("logging.rotation: {e}"));
                }
                for w in switchyard_model::dialects::import_warnings(&import) {
                    println!("warning: {w}");
                }
            }
            if problems.is_empty() {
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &problems {
                    println!("{p}");
                }
                eprintln!("{}: {} problem(s)", file.display(), problems.len());
                Ok(ExitCode::from(2))
            }
        }
        Cmd::Init {
            config: path,
            db,
            new_admin_token,
        } => init(&path, db, new_admin_token),
        Cmd::Status { pid_file } => {
            let pid_file = pid_file.unwrap_or_else(daemon::default_pid_file);
            match daemon::running(&pid_file) {
                Some(pid) => {
                    println!("running (pid {pid})");
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    println!("not running");
                    Ok(ExitCode::from(3))
                }
            }
        }
        Cmd::Stop { pid_file } => {
            let pid_file = pid_file.unwrap_or_else(daemon::default_pid_file);
            match daemon::stop(&pid_file, std::time::Duration::from_secs(60))? {
                Some(s) if s.terminated => println!(
                    "terminated (pid {}): it did not exit within 60 s of the stop request",
                    s.pid
                ),
                Some(s) => println!("stopped (pid {})", s.pid),
                None => println!("not running"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Start {
            config: path,
            foreground,
            db,
            listen,
            pid_file,
            log_file,
            log_level,
            no_dataplane,
        } => {
            let import = load(&path)?;
            let database = db.unwrap_or_else(|| beside(&path, &import.controlplane.database));
            let pid_file = pid_file
                .or_else(|| {
                    import
                        .controlplane
                        .pid_file
                        .as_deref()
                        .map(|p| beside(&path, p))
                })
                .unwrap_or_else(daemon::default_pid_file);
            let log_file = log_file
                .or_else(|| {
                    import
                        .controlplane
                        .log_file
                        .as_deref()
                        .map(|p| beside(&path, p))
                })
                .or_else(|| import.logging.file.as_deref().map(|p| beside(&path, p)));
            let level = log_level.unwrap_or_else(|| import.logging.level.clone());
            if !foreground {
                let log_file = log_file.unwrap_or_else(|| {
                    let mut s = database.as_os_str().to_owned();
                    s.push(".log");
                    PathBuf::from(s)
                });
                let mut args = vec![
                    "start".to_string(),
                    "--foreground".into(),
                    "--config".into(),
                    abs(&path)?.display().to_string(),
                    "--db".into(),
                    abs(&database)?.display().to_string(),
                    "--pid-file".into(),
                    abs(&pid_file)?.display().to_string(),
                    "--log-level".into(),
                    level,
                    "--log-file".into(),
                    abs(&log_file)?.display().to_string(),
                ];
                if let Some(l) = listen {
                    args.extend(["--listen".into(), l]);
                }
                if no_dataplane {
                    args.push("--no-dataplane".into());
                }
                let pid = daemon::spawn_background(&args, &pid_file, &log_file)?;
                println!(
                    "controlplane started in the background (pid {pid}), logging to {}",
                    log_file.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            init_logging(&level, log_file.as_deref(), &import.logging)?;
            let listen = listen
                .map(|l| {
                    l.parse()
                        .with_context(|| format!("--listen {l:?} is not host:port"))
                })
                .transpose()?;
            let rt = tokio::runtime::Runtime::new()?;
            let tls = match (&import.controlplane.tls_cert, &import.controlplane.tls_key) {
                (Some(c), Some(k)) => Some((beside(&path, c), beside(&path, k))),
                _ => None,
            };
            rt.block_on(async {
                let mut cp = ControlPlane::start(Options {
                    config: import.clone(),
                    database: database.clone(),
                    listen,
                    local_tz: local_tz(),
                    tls,
                })
                .await?;
                // Single-machine mode: a data plane in this process.
                let dp = if no_dataplane {
                    None
                } else {
                    switchyard_controlplane::embedded::start(&cp, &import, &database).await?
                };
                if let Some(listen) = &import.controlplane.http_listen {
                    let token = import
                        .controlplane
                        .http_token_file
                        .as_ref()
                        .map(|f| switchyard_dataplane::http::read_token(&beside(&path, f)))
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("controlplane.http_token_file: {e}"))?;
                    let view = dp.as_ref().map(|d| d.view.clone());
                    let a = cp.serve_http(listen, token, view).await?;
                    println!("controlplane http listening on {a}");
                }
                let _pid = daemon::write_pid_file(&pid_file)?;
                // For scripts and tests that start with --listen 127.0.0.1:0.
                println!("controlplane listening on {}", cp.addr());
                use std::io::Write;
                std::io::stdout().flush()?;
                if let Some(a) = dp.as_ref().and_then(|d| d.sha256_addr()) {
                    println!("dataplane listening for sha256 miners on {a}");
                    std::io::stdout().flush()?;
                }
                if let Some(a) = dp.as_ref().and_then(|d| d.randomx_addr()) {
                    println!("dataplane listening for randomx miners on {a}");
                    std::io::stdout().flush()?;
                }
                if let Some(a) = dp.as_ref().and_then(|d| d.zksnark_addr()) {
                    println!("dataplane listening for zksnark miners on {a}");
                    std::io::stdout().flush()?;
                }
                wait_for_signal(&pid_file).await?;
                tracing::info!("stopping");
                if let Some(dp) = dp {
                    dp.shutdown(std::time::Duration::from_secs(
                        u64::from(import.controlplane.grace_period).min(10),
                    ))
                    .await;
                }
                cp.shutdown().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn abs(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// SIGTERM or SIGINT.
#[cfg(unix)]
async fn wait_for_signal(_pid_file: &Path) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// `controlplane stop`'s stop request, or Ctrl-C / Ctrl-Break in a console.
/// A background start has no console: there the console events never come
/// (or cannot be registered) and only the stop request ends the wait.
#[cfg(windows)]
async fn wait_for_signal(pid_file: &Path) -> anyhow::Result<()> {
    use std::future::pending;
    let console = async {
        let Ok(mut ctrl_break) = tokio::signal::windows::ctrl_break() else {
            return pending().await;
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                if r.is_err() {
                    pending::<()>().await;
                }
            }
            _ = ctrl_break.recv() => {}
        }
    };
    tokio::select! {
        _ = console => {}
        _ = daemon::stop_request(pid_file) => {}
    }
    Ok(())
}

/// The seed's `logging:` section: the level (DEBUG .. CRITICAL), the file
/// rotated by `rotation` keeping `retention` old files, and `format: json`
/// for one JSON object a line (any other format is the plain text lines).
fn init_logging(
    level: &str,
    file: Option<&Path>,
    seed: &switchyard_model::config::Logging,
) -> anyhow::Result<()> {
    use switchyard_dataplane::logfile::{self, LogSpec, Rotation};
    let filter = match level.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        "TRACE" => "trace",
        _ => "info",
    };
    let rotation: Rotation = seed
        .rotation
        .parse()
        .map_err(|e| anyhow::anyhow!("logging.rotation: {e}"))?;
    logfile::init(&LogSpec {
        filter,
        file,
        rotation,
        retention: seed.retention as usize,
        json: seed.format.trim().eq_ignore_ascii_case("json"),
    })
}

/// How `init` describes the admin token file's protection.
#[cfg(unix)]
const SECRET_FILE_ACCESS: &str = "with mode 0600";
#[cfg(not(unix))]
const SECRET_FILE_ACCESS: &str = "with its folder's permissions";

fn init(path: &Path, db: Option<PathBuf>, new_admin_token: bool) -> anyhow::Result<ExitCode> {
    if path.exists() {
        println!("{} exists; left as it is", path.display());
    } else {
        // Readable by its owner only: once edited it holds pool passwords.
        switchyard_controlplane::write_private(path, config::sample())?;
        println!(
            "wrote a sample config to {} (edit the pools, then `controlplane validate {}`)",
            path.display(),
            path.display()
        );
    }
    let import = load(path)?;
    let database = db.unwrap_or_else(|| beside(path, &import.controlplane.database));
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let store = switchyard_controlplane::store::Store::open(&database).await?;
        let token = match switchyard_controlplane::ensure_admin_token(&store).await? {
            Some(t) => Some(t),
            None if new_admin_token => Some(switchyard_controlplane::rotate_admin_token(&store).await?),
            None => None,
        };
        let file = switchyard_controlplane::admin_token_file(&database);
        println!("database: {}", database.display());
        match token {
            Some(t) => {
                println!("admin token (shown once; also in {} {SECRET_FILE_ACCESS}):", file.display());
                println!("{t}");
                println!("use it with: export SWITCHYARD_TOKEN={t}   or   ctl --token-file {}", file.display());
            }
            None => println!(
                "the database already has an admin token (in {} if this machine created it; --new-admin-token replaces it)",
                file.display()
            ),
        }
        store.close().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
