//! What the control plane makes of a data plane's gRPC messages before it
//! touches the store: share events turned into `share_events` rows
//! (`grpc::share_events::share`), a health report's idle workers
//! (`grpc::dataplane::idle_workers`), data-plane ids (`check_id`) and the
//! contract check of a registration.
//!
//! The first byte picks the input's form; the rest is either a message as
//! prost decodes it from the wire (0: ShareBatch, 1: HealthReport,
//! 2: RegisterRequest, 3: one ShareEvent) or (4 and up) a share event
//! built field by field from the bytes, with values near the limits
//! (UUID spellings, enum numbers around the known ones, texts around 256
//! bytes, difficulties that are NaN, infinite or negative, contract-1
//! strings).
//!
//! Nothing may panic; an accepted row keeps what the code promises (a
//! UUID id, known labels, texts of at most 256 bytes, a non-empty pool, a
//! positive time, finite difficulties...); an error names its event and
//! field; a contract-1 event reads as the typed one it spells.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Unstructured};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use switchyard_controlplane::grpc::dataplane::{MAX_IDLE_WORKERS, check_id, idle_workers};
use switchyard_controlplane::grpc::share_events::{MAX_TEXT, share};
use switchyard_controlplane::store::ShareInsert;
use switchyard_proto::v1 as pb;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    match kind {
        0 => {
            if let Ok(b) = pb::ShareBatch::decode(rest) {
                round_trip(&b);
                let _ = check_id(&b.dataplane_id);
                for (i, e) in b.events.iter().enumerate() {
                    checked(i, e);
                }
            }
        }
        1 => {
            if let Ok(h) = pb::HealthReport::decode(rest) {
                round_trip(&h);
                health(&h);
            }
        }
        2 => {
            if let Ok(r) = pb::RegisterRequest::decode(rest) {
                round_trip(&r);
                if let Err(st) = check_id(&r.dataplane_id) {
                    assert!(st.message().starts_with("dataplane_id: "), "{st:?}");
                } else {
                    assert!(!r.dataplane_id.trim().is_empty() && r.dataplane_id.len() <= 128);
                }
                let _ = switchyard_proto::contract::dataplane_refusal(
                    r.contract_version,
                    &r.version,
                    "0.1.0",
                );
                let _ = switchyard_proto::contract::controlplane_refusal(
                    r.contract_version,
                    &r.version,
                );
            }
        }
        3 => {
            if let Ok(e) = pb::ShareEvent::decode(rest) {
                round_trip(&e);
                checked(0, &e);
            }
        }
        _ => {
            let mut u = Unstructured::new(rest);
            if let Ok(e) = event(&mut u) {
                let i = usize::from(kind);
                let row = checked(i, &e);
                if has_contract_1_twin(&e) {
                    let legacy = as_contract_1(&e);
                    let again = checked(i, &legacy);
                    assert_eq!(
                        row, again,
                        "a contract-1 event does not read as its typed twin: {e:?} / {legacy:?}"
                    );
                }
            }
        }
    }
});

/// A decoded message encodes to bytes that decode to a message encoding
/// the same (compared as bytes: a NaN difficulty is not equal to itself).
fn round_trip<M: Message + Default>(m: &M) {
    let bytes = m.encode_to_vec();
    let again = M::decode(bytes.as_slice()).expect("re-encoded message decodes");
    assert_eq!(again.encode_to_vec(), bytes);
}

fn health(h: &pb::HealthReport) {
    match idle_workers(&h.idle_workers) {
        Ok(map) => {
            assert!(h.idle_workers.len() <= MAX_IDLE_WORKERS);
            assert!(map.len() <= h.idle_workers.len());
            for ((algorithm, worker), last) in &map {
                assert!(
                    pb::Algorithm::from_label(algorithm).is_some(),
                    "{algorithm:?}"
                );
                assert!(!worker.is_empty() && worker.len() <= MAX_TEXT);
                assert!(*last >= 0);
            }
        }
        Err(st) => assert!(st.message().starts_with("idle_workers"), "{st:?}"),
    }
}

/// `share(i, e)`, with what an accepted row and a refusal promise.
fn checked(i: usize, e: &pb::ShareEvent) -> Option<ShareInsert> {
    match share(i, e) {
        Ok(row) => {
            promises(&row);
            Some(row)
        }
        Err(st) => {
            assert_eq!(st.code(), tonic::Code::InvalidArgument);
            let prefix = format!("events[{i}].");
            assert!(st.message().starts_with(&prefix), "{st:?}");
            None
        }
    }
}

fn promises(r: &ShareInsert) {
    assert!(uuid::Uuid::parse_str(&r.id).is_ok(), "id {:?}", r.id);
    assert!(r.at_ms > 0);
    assert!(pb::Algorithm::from_label(&r.algorithm).is_some(), "{r:?}");
    assert!(pb::Verdict::from_label(&r.local_verdict).is_some(), "{r:?}");
    if let Some(v) = &r.pool_verdict {
        assert!(pb::Verdict::from_label(v).is_some(), "{r:?}");
    }
    for s in [&r.pool, &r.worker, &r.job_id] {
        assert!(s.len() <= MAX_TEXT, "{r:?}");
    }
    assert!(!r.pool.is_empty());
    if let Some(reason) = &r.reason {
        assert!(!reason.trim().is_empty() && reason.len() <= MAX_TEXT, "{r:?}");
    }
    assert!(r.miner_difficulty.is_finite() && r.miner_difficulty >= 0.0, "{r:?}");
    if let Some(d) = r.share_difficulty {
        assert!(d.is_finite() && d > 0.0, "{r:?}");
    }
    if let Some(l) = r.pool_latency_us {
        assert!(l > 0, "{r:?}");
    }
    let v = r.verdict();
    assert!(pb::Verdict::from_label(v).is_some(), "verdict {v:?}");
}

