//! Tests of the shipper with a fake `send`, in paused tokio time: timers
//! (batch interval, backoff, fsync pacing) advance when the task is idle.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{EventSink, EventStats, SendFuture, WireEvent as ShareEvent, new_event, start};
use crate::config::ControlPlaneLink;

/// What the fake control plane saw: every batch, and whether it acked it.
type Seen = mpsc::UnboundedReceiver<(Vec<String>, bool)>;

/// A fake `send`: fails the calls whose number (from 1) `fail` says, acks
/// the others, and reports each call.
fn fake(
    fail: impl Fn(u32) -> bool + Send + Sync + 'static,
) -> (
    impl Fn(Vec<ShareEvent>) -> SendFuture + Send + Sync + 'static,
    Seen,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = AtomicU32::new(0);
    let send = move |batch: Vec<ShareEvent>| -> SendFuture {
        let n = calls.fetch_add(1, Relaxed) + 1;
        let ids: Vec<String> = batch.into_iter().map(|e| e.id).collect();
        let ok = !fail(n);
        let _ = tx.send((ids.clone(), ok));
        Box::pin(async move {
            if ok {
                Ok(ids)
            } else {
                anyhow::bail!("control plane unreachable")
            }
        })
    };
    (send, rx)
}

fn link(batch_max_events: usize) -> ControlPlaneLink {
    ControlPlaneLink {
        batch_max_events,
        batch_interval: 0.2,
        ..ControlPlaneLink::default()
    }
}

type Running = (
    EventSink,
    Arc<EventStats>,
    tokio::task::JoinHandle<()>,
    CancellationToken,
);

fn run(
    dir: &Path,
    l: &ControlPlaneLink,
    send: impl Fn(Vec<ShareEvent>) -> SendFuture + Send + Sync + 'static,
) -> Running {
    let stop = CancellationToken::new();
    let (sink, stats, task) = start(dir, l, send, stop.clone()).unwrap();
    (sink, stats, task, stop)
}

fn record(sink: &EventSink, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let ev = new_event();
            let id = ev.id.clone();
            sink.record(ev);
            id
        })
        .collect()
}

/// Receives acked batches until `n` acked ids were seen; returns them in order.
async fn acked(seen: &mut Seen, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let (ids, ok) = seen.recv().await.expect("shipper alive");
        if ok {
            out.extend(ids);
        }
    }
    out
}

async fn stop((_, _, task, stop): Running) {
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn every_event_reaches_the_control_plane_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    let ids = record(&r.0, 2500);
    assert_eq!(acked(&mut seen, 2500).await, ids);
    let stats = r.1.clone();
    stop(r).await;
    assert!(seen.try_recv().is_err(), "nothing sent twice");
    assert_eq!(stats.acked.load(Relaxed), 2500);
    assert_eq!(stats.spooled.load(Relaxed), 2500);
    assert_eq!(stats.batches_sent.load(Relaxed), 3);
    assert_eq!((stats.dropped(), stats.spool_events.load(Relaxed)), (0, 0));
    // Nothing left for a restart.
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    stop(r).await;
    assert!(seen.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_waits_for_the_batch_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    let t0 = tokio::time::Instant::now();
    let ids = record(&r.0, 10);
    let (got, ok) = seen.recv().await.unwrap();
    assert!(ok);
    assert_eq!(got, ids, "one batch of all ten");
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t0.elapsed()
    );
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn failing_sends_are_retried_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, mut seen) = fake(|n| n <= 4);
    let r = run(tmp.path(), &link(300), send);
    let mut ids = record(&r.0, 500);
    let first = acked(&mut seen, 500).await;
    // Recorded while the first ones were being retried.
    ids.extend(record(&r.0, 100));
    let second = acked(&mut seen, 100).await;
    assert_eq!([first, second].concat(), ids);
    let stats = r.1.clone();
    stop(r).await;
    assert_eq!(stats.send_errors.load(Relaxed), 4);
    assert_eq!(stats.acked.load(Relaxed), 600);
    assert_eq!(stats.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_restart_resends_only_the_unacknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    // Acks the first batch, then the control plane goes away.
    let (send, mut seen) = fake(|n| n > 1);
    let r = run(tmp.path(), &link(1000), send);
    let ids = record(&r.0, 2500);
    assert_eq!(acked(&mut seen, 1000).await, ids[..1000]);
    assert!(!seen.recv().await.unwrap().1, "the second batch failed");
    stop(r).await;
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    assert_eq!(acked(&mut seen, 1500).await, ids[1000..]);
    stop(r).await;
    assert!(seen.try_recv().is_err(), "nothing sent twice");
}

