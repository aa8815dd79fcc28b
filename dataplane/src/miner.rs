//! The one miner session loop, for every algorithm. A miner connection is a
//! task running [`run`] over a [`MinerProtocol`] (`sha256::session`,
//! `randomx::session`, `aleo::session`), which holds only what
//! its dialect needs. This module owns what they all share: the split
//! stream (plain TCP or TLS, [`MinerRead`] / [`MinerWrite`]) and its
//! line reader, the pool-answer inbox, the kill token, the `select!` over
//! answers, lines, route and upstream watches, relayed pool lines and
//! timers (handshake and idle limits, the protocol's own deadlines), the
//! write buffer flushed after every event under the write timeout, the
//! inbox drained on close so no share event is lost, the listener's
//! connection counters ([`Counted`], given back however the task ends), and
//! why it ended ([`SessionEnd`], with whose doing it was).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::inbox::InboxReceiver;
use crate::net::{LineError, LineReader};
use crate::pending::PendingSlot;
use crate::telemetry::miners::MinerHandle;
use crate::upstream::{Inbox, PoolAnswer, UpstreamState};

mod awaiting;
mod ctx;
mod end;
mod forward;
mod stream;
pub use awaiting::Awaiting;
pub(crate) use ctx::worker_name;
pub use ctx::{MAX_USERNAME, check_username};
pub use ctx::{SessionCtx, pool_username};
pub use end::{SessionEnd, Side};
pub(crate) use forward::submission;
pub use forward::{Forwarded, Then};
pub use stream::{MinerRead, MinerWrite, plain, tls};

/// The write side of a miner connection: lines are queued in `out` while an
/// event is handled and written in one go after it.
pub struct MinerIo {
    writer: MinerWrite,
    pub out: Vec<u8>,
    /// The line being handled was a protocol error (see [`MinerIo::protocol_error`]).
    protocol_error: bool,
}

impl MinerIo {
    pub fn new(writer: MinerWrite) -> Self {
        MinerIo {
            writer,
            out: Vec::new(),
            protocol_error: false,
        }
    }

    /// The line being handled is a protocol error (not JSON-RPC, a request
    /// that does not parse, an unknown method the dialect cannot relay):
    /// `limits.max_protocol_errors` of them in a row close the connection.
    /// A refused share is not one (it is a verdict, recorded).
    pub fn protocol_error(&mut self) {
        self.protocol_error = true;
    }

    /// Queues a line (it ends in `\n`).
    pub fn push(&mut self, line: &[u8]) {
        self.out.extend_from_slice(line);
    }

    /// The buffer of what goes to the miner next, to write a line into
    /// directly (room for a typical line reserved when it is empty).
    pub fn out(&mut self) -> &mut Vec<u8> {
        if self.out.capacity() == 0 {
            self.out.reserve(256);
        }
        &mut self.out
    }

    async fn flush(&mut self, ctx: &SessionCtx) -> Result<(), SessionEnd> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        ctx.stats.tx_bytes.fetch_add(out.len() as u64, Relaxed);
        // Nearly always the socket takes it all at once: no timer, no wait.
        let mut written = 0;
        if let MinerWrite::Tcp(w) = &self.writer {
            match w.try_write(&out) {
                Ok(n) => written = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(SessionEnd::Write(e)),
            }
        }
        if written == out.len() {
            return Ok(());
        }
        // The rest (a slow miner, or TLS) waits under the write timeout, in
        // a boxed future: every session's own future stays small.
        let limit = ctx.timing.miner_write;
        Box::pin(async move {
            match tokio::time::timeout(limit, self.writer.write_all(&out[written..])).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SessionEnd::Write(e)),
                Err(_) => Err(SessionEnd::WriteTimeout),
            }
        })
        .await
    }

    async fn finish(&mut self, ctx: &SessionCtx) {
        let _ = self.flush(ctx).await;
        let _ = self.writer.shutdown().await;
    }
}

/// The upstream a session listens to: its state and the lines it relays.
pub type Watches<'a> = (
    &'a mut watch::Receiver<Arc<UpstreamState>>,
    &'a mut broadcast::Receiver<bytes::Bytes>,
);

/// What differs between the miners' dialects; [`run`] does the rest.
pub trait MinerProtocol: Send + Sized {
    /// For logs: "sha256", "randomx", "zksnark".
    const NAME: &'static str;

