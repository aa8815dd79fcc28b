//! The server half of the shared plumbing: bind 127.0.0.1, accept, one task
//! per connection that hands each line to the pool state (under the watch
//! lock) and writes the reply's lines in a single write, lines queued by the
//! handle, the stall / slow-answer faults, timed jobs, and stop.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::state::ScriptedState;
use crate::lines::{DEFAULT_TIMEOUT, LineReader};
use crate::watched::Watched;

/// What the handle (or another connection) asks a connection's task to do.
#[derive(Debug)]
pub enum ConnCmd {
    Line(Vec<u8>),
    Close,
}

/// What to do after a line: lines to write in one write, maybe later, maybe
/// then close.
#[derive(Debug, Default)]
pub struct Reply {
    pub lines: Vec<Vec<u8>>,
    pub delay: Option<Duration>,
    pub close: bool,
}

impl Reply {
    /// Queues an answer; a request with a `null` id is a notification and
    /// gets none.
    pub fn answer(&mut self, id: &Value, answer: Vec<u8>) {
        if !id.is_null() {
            self.lines.push(answer);
        }
    }
}

pub struct Server<S> {
    pub state: Watched<S>,
    pub shutdown: watch::Sender<bool>,
    pub addr: SocketAddr,
}

impl<S: ScriptedState> Server<S> {
    /// Starts accepting on a bound listener.
    pub fn start(listener: TcpListener, state: S) -> anyhow::Result<Arc<Self>> {
        let addr = listener.local_addr()?;
        let server = Arc::new(Server {
            state: Watched::new(format!("pool {addr}"), state),
            shutdown: watch::Sender::new(false),
            addr,
        });
        tokio::spawn(accept_loop(listener, server.clone()));
        Ok(server)
    }

    /// Runs `f` every `period` until the server stops.
    pub fn every(self: &Arc<Self>, period: Duration, f: impl Fn(&Self) + Send + Sync + 'static) {
        let server = self.clone();
        tokio::spawn(async move {
            let mut shutdown = server.shutdown.subscribe();
            let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
            loop {
                tokio::select! {
                    _ = ticks.tick() => f(&server),
                    _ = stopped(&mut shutdown) => break,
                }
            }
        });
    }

    /// Stops listening and closes every connection; returns once the port is
    /// free and every connection is closed.
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.shutdown.send_replace(true);
        self.state
            .wait_until(
                "stop (listener closed, no open connections)",
                DEFAULT_TIMEOUT,
                |s| s.is_idle(),
            )
            .await
    }
}

async fn accept_loop<S: ScriptedState>(listener: TcpListener, server: Arc<Server<S>>) {
    let mut shutdown = server.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut shutdown) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "scripted pool: accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::unbounded_channel();
        let (id, refused) = server.state.modify(|s| s.accept(peer, tx));
        if refused {
            drop(stream);
            continue;
        }
        tokio::spawn(run_connection(server.clone(), id, stream, rx));
    }
    drop(listener);
    server.state.modify(|s| s.on_stop_listening());
}

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn run_connection<S: ScriptedState>(
    server: Arc<Server<S>>,
    id: usize,
    stream: TcpStream,
    mut rx: mpsc::UnboundedReceiver<ConnCmd>,
) {
    let mut shutdown = server.shutdown.subscribe();
    let (reader, mut writer) = stream.into_split();
    let mut reader = LineReader::new(reader);
    let mut delayed: VecDeque<(Instant, Reply)> = VecDeque::new();
    let stalled = || server.state.borrow().stalled();
    loop {
        let next_due = delayed.front().map(|(due, _)| *due);
        let keep_going = tokio::select! {
            line = reader.next_line() => {
                let Ok(Some(line)) = line else { break };
                let reply = server.state.modify(|s| s.on_line(id, &line));
                match reply.delay {
                    Some(delay) => {
                        delayed.push_back((Instant::now() + delay, reply));
                        true
                    }
                    None => write_reply(&mut writer, reply, stalled()).await,
                }
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                let (_, reply) = delayed.pop_front().expect("a delayed reply is due");
                write_reply(&mut writer, reply, stalled()).await
            }
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Line(line)) => {
                    let reply = Reply { lines: vec![line], ..Reply::default() };
                    write_reply(&mut writer, reply, stalled()).await
                }
                Some(ConnCmd::Close) | None => false,
            },
            _ = stopped(&mut shutdown) => false,
        };
        if !keep_going {
            break;
        }
    }
    server.state.modify(|s| s.on_close(id));
}

/// Writes a reply's lines in one write (unless stalled); false when the
/// connection is done.
async fn write_reply(writer: &mut OwnedWriteHalf, reply: Reply, stalled: bool) -> bool {
    if !stalled && !reply.lines.is_empty() {
        let mut buf = Vec::new();
        for line in &reply.lines {
            buf.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                buf.push(b'\n');
            }
        }
        if writer.write_all(&buf).await.is_err() {
            return false;
        }
    }
    !reply.close
}