#[tokio::test(start_paused = true)]
async fn events_stay_spooled_at_shutdown_when_the_last_send_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, _seen) = fake(|_| true);
    let r = run(tmp.path(), &link(1000), send);
    let ids = record(&r.0, 50);
    // Shut down at once: the shipper flushes the channel to disk first.
    let stats = r.1.clone();
    stop(r).await;
    assert_eq!(stats.spooled.load(Relaxed), 50);
    assert_eq!(stats.spool_events.load(Relaxed), 50);
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    assert_eq!(acked(&mut seen, 50).await, ids);
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_spool_drops_new_events_and_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, _seen) = fake(|_| true);
    let l = ControlPlaneLink {
        spool_max_bytes: 16 << 10,
        ..link(1000)
    };
    let r = run(tmp.path(), &l, send);
    let ids = record(&r.0, 1000);
    let stats = r.1.clone();
    stop(r).await;
    let (spooled, full) = (
        stats.spooled.load(Relaxed),
        stats.dropped_full.load(Relaxed),
    );
    assert!(spooled > 0 && full > 0, "{spooled} spooled, {full} dropped");
    assert_eq!(spooled + full, 1000);
    assert!(stats.spool_bytes.load(Relaxed) <= 16 << 10);
    // The oldest ones were kept.
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &l, send);
    let got = acked(&mut seen, spooled as usize).await;
    assert_eq!(got, ids[..spooled as usize]);
    let unique: HashSet<_> = got.iter().collect();
    assert_eq!(unique.len(), got.len());
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn a_burst_the_shipper_cannot_keep_up_with_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    // No await in between: the shipper cannot run; the sessions write.
    let ids = record(&r.0, 20_000);
    let stats = r.1.clone();
    assert_eq!(stats.spooled.load(Relaxed), 20_000);
    assert_eq!(stats.dropped(), 0);
    assert_eq!(acked(&mut seen, 20_000).await, ids);
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn an_event_recorded_is_kept_even_if_the_shipper_never_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, _seen) = fake(|_| true);
    let (sink, _stats, task, _stop) = run(tmp.path(), &link(1000), send);
    // Answered, then "SIGKILL" before the shipper task ever ran.
    let ids = record(&sink, 5);
    task.abort();
    drop(sink);
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    assert_eq!(acked(&mut seen, 5).await, ids);
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn events_recorded_after_shutdown_are_sent_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, _seen) = fake(|_| false);
    let (sink, stats, task, stop_token) = run(tmp.path(), &link(1000), send);
    stop_token.cancel();
    task.await.unwrap();
    let ids = record(&sink, 3);
    assert_eq!(stats.dropped(), 0);
    drop(sink);
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    assert_eq!(acked(&mut seen, 3).await, ids);
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn an_aborted_shipper_loses_nothing_it_had_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (send, mut seen) = fake(|_| true);
    let (sink, _stats, task, _stop) = run(tmp.path(), &link(1000), send);
    let ids = record(&sink, 300);
    // A send (failing) means the events were written; then "SIGKILL".
    assert!(!seen.recv().await.unwrap().1);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let (send, mut seen) = fake(|_| false);
    let r = run(tmp.path(), &link(1000), send);
    assert_eq!(acked(&mut seen, 300).await, ids);
    stop(r).await;
}

#[tokio::test(start_paused = true)]
async fn ids_missing_from_an_ack_are_resent() {
    let tmp = tempfile::tempdir().unwrap();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let calls = AtomicU32::new(0);
    // The first answer acknowledges every other id only.
    let send = move |batch: Vec<ShareEvent>| -> SendFuture {
        let first = calls.fetch_add(1, Relaxed) == 0;
        let ids: Vec<String> = batch.into_iter().map(|e| e.id).collect();
        let acked: Vec<String> = ids
            .iter()
            .step_by(if first { 2 } else { 1 })
            .cloned()
            .collect();
        let _ = tx.send((acked.clone(), true));
        Box::pin(async move { Ok(acked) })
    };
    let r = run(tmp.path(), &link(1000), send);
    let ids = record(&r.0, 10);
    let mut got = acked(&mut seen, 10).await;
    let stats = r.1.clone();
    stop(r).await;
    assert!(seen.try_recv().is_err(), "nothing sent twice");
    got.sort();
    assert_eq!(got, ids);
    assert_eq!(stats.acked.load(Relaxed), 10);
}
