//! Share events from the wire to store rows: each checked field by field
//! (a bad one is refused alone, its error naming the event and the field),
//! the contract's enums stored as their labels ("sha256", "accepted",
//! "stale job", ...), and events written under contract 1 (strings, from
//! an older data plane's spool) read as their typed equivalents.

use switchyard_proto::v1 as pb;
use switchyard_proto::{contract, known};
use tonic::Status;

use super::invalid;
use crate::store::ShareInsert;

/// Longest accepted text field of an event.
pub const MAX_TEXT: usize = 256;

/// An enum field of event `i`, or an error naming it.
fn enumerated<E: TryFrom<i32>>(i: usize, f: &str, v: i32) -> Result<E, Status> {
    known(&format!("events[{i}].{f}"), v).map_err(Status::invalid_argument)
}

/// Validates one reported event; errors name the event and the field.
pub fn share(i: usize, e: &pb::ShareEvent) -> Result<ShareInsert, Status> {
    // Only an event of contract 1 (rare: an older data plane's spool) is copied.
    let upgraded;
    let e = if contract::has_legacy_fields(e) {
        let mut u = e.clone();
        contract::upgrade_event(&mut u);
        upgraded = u;
        &upgraded
    } else {
        e
    };
    let field = |f: &str| format!("events[{i}].{f}");
    // A contract-1 string no value matched, named as sent.
    let was = |legacy: &str| {
        if legacy.is_empty() {
            String::new()
        } else {
            format!(" (contract-1 text {legacy:?})")
        }
    };
    if uuid::Uuid::parse_str(&e.id).is_err() {
        return Err(invalid(&field("id"), format!("{:?} is not a UUID", e.id)));
    }
    let algorithm: pb::Algorithm = enumerated(i, "algorithm", e.algorithm)?;
    if algorithm == pb::Algorithm::Unspecified {
        return Err(invalid(
            &field("algorithm"),
            format!(
                "must be SHA256, RANDOMX or ZKSNARK{}",
                was(&e.legacy_algorithm)
            ),
        ));
    }
    if e.at_unix_ms <= 0 {
        return Err(invalid(
            &field("at_unix_ms"),
            "must be a positive unix time in milliseconds",
        ));
    }
    for (name, v) in [
        ("pool", &e.pool),
        ("worker", &e.worker),
        ("job_id", &e.job_id),
        ("reason_text", &e.reason_text),
    ] {
        if v.len() > MAX_TEXT {
            return Err(invalid(&field(name), format!("at most {MAX_TEXT} bytes")));
        }
    }
    if e.pool.is_empty() {
        return Err(invalid(&field("pool"), "must not be empty"));
    }
    let local: pb::Verdict = enumerated(i, "local_verdict", e.local_verdict)?;
    if local == pb::Verdict::Unspecified {
        return Err(invalid(
            &field("local_verdict"),
            format!(
                "must be ACCEPTED or REJECTED{}",
                was(&e.legacy_local_verdict)
            ),
        ));
    }
    let pool: pb::Verdict = enumerated(i, "pool_verdict", e.pool_verdict)?;
    if pool == pb::Verdict::Unspecified && !e.legacy_pool_verdict.is_empty() {
        return Err(invalid(
            &field("pool_verdict"),
            format!(
                "must be ACCEPTED, REJECTED or unset{}",
                was(&e.legacy_pool_verdict)
            ),
        ));
    }
    let reason = match enumerated(i, "reason", e.reason)? {
        pb::Reason::Unspecified => None,
        pb::Reason::Other if e.reason_text.trim().is_empty() => {
            return Err(invalid(
                &field("reason_text"),
                "must name the reason with REASON_OTHER",
            ));
        }
        pb::Reason::Other => Some(e.reason_text.clone()),
        r => Some(r.label().to_string()),
    };
    if !e.miner_difficulty.is_finite()
        || e.miner_difficulty < 0.0
        || !e.share_difficulty.is_finite()
    {
        return Err(invalid(
            &field("miner_difficulty"),
            "difficulties must be finite and not negative",
        ));
    }
    Ok(ShareInsert {
        algorithm: algorithm.label().to_string(),
        local_verdict: local.label().to_string(),
        pool_verdict: (pool != pb::Verdict::Unspecified).then(|| pool.label().to_string()),
        reason,
        share_difficulty: (e.share_difficulty > 0.0).then_some(e.share_difficulty),
        pool_latency_us: (e.pool_latency_us > 0)
            .then(|| e.pool_latency_us.min(i64::MAX as u64) as i64),
        id: e.id.clone(),
        at_ms: e.at_unix_ms,
        pool: e.pool.clone(),
        worker: e.worker.clone(),
        job_id: e.job_id.clone(),
        miner_difficulty: e.miner_difficulty,
        forwarded: e.forwarded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0190a8c4-0000-7000-8000-000000000001";

    fn typed() -> pb::ShareEvent {
        pb::ShareEvent {
            id: ID.into(),
            at_unix_ms: 1_700_000_000_000,
            algorithm: pb::Algorithm::Randomx as i32,
            pool: "xmr".into(),
            worker: "rig1".into(),
            job_id: "1a".into(),
            miner_difficulty: 1024.0,
            share_difficulty: 2048.0,
            local_verdict: pb::Verdict::Accepted as i32,
            forwarded: true,
            pool_verdict: pb::Verdict::Rejected as i32,
            reason: pb::Reason::Stale as i32,
            pool_latency_us: 350,
            ..pb::ShareEvent::default()
        }
    }

    fn stored(s: &ShareInsert) -> (&str, &str, Option<&str>, Option<&str>) {
        (
            s.algorithm.as_str(),
            s.local_verdict.as_str(),
            s.pool_verdict.as_deref(),
            s.reason.as_deref(),
        )
    }

    #[test]
    fn enums_are_stored_as_their_labels() {
        let s = share(0, &typed()).unwrap();
        assert_eq!(
            stored(&s),
            ("randomx", "accepted", Some("rejected"), Some("stale job"))
        );
        assert_eq!(
            (s.share_difficulty, s.pool_latency_us),
            (Some(2048.0), Some(350))
        );
        let other = pb::ShareEvent {
            reason: pb::Reason::Other as i32,
            reason_text: "pool is on fire".into(),
            ..typed()
        };
        assert_eq!(
            share(0, &other).unwrap().reason.as_deref(),
            Some("pool is on fire")
        );
        let unanswered = pb::ShareEvent {
            pool_verdict: 0,
            reason: 0,
            ..typed()
        };
        assert_eq!(
            stored(&share(0, &unanswered).unwrap()),
            ("randomx", "accepted", None, None)
        );
    }

    /// An event as a contract-1 data plane wrote it (its strings in the
    /// old field numbers, now the `legacy_*` fields), e.g. from its spool.
    #[test]
    fn a_contract_1_event_is_stored_with_its_verdicts_and_reason() {
        let old = pb::ShareEvent {
            algorithm: 0,
            local_verdict: 0,
            pool_verdict: 0,
            reason: 0,
            legacy_algorithm: "sha256".into(),
            legacy_local_verdict: "accepted".into(),
            legacy_pool_verdict: "rejected".into(),
            legacy_reason: "low difficulty share".into(),
            ..typed()
        };
        assert_eq!(
            stored(&share(0, &old).unwrap()),
            (
                "sha256",
                "accepted",
                Some("rejected"),
                Some("low difficulty share")
            )
        );
        let own_text = pb::ShareEvent {
            legacy_reason: "error 20".into(),
            ..old.clone()
        };
        assert_eq!(
            share(0, &own_text).unwrap().reason.as_deref(),
            Some("error 20")
        );
        let bad = pb::ShareEvent {
            legacy_local_verdict: "maybe".into(),
            ..old
        };
        let err = share(4, &bad).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().starts_with("events[4].local_verdict: ")
                && err.message().contains("\"maybe\""),
            "{}",
            err.message()
        );
    }

    #[test]
    fn bad_enum_values_are_refused_naming_the_field() {
        let cases: [(&str, pb::ShareEvent); 6] = [
            (
                "events[2].algorithm: 9 ",
                pb::ShareEvent {
                    algorithm: 9,
                    ..typed()
                },
            ),
            (
                "events[2].algorithm: must be",
                pb::ShareEvent {
                    algorithm: 0,
                    ..typed()
                },
            ),
            (
                "events[2].local_verdict: 5 ",
                pb::ShareEvent {
                    local_verdict: 5,
                    ..typed()
                },
            ),
            (
                "events[2].local_verdict: must be",
                pb::ShareEvent {
                    local_verdict: 0,
                    ..typed()
                },
            ),
            (
                "events[2].pool_verdict: -1 ",
                pb::ShareEvent {
                    pool_verdict: -1,
                    ..typed()
                },
            ),
            (
                "events[2].reason: 99 ",
                pb::ShareEvent {
                    reason: 99,
                    ..typed()
                },
            ),
        ];
        for (want, e) in cases {
            let err = share(2, &e).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
            assert!(err.message().starts_with(want), "{want}: {}", err.message());
        }
        let nameless = pb::ShareEvent {
            reason: pb::Reason::Other as i32,
            ..typed()
        };
        let err = share(1, &nameless).unwrap_err();
        assert!(
            err.message().starts_with("events[1].reason_text: "),
            "{}",
            err.message()
        );
    }
}
