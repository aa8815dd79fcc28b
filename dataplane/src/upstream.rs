//! One upstream pool connection, owned by one task: connect, handshake
//! (configure -> subscribe -> authorize), the pending-request table with
//! remapped ids and deadlines, the pool's jobs, difficulty, extranonce and
//! version mask, published to sessions as latest state through a watch
//! channel. Reconnects with capped backoff plus jitter until shut down.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchyard_stratum::{Message, Response};
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::config::{Algorithm, PoolAddr};
use crate::fasthash::FastMap;

mod answers;
pub(crate) mod client;
mod connect;
mod handle;
pub(crate) mod protocol;

pub use answers::{Inbox, PoolAnswer, ReplyTo};
use answers::{Pending, deliver, expire, not_connected};
pub use handle::{
    PoolInfo, PoolShare, Status, UpstreamCmd, UpstreamEvent, UpstreamHandle, UpstreamParams,
    UpstreamState,
};
pub use protocol::Lost;
use protocol::{End, Link, Params, PoolIo, PoolProtocol};

static NEXT_UPSTREAM: AtomicU64 = AtomicU64::new(1);

/// Starts an upstream task in the pool's dialect and returns its handle.
pub fn spawn(pool: Arc<PoolInfo>, params: UpstreamParams) -> Arc<UpstreamHandle> {
    let id = NEXT_UPSTREAM.fetch_add(1, Ordering::Relaxed);
    let (cmd_tx, cmd_rx) = mpsc::channel(4096);
    let (state_tx, state_rx) = watch::channel(Arc::new(UpstreamState::new()));
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
    let link = Link {
        id,
        pool,
        params,
        cmd_tx,
        state_tx,
        relay_tx,
    };
    match link.pool.config.algorithm {
        Algorithm::Sha256 => Task::<crate::sha256::pool::Sha256Pool>::start(link, cmd_rx),
        Algorithm::Randomx => Task::<crate::randomx::pool::RxPool>::start(link, cmd_rx),
        Algorithm::Zksnark => Task::<crate::aleo::pool::AleoPool>::start(link, cmd_rx),
    }
    handle
}

/// The one upstream task, generic over the pool's dialect.
struct Task<P> {
    link: Link,
    cmd_rx: mpsc::Receiver<UpstreamCmd>,
    dialect: PhantomData<fn() -> P>,
}

/// A live, handshaken connection.
struct Conn<P> {
    io: PoolIo,
    pending: FastMap<u64, Pending>,
    proto: P,
}

impl<P> Conn<P> {
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
        let id = self.io.next_id;
        self.io.next_id += 1;
        self.pending.insert(
            id,
            Pending {
                reply: Some(reply),
                is_submit,
                sent_at: Instant::now(),
                deadline,
            },
        );
        self.io.write_request(out, id, method, params);
    }
}

impl<P: PoolProtocol> Task<P> {
    fn start(link: Link, cmd_rx: mpsc::Receiver<UpstreamCmd>) {
        let task = Task::<P> {
            link,
            cmd_rx,
            dialect: PhantomData,
        };
        tokio::spawn(task.run());
    }