    fn new(
        ctx: Arc<SessionCtx>,
        miner: MinerHandle,
        io: MinerIo,
        inbox: Inbox,
        kill: CancellationToken,
    ) -> Self;

    fn io(&mut self) -> &mut MinerIo;

    /// One line from the miner, handled without waiting; what is left to
    /// wait for (a forwarded request, a boxed handshake step) is returned.
    fn on_line(&mut self, line: &[u8]) -> Then<'_>;

    /// A forwarded request (`miner_id` is the miner's id for it) never
    /// reached its upstream: refuse it in the dialect ("Not connected to
    /// the pool").
    fn on_unsent(&mut self, miner_id: serde_json::Value);

    /// A line longer than the limit (the connection then closes).
    fn on_line_too_long(&mut self, max: usize);

    /// The route changed (`ctx.router.route` has the new one).
    fn on_route(&mut self) -> impl Future<Output = ()> + Send;

    /// The answer to a request this session forwarded.
    fn on_pool_answer(&mut self, answer: PoolAnswer);

    /// The attached upstream's state changed.
    fn on_upstream_state(&mut self);

    /// A line the upstream relays to its miners unchanged.
    fn on_relay(&mut self, line: &[u8]);

    /// The attached upstream, if any.
    fn watches(&mut self) -> Option<Watches<'_>>;

    /// Past the handshake: the idle limit applies instead of the handshake's.
    fn handshake_done(&self) -> bool;

    /// The protocol's own next deadline (difficulty timers).
    fn next_deadline(&self) -> Option<Instant>;

    /// The miner's duplicate-share cache, purged by time when it goes quiet.
    fn duplicates(&mut self) -> &mut dyn crate::dupcache::Expiring;

    /// The handshake request waiting for a pool, if any.
    fn awaiting(&mut self) -> &mut Awaiting;

    /// Refuses the waiting request `id`: no pool became ready in time. The
    /// connection then closes.
    fn refuse_unavailable(&mut self, id: serde_json::Value);

    /// After every event, before the flush (difficulty changes).
    fn after_event(&mut self) {}

    /// The session decided to end the connection.
    fn closing(&self) -> bool;
}

/// A connection in the listener's stats: counted when accepted, given back
/// when dropped, however its task ends (a failed TLS handshake, a panic or
/// an abort included).
pub struct Counted(Arc<SessionCtx>);

impl Counted {
    pub fn new(ctx: Arc<SessionCtx>) -> Self {
        ctx.telemetry.connections.add((ctx.algorithm, "accepted"));
        ctx.stats.active.fetch_add(1, Relaxed);
        ctx.stats.total.fetch_add(1, Relaxed);
        Counted(ctx)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.stats.active.fetch_sub(1, Relaxed);
        self.0.stats.disconnections.fetch_add(1, Relaxed);
    }
}

/// Runs a miner connection to its end. `slot` is its place among the
/// listener's unfinished handshakes, given up when the handshake is done.
pub async fn run<P: MinerProtocol>(
    ctx: Arc<SessionCtx>,
    read: MinerRead,
    write: MinerWrite,
    peer: SocketAddr,
    shutdown: CancellationToken,
    mut slot: PendingSlot,
) {
    let mut reader = LineReader::new(read, ctx.config.limits.max_line_length)
        .counted(ctx.stats.rx_bytes.clone());
    let (inbox_tx, mut inbox) = crate::inbox::inbox(ctx.config.limits.outbound_queue);
    // The listener's token for this connection (a child of the plane's
    // shutdown) is the session's kill switch too: one token per miner.
    let kill = shutdown;
    let miner = ctx
        .telemetry
        .miners
        .connect(ctx.algorithm, peer, crate::clock::now_ms());
    let conn = miner.id();
    let mut p = P::new(
        ctx.clone(),
        miner,
        MinerIo::new(write),
        inbox_tx,
        kill.clone(),
    );
    let mut followed = ctx.router.route.borrow().generation;
    let mut end = serve(
        &ctx,
        &mut p,
        &mut reader,
        &mut inbox,
        &kill,
        &mut followed,
        &mut slot,
    )
    .await;
    if matches!(end, SessionEnd::Stopped) && slot.was_evicted() {
        end = SessionEnd::Evicted;
    }
    // Leaving on an older route: the switch's fan-out no longer waits for it.
    ctx.telemetry.fanout.followed(ctx.algorithm, followed, true);
    if let Some(split) = &ctx.router.route.borrow().split {
        split.leave(conn);
    }
    let side = end.side();
    ctx.telemetry.disconnects.add((ctx.algorithm, end.cause()));
    tracing::debug!(miner = %peer, reason = %end, ?side, algorithm = P::NAME, "miner disconnected");
    // Answers already queued still complete their shares' events (later
    // ones are recorded by the upstream: the inbox is closed).
    inbox.close();
    while let Some(answer) = inbox.try_recv() {
        p.on_pool_answer(*answer);
    }
    p.io().finish(&ctx).await;
}

