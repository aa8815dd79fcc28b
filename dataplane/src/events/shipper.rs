//! The shipper task: reads what the sessions appended to the [`Spool`] and
//! sends batches to the control plane until every event is acknowledged.
//!
//! - Writes: the sessions append themselves (see [`super::tail`]); the
//!   shipper wakes at most once per batch or fsync to learn of them. An
//!   fsync runs at most every [`SYNC_INTERVAL`], in `spawn_blocking`.
//! - Batches: at most `batch_max_events`, sent as soon as that many are
//!   waiting, else `batch_interval` after the first waiting one arrived; one
//!   batch in flight at a time, bounded by [`SEND_TIMEOUT`]. Only the
//!   acknowledged ids leave the spool; on failure (or a partial ack) the
//!   rest is resent after a capped, jittered backoff while spooling goes on.
//! - Losses: a full spool drops (and counts, and logs at error at most every
//!   10 s) the new events; so does a write error (the sink does both).
//! - Shutdown (the token): the spool is fsynced, one last send is tried
//!   within [`SHUTDOWN_SEND_DEADLINE`] (an in-flight one is awaited
//!   instead), then the task ends. Events recorded after that are still
//!   written to the spool and sent at the next start.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

use super::spool::Spool;
use super::{EventSink, EventStats, WireEvent};
use crate::backoff::Backoff;
use crate::config::ControlPlaneLink;

/// What `send` returns: the ids the control plane acknowledged.
pub type SendFuture = Pin<Box<dyn Future<Output = anyhow::Result<Vec<String>>> + Send + 'static>>;

/// Most often the spool is fsynced.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// Bound on one batch round trip.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the last send at shutdown.
pub const SHUTDOWN_SEND_DEADLINE: Duration = Duration::from_secs(2);
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Opens the spool in `<state_dir>/spool` (recovering it) and spawns the
/// shipper; returns the sink for sessions, the stats and the task. `send`
/// delivers one batch (e.g. `ControlLink::report_shares`). Must be called
/// within a tokio runtime.
pub fn start<F>(
    state_dir: &Path,
    link: &ControlPlaneLink,
    send: F,
    shutdown: CancellationToken,
) -> anyhow::Result<(EventSink, Arc<EventStats>, JoinHandle<()>)>
where
    F: Fn(Vec<WireEvent>) -> SendFuture + Send + Sync + 'static,
{
    let dir = state_dir.join("spool");
    let spool = Spool::open(&dir, link.spool_max_bytes)
        .with_context(|| format!("share event spool {}", dir.display()))?;
    if !spool.is_empty() {
        tracing::info!(
            events = spool.len(),
            bytes = spool.bytes(),
            "share spool: resuming unacknowledged events"
        );
    }
    let stats = Arc::new(EventStats::default());
    let sink = EventSink::new(spool.tail().clone(), stats.clone());
    let shipper = Shipper {
        spool,
        stats: stats.clone(),
        send,
        batch_max: link.batch_max_events.max(1),
        interval: Duration::try_from_secs_f64(link.batch_interval)
            .unwrap_or(Duration::from_millis(200)),
        ready_at: None,
        retry_at: None,
        sync_at: None,
        last_sync: Instant::now(),
        backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
    };
    let task = tokio::spawn(shipper.run(shutdown));
    Ok((sink, stats, task))
}

struct Shipper<F> {
    spool: Spool,
    stats: Arc<EventStats>,
    send: F,
    batch_max: usize,
    interval: Duration,
    /// When the waiting events make a batch even if not full.
    ready_at: Option<Instant>,
    /// No send before this (backoff after a failure).
    retry_at: Option<Instant>,
    /// The next fsync, when something is unsynced.
    sync_at: Option<Instant>,
    last_sync: Instant,
    backoff: Backoff,
}

