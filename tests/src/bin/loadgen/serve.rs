//! `loadgen pool` (a scripted pool with a line-based control port, so other
//! processes can push jobs and read counters) and `loadgen dataplane` (a
//! data plane in-process in front of a pool).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_dataplane::config::PoolMode;
use switchyard_tests::dp;
use switchyard_tests::lines::LineReader;
use switchyard_tests::{PoolConfig, ScriptedPool};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::client::EVERY_HASH_PASSES;
use crate::{parse_secs, wait_for_signal};

#[derive(clap::Args)]
pub struct PoolArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Share difficulty; at or below 2.33e-10 every nonce is a valid share.
    #[arg(long, default_value_t = 1e-10)]
    difficulty: f64,
    /// Extranonce2 size handed to each connection (a data plane in front
    /// needs at least its prefix size plus its miners' extranonce2 size).
    #[arg(long, default_value_t = 8)]
    extranonce2_size: usize,
    /// Push a new (not clean) job this often (seconds); never when absent.
    #[arg(long, value_parser = parse_secs)]
    job_interval: Option<Duration>,
    /// Control port: send `job` (clean), `job dirty`, `stats`, or `current`
    /// (the current job's id and prevhash in hex), one per line.
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
    /// Leave Nagle's algorithm on for the pool's connections (the scripted
    /// pool does not set TCP_NODELAY; by default loadgen sets it for it).
    #[arg(long)]
    nagle: bool,
}

pub async fn pool(a: PoolArgs) -> anyhow::Result<()> {
    let pool = ScriptedPool::start_on(
        a.listen,
        PoolConfig {
            difficulty: a.difficulty,
            extranonce2_size: a.extranonce2_size,
            job_interval: a.job_interval,
            ..PoolConfig::default()
        },
    )
    .await?;
    if !a.nagle {
        nodelay_listener(pool.addr())?;
    }
    let pool = Arc::new(pool);
    let control = TcpListener::bind(a.control).await?;
    println!("pool {}", pool.addr());
    println!("control {}", control.local_addr()?);
    if a.difficulty > EVERY_HASH_PASSES {
        println!(
            "note: difficulty {} is above {EVERY_HASH_PASSES:.3e}: random nonces will be rejected",
            a.difficulty
        );
    }
    std::io::stdout().flush()?;
    let p = pool.clone();
    let serve = async move {
        loop {
            match control.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(control_conn(p.clone(), s));
                }
                Err(e) => eprintln!("control accept: {e}"),
            }
        }
    };
    tokio::select! {
        _ = serve => {}
        _ = wait_for_signal() => {}
    }
    println!("pool: {}", stats_line(&pool));
    Ok(())
}

/// Sets TCP_NODELAY on the scripted pool's listening socket, which the
/// sockets it accepts inherit on Linux. The pool does not set it on its
/// connections, so every answer written while another is unacknowledged
/// waits (Nagle), which skews write-to-answer latency by up to a delayed-ACK
/// timeout. The pool owns the listener, so it is found among this process's
/// descriptors and duplicated with `pidfd_getfd` (no unsafe code).
#[cfg(target_os = "linux")]
fn nodelay_listener(addr: SocketAddr) -> anyhow::Result<()> {
    use rustix::net::sockopt::{set_tcp_nodelay, socket_acceptconn};
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Ok(n) = entry?.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fd) = pidfd_getfd(&pidfd, n, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let listening = socket_acceptconn(&fd).unwrap_or(false);
        let local = rustix::net::getsockname(&fd)
            .ok()
            .and_then(|a| SocketAddr::try_from(a).ok());
        if listening && local == Some(addr) {
            set_tcp_nodelay(&fd, true)?;
            return Ok(());
        }
    }
    anyhow::bail!("the pool's listening socket {addr} was not found; run with --nagle")
}

/// The listener is found through Linux's pidfd_getfd and /proc only.
#[cfg(not(target_os = "linux"))]
fn nodelay_listener(addr: SocketAddr) -> anyhow::Result<()> {
    anyhow::bail!(
        "TCP_NODELAY on the pool's listening socket {addr} needs Linux (pidfd_getfd); run with --nagle"
    )
}

fn stats_line(pool: &ScriptedPool) -> String {
    let s = pool.state();
    format!(
        "stats accepted={} rejected={} connections={} open={}",
        s.accepted,
        s.rejected,
        s.connections.len(),
        s.open_connections()
    )
}

async fn control_conn(pool: Arc<ScriptedPool>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (r, mut w) = stream.into_split();
    let mut r = LineReader::new(r);
    while let Ok(Some(line)) = r.next_line().await {
        let cmd = String::from_utf8_lossy(&line);
        let answer = match cmd.trim() {
            "job" | "job clean" | "job dirty" => {
                let started = Instant::now();
                let id = pool.new_job(cmd.trim() != "job dirty");
                format!("job {id} {}", started.elapsed().as_micros())
            }
            "stats" => stats_line(&pool),
            "current" => {
                let job = pool.current_job();
                format!("current {} {}", job.job_id, hex::encode(job.prevhash))
            }
            other => format!("error unknown command {other:?}"),
        };
        if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
            break;
        }
    }
}

#[derive(clap::Args)]
pub struct CtlArgs {
    /// The pool's control address.
    #[arg(long)]
    control: SocketAddr,
    /// `job`, `job dirty`, `stats` or `current`.
    command: Vec<String>,
}

pub async fn ctl(a: CtlArgs) -> anyhow::Result<()> {
    println!("{}", ask(a.control, &a.command.join(" ")).await?);
    Ok(())
}

/// Sends one command to a `loadgen pool` control port; returns its answer.
pub async fn ask(control: SocketAddr, command: &str) -> anyhow::Result<String> {
    let s = TcpStream::connect(control).await?;
    let (r, mut w) = s.into_split();
    w.write_all(format!("{command}\n").as_bytes()).await?;
    let line = LineReader::new(r)
        .next_line()
        .await?
        .ok_or_else(|| anyhow::anyhow!("control port {control} closed"))?;
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[derive(clap::Args)]
pub struct DataplaneArgs {
    /// The pool to relay to.
    #[arg(long)]
    pool: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long)]
    passthrough: bool,
}

pub async fn dataplane(a: DataplaneArgs) -> anyhow::Result<()> {
    let mode = if a.passthrough {
        PoolMode::Passthrough
    } else {
        PoolMode::Aggregate
    };
    let mut cfg = dp::test_config(vec![dp::pool("bench", a.pool, mode)]);
    if let Some(l) = cfg.listeners.sha256.first_mut() {
        l.bind = a.listen.to_string();
        l.max_connections = 1_000_000;
    }
    let (plane, addr) = dp::start(cfg).await?;
    println!("dataplane {addr}");
    std::io::stdout().flush()?;
    wait_for_signal().await;
    if let Some(s) = plane.pool_stats("bench") {
        println!(
            "dataplane: forwarded={} pool_accepted={} pool_rejected={} local_accepted={} local_rejected={}",
            s.forwarded, s.pool_accepted, s.pool_rejected, s.local_accepted, s.local_rejected
        );
    }
    plane.shutdown(Duration::from_secs(2)).await;
    Ok(())
}
