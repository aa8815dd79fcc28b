//! `loadgen idle`: opens N miner connections (subscribe, authorize, first
//! job; for RandomX a login with its job), then holds them, reading and
//! discarding whatever the server sends, so the server's memory per idle
//! miner can be measured from outside, for every algorithm.

use std::io::Write as _;
use std::time::Duration;

use anyhow::bail;

use switchyard_stratum::aleo::Dialect as AleoDialect;
use switchyard_tests::lines::LineReader;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::algo_shares::{connect_aleo, connect_rx};
use crate::engine::Connected;
use crate::{Target, client, parse_secs, wait_for_signal};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    target: Target,
    #[arg(long, default_value_t = 10_000)]
    miners: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Stop connecting after this many failures (for example at the open-file limit).
    #[arg(long, default_value_t = 20)]
    max_failures: usize,
    /// The miners' dialect: sha256 (Stratum V1), randomx (xmrig's login),
    /// aleo (IceRiver's ALEO stratum).
    #[arg(long, default_value = "sha256", value_parser = ["sha256", "randomx", "aleo"])]
    algorithm: String,
    /// ALEO only: `aleostratum3` or `iceriver` (what the data plane's pool speaks).
    #[arg(long, default_value = "iceriver")]
    dialect: AleoDialect,
    /// Hold this long (seconds) then exit; 0 = until SIGINT/SIGTERM.
    #[arg(long, default_value = "0", value_parser = parse_secs)]
    hold: Duration,
}

/// The connections held, whatever their dialect.
type Halves = Vec<(LineReader<OwnedReadHalf>, OwnedWriteHalf)>;

/// How the connecting went.
struct Got {
    conns: Halves,
    failures: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

impl<W> From<Connected<W>> for Got {
    fn from(c: Connected<W>) -> Got {
        Got {
            conns: c.conns.into_iter().map(|c| (c.reader, c.writer)).collect(),
            failures: c.failures,
            first_error: c.first_error,
            elapsed: c.elapsed,
        }
    }
}

/// Connects the miners in `a.algorithm`.
async fn connect(a: &Args) -> Got {
    match a.algorithm.as_str() {
        "randomx" => connect_rx(a.target, a.miners, a.concurrency, "idle")
            .await
            .into(),
        "aleo" => connect_aleo(a.target, a.miners, a.concurrency, a.dialect, "idle")
            .await
            .into(),
        _ => {
            let got =
                client::connect_many(a.target, a.miners, a.concurrency, "idle", a.max_failures)
                    .await;
            Got {
                conns: got
                    .conns
                    .into_iter()
                    .map(|c| (c.reader, c.writer))
                    .collect(),
                failures: got.failures,
                first_error: got.first_error,
                elapsed: got.elapsed,
            }
        }
    }
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let got = connect(&a).await;
    let n = got.conns.len();
    println!(
        "idle: {n} of {} miners connected to {} in {:.2} s ({} failed{})",
        a.miners,
        a.target,
        got.elapsed.as_secs_f64(),
        got.failures,
        got.first_error
            .as_ref()
            .map(|e| format!(", first error: {e}"))
            .unwrap_or_default()
    );
    if n == 0 {
        bail!("no miner connected");
    }
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for (mut reader, writer) in got.conns {
        let closed = closed_tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(_)) = reader.next_line().await {}
            let _ = closed.send(());
            drop(writer);
        });
    }
    drop(closed_tx);
    println!(
        "RESULT mode=idle requested={} connected={n} failed={} connect_s={:.2}",
        a.miners,
        got.failures,
        got.elapsed.as_secs_f64()
    );
    println!("READY {n}");
    std::io::stdout().flush()?;
    let mut lost = 0usize;
    let hold = async {
        if a.hold.is_zero() {
            wait_for_signal().await
        } else {
            tokio::select! {
                _ = tokio::time::sleep(a.hold) => {}
                _ = wait_for_signal() => {}
            }
        }
    };
    tokio::pin!(hold);
    loop {
        tokio::select! {
            _ = &mut hold => break,
            c = closed_rx.recv() => match c {
                Some(()) => lost += 1,
                None => break,
            },
        }
    }
    println!("idle: done; {lost} connections were closed by the server while held");
    Ok(())
}