async fn serve<P: MinerProtocol>(
    ctx: &SessionCtx,
    p: &mut P,
    reader: &mut LineReader<MinerRead>,
    inbox: &mut InboxReceiver<Box<PoolAnswer>>,
    kill: &CancellationToken,
    followed: &mut u64,
    slot: &mut PendingSlot,
) -> SessionEnd {
    let mut route = ctx.router.route.clone();
    let mut new_route = None;
    let started = Instant::now();
    let mut last_read = Instant::now();
    let max_errors = ctx.config.limits.max_protocol_errors;
    let mut errors = 0u32;
    // One timer for the session's life, moved earlier when a deadline comes
    // sooner and never re-armed for a later one (it fires, finds nothing due
    // and is set again): no timer-wheel work per share.
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(started.into()));
    let mut armed = false;
    loop {
        let idle_limit = if p.handshake_done() {
            last_read + ctx.timing.miner_idle
        } else {
            started + ctx.timing.handshake
        };
        let timer = [
            p.next_deadline(),
            p.awaiting().deadline(),
            p.duplicates().idle_deadline(),
        ]
        .into_iter()
        .flatten()
        .fold(idle_limit, Instant::min);
        let timer = tokio::time::Instant::from_std(timer);
        if !armed || timer < sleep.deadline() {
            sleep.as_mut().reset(timer);
            armed = true;
        }
        let (up_state, up_relay) = match p.watches() {
            Some((s, r)) => (Some(s), Some(r)),
            None => (None, None),
        };
        tokio::select! {
            biased;
            _ = kill.cancelled() => return SessionEnd::Stopped,
            Some(answer) = inbox.recv() => p.on_pool_answer(*answer),
            line = reader.next_line() => {
                last_read = Instant::now();
                match line {
                    Ok(Some(line)) => {
                        // (What the line left borrows the session until
                        // the end of this statement.)
                        let unsent = match p.on_line(&line) {
                            Then::Done => None,
                            Then::Later(step) => {
                                step.await;
                                None
                            }
                            Then::Forwarded(f) => f.finish(&ctx.events).await,
                        };
                        if let Some(id) = unsent {
                            p.on_unsent(id);
                        }
                        if std::mem::take(&mut p.io().protocol_error) {
                            errors += 1;
                            if max_errors > 0 && errors >= max_errors {
                                return SessionEnd::ProtocolErrors(errors);
                            }
                        } else {
                            errors = 0;
                            slot.spoke();
                        }
                    }
                    Ok(None) => return SessionEnd::MinerClosed,
                    Err(LineError::TooLong(max)) => p.on_line_too_long(max),
                    Err(LineError::Io(e)) => return SessionEnd::Read(e),
                }
            }
            Ok(()) = route.changed() => {
                new_route = Some(route.borrow().generation);
                // Boxed: rare (a switch), and it may attach to a pool.
                Box::pin(p.on_route()).await;
            }
            Ok(()) = async { match up_state { Some(rx) => rx.changed().await, None => std::future::pending().await } } => {
                p.on_upstream_state();
            }
            Ok(line) = async { match up_relay { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                p.on_relay(&line);
            }
            () = sleep.as_mut() => {
                armed = false;
                let now = Instant::now();
                if now >= idle_limit {
                    return if p.handshake_done() { SessionEnd::IdleTimeout } else { SessionEnd::HandshakeTimeout };
                }
                if let Some(id) = p.awaiting().expired(now) {
                    p.refuse_unavailable(id);
                }
            }
        }
        if !slot.is_done() && p.handshake_done() {
            slot.done();
        }
        p.after_event();
        p.duplicates().purge_expired(Instant::now());
        if let Err(e) = p.io().flush(ctx).await {
            return e;
        }
        if let Some(g) = new_route.take() {
            *followed = g;
            ctx.telemetry.fanout.followed(ctx.algorithm, g, false);
        }
        if p.closing() {
            return SessionEnd::ClosedByProxy;
        }
    }
}
