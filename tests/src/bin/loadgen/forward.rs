//! `loadgen forward`: the least any relay can do, as a yardstick. Each
//! accepted connection gets its own connection to the target and bytes are
//! copied both ways as they come (no parsing, no aggregation, no ledger).
//! Measured at the same load as the data plane, its added latency is this
//! machine's floor for one more hop through a user-space process
//! (BENCHMARKS.md, issue 15 item 1).

use std::net::SocketAddr;

use clap::Args as ClapArgs;
use tokio::net::{TcpListener, TcpStream};

#[derive(ClapArgs)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where every connection is forwarded (a `loadgen pool`).
    #[arg(long)]
    target: SocketAddr,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(a.listen).await?;
    println!("forward {} -> {}", listener.local_addr()?, a.target);
    loop {
        let (mut inbound, _) = listener.accept().await?;
        let target = a.target;
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}
