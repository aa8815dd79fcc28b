//! Share history with no loss (design.md decision 5): every share a miner
//! submits becomes one [`ShareEvent`] with a UUIDv7 id. Sessions hand events
//! to an [`EventSink`] (cheap to clone, never awaits), which turns them into
//! the contract's form ([`WireEvent`]) and appends them to the bounded
//! on-disk [`spool`] with one `write()` before the session answers the
//! miner: an answered share's event survives a SIGKILL. The [`shipper`]
//! task sends them in batches to the control plane until each id is
//! acknowledged, and fsyncs the spool at most every 100 ms.
//! Every way an event can be lost is counted in [`EventStats`] and logged
//! at error level, at most once per [`LOUD_EVERY`].

mod event;
mod record;
pub mod shipper;
pub mod spool;
pub mod tail;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use event::{ShareEvent, WireEvent};
pub use shipper::{SendFuture, start};
pub use spool::Spool;
pub use tail::Tail;

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
    /// Events written to the spool (before their miners were answered).
    pub spooled: AtomicU64,
    /// Events the control plane acknowledged (removed from the spool).
    pub acked: AtomicU64,
    /// Dropped because the spool reached `spool_max_bytes`.
    pub dropped_full: AtomicU64,
    /// Always 0 since sessions write the spool themselves (there is no
    /// channel to fill); kept for the metric's `cause="busy"` series.
    pub dropped_busy: AtomicU64,
    /// Always 0 since events recorded after the shipper stopped are still
    /// written to the spool (and shipped at the next start); kept for the
    /// metric's `cause="closed"` series.
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
    tail: Arc<Tail>,
    stats: Arc<EventStats>,
    loud_full: Loud,
    loud_io: Loud,
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

    /// A sink writing to `tail` (the spool's write end), counting into `stats`.
    pub fn new(tail: Arc<Tail>, stats: Arc<EventStats>) -> Self {
        let inner = SinkInner {
            tail,
            stats,
            loud_full: Loud::default(),
            loud_io: Loud::default(),
        };
        EventSink {
            inner: Some(Arc::new(inner)),
            telemetry: None,
        }
    }

    /// Whether events go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Writes one event to the spool (an empty id gets a fresh one) with one
    /// `write()` under a short lock: when this returns, the event survives a
    /// SIGKILL, so call it before answering the miner. Never awaits; a full
    /// spool or a disk error drops the event, counted and logged.
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
        match inner.tail.append(std::slice::from_ref(&ev.to_wire())) {
            Ok(a) => {
                stats.spooled.fetch_add(a.stored as u64, Relaxed);
                if a.refused > 0 {
                    stats.dropped_full.fetch_add(a.refused as u64, Relaxed);
                    if inner.loud_full.allow() {
                        tracing::error!(
                            dropped_full = stats.dropped_full.load(Relaxed),
                            spool_bytes = stats.spool_bytes.load(Relaxed),
                            "share events LOST: the spool is full (controlplane.spool_max_bytes); is the control plane reachable?"
                        );
                    }
                }
            }
            Err(e) => {
                stats.dropped_io.fetch_add(1, Relaxed);
                if inner.loud_io.allow() {
                    tracing::error!(error = %e, dropped_io = stats.dropped_io.load(Relaxed),
                        "share events LOST: cannot write the spool");
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
    fn a_recorded_event_is_in_the_spool_file_when_record_returns() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), 1 << 20).unwrap();
        let stats = Arc::new(EventStats::default());
        let sink = EventSink::new(spool.tail().clone(), stats.clone());
        sink.record(ShareEvent::default());
        assert_eq!(stats.recorded.load(Relaxed), 1);
        assert_eq!(stats.spooled.load(Relaxed), 1);
        // "SIGKILL": the spool is dropped unsynced, read back from the files.
        drop((sink, spool));
        let mut again = Spool::open(tmp.path(), 1 << 20).unwrap();
        let got = again.next_batch(10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id.len(), 36, "an empty id is filled in");
    }

    #[test]
    fn a_full_spool_drops_and_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), 4096).unwrap();
        let stats = Arc::new(EventStats::default());
        let sink = EventSink::new(spool.tail().clone(), stats.clone());
        for _ in 0..200 {
            sink.record(new_event());
        }
        let (kept, full) = (
            stats.spooled.load(Relaxed),
            stats.dropped_full.load(Relaxed),
        );
        assert!(kept > 0 && full > 0, "{kept} kept, {full} dropped");
        assert_eq!(kept + full, 200);
        assert_eq!(stats.dropped(), full);
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
