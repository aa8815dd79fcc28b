//! One upstream pool connection, owned by one task: connect, handshake
//! (configure -> subscribe -> authorize), the pending-request table with
//! remapped ids and deadlines, the pool's jobs, difficulty, extranonce and
//! version mask, published to sessions as latest state through a watch
//! channel. Reconnects with capped backoff plus jitter until shut down.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_stratum::{Message, Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::config::PoolAddr;
use crate::job::Job;
use crate::net::{LineReader, tune};
use crate::outcome::Verdict;

mod aleo;
mod answers;
mod handle;
mod handshake;
mod pool_messages;
mod rx;

pub use answers::{Inbox, PoolAnswer, ReplyTo};
use answers::{Pending, deliver, expire, not_connected};
pub use handle::{
    PoolInfo, Status, UpstreamCmd, UpstreamEvent, UpstreamHandle, UpstreamParams, UpstreamState,
};

static NEXT_UPSTREAM: AtomicU64 = AtomicU64::new(1);

/// Starts an upstream task and returns its handle.
pub fn spawn(pool: Arc<PoolInfo>, params: UpstreamParams) -> Arc<UpstreamHandle> {
    let id = NEXT_UPSTREAM.fetch_add(1, Ordering::Relaxed);
    let (cmd_tx, cmd_rx) = mpsc::channel(4096);
    let initial = UpstreamState {
        status: Status::Connecting,
        job: None,
        rx_job: None,
        aleo_sub: None,
        aleo_job: None,
        aleo_difficulty: None,
        error: None,
        difficulty: 1.0,
        extranonce2_size: 0,
        version_mask: 0,
    };
    let (state_tx, state_rx) = watch::channel(Arc::new(initial));
    let (relay_tx, _) = tokio::sync::broadcast::channel(64);
    let handle = Arc::new(UpstreamHandle {
        id,
        pool: pool.clone(),
        cmd_tx: cmd_tx.clone(),
        state: state_rx,
        username: params.username.clone(),
        relay: relay_tx.clone(),
        slots: Default::default(),
        attached: AtomicUsize::new(0),
        capacity: params.capacity,
    });
    let task = Task {
        id,
        pool,
        params,
        cmd_tx,
        cmd_rx,
        state_tx,
        relay_tx,
    };
    tokio::spawn(task.run());
    handle
}

struct Task {
    id: u64,
    pool: Arc<PoolInfo>,
    params: UpstreamParams,
    cmd_tx: mpsc::Sender<UpstreamCmd>,
    cmd_rx: mpsc::Receiver<UpstreamCmd>,
    state_tx: watch::Sender<Arc<UpstreamState>>,
    relay_tx: tokio::sync::broadcast::Sender<bytes::Bytes>,
}

/// How a served connection ended.
enum End {
    Shutdown,
    Lost(String),
    Redirect { addr: PoolAddr, wait: Duration },
}

/// The two halves of a pool connection, plain TCP or TLS.
type PoolRead = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type PoolWrite = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// A live, handshaken connection.
struct Conn {
    reader: LineReader<PoolRead>,
    writer: PoolWrite,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    difficulty: f64,
    version_mask: u32,
    /// The pool's session id (RandomX login result).
    login_id: String,
    /// Whether requests carry `"jsonrpc":"2.0"` (RandomX, AleoStratum3).
    jsonrpc: bool,
    /// What an ALEO connection knows of its pool.
    aleo: aleo::AleoConn,
}

impl Conn {
    /// Gives a request the connection's next id, records it as pending and
    /// appends its line to `out`.
    fn enqueue(
        &mut self,
        method: &str,
        params: Params,
        reply: ReplyTo,
        is_submit: bool,
        deadline: Instant,
        out: &mut Vec<u8>,
    ) {
        let id = self.next_id;
        self.next_id += 1;
        let sent_at = Instant::now();
        self.pending.insert(
            id,
            Pending {
                reply: Some(reply),
                is_submit,
                sent_at,
                deadline,
            },
        );
        match params {
            Params::Parsed(params) => {
                let mut req = Request::new(id, method, params);
                req.jsonrpc = self.jsonrpc;
                out.extend(req.to_line());
            }
            Params::Verbatim(params) => {
                out.extend(switchyard_stratum::raw::request_line(
                    &id.into(),
                    self.jsonrpc,
                    method,
                    &params,
                ));
            }
        }
    }
}

/// A request's params: parsed, or (an ALEO share) each as the miner wrote it.
enum Params {
    Parsed(Value),
    Verbatim(Vec<switchyard_stratum::RawJson>),
}

