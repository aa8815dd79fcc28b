//! Unit tests of the on-disk spool: restart recovery, acks, torn records,
//! the size limit and segment deletion. A `drop` without `sync` stands for
//! a killed process (the written bytes are in the page cache).

use std::fs;
use std::path::{Path, PathBuf};

use switchyard_proto::v1 as pb;

use super::WireEvent as ShareEvent;
use super::spool::Spool;

fn ev(i: u32) -> ShareEvent {
    ShareEvent {
        id: format!("0190a8c4-0000-7000-8000-{i:012}"),
        at_unix_ms: 1_700_000_000_000 + i64::from(i),
        algorithm: pb::Algorithm::Sha256 as i32,
        pool: "pool-a".into(),
        worker: "rig.1".into(),
        job_id: format!("{i:x}"),
        miner_difficulty: 65536.0,
        share_difficulty: 70000.0,
        local_verdict: pb::Verdict::Accepted as i32,
        forwarded: true,
        pool_verdict: pb::Verdict::Accepted as i32,
        pool_latency_us: 1200,
        ..ShareEvent::default()
    }
}

fn evs(r: std::ops::Range<u32>) -> Vec<ShareEvent> {
    r.map(ev).collect()
}

fn ids(v: &[ShareEvent]) -> Vec<String> {
    v.iter().map(|e| e.id.clone()).collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

const MB: u64 = 1 << 20;

#[test]
fn unacked_events_survive_a_restart_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert!(s.is_empty());
    assert_eq!(s.append(&evs(0..100)).unwrap(), 100);
    assert_eq!(s.append(&evs(100..150)).unwrap(), 50);
    // Handed out but never acknowledged: still unacked after the restart.
    assert_eq!(s.next_batch(30).unwrap().len(), 30);
    drop(s);
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert_eq!(s.len(), 150);
    assert_eq!(s.next_batch(1000).unwrap(), evs(0..150));
    assert!(s.next_batch(10).unwrap().is_empty());
}

#[test]
fn next_batch_hands_out_each_event_once_and_rewind_resends_the_unacked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    s.append(&evs(0..10)).unwrap();
    let a = s.next_batch(4).unwrap();
    let b = s.next_batch(4).unwrap();
    assert_eq!((a, b), (evs(0..4), evs(4..8)));
    assert_eq!((s.in_flight(), s.unsent(), s.len()), (8, 2, 10));
    // Out of order: 5 and 6 acknowledged, 0..4 and 4, 7 not.
    assert_eq!(s.ack(&ids(&evs(5..7))), 2);
    assert_eq!(s.len(), 8);
    s.rewind();
    let again = s.next_batch(100).unwrap();
    let want: Vec<_> = [0, 1, 2, 3, 4, 7, 8, 9].into_iter().map(ev).collect();
    assert_eq!(again, want);
    assert_eq!(s.ack(&ids(&again)), 8);
    assert!(s.is_empty());
}

#[test]
fn acknowledged_events_are_not_resent_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    s.append(&evs(0..20)).unwrap();
    let batch = s.next_batch(12).unwrap();
    // Unknown ids are ignored.
    assert_eq!(s.ack(&[ids(&batch), vec!["nope".into()]].concat()), 12);
    drop(s);
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert_eq!(s.len(), 8);
    assert_eq!(s.next_batch(100).unwrap(), evs(12..20));
}

#[test]
fn a_torn_last_record_is_skipped_and_the_rest_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    s.append(&evs(0..10)).unwrap();
    drop(s);
    let seg = segments(tmp.path()).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 20).unwrap(); // the last record loses its tail
    drop(f);
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert_eq!(s.len(), 9);
    // Appending after the recovery continues past the cut.
    s.append(&evs(10..12)).unwrap();
    drop(s);
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    let want = [evs(0..9), evs(10..12)].concat();
    assert_eq!(s.next_batch(100).unwrap(), want);
}

#[test]
fn garbage_after_the_last_record_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    s.append(&evs(0..5)).unwrap();
    drop(s);
    let seg = segments(tmp.path()).pop().unwrap();
    let mut data = fs::read(&seg).unwrap();
    data.extend_from_slice(&[0; 64]); // a zero-filled tail (power loss)
    fs::write(&seg, data).unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert_eq!(s.next_batch(100).unwrap(), evs(0..5));
}

#[test]
fn a_corrupt_ack_file_means_resending_not_losing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    s.append(&evs(0..6)).unwrap();
    let b = s.next_batch(3).unwrap();
    s.ack(&ids(&b));
    drop(s);
    fs::write(tmp.path().join("acked"), b"junk").unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert_eq!(s.next_batch(100).unwrap(), evs(0..6));
}

#[test]
fn beyond_the_limit_appends_are_refused_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let max = 8 << 10;
    let mut s = Spool::open(tmp.path(), max).unwrap();
    let stored = s.append(&evs(0..1000)).unwrap();
    assert!(stored > 10 && stored < 1000, "{stored}");
    assert_eq!(s.refused(), 1000 - stored as u64);
    assert!(s.bytes() <= max, "{} > {max}", s.bytes());
    assert_eq!(s.append(&evs(1000..1001)).unwrap(), 0);
    // Acknowledging frees the space.
    let all = s.next_batch(10_000).unwrap();
    assert_eq!(all.len(), stored);
    s.ack(&ids(&all));
    assert_eq!(s.append(&evs(2000..2010)).unwrap(), 10);
    drop(s);
    let mut s = Spool::open(tmp.path(), max).unwrap();
    assert_eq!(s.next_batch(100).unwrap(), evs(2000..2010));
}

