//! The circuit breaker state machine: every transition, its reasons, and the
//! seed's defects (one failure per 15-minute window; half-open trials).

use chrono::{DateTime, Duration, Utc};
use switchyard_model::breaker::{Breaker, BreakerSettings, BreakerState, Transition};
use switchyard_model::plan::BreakerView;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
        .expect("rfc3339")
        .with_timezone(&Utc)
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

fn moves(ts: &[Transition]) -> Vec<(BreakerState, BreakerState)> {
    ts.iter().map(|t| (t.from, t.to)).collect()
}

/// A breaker opened by five failures at t0 + 0..5 s (open until t0 + 64 s).
fn opened(s: &BreakerSettings) -> Breaker {
    let mut b = Breaker::new(t0());
    for i in 0..5 {
        b.record(false, "connection refused", at(i), s);
    }
    assert_eq!(b.state, BreakerState::Open);
    b
}

#[test]
fn names_round_trip() {
    for s in [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
    ] {
        assert_eq!(s.as_str().parse::<BreakerState>(), Ok(s));
        assert_eq!(s.to_string(), s.as_str());
    }
    assert_eq!(
        "HALF_OPEN".parse::<BreakerState>(),
        Ok(BreakerState::HalfOpen)
    );
    assert!(
        "ajar"
            .parse::<BreakerState>()
            .unwrap_err()
            .to_string()
            .contains("half-open")
    );
}

#[test]
fn closed_opens_after_threshold_consecutive_failures_each_attempt_counting() {
    let s = BreakerSettings::default();
    let mut b = Breaker::new(t0());
    // Five failed attempts within one second: five failures (the seed counted
    // one per 15-minute window and needed over an hour to open).
    for i in 0..4 {
        assert!(b.record(false, "connection refused", at(i), &s).is_empty());
        assert_eq!(b.consecutive_failures, (i + 1) as u32);
    }
    let ts = b.record(false, "connection refused", at(4), &s);
    assert_eq!(moves(&ts), vec![(BreakerState::Closed, BreakerState::Open)]);
    assert_eq!(
        ts[0].reason,
        "5 consecutive failures, last: connection refused"
    );
    assert_eq!(ts[0].at, at(4));
    assert_eq!(
        (b.changed_at, b.retry_at, b.next_deadline()),
        (at(4), Some(at(64)), Some(at(64)))
    );
    assert_eq!(b.last_error, "connection refused");
    assert_eq!(b.view(), Some(BreakerView::Open { until: at(64) }));
}

#[test]
fn a_success_resets_the_count() {
    let s = BreakerSettings::default();
    let mut b = Breaker::new(t0());
    for i in 0..4 {
        b.record(false, "timeout", at(i), &s);
    }
    b.record(true, "", at(5), &s);
    assert_eq!(b.consecutive_failures, 0);
    for i in 0..4 {
        assert!(b.record(false, "timeout", at(10 + i), &s).is_empty());
    }
    assert_eq!(b.state, BreakerState::Closed);
}

#[test]
fn open_half_opens_after_the_recovery_timeout() {
    let s = BreakerSettings::default();
    let mut b = opened(&s);
    assert_eq!(b.tick(at(63), &s), None);
    let t = b.tick(at(90), &s).expect("half-opens");
    assert_eq!(
        (t.from, t.to, t.at),
        (BreakerState::Open, BreakerState::HalfOpen, at(64)),
        "dated when due"
    );
    assert_eq!(t.reason, "recovery timeout elapsed");
    assert_eq!(
        (b.retry_at, b.next_deadline(), b.view()),
        (None, None, Some(BreakerView::HalfOpen))
    );
    assert_eq!(b.tick(at(91), &s), None);
}

#[test]
fn results_while_open_are_ignored() {
    let s = BreakerSettings::default();
    let mut b = opened(&s);
    let before = b.clone();
    assert!(b.record(true, "", at(10), &s).is_empty());
    assert!(b.record(false, "late report", at(11), &s).is_empty());
    assert_eq!(b, before);
}

