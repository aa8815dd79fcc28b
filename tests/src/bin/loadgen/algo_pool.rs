//! `loadgen rx-pool` and `loadgen aleo-pool`: the harness's scripted RandomX
//! pool (`RxPool`, xmrig dialect, every claimed `result` checked against the
//! stand-in hash and the target) and ALEO pool (`AleoPool`, either dialect)
//! in their own process, with a line-based control port like `loadgen pool`
//! (`stats`; read it with `loadgen ctl --control ADDR stats`). The harness's
//! pools set TCP_NODELAY on the connections they accept themselves.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use switchyard_stratum::aleo::Dialect;
use switchyard_tests::lines::LineReader;
use switchyard_tests::{AleoPool, AleoPoolConfig, RxPool, RxPoolConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::wait_for_signal;

#[derive(clap::Args)]
pub struct RxPoolArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Share difficulty; at 1 (target ffffffff) every hash meets the target,
    /// so every nonce is a valid share.
    #[arg(long, default_value_t = 1)]
    difficulty: u64,
    /// Control port: `stats`, one command per line.
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
}

#[derive(clap::Args)]
pub struct AleoPoolArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// `aleostratum3` or `iceriver`.
    #[arg(long, default_value = "aleostratum3")]
    dialect: Dialect,
    /// Difficulty sent with `mining.set_target` (AleoStratum3) or in each
    /// notify's target (IceRiver); proofs are not checked, so it does not
    /// matter to which shares are accepted.
    #[arg(long, default_value_t = 1000)]
    difficulty: u64,
    /// Control port: `stats`, one command per line.
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
}

/// Either scripted pool, as the control port sees it.
enum Served {
    Rx(RxPool),
    Aleo(AleoPool),
}

impl Served {
    fn addr(&self) -> SocketAddr {
        match self {
            Served::Rx(p) => p.addr(),
            Served::Aleo(p) => p.addr(),
        }
    }

    /// Counters and the pool's verdicts other than accepted, by kind.
    fn stats(&self) -> String {
        let (accepted, rejected, connections, open, verdicts) = match self {
            Served::Rx(p) => {
                let s = p.state();
                let mut v: BTreeMap<String, usize> = BTreeMap::new();
                for sh in s.shares.iter().filter(|sh| !sh.accepted()) {
                    *v.entry(sh.verdict.message().replace(' ', "_")).or_default() += 1;
                }
                (
                    s.accepted,
                    s.rejected,
                    s.connections.len(),
                    s.open_connections(),
                    v,
                )
            }
            Served::Aleo(p) => {
                let s = p.state();
                let mut v: BTreeMap<String, usize> = BTreeMap::new();
                for sh in s.shares.iter().filter(|sh| !sh.accepted()) {
                    *v.entry(format!("{:?}", sh.verdict).replace(' ', "_"))
                        .or_default() += 1;
                }
                if !s.violations.is_empty() {
                    v.insert("protocol_violations".into(), s.violations.len());
                }
                (
                    s.accepted,
                    s.rejected,
                    s.connections.len(),
                    s.open_connections(),
                    v,
                )
            }
        };
        let mut line = format!(
            "stats accepted={accepted} rejected={rejected} connections={connections} open={open}"
        );
        for (k, n) in verdicts {
            line.push_str(&format!(" {k}={n}"));
        }
        line
    }
}

pub async fn rx_pool(a: RxPoolArgs) -> anyhow::Result<()> {
    let pool = RxPool::start_on(
        a.listen,
        RxPoolConfig {
            difficulty: a.difficulty,
            ..RxPoolConfig::default()
        },
    )
    .await?;
    serve(Served::Rx(pool), a.control).await
}

pub async fn aleo_pool(a: AleoPoolArgs) -> anyhow::Result<()> {
    let pool = AleoPool::start_on(
        a.listen,
        AleoPoolConfig {
            difficulty: a.difficulty,
            ..AleoPoolConfig::new(a.dialect)
        },
    )
    .await?;
    serve(Served::Aleo(pool), a.control).await
}

async fn serve(pool: Served, control: SocketAddr) -> anyhow::Result<()> {
    let pool = Arc::new(pool);
    let control = TcpListener::bind(control).await?;
    println!("pool {}", pool.addr());
    println!("control {}", control.local_addr()?);
    std::io::stdout().flush()?;
    let p = pool.clone();
    let accept = async move {
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
        _ = accept => {}
        _ = wait_for_signal() => {}
    }
    println!("pool: {}", pool.stats());
    Ok(())
}

async fn control_conn(pool: Arc<Served>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (r, mut w) = stream.into_split();
    let mut r = LineReader::new(r);
    while let Ok(Some(line)) = r.next_line().await {
        let cmd = String::from_utf8_lossy(&line);
        let answer = match cmd.trim() {
            "stats" => pool.stats(),
            other => format!("error unknown command {other:?}"),
        };
        if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
            break;
        }
    }
}
