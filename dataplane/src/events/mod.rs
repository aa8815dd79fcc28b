//! Share history with no loss (design.md decision 5): every share a miner
//! submits becomes one [`ShareEvent`] with a UUIDv7 id. Sessions hand events
//! to an [`EventSink`] (cheap to clone, never blocks, never awaits), which
//! turns them into the contract's form ([`WireEvent`]); the [`shipper`]
//! task writes them to the bounded on-disk [`spool`] and sends them in
//! batches to the control plane until each id is acknowledged.
//! Every way an event can be lost is counted in [`EventStats`] and logged
//! at error level, at most once per [`LOUD_EVERY`].

mod event;
mod record;
pub mod shipper;
pub mod spool;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TrySendError};

pub use event::{ShareEvent, WireEvent};
pub use shipper::{SendFuture, start};
pub use spool::Spool;

/// Most often one kind of loss is logged.
pub const LOUD_EVERY: Duration = Duration::from_secs(10);

/// A fresh UUIDv7 (time-ordered) event id, as a hyphenated string.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// An event with a fresh id and `at_unix_ms` set to now; the caller fills
/// the rest (`ShareEvent { worker, .., ..events::new_event() }`).
pub fn new_event() -> ShareEvent {
    ShareEvent {
        id: new_event_id(),
        at_unix_ms: crate::clock::now_ms(),
        ..ShareEvent::default()
    }
}

/// Counters of the share-event pipeline; the gauges describe the spool.
#[derive(Debug, Default)]
pub struct EventStats {
    /// Events handed to the sink.
    pub recorded: AtomicU64,
    /// Events written to the spool.
    pub spooled: AtomicU64,
    /// Events the control plane acknowledged (removed from the spool).
    pub acked: AtomicU64,
    /// Dropped because the spool reached `spool_max_bytes`.
    pub dropped_full: AtomicU64,
    /// Dropped because the sink's channel was full (the writer fell behind).
    pub dropped_busy: AtomicU64,
    /// Dropped because the shipper had stopped (recorded after shutdown).
    pub dropped_closed: AtomicU64,
    /// Dropped because writing the spool failed (disk error).
    pub dropped_io: AtomicU64,
    /// Refused by the control plane as invalid (acknowledged, not stored).
    pub dropped_invalid: AtomicU64,
    /// Batches sent (including retries) and sends that failed or timed out.
    pub batches_sent: AtomicU64,
    pub send_errors: AtomicU64,
    /// Gauge: bytes of spool segment files on disk.
    pub spool_bytes: AtomicU64,
    /// Gauge: unacknowledged events in the spool.
    pub spool_events: AtomicU64,
}

impl EventStats {
    /// Every event lost, whatever the cause.
    pub fn dropped(&self) -> u64 {
        self.dropped_full.load(Relaxed)
            + self.dropped_busy.load(Relaxed)
            + self.dropped_closed.load(Relaxed)
            + self.dropped_io.load(Relaxed)
            + self.dropped_invalid.load(Relaxed)
    }
}

/// Rate limit for loud logs: `allow` is true at most once per [`LOUD_EVERY`];
/// never blocks (a contended lock just skips the log).
#[derive(Debug, Default)]
pub(crate) struct Loud {
    last: Mutex<Option<Instant>>,
}

impl Loud {
    pub(crate) fn allow(&self) -> bool {
        let Ok(mut last) = self.last.try_lock() else {
            return false;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < LOUD_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// What sessions hold to record share events.
#[derive(Clone, Default)]
pub struct EventSink {
    inner: Option<Arc<SinkInner>>,
    /// Counts every share recorded, shipped or not (standalone too).
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

struct SinkInner {
    tx: mpsc::Sender<WireEvent>,
    stats: Arc<EventStats>,
    loud_busy: Loud,
    loud_closed: Loud,
}

impl EventSink {
    /// A sink that records nothing (standalone mode).
    pub fn disabled() -> Self {
        EventSink::default()
    }

    /// The same sink, also counting every share into `telemetry`.
    pub fn with_telemetry(self, telemetry: Arc<crate::telemetry::Telemetry>) -> Self {
        EventSink {
            telemetry: Some(telemetry),
            ..self
        }
    }

    /// The telemetry the shares are counted into, if any.
    pub fn telemetry(&self) -> Option<&Arc<crate::telemetry::Telemetry>> {
        self.telemetry.as_ref()
    }

    /// A sink over a bounded channel of `capacity` events, its receiver
    /// (drained by the shipper) and the stats it counts into.
    pub fn channel(capacity: usize) -> (EventSink, mpsc::Receiver<WireEvent>, Arc<EventStats>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(EventStats::default());
        let inner = SinkInner {
            tx,
            stats: stats.clone(),
            loud_busy: Loud::default(),
            loud_closed: Loud::default(),
        };
        let sink = EventSink {
            inner: Some(Arc::new(inner)),
            telemetry: None,
        };
        (sink, rx, stats)
    }

    /// Whether events go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Hands one event to the shipper (an empty id gets a fresh one). Never
    /// blocks: when the channel is full the event is dropped and counted.
    pub fn record(&self, mut ev: ShareEvent) {
        if let Some(t) = &self.telemetry {
            t.on_share(&ev);
        }
        let Some(inner) = &self.inner else { return };
        if ev.id.is_empty() {
            ev.id = new_event_id();
        }
        let stats = &inner.stats;
        stats.recorded.fetch_add(1, Relaxed);
        match inner.tx.try_send(ev.to_wire()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                stats.dropped_busy.fetch_add(1, Relaxed);
                if inner.loud_busy.allow() {
                    tracing::error!(
                        dropped_busy = stats.dropped_busy.load(Relaxed),
                        dropped_total = stats.dropped(),
                        "share events LOST: the spool writer is not keeping up (channel full)"
                    );
                }
            }
            Err(TrySendError::Closed(_)) => {
                stats.dropped_closed.fetch_add(1, Relaxed);
                if inner.loud_closed.allow() {
                    tracing::error!(
                        dropped_closed = stats.dropped_closed.load(Relaxed),
                        "share events LOST: recorded after the shipper stopped"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod spool_tests;

#[cfg(test)]
#[path = "shipper_tests.rs"]
mod shipper_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v7_and_time_ordered() {
        let a = new_event_id();
        let b = new_event_id();
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 7);
        assert!(a < b, "{a} !< {b}");
        assert_eq!(new_event().id.len(), 36);
    }

    #[test]
    fn the_sink_never_blocks_and_counts_drops() {
        let (sink, mut rx, stats) = EventSink::channel(4);
        for _ in 0..10 {
            sink.record(ShareEvent::default());
        }
        assert_eq!(stats.recorded.load(Relaxed), 10);
        assert_eq!(stats.dropped_busy.load(Relaxed), 6);
        let ev = rx.try_recv().unwrap();
        assert!(!ev.id.is_empty(), "an empty id is filled in");
        rx.close();
        sink.record(ShareEvent::default());
        assert_eq!(stats.dropped_closed.load(Relaxed), 1);
        assert_eq!(stats.dropped(), 7);
    }

    #[test]
    fn a_disabled_sink_is_a_no_op() {
        let sink = EventSink::disabled();
        assert!(!sink.is_enabled());
        sink.record(ShareEvent::default());
    }

    #[test]
    fn loud_logs_at_most_once_per_period() {
        let l = Loud::default();
        assert!(l.allow());
        assert!(!l.allow());
    }
}
