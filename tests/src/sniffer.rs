//! `Sniffer`: a man in the middle on 127.0.0.1 that relays each connection
//! to a target line by line, records every line with its direction, and lets
//! a test wait for a given message in a given direction.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchyard_stratum::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::lines::{LineReader, parse, show, write_line};
use crate::watched::Watched;

/// Which way a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client (miner or proxy) to the target (pool or proxy).
    ToServer,
    /// Target back to the client.
    ToClient,
}

/// One relayed line.
#[derive(Debug, Clone)]
pub struct SniffedLine {
    /// Connection index in accept order, from 0.
    pub conn: usize,
    pub direction: Direction,
    pub line: Vec<u8>,
    /// The line as stratum, when it parses.
    pub message: Option<Message>,
    pub at: Instant,
}

impl SniffedLine {
    pub fn text(&self) -> String {
        show(&self.line)
    }

    /// The method when the line is a request or notification.
    pub fn method(&self) -> Option<&str> {
        match &self.message {
            Some(Message::Request(r)) => Some(&r.method),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct SnifferState {
    lines: Vec<SniffedLine>,
    connections: usize,
    open: usize,
}

struct Shared {
    target: SocketAddr,
    state: Watched<SnifferState>,
    /// Bumped to sever every relayed connection.
    sever: watch::Sender<u64>,
    /// `true` stops the listener.
    stop: watch::Sender<bool>,
}

/// The running sniffer. Dropping it stops it.
pub struct Sniffer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Sniffer {
    /// Listens on 127.0.0.1:0 and relays every connection to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Sniffer> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("sniffer: binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            state: Watched::new(format!("sniffer {addr}"), SnifferState::default()),
            sever: watch::Sender::new(0),
            stop: watch::Sender::new(false),
        });
        tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Sniffer { addr, shared })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Every line so far, in the order the sniffer read them.
    pub fn lines(&self) -> Vec<SniffedLine> {
        self.shared.state.borrow().lines.clone()
    }

    /// Messages that went one way, in order.
    pub fn messages(&self, direction: Direction) -> Vec<Message> {
        self.shared
            .state
            .borrow()
            .lines
            .iter()
            .filter(|l| l.direction == direction)
            .filter_map(|l| l.message.clone())
            .collect()
    }

    /// The number of lines so far: pass it to `wait_for_after` to wait only
    /// for what comes next.
    pub fn mark(&self) -> usize {
        self.shared.state.borrow().lines.len()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.state.borrow().connections
    }

    pub fn open_connections(&self) -> usize {
        self.shared.state.borrow().open
    }

    /// The first message ever sent in `direction` that satisfies `pred`,
    /// waiting for it when there is none yet.
    pub async fn wait_for(
        &self,
        direction: Direction,
        pred: impl FnMut(&Message) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<Message> {
        self.wait_for_after(0, direction, pred, timeout)
            .await
            .map(|(_, m)| m)
    }

    /// Like `wait_for`, looking only at lines from index `from` on; returns
    /// the index of the match too (pass index + 1 to find the next one).
    pub async fn wait_for_after(
        &self,
        from: usize,
        direction: Direction,
        mut pred: impl FnMut(&Message) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<(usize, Message)> {
        let mut found = None;
        let what = format!("a {direction:?} line matching the predicate (from line {from})");
        let result = self
            .shared
            .state
            .wait_until(&what, timeout, |s| {
                found = s.lines.iter().enumerate().skip(from).find_map(|(i, l)| {
                    let m = l.message.as_ref()?;
                    (l.direction == direction && pred(m)).then(|| (i, m.clone()))
                });
                found.is_some()
            })
            .await;
        match (result, found) {
            (Ok(()), Some(hit)) => Ok(hit),
            (Err(e), _) => Err(e.context(self.transcript())),
            (Ok(()), None) => unreachable!("wait_until returned without the condition"),
        }
    }

    /// Waits for a request or notification with `method` in `direction`.
    pub async fn wait_for_method(
        &self,
        direction: Direction,
        method: &str,
        timeout: Duration,
    ) -> anyhow::Result<Message> {
        self.wait_for(
            direction,
            |m| matches!(m, Message::Request(r) if r.method == method),
            timeout,
        )
        .await
    }

    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let what = format!("{n} sniffed connections");
        self.shared
            .state
            .wait_until(&what, timeout, |s| s.connections >= n)
            .await
    }

    /// Closes every relayed connection on both sides; keeps listening.
    pub fn sever_all(&self) {
        self.shared.sever.send_modify(|n| *n += 1);
    }

    /// Stops listening and severs every connection.
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
        self.sever_all();
    }

    /// The recorded lines as text, for failure messages.
    pub fn transcript(&self) -> String {
        let state = self.shared.state.borrow();
        let mut out = String::from("sniffed lines:\n");
        for l in &state.lines {
            let arrow = match l.direction {
                Direction::ToServer => "->",
                Direction::ToClient => "<-",
            };
            out.push_str(&format!("  [{}] {arrow} {}\n", l.conn, l.text()));
        }
        out
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut stop) => break,
        };
        let Ok((client, _)) = accepted else { continue };
        let conn = shared.state.modify(|s| {
            s.open += 1;
            s.connections += 1;
            s.connections - 1
        });
        tokio::spawn(relay(shared.clone(), conn, client));
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Relays one connection until either side closes or the sniffer severs it.
async fn relay(shared: Arc<Shared>, conn: usize, client: TcpStream) {
    let mut sever = shared.sever.subscribe();
    sever.mark_unchanged();
    if let Ok(server) = TcpStream::connect(shared.target).await {
        let (client_r, client_w) = client.into_split();
        let (server_r, server_w) = server.into_split();
        tokio::select! {
            _ = pump(&shared, conn, Direction::ToServer, client_r, server_w) => {}
            _ = pump(&shared, conn, Direction::ToClient, server_r, client_w) => {}
            _ = sever.changed() => {}
        }
    }
    shared.state.modify(|s| s.open -= 1);
}

async fn pump<R, W>(shared: &Shared, conn: usize, direction: Direction, reader: R, mut writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = LineReader::new(reader);
    while let Ok(Some(line)) = reader.next_line().await {
        // Record first: whatever the far side has received is then on record.
        shared.state.modify(|s| {
            s.lines.push(SniffedLine {
                conn,
                direction,
                line: line.clone(),
                message: parse(&line),
                at: Instant::now(),
            });
        });
        if write_line(&mut writer, &line).await.is_err() {
            break;
        }
    }
}