#[test]
fn fully_acknowledged_segments_are_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    // Segments of 64 KiB / 8 = 8 KiB; a new one per append once full.
    let mut s = Spool::open(tmp.path(), 64 << 10).unwrap();
    for i in 0..20 {
        assert_eq!(s.append(&evs(i * 20..i * 20 + 20)).unwrap(), 20);
    }
    s.sync().unwrap();
    let (files, bytes) = (segments(tmp.path()).len(), s.bytes());
    assert!(files >= 4, "{files} segments");
    assert_eq!(s.segment_count(), files);
    let all = s.next_batch(1000).unwrap();
    assert_eq!(all, evs(0..400));
    s.ack(&ids(&all[..390]));
    assert_eq!(segments(tmp.path()).len(), 1);
    assert!(s.bytes() < bytes / 2, "{} !< {bytes}/2", s.bytes());
    drop(s);
    let mut s = Spool::open(tmp.path(), 64 << 10).unwrap();
    assert_eq!(s.next_batch(1000).unwrap(), evs(390..400));
}

#[test]
fn acknowledged_segments_are_deleted_even_when_the_cursor_cannot_be_written() {
    // A full disk: the cursor's temporary file cannot be written (here it
    // is a directory); the acknowledged segments must still make room.
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), 64 << 10).unwrap();
    std::fs::create_dir(tmp.path().join("acked.tmp")).unwrap();
    for i in 0..20 {
        s.append(&evs(i * 20..i * 20 + 20)).unwrap();
    }
    let files = segments(tmp.path()).len();
    assert!(files >= 4, "{files} segments");
    let all = s.next_batch(1000).unwrap();
    s.ack(&ids(&all[..390]));
    assert_eq!(segments(tmp.path()).len(), 1, "room made");
    // A restart resends from the oldest segment left, loses nothing.
    drop(s);
    let mut s = Spool::open(tmp.path(), 64 << 10).unwrap();
    let again = s.next_batch(1000).unwrap();
    assert!(again.ends_with(&evs(390..400)), "{} resent", again.len());
}

#[test]
fn a_fully_acknowledged_spool_starts_a_fresh_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    s.append(&evs(0..100)).unwrap();
    let all = s.next_batch(1000).unwrap();
    s.ack(&ids(&all));
    assert_eq!(s.bytes(), 0);
    assert_eq!(segments(tmp.path()).len(), 1);
    drop(s);
    let mut s = Spool::open(tmp.path(), MB).unwrap();
    assert!(s.is_empty());
    assert!(s.next_batch(10).unwrap().is_empty());
}

/// An event as a contract-1 data plane spooled it: the same field numbers
/// for what did not change, and the strings in fields 3, 9, 11 and 12
/// (the `legacy_*` fields now), so its bytes are those of the old format.
fn contract_1_event(i: u32, local: &str, pool: &str, reason: &str) -> ShareEvent {
    ShareEvent {
        algorithm: 0,
        local_verdict: 0,
        pool_verdict: 0,
        legacy_algorithm: "sha256".into(),
        legacy_local_verdict: local.into(),
        legacy_pool_verdict: pool.into(),
        legacy_reason: reason.into(),
        ..ev(i)
    }
}

#[test]
fn events_spooled_by_a_contract_1_data_plane_are_handed_out_typed_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let old = [
            contract_1_event(0, "accepted", "rejected", "stale job"),
            contract_1_event(1, "rejected", "", "duplicate share"),
            contract_1_event(2, "accepted", "rejected", "pool is on fire"),
            contract_1_event(3, "accepted", "accepted", ""),
        ];
        assert_eq!(s.append(&old).unwrap(), 4);
        s.sync().unwrap();
    }
    let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
    let got = s.next_batch(10).unwrap();
    let typed: Vec<_> = got
        .iter()
        .map(|e| {
            (
                e.algorithm(),
                e.local_verdict(),
                e.pool_verdict(),
                e.reason(),
                e.reason_text.as_str(),
            )
        })
        .collect();
    use pb::{Algorithm::Sha256, Reason, Verdict};
    assert_eq!(
        typed,
        [
            (
                Sha256,
                Verdict::Accepted,
                Verdict::Rejected,
                Reason::Stale,
                ""
            ),
            (
                Sha256,
                Verdict::Rejected,
                Verdict::Unspecified,
                Reason::Duplicate,
                ""
            ),
            (
                Sha256,
                Verdict::Accepted,
                Verdict::Rejected,
                Reason::Other,
                "pool is on fire"
            ),
            (
                Sha256,
                Verdict::Accepted,
                Verdict::Accepted,
                Reason::Unspecified,
                ""
            ),
        ]
    );
    assert!(
        got.iter()
            .all(|e| !switchyard_proto::contract::has_legacy_fields(e)),
        "the strings are not sent on"
    );
    assert_eq!(s.ack(&ids(&got)), 4);
}
