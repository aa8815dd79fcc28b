//! `loadgen silent`: a hostile device on the LAN. Opens N connections that
//! never say a word, spread over K loopback source addresses (127.0.1.1 ..,
//! all of 127.0.0.0/8 reaches the host, so each plays a LAN host), and keeps
//! them open for `--hold` seconds; with `--reconnect` every connection the
//! server closes is opened again at once once all are open (a device that
//! never gives up).
//! Prints how many connected, how many the server closed and how many
//! reconnects it made.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::{Target, parse_secs};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    target: Target,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Source addresses 127.0.1.1 .. 127.0.1.K (at most 250).
    #[arg(long, default_value_t = 40)]
    sources: u8,
    /// Open again each connection the server closes.
    #[arg(long)]
    reconnect: bool,
    /// How long to hold them once all are open (seconds).
    #[arg(long, default_value = "30", value_parser = parse_secs)]
    hold: Duration,
}

async fn open(target: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(from, 0))?;
    s.connect(target).await
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let sources = a.sources.clamp(1, 250);
    let (closed, reconnects, failed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let started = Instant::now();
    let stop = CancellationToken::new();
    // Reopening starts once all are open (else the reopening of the first
    // ones closed would slow the opening of the rest).
    let all_open = CancellationToken::new();
    let mut tasks = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, (i % sources as usize) as u8 + 1));
        let Ok(first) = open(a.target, from).await else {
            failed.fetch_add(1, Relaxed);
            continue;
        };
        let (closed, reconnects, failed) = (closed.clone(), reconnects.clone(), failed.clone());
        let (target, again, stop) = (a.target, a.reconnect, stop.clone());
        let all_open = all_open.clone();
        tasks.push(tokio::spawn(async move {
            all_open.cancelled().await;
            let mut conn = Some(first);
            let mut buf = [0u8; 512];
            while let Some(mut c) = conn.take() {
                // Say nothing; wait for the server to close (or the end).
                let read = async {
                    loop {
                        match c.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                };
                tokio::select! {
                    () = stop.cancelled() => return, // held to the end
                    () = read => {}
                }
                closed.fetch_add(1, Relaxed);
                if again && !stop.is_cancelled() {
                    match open(target, from).await {
                        Ok(c) => {
                            reconnects.fetch_add(1, Relaxed);
                            conn = Some(c);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Relaxed);
                        }
                    }
                }
            }
        }));
    }
    let opened = tasks.len();
    all_open.cancel();
    println!(
        "silent: {opened} of {} connections open from {sources} sources in {:.2} s",
        a.connections,
        started.elapsed().as_secs_f64()
    );
    println!("READY {opened}");
    std::io::stdout().flush()?;
    tokio::time::sleep(a.hold).await;
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "RESULT mode=silent opened={opened} closed_by_server={} reconnects={} failed={}",
        closed.load(Relaxed),
        reconnects.load(Relaxed),
        failed.load(Relaxed)
    );
    Ok(())
}
