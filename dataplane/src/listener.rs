//! The accept loop of one stratum port (one per algorithm; the context's
//! algorithm picks the session type): applies the connection cap (closing
//! the oldest unfinished handshake to make room, see [`crate::pending`]),
//! the per-IP limits and bans and the per-address cap on unfinished
//! handshakes, tunes the socket, spawns a session task. Nothing slow
//! happens here: handshakes belong to the sessions.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::aleo::session::AleoSession;
use crate::config::Algorithm;
use crate::limits::IpLimiter;
use crate::miner::SessionCtx;
use crate::miner::{self, MinerRead, MinerWrite};
use crate::miner_tls::MinerTls;
use crate::net::{Keepalive, tune};
use crate::pending::{Pending, PendingSlot};
use crate::randomx::session::RxSession;
use crate::sha256::session::Session;

pub struct Listener {
    pub listener: TcpListener,
    pub max_connections: usize,
    /// Per-IP limits, shared by every listener of the plane: a miner's
    /// allowance is per algorithm, not per port.
    pub limiter: Arc<Mutex<IpLimiter>>,
    pub ctx: Arc<SessionCtx>,
    pub keepalive: Option<Keepalive>,
    /// TLS from miners: every connection must handshake first.
    pub tls: Option<MinerTls>,
}

/// Gives an IP's slot back to the accept loop when a session ends.
struct IpSlot {
    ip: IpAddr,
    release: mpsc::UnboundedSender<IpAddr>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let _ = self.release.send(self.ip);
    }
}

impl Listener {
    pub async fn run(mut self, shutdown: CancellationToken, tracker: TaskTracker) {
        let pending = Pending::new(
            self.max_connections,
            self.ctx.config.limits.max_pending_per_ip,
        );
        let (release_tx, mut release_rx) = mpsc::unbounded_channel();
        let mut sweep = tokio::time::interval(Duration::from_secs(30));
        let loud = crate::events::Loud::default();
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(ip) = release_rx.recv() => {
                    self.limits().release(ip);
                    continue;
                }
                _ = sweep.tick() => {
                    self.limits().sweep(Instant::now());
                    continue;
                }
                a = self.listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            while let Ok(ip) = release_rx.try_recv() {
                self.limits().release(ip);
            }
            let token = shutdown.child_token();
            let slot = match self.admit(peer, &pending, &token) {
                Ok(slot) => slot,
                Err((result, reason)) => {
                    self.ctx
                        .telemetry
                        .connections
                        .add((self.ctx.algorithm, result));
                    let refused = self.ctx.stats.refused.fetch_add(1, Relaxed) + 1;
                    tracing::debug!(miner = %peer, %reason, "connection refused");
                    if loud.allow() {
                        // At most one line per interval: a flood must not flood the log.
                        tracing::warn!(
                            algorithm = %self.ctx.algorithm,
                            miner = %peer,
                            %reason,
                            refused_total = refused,
                            "miner connections refused (limits.allow exempts networks from the per-IP limits)"
                        );
                    }
                    drop(stream);
                    continue;
                }
            };
            tune(&stream, self.keepalive);
            let ip_slot = IpSlot {
                ip: peer.ip(),
                release: release_tx.clone(),
            };
            let conn = Connection {
                ctx: self.ctx.clone(),
                stream,
                tls: self.tls.clone(),
                peer,
                token,
                slot,
                counted: miner::Counted::new(self.ctx.clone()),
                ip_slot,
            };
            // One task type per algorithm: a task's allocation is the size
            // of its future, which would otherwise be the largest of the
            // three sessions for every miner.
            match self.ctx.algorithm {
                Algorithm::Randomx => tracker.spawn(conn.run::<RxSession>()),
                Algorithm::Zksnark => tracker.spawn(conn.run::<AleoSession>()),
                Algorithm::Sha256 => tracker.spawn(conn.run::<Session>()),
            };
        }
    }

    /// Admits a connection (its slot, among the unfinished handshakes), or
    /// says why not: the `result` label (`over_limit`, `banned`,
    /// `pending_limit`, ...) and the text for the log. A full listener
    /// closes its oldest unfinished handshake (counted in `evicted`) rather
    /// than refuse.
    fn admit(
        &mut self,
        peer: SocketAddr,
        pending: &Arc<Pending>,
        token: &CancellationToken,
    ) -> Result<PendingSlot, (&'static str, String)> {
        let ip = peer.ip();
        self.limits()
            .admit(ip, Instant::now())
            .map_err(|r| (r.label(), r.to_string()))?;
        match pending.admit(ip, token.clone()) {
            Ok(a) => {
                if let Some(old) = a.evicted {
                    let n = self.ctx.stats.evicted.fetch_add(1, Relaxed) + 1;
                    tracing::debug!(miner = %peer, evicted = %old, evicted_total = n,
                        "listener full: closed the oldest connection that had not finished its handshake");
                }
                Ok(a.slot)
            }
            Err(r) => {
                self.limits().release(ip);
                Err((r.label(), r.to_string()))
            }
        }
    }

    /// The shared limiter (a poisoned lock is taken over: its counters are
    /// plain numbers, never left half-updated).
    fn limits(&self) -> std::sync::MutexGuard<'_, IpLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An admitted connection, about to become a session task.
struct Connection {
    ctx: Arc<SessionCtx>,
    stream: tokio::net::TcpStream,
    tls: Option<MinerTls>,
    peer: SocketAddr,
    token: CancellationToken,
    slot: PendingSlot,
    counted: miner::Counted,
    ip_slot: IpSlot,
}

impl Connection {
    /// The TLS handshake if the port has TLS, then the session to its end.
    async fn run<P: miner::MinerProtocol>(self) {
        let Connection {
            ctx,
            stream,
            tls,
            peer,
            token,
            slot,
            counted,
            ip_slot,
        } = self;
        let (r, w): (MinerRead, MinerWrite) = match tls {
            None => miner::plain(stream),
            Some(tls) => match tokio::select! {
                r = tls.accept(stream, ctx.timing.handshake) => r,
                // Closed for room before its TLS handshake ended.
                () = token.cancelled() => return,
            } {
                Ok(halves) => halves,
                Err(e) => {
                    // Only this connection is lost.
                    let n = ctx.stats.tls_failures.fetch_add(1, Relaxed) + 1;
                    ctx.telemetry.connections.add((ctx.algorithm, "tls_error"));
                    tracing::debug!(miner = %peer, error = %e, tls_failures = n, "TLS handshake failed");
                    return;
                }
            },
        };
        miner::run::<P>(ctx, r, w, peer, token, slot).await;
        drop(counted);
        drop(ip_slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future a function returns, without calling it.
    fn future_size<F: FnOnce(Connection) -> Fut, Fut>(_: F) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// An idle miner is mostly its task's allocation, which is the size of
    /// this future for the connection's whole life. `bench/run.sh` (ONLY=idle)
    /// measures the bytes per miner; this catches a change that grows the
    /// future (a large local kept across an await, an unboxed rare step)
    /// in every build. The bound is for this debug build, where futures are
    /// larger than in release.
    #[test]
    fn session_tasks_stay_small() {
        let sizes = [
            ("sha256", future_size(Connection::run::<Session>)),
            ("randomx", future_size(Connection::run::<RxSession>)),
            ("zksnark", future_size(Connection::run::<AleoSession>)),
        ];
        for (algorithm, size) in sizes {
            eprintln!("{algorithm}: the session task's future is {size} bytes");
            assert!(size <= 2_700, "{algorithm}: {size} bytes");
        }
    }
}