impl Task {
    async fn run(mut self) {
        self.run_until_shutdown().await;
        // Refuse new requests, then answer whatever is still queued: no
        // request is ever dropped without an answer.
        self.cmd_rx.close();
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            if let UpstreamCmd::Submit { reply, .. }
            | UpstreamCmd::SubmitRx { reply, .. }
            | UpstreamCmd::SubmitAleo { reply, .. }
            | UpstreamCmd::Relay { reply, .. } = cmd
            {
                not_connected(&self.params.share_events, reply, Duration::ZERO);
            }
        }
        self.publish(|s| s.status = Status::Down);
    }

    async fn run_until_shutdown(&mut self) {
        let timing = self.params.timing.clone();
        let mut backoff = Backoff::new(timing.backoff_min, timing.backoff_max);
        let mut addr = self.pool.addr.clone();
        loop {
            self.publish(|s| {
                s.status = Status::Connecting;
                s.job = None;
                s.rx_job = None;
                s.aleo_sub = None;
                s.aleo_job = None;
                s.aleo_difficulty = None;
                s.error = None;
            });
            self.pool.stats.connect_attempt();
            match self.connect(&addr).await {
                Ok(conn) => {
                    backoff.reset();
                    // Ready state first, then the event: whoever hears the
                    // event must find the connection ready.
                    self.publish(|s| {
                        s.status = Status::Ready;
                        s.difficulty = conn.difficulty;
                        s.extranonce2_size = conn.extranonce2_size;
                        s.version_mask = conn.version_mask;
                    });
                    self.pool.stats.connected();
                    tracing::info!(pool = %self.pool.name, host = %addr.host, port = addr.port, "upstream ready");
                    self.event(UpstreamEvent::Ready {
                        upstream: self.id,
                        pool: self.pool.index,
                    })
                    .await;
                    let end = self.serve(conn).await;
                    self.publish(|s| s.status = Status::Down);
                    match end {
                        End::Shutdown => return,
                        End::Lost(error) => {
                            tracing::warn!(pool = %self.pool.name, %error, "upstream lost");
                            self.publish(|s| s.error = Some(error.as_str().into()));
                            self.event(UpstreamEvent::Down {
                                upstream: self.id,
                                pool: self.pool.index,
                                error,
                            })
                            .await;
                        }
                        End::Redirect { addr: to, wait } => {
                            tracing::info!(pool = %self.pool.name, host = %to.host, port = to.port, "pool asked to reconnect");
                            addr = to;
                            if self.wait(wait).await {
                                return;
                            }
                            continue;
                        }
                    }
                }
                Err(error) => {
                    self.pool.stats.connect_failed();
                    self.publish(|s| {
                        s.status = Status::Down;
                        s.error = Some(error.as_str().into());
                    });
                    tracing::warn!(pool = %self.pool.name, %error, "upstream connect failed");
                    self.event(UpstreamEvent::Failed {
                        upstream: self.id,
                        pool: self.pool.index,
                        error,
                    })
                    .await;
                }
            }
            if self.wait(backoff.next_delay()).await {
                return;
            }
        }
    }

    async fn event(&self, e: UpstreamEvent) {
        if let Some(tx) = &self.params.events {
            let _ = tx.send(e).await;
        }
    }

    fn publish(&self, f: impl FnOnce(&mut UpstreamState)) {
        self.state_tx.send_modify(|s| f(Arc::make_mut(s)));
    }

    /// Waits out a backoff while answering commands; true on shutdown.
    async fn wait(&mut self, delay: Duration) -> bool {
        let until = tokio::time::sleep(delay);
        tokio::pin!(until);
        loop {
            tokio::select! {
                _ = &mut until => return false,
                cmd = self.cmd_rx.recv() => match cmd {
                    None | Some(UpstreamCmd::Shutdown { .. }) => return true,
                    Some(UpstreamCmd::Submit { reply, .. }
            | UpstreamCmd::SubmitRx { reply, .. }
            | UpstreamCmd::SubmitAleo { reply, .. }
            | UpstreamCmd::Relay { reply, .. }) => {
                        not_connected(&self.params.share_events, reply, Duration::ZERO);
                    }
                },
            }
        }
    }

    async fn serve(&mut self, mut conn: Conn) -> End {
        conn.next_id = 10;
        let t = self.params.timing.clone();
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        let is_rx = self.is_rx();
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + rx::KEEPALIVE, rx::KEEPALIVE);
        let mut last_heard = Instant::now();
        // After a shutdown request: keep serving until `closing_at` (shares for
        // this pool's jobs during the grace period), then stop taking requests
        // and wait for pending answers up to the request timeout.
        let mut closing_at: Option<Instant> = None;
        let end = loop {
            if let Some(at) = closing_at {
                let now = Instant::now();
                if now >= at && (conn.pending.is_empty() || now >= at + t.request) {
                    break End::Shutdown;
                }
            }
            tokio::select! {
                line = conn.reader.next_line() => {
                    last_heard = Instant::now();
                    match line {
                        Ok(Some(line)) => match Message::parse(&line) {
                            Ok(Message::Response(r)) => self.on_response(&mut conn, r),
                            Ok(Message::Request(req)) => {
                                let end = if is_rx {
                                    self.on_rx_request(&mut conn, req).await
                                } else if self.is_aleo() {
                                    self.on_aleo_request(&mut conn, req).await
                                } else {
                                    self.on_pool_request(&mut conn, req).await
                                };
                                if let Some(end) = end {
                                    break end;
                                }
                            }
                            Err(e) => tracing::warn!(pool = %self.pool.name, error = %e, "ignoring invalid line from pool"),
                        },
                        Ok(None) => break End::Lost("pool closed the connection".into()),
                        Err(e) => break End::Lost(format!("read: {e}")),
                    }
                }
                cmd = self.cmd_rx.recv(), if closing_at.is_none_or(|at| Instant::now() < at) => match cmd {
                    None => break End::Shutdown,
                    Some(cmd) => match self.send_batch(&mut conn, cmd, t.request).await {
                        Ok(Some(drain)) => {
                            let at = Instant::now() + drain;
                            closing_at = Some(closing_at.map_or(at, |c| c.min(at)));
                        }
                        Ok(None) => {}
                        Err(e) => break End::Lost(e),
                    },
                },
                _ = keepalive.tick(), if is_rx => {
                    if let Err(e) = self.rx_keepalive(&mut conn).await {
                        break End::Lost(e);
                    }
                }
                _ = sweep.tick() => {
                    let now = Instant::now();
                    expire(&mut conn.pending, now, &self.pool, &self.params.share_events);
                    if now.duration_since(last_heard) > t.upstream_idle {
                        break End::Lost(format!("no message from the pool for {:?}", t.upstream_idle));
                    }
                }
            }
        };
        for (_, p) in conn.pending.drain() {
            if let Some(reply) = p.reply {
                if p.is_submit {
                    self.pool.stats.pool_verdict(false, "not connected");
                }
                not_connected(&self.params.share_events, reply, p.sent_at.elapsed());
            }
        }
        end
    }

    /// Writes `first` and whatever else is queued right now in one write,
    /// each with its own id in the pending table. Returns the drain time of
    /// a shutdown request met on the way (it ends the batch).
    async fn send_batch(
        &mut self,
        conn: &mut Conn,
        first: UpstreamCmd,
        timeout: Duration,
    ) -> Result<Option<Duration>, String> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut shutdown = None;
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                UpstreamCmd::Submit { submit, reply } => {
                    conn.enqueue(
                        "mining.submit",
                        Params::Parsed(submit.to_params()),
                        reply,
                        true,
                        now + timeout,
                        &mut out,
                    );
                }
                UpstreamCmd::SubmitRx { submit, reply } => {
                    let params = rx::submit_params(&submit, &conn.login_id);
                    let params = Params::Parsed(params);
                    conn.enqueue("submit", params, reply, true, now + timeout, &mut out);
                }
                UpstreamCmd::SubmitAleo { submit, reply } => {
                    let params = Params::Verbatim(aleo::submit_params(submit, &conn.aleo.worker));
                    conn.enqueue(
                        "mining.submit",
                        params,
                        reply,
                        true,
                        now + timeout,
                        &mut out,
                    );
                }
                UpstreamCmd::Relay {
                    method,
                    params,
                    reply,
                } => {
                    let params = Params::Parsed(params);
                    conn.enqueue(&method, params, reply, false, now + timeout, &mut out);
                }
                UpstreamCmd::Shutdown { drain } => {
                    shutdown = Some(drain);
                    break;
                }
            }
            if out.len() < 16 * 1024 {
                next = self.cmd_rx.try_recv().ok();
            }
        }
        if !out.is_empty() {
            conn.writer
                .write_all(&out)
                .await
                .map_err(|e| format!("write: {e}"))?;
        }
        Ok(shutdown)
    }

    fn on_response(&self, conn: &mut Conn, r: Response) {
        let Some(id) = r.id.as_u64() else {
            tracing::debug!(pool = %self.pool.name, id = %r.id, "answer with an id we never sent");
            return;
        };
        let Some(p) = conn.pending.remove(&id) else {
            tracing::debug!(pool = %self.pool.name, id, "answer to no pending request (late or unknown)");
            return;
        };
        let latency = p.sent_at.elapsed();
        // The one reading of the answer: pool counters, the share's event
        // and the session all take this verdict.
        let verdict = if self.is_rx() {
            let refusal = switchyard_stratum::randomx::submit_result(&r).err();
            Verdict::from_refusal(refusal.map(|e| (Some(e.code), e.message)))
        } else {
            Verdict::of_response(&r)
        };
        if p.is_submit {
            self.pool
                .stats
                .pool_verdict(verdict.is_accepted(), verdict.reason());
        }
        if let Some(reply) = p.reply {
            let events = &self.params.share_events;
            deliver(events, reply, r, verdict, latency, p.is_submit);
        }
    }
}

impl Task {
    /// Whether the pool speaks RandomX's dialect.
    fn is_rx(&self) -> bool {
        self.pool.config.algorithm == crate::config::Algorithm::Randomx
    }
}

fn conn_has_job(state: &watch::Sender<Arc<UpstreamState>>) -> bool {
    state.borrow().job.is_some()
}

fn granted_mask(r: &Response, asked: u32) -> u32 {
    if !r.is_ok() || r.result.get("version-rolling").and_then(Value::as_bool) != Some(true) {
        return 0;
    }
    r.result
        .get("version-rolling.mask")
        .and_then(Value::as_str)
        .and_then(|s| switchyard_stratum::hexutil::parse_hex_u32(s).ok())
        .map_or(0, |m| m & asked)
}