/// Whether contract 1 could say the same: no legacy strings already, every
/// enum value known, no REASON_OTHER without text, and no reason text past
/// the limit (the typed event is refused for it even where it is unused;
/// contract 1 had no such field).
fn has_contract_1_twin(e: &pb::ShareEvent) -> bool {
    !switchyard_proto::contract::has_legacy_fields(e)
        && pb::Algorithm::try_from(e.algorithm).is_ok()
        && pb::Verdict::try_from(e.local_verdict).is_ok()
        && pb::Verdict::try_from(e.pool_verdict).is_ok()
        && pb::Reason::try_from(e.reason).is_ok_and(|r| r != pb::Reason::Other || !e.reason_text.is_empty())
        && e.reason_text.len() <= MAX_TEXT
}

/// The same event as a contract-1 data plane spelled it: its enums as
/// their labels in the legacy strings.
fn as_contract_1(e: &pb::ShareEvent) -> pb::ShareEvent {
    let label = |known: Option<&'static str>, raw: i32| match known {
        Some(l) => l.to_string(),
        None => format!("?{raw}"),
    };
    let algorithm = label(
        pb::Algorithm::try_from(e.algorithm).ok().map(|a| a.label()),
        e.algorithm,
    );
    let local = label(
        pb::Verdict::try_from(e.local_verdict).ok().map(|v| v.label()),
        e.local_verdict,
    );
    let pool = label(
        pb::Verdict::try_from(e.pool_verdict).ok().map(|v| v.label()),
        e.pool_verdict,
    );
    let reason = match pb::Reason::try_from(e.reason) {
        Ok(r) => r.stored(&e.reason_text).to_string(),
        Err(_) => format!("?{}", e.reason),
    };
    pb::ShareEvent {
        algorithm: 0,
        local_verdict: 0,
        pool_verdict: 0,
        reason: 0,
        reason_text: String::new(),
        // Contract 1 wrote labels, in capitals for the algorithm at times.
        legacy_algorithm: if e.forwarded {
            algorithm.to_uppercase()
        } else {
            algorithm
        },
        legacy_local_verdict: local,
        legacy_pool_verdict: pool,
        legacy_reason: reason,
        ..e.clone()
    }
}

fn text(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => u.arbitrary()?,
        // Around the 256-byte limit, in one- or two-byte characters.
        1 => "w".repeat(u.int_in_range(250..=260)?),
        2 => "é".repeat(u.int_in_range(125..=130)?),
        _ => String::new(),
    })
}

fn number(u: &mut Unstructured<'_>, known: i32) -> arbitrary::Result<i32> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => u.arbitrary()?,
        _ => u.int_in_range(-1..=known + 1)?,
    })
}

fn float(u: &mut Unstructured<'_>) -> arbitrary::Result<f64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => -0.0,
        4 => f64::MAX,
        5 => f64::MIN_POSITIVE,
        6 => u.arbitrary()?,
        _ => f64::from(u.arbitrary::<u32>()?),
    })
}

fn event(u: &mut Unstructured<'_>) -> arbitrary::Result<pb::ShareEvent> {
    let uuid = uuid::Uuid::from_bytes(u.arbitrary()?);
    let id = match u.int_in_range(0u8..=5)? {
        0 => uuid.hyphenated().to_string(),
        1 => uuid.simple().to_string(),
        2 => uuid.braced().to_string(),
        3 => uuid.urn().to_string(),
        4 => uuid.hyphenated().to_string().to_uppercase(),
        _ => u.arbitrary()?,
    };
    let at_unix_ms = match u.int_in_range(0u8..=2)? {
        0 => u.arbitrary()?,
        1 => i64::from(u.arbitrary::<i8>()?),
        _ => 1_700_000_000_000,
    };
    let mut e = pb::ShareEvent {
        id,
        at_unix_ms,
        algorithm: number(u, 3)?,
        pool: text(u)?,
        worker: text(u)?,
        job_id: text(u)?,
        miner_difficulty: float(u)?,
        share_difficulty: float(u)?,
        local_verdict: number(u, 2)?,
        forwarded: u.arbitrary()?,
        pool_verdict: number(u, 2)?,
        reason: number(u, 10)?,
        reason_text: text(u)?,
        pool_latency_us: u.arbitrary()?,
        ..Default::default()
    };
    if u.arbitrary::<bool>()? {
        const WORDS: [&str; 8] = [
            "sha256",
            "SHA256",
            "accepted",
            "rejected",
            "stale job",
            "other",
            "",
            " randomx ",
        ];
        let mut legacy = || -> arbitrary::Result<String> {
            Ok(match u.int_in_range(0u8..=2)? {
                0 => u.choose(&WORDS)?.to_string(),
                1 => text(u)?,
                _ => String::new(),
            })
        };
        e.legacy_algorithm = legacy()?;
        e.legacy_local_verdict = legacy()?;
        e.legacy_pool_verdict = legacy()?;
        e.legacy_reason = legacy()?;
    }
    Ok(e)
}