async fn wait(f: &mut Option<SendFuture>) -> anyhow::Result<Vec<String>> {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

impl<F> Shipper<F>
where
    F: Fn(Vec<WireEvent>) -> SendFuture,
{
    async fn run(mut self, shutdown: CancellationToken) {
        let tail = self.spool.tail().clone();
        let mut inflight: Option<SendFuture> = None;
        if self.spool.unsent() > 0 {
            self.ready_at = Some(Instant::now());
        }
        loop {
            // Woken by the next append only while that would change a timer.
            if self.ready_at.is_none() || self.sync_at.is_none() {
                tail.arm();
            }
            self.absorb();
            let send_at = if inflight.is_none() {
                self.send_at()
            } else {
                None
            };
            let sync_at = self.sync_at;
            tokio::select! {
                // Timers before appends: a busy spool must not starve them.
                biased;
                () = shutdown.cancelled() => break,
                r = wait(&mut inflight) => {
                    inflight = None;
                    self.on_result(r);
                }
                () = sleep_until(sync_at.unwrap_or_else(Instant::now)), if sync_at.is_some() => {
                    self.sync().await;
                }
                () = sleep_until(send_at.unwrap_or_else(Instant::now)), if send_at.is_some() => {
                    inflight = self.send_next();
                }
                () = tail.news() => {}
            }
        }
        self.absorb();
        self.sync().await;
        let deadline = Instant::now() + SHUTDOWN_SEND_DEADLINE;
        if inflight.is_none() {
            inflight = self.send_next();
        }
        if let Some(f) = inflight {
            match timeout_at(deadline, f).await {
                Ok(r) => self.on_result(r),
                Err(_) => tracing::warn!(
                    "share spool: last batch unanswered at shutdown; it stays spooled"
                ),
            }
        }
        let s = &self.stats;
        tracing::info!(
            recorded = s.recorded.load(Relaxed),
            acked = s.acked.load(Relaxed),
            dropped = s.dropped(),
            spooled_left = self.spool.len(),
            "share event shipper stopped"
        );
    }

    /// When to send the next batch, if anything waits.
    fn send_at(&self) -> Option<Instant> {
        let unsent = self.spool.unsent();
        if unsent == 0 {
            return None;
        }
        let ready = if unsent >= self.batch_max as u64 {
            Instant::now()
        } else {
            self.ready_at.unwrap_or_else(Instant::now)
        };
        Some(self.retry_at.map_or(ready, |r| r.max(ready)))
    }

    /// Takes in what the sessions appended: schedules the batch and the
    /// fsync, updates the gauges.
    fn absorb(&mut self) {
        let now = Instant::now();
        if self.spool.refresh() > 0 {
            self.ready_at.get_or_insert(now + self.interval);
        }
        // Also what `next_batch` took in since.
        if self.sync_at.is_none() && self.spool.tail().unsynced() {
            self.sync_at = Some((self.last_sync + SYNC_INTERVAL).max(now));
        }
        self.gauges();
    }

    async fn sync(&mut self) {
        self.sync_at = None;
        self.last_sync = Instant::now();
        let r = match self.spool.take_sync() {
            Ok(w) if w.is_empty() => Ok(()),
            Ok(w) => tokio::task::spawn_blocking(move || w.run())
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            tracing::error!(error = %e, "share spool: fsync failed; a power loss could lose recent events");
        }
    }

    fn send_next(&mut self) -> Option<SendFuture> {
        let batch = match self.spool.next_batch(self.batch_max) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "share spool: cannot read; retrying");
                self.retry_at = Some(Instant::now() + self.backoff.next_delay());
                return None;
            }
        };
        if self.spool.unsent() == 0 {
            self.ready_at = None;
        }
        self.gauges();
        if batch.is_empty() {
            return None;
        }
        self.stats.batches_sent.fetch_add(1, Relaxed);
        let fut = (self.send)(batch);
        Some(Box::pin(async move {
            timeout(SEND_TIMEOUT, fut)
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {SEND_TIMEOUT:?}")))
        }))
    }

    fn on_result(&mut self, r: anyhow::Result<Vec<String>>) {
        let now = Instant::now();
        match r {
            Ok(ids) => {
                let n = self.spool.ack(&ids);
                self.stats.acked.fetch_add(n as u64, Relaxed);
                let missing = self.spool.in_flight();
                if missing == 0 {
                    self.backoff.reset();
                    self.retry_at = None;
                } else {
                    let d = self.backoff.next_delay();
                    tracing::warn!(missing, retry_in = ?d, "control plane did not acknowledge every share event; resending them");
                    self.retry(now + d);
                }
            }
            Err(e) => {
                self.stats.send_errors.fetch_add(1, Relaxed);
                let d = self.backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?d, "share batch not delivered; kept in the spool");
                self.retry(now + d);
            }
        }
        self.gauges();
    }

    fn retry(&mut self, at: Instant) {
        self.spool.rewind();
        self.retry_at = Some(at);
        self.ready_at.get_or_insert(at);
    }

    fn gauges(&self) {
        self.stats.spool_bytes.store(self.spool.bytes(), Relaxed);
        self.stats.spool_events.store(self.spool.len(), Relaxed);
    }
}
