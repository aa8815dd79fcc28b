//! The accept loop of one stratum port (one per algorithm; the context's
//! algorithm picks the session type): applies the connection cap and the
//! per-IP limits and bans, tunes the socket, spawns a session task. Nothing
//! slow happens here: handshakes belong to the sessions.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::aleo::session::AleoSession;
use crate::config::Algorithm;
use crate::limits::IpLimiter;
use crate::miner::SessionCtx;
use crate::miner::{self, MinerRead, MinerWrite};
use crate::miner_tls::MinerTls;
use crate::net::{Keepalive, tune};
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
        let permits = Arc::new(Semaphore::new(self.max_connections));
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
            if let Some((result, reason)) = self.refuse(peer, &permits) {
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
                        "miner connections refused by the per-IP limits (limits.allow exempts networks)"
                    );
                }
                drop(stream);
                continue;
            }
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                continue;
            };
            tune(&stream, self.keepalive);
            let slot = IpSlot {
                ip: peer.ip(),
                release: release_tx.clone(),
            };
            let ctx = self.ctx.clone();
            let counted = miner::Counted::new(ctx.clone());
            let token = shutdown.child_token();
            let tls = self.tls.clone();
            tracker.spawn(async move {
                let (r, w): (MinerRead, MinerWrite) = match tls {
                    None => miner::plain(stream),
                    Some(tls) => match tls.accept(stream, ctx.timing.handshake).await {
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
                match ctx.algorithm {
                    Algorithm::Randomx => miner::run::<RxSession>(ctx, r, w, peer, token).await,
                    Algorithm::Zksnark => miner::run::<AleoSession>(ctx, r, w, peer, token).await,
                    Algorithm::Sha256 => miner::run::<Session>(ctx, r, w, peer, token).await,
                }
                drop(counted);
                drop(slot);
                drop(permit);
            });
        }
    }

    /// Why a connection is refused: the `result` label
    /// (`over_limit`, `banned`) and the text for the log.
    fn refuse(&mut self, peer: SocketAddr, permits: &Semaphore) -> Option<(&'static str, String)> {
        if permits.available_permits() == 0 {
            return Some((
                "over_limit",
                format!(
                    "listener is at its limit of {} connections",
                    self.max_connections
                ),
            ));
        }
        self.limits()
            .admit(peer.ip(), Instant::now())
            .err()
            .map(|r| (r.label(), r.to_string()))
    }

    /// The shared limiter (a poisoned lock is taken over: its counters are
    /// plain numbers, never left half-updated).
    fn limits(&self) -> std::sync::MutexGuard<'_, IpLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }
}