#[test]
fn half_open_closes_after_success_threshold() {
    let s = BreakerSettings::default();
    let mut b = opened(&s);
    b.tick(at(64), &s);
    assert!(b.record(true, "", at(65), &s).is_empty());
    assert_eq!(b.successes, 1);
    let ts = b.record(true, "", at(66), &s);
    assert_eq!(
        moves(&ts),
        vec![(BreakerState::HalfOpen, BreakerState::Closed)]
    );
    assert_eq!(ts[0].reason, "2 successes in half-open");
    assert_eq!(
        (b.consecutive_failures, b.successes, b.view()),
        (0, 0, None)
    );
}

#[test]
fn a_failure_in_half_open_reopens() {
    let s = BreakerSettings::default();
    let mut b = opened(&s);
    b.tick(at(64), &s);
    b.record(true, "", at(65), &s);
    let ts = b.record(false, "handshake timeout", at(66), &s);
    assert_eq!(
        moves(&ts),
        vec![(BreakerState::HalfOpen, BreakerState::Open)]
    );
    assert_eq!(ts[0].reason, "failure in half-open: handshake timeout");
    assert_eq!((b.successes, b.retry_at), (0, Some(at(126))));
}

#[test]
fn record_applies_the_timeout_first_and_reports_both_transitions() {
    let s = BreakerSettings::default();
    let mut b = opened(&s);
    let ts = b.record(false, "refused again", at(100), &s);
    assert_eq!(
        moves(&ts),
        vec![
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Open)
        ]
    );
    assert_eq!((ts[0].at, ts[1].at), (at(64), at(100)));
    assert_eq!(b.retry_at, Some(at(160)));
}

#[test]
fn operator_open_and_reset() {
    let s = BreakerSettings::default();
    let mut b = Breaker::new(t0());
    let t = b.force_open(at(1), &s, "").expect("opens");
    assert_eq!(
        (t.from, t.to, t.reason.as_str()),
        (
            BreakerState::Closed,
            BreakerState::Open,
            "opened by operator"
        )
    );
    assert_eq!(b.retry_at, Some(at(61)));
    assert_eq!(b.force_open(at(2), &s, "again"), None, "already open");
    let t = b.reset(at(3)).expect("closes");
    assert_eq!(
        (t.from, t.to, t.reason.as_str()),
        (
            BreakerState::Open,
            BreakerState::Closed,
            "reset by operator"
        )
    );
    assert_eq!(
        (b.state, b.retry_at, b.next_deadline()),
        (BreakerState::Closed, None, None)
    );
    assert_eq!(b.reset(at(4)), None, "already closed");
    b.tick(at(100), &s);
    let t = b
        .force_open(at(101), &s, "pool maintenance")
        .expect("opens");
    assert_eq!(t.reason, "opened by operator: pool maintenance");
}

#[test]
fn disabled_breaker_never_opens() {
    let s = BreakerSettings {
        enabled: false,
        ..BreakerSettings::default()
    };
    let mut b = Breaker::new(t0());
    for i in 0..50 {
        assert!(b.record(false, "refused", at(i), &s).is_empty());
    }
    assert_eq!(
        (b.state, b.consecutive_failures),
        (BreakerState::Closed, 50)
    );
    // A breaker left open before the breaker was disabled closes on the next result.
    let mut b = opened(&BreakerSettings::default());
    let ts = b.record(false, "refused", at(10), &s);
    assert_eq!(moves(&ts), vec![(BreakerState::Open, BreakerState::Closed)]);
    assert_eq!(ts[0].reason, "circuit breaker disabled");
}

#[test]
fn degenerate_settings_do_not_panic() {
    let s = BreakerSettings {
        enabled: true,
        failure_threshold: 0,
        recovery_timeout_s: 0,
        success_threshold: 0,
    };
    let mut b = Breaker::new(t0());
    let ts = b.record(false, "x", at(0), &s);
    assert_eq!(ts[0].reason, "1 failure, last: x");
    let ts = b.record(true, "", at(0), &s);
    assert_eq!(
        moves(&ts),
        vec![
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Closed)
        ]
    );
    let mut far = Breaker::new(DateTime::<Utc>::MAX_UTC);
    let s = BreakerSettings {
        recovery_timeout_s: u32::MAX,
        failure_threshold: 1,
        ..s
    };
    far.record(false, "x", DateTime::<Utc>::MAX_UTC, &s);
    assert_eq!(far.state, BreakerState::Open);
}
