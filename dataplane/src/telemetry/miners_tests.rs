//! Tests of the miner and worker registry: counting, states, transitions.

use super::*;

const MIN: i64 = 60_000;

fn peer() -> SocketAddr {
    "10.0.0.7:4000".parse().unwrap()
}

fn share(conn: u64, worker: &str, accepted: bool, at_ms: i64) -> Share<'_> {
    Share {
        conn,
        algorithm: Algorithm::Sha256,
        worker,
        accepted,
        difficulty: 8.0,
        at_ms,
    }
}

#[test]
fn a_connection_counts_its_shares_and_goes_with_its_handle() {
    let m = Arc::new(Miners::default());
    let h = m.connect(Algorithm::Sha256, peer(), 0);
    h.set_worker("wallet.rig1", 0);
    h.set_difficulty(8.0);
    for i in 1..=10 {
        m.on_share(&share(h.id(), "wallet.rig1", i != 10, i * 1000));
    }
    let (total, list) = m.snapshot(None, 0, 10, 10_000);
    assert_eq!(total, 1);
    let s = &list[0];
    assert_eq!(
        (s.worker.as_str(), s.accepted, s.rejected),
        ("wallet.rig1", 9, 1)
    );
    assert_eq!((s.last_share_ms, s.difficulty), (10_000, 8.0));
    // 9 shares of difficulty 8 in 10 s: 7.2 difficulty/s, times 2^32.
    assert!(
        (s.hashrate_hs - 7.2 * 4_294_967_296.0).abs() < 1e3,
        "{}",
        s.hashrate_hs
    );
    assert_eq!(m.connected(), 1);
    drop(h);
    assert_eq!(m.connected(), 0);
    assert_eq!(m.snapshot(None, 0, 10, 10_000).0, 0);
    // The worker stays known, gone.
    m.with_workers(|w| {
        let w = &w[&Algorithm::Sha256]["wallet.rig1"];
        assert_eq!(
            (w.connections, w.accepted, w.rejected, w.work),
            (0, 9, 1, 72.0)
        );
        assert!(w.gone_ms > 0);
    });
}

#[test]
fn the_miner_list_filters_by_worker_and_pages() {
    let m = Arc::new(Miners::default());
    let handles: Vec<_> = (0..25)
        .map(|i| {
            let h = m.connect(Algorithm::Sha256, peer(), 0);
            h.set_worker(&format!("w.rig{i:02}"), 0);
            h
        })
        .collect();
    let (total, page) = m.snapshot(None, 10, 10, 0);
    assert_eq!((total, page.len()), (25, 10));
    assert_eq!(page[0].worker, "w.rig10");
    let (total, page) = m.snapshot(Some("rig2"), 0, 100, 0);
    assert_eq!(total, 5, "rig20..rig24");
    assert!(page.iter().all(|s| s.worker.contains("rig2")));
    drop(handles);
}

#[test]
fn states_follow_shares_and_connections() {
    let m = Arc::new(Miners::default());
    let after = 10 * MIN;
    // The handle's drop reads the real clock: the test's times start now.
    let t0 = crate::clock::now_ms();
    let h = m.connect(Algorithm::Sha256, peer(), t0);
    h.set_worker("w.a", t0);
    m.on_share(&share(h.id(), "w.a", true, t0 + MIN));
    assert!(
        m.sweep(t0 + 5 * MIN, after).is_empty(),
        "online from the start"
    );
    // Connected, silent past offline_after: idle.
    let t = m.sweep(t0 + 12 * MIN, after);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].from, t[0].to),
        (WorkerState::Online, WorkerState::Idle)
    );
    assert_eq!(m.idle(t0 + 12 * MIN, after, 10).len(), 1);
    assert!(
        m.sweep(t0 + 13 * MIN, after).is_empty(),
        "once per transition"
    );
    // It submits again: online.
    m.on_share(&share(h.id(), "w.a", true, t0 + 14 * MIN));
    let t = m.sweep(t0 + 14 * MIN, after);
    assert_eq!(t[0].to, WorkerState::Online);
    // Gone: online until offline_after passes since its last share, then offline.
    drop(h);
    assert!(m.sweep(t0 + 20 * MIN, after).is_empty());
    let t = m.sweep(t0 + 25 * MIN, after);
    assert_eq!(t[0].to, WorkerState::Offline);
    assert!(m.idle(t0 + 25 * MIN, after, 10).is_empty());
    let counts = m.state_counts(t0 + 25 * MIN, after);
    assert_eq!(counts[&(Algorithm::Sha256, WorkerState::Offline)], 1);
    assert_eq!(counts[&(Algorithm::Sha256, WorkerState::Online)], 0);
    // Forgotten a day later.
    m.sweep(t0 + 25 * MIN + FORGET_AFTER_MS, after);
    let later = m.state_counts(t0 + 26 * MIN + FORGET_AFTER_MS, after);
    assert!(later.values().all(|&n| n == 0), "{later:?}");
}

#[test]
fn two_connections_of_one_worker_count_together() {
    let m = Arc::new(Miners::default());
    let a = m.connect(Algorithm::Randomx, peer(), 0);
    let b = m.connect(Algorithm::Randomx, peer(), 0);
    a.set_worker("rig", 0);
    b.set_worker("rig", 0);
    drop(a);
    m.with_workers(|w| assert_eq!(w[&Algorithm::Randomx]["rig"].connections, 1));
    drop(b);
    m.with_workers(|w| assert_eq!(w[&Algorithm::Randomx]["rig"].connections, 0));
}

#[test]
fn a_share_after_its_connection_is_gone_counts_for_its_worker() {
    let m = Arc::new(Miners::default());
    m.on_share(&share(99, "w.late", true, 1000));
    m.with_workers(|w| assert_eq!(w[&Algorithm::Sha256]["w.late"].accepted, 1));
}