    async fn run(mut self) {
        self.run_until_shutdown().await;
        // Refuse new requests, then answer whatever is still queued: no
        // request is ever dropped without an answer.
        self.cmd_rx.close();
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            self.refuse(cmd);
        }
        self.link.publish(|s| s.status = Status::Down);
    }

    /// Answers a request that cannot go anywhere: not connected.
    fn refuse(&self, cmd: UpstreamCmd) {
        if let UpstreamCmd::Submit { reply, .. } | UpstreamCmd::Relay { reply, .. } = cmd {
            not_connected(&self.link.params.share_events, reply, Duration::ZERO);
        }
    }

    async fn run_until_shutdown(&mut self) {
        let timing = self.link.params.timing.clone();
        let mut backoff = Backoff::new(timing.backoff_min, timing.backoff_max);
        let pool = self.link.pool.clone();
        let (upstream, index) = (self.link.id, pool.index);
        let mut addr = pool.addr.clone();
        loop {
            self.link.publish(|s| {
                s.status = Status::Connecting;
                s.clear_work();
                s.error = None;
            });
            match self.connect(&addr).await {
                Ok(conn) => {
                    backoff.reset();
                    // Ready state first, then the event: whoever hears the
                    // event must find the connection ready.
                    self.link.publish(|s| s.status = Status::Ready);
                    pool.stats.connect_result("ok");
                    tracing::info!(pool = %pool.name, host = %addr.host, port = addr.port, "upstream ready");
                    self.event(UpstreamEvent::Ready {
                        upstream,
                        pool: index,
                    })
                    .await;
                    let end = self.serve(conn).await;
                    self.link.publish(|s| s.status = Status::Down);
                    match end {
                        End::Shutdown => return,
                        End::Lost(lost) => {
                            pool.stats.set_up(false);
                            tracing::warn!(pool = %pool.name, error = %lost, fault = lost.side(), "upstream lost");
                            let error = lost.to_string();
                            self.link.publish(|s| s.error = Some(error.as_str().into()));
                            self.event(UpstreamEvent::Down {
                                upstream,
                                pool: index,
                                error,
                            })
                            .await;
                        }
                        End::Redirect { addr: to, wait } => {
                            tracing::info!(pool = %pool.name, host = %to.host, port = to.port, "pool asked to reconnect");
                            addr = to;
                            if self.wait(wait).await {
                                return;
                            }
                            continue;
                        }
                    }
                }
                Err(lost) => {
                    pool.stats.connect_result(lost.connect_result());
                    let error = lost.to_string();
                    self.link.publish(|s| {
                        s.status = Status::Down;
                        s.error = Some(error.as_str().into());
                    });
                    tracing::warn!(pool = %pool.name, %error, fault = lost.side(), "upstream connect failed");
                    self.event(UpstreamEvent::Failed {
                        upstream,
                        pool: index,
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

    /// Connects and runs the dialect's handshake.
    async fn connect(&mut self, addr: &PoolAddr) -> Result<Conn<P>, Lost> {
        let mut io = connect::open(&self.link, addr).await?;
        let mut proto = P::new(&self.link);
        proto.handshake(&self.link, &mut io).await?;
        Ok(Conn {
            io,
            pending: FastMap::default(),
            proto,
        })
    }

    async fn event(&self, e: UpstreamEvent) {
        if let Some(tx) = &self.link.params.events {
            let _ = tx.send(e).await;
        }
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
                    Some(cmd) => self.refuse(cmd),
                },
            }
        }
    }

    async fn serve(&mut self, mut conn: Conn<P>) -> End {
        conn.io.next_id = 10;
        let t = self.link.params.timing.clone();
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        // Dialects without a keepalive never tick (the branch is off).
        let period = P::KEEPALIVE.unwrap_or(Duration::from_secs(3600));
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
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
                line = conn.io.reader.next_line() => {
                    last_heard = Instant::now();
                    match line {
                        Ok(Some(line)) => match Message::parse(&line) {
                            Ok(Message::Response(r)) => self.on_response(&mut conn, r),
                            Ok(Message::Request(req)) => {
                                if let Some(end) = conn.proto.on_request(&self.link, &mut conn.io, req).await {
                                    break end;
                                }
                            }
                            Err(e) => tracing::warn!(pool = %self.link.pool.name, error = %e, "ignoring invalid line from pool"),
                        },
                        Ok(None) => break End::Lost(Lost::Pool("pool closed the connection".into())),
                        Err(e) => break End::Lost(Lost::Network(format!("read: {e}"))),
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
                _ = keepalive.tick(), if P::KEEPALIVE.is_some() => {
                    let id = conn.io.next_id;
                    conn.io.next_id += 1;
                    if let Some(req) = conn.proto.keepalive(id)
                        && let Err(e) = conn.io.write(&req.to_line()).await
                    {
                        break End::Lost(e);
                    }
                }
                _ = sweep.tick() => {
                    let now = Instant::now();
                    expire(&mut conn.pending, now, &self.link.pool, &self.link.params.share_events);
                    if now.duration_since(last_heard) > t.upstream_idle {
                        break End::Lost(Lost::Pool(format!("no message from the pool for {:?}", t.upstream_idle)));
                    }
                }
            }
        };
        for (_, p) in conn.pending.drain() {
            if let Some(reply) = p.reply {
                if p.is_submit {
                    self.link.pool.stats.pool_verdict(false, "not connected");
                }
                not_connected(&self.link.params.share_events, reply, p.sent_at.elapsed());
            }
        }
        end
    }

    /// Writes `first` and whatever else is queued right now in one write,
    /// each with its own id in the pending table. Returns the drain time of
    /// a shutdown request met on the way (it ends the batch).
    async fn send_batch(
        &mut self,
        conn: &mut Conn<P>,
        first: UpstreamCmd,
        timeout: Duration,
    ) -> Result<Option<Duration>, Lost> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(512);
        let mut shutdown = None;
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                UpstreamCmd::Submit { share, reply } => match conn.proto.submit(share) {
                    Ok((method, params)) => {
                        conn.enqueue(method, params, reply, true, deadline, &mut out);
                    }
                    Err(lost) => {
                        tracing::error!(pool = %self.link.pool.name, error = %lost, "share not sent");
                        not_connected(&self.link.params.share_events, reply, Duration::ZERO);
                    }
                },
                UpstreamCmd::Relay {
                    method,
                    params,
                    reply,
                } => {
                    let params = Params::Parsed(params);
                    conn.enqueue(&method, params, reply, false, deadline, &mut out);
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
            conn.io.write(&out).await?;
        }
        Ok(shutdown)
    }

    fn on_response(&self, conn: &mut Conn<P>, r: Response) {
        let pool = &self.link.pool;
        let Some(id) = r.id.as_u64() else {
            tracing::debug!(pool = %pool.name, id = %r.id, "answer with an id we never sent");
            return;
        };
        let Some(p) = conn.pending.remove(&id) else {
            tracing::debug!(pool = %pool.name, id, "answer to no pending request (late or unknown)");
            return;
        };
        let latency = p.sent_at.elapsed();
        // The one reading of the answer: pool counters, the share's event
        // and the session all take this verdict.
        let verdict = P::verdict(&r);
        if p.is_submit {
            pool.stats
                .pool_verdict(verdict.is_accepted(), verdict.reason());
        }
        if let Some(reply) = p.reply {
            let events = &self.link.params.share_events;
            deliver(events, reply, r, verdict, latency, p.is_submit);
        }
    }
}
