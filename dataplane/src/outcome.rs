//! A share's outcome as types: [`Verdict`] and [`Reason`] (the seed report's
//! normalised categories), read from a pool's answer once, where the
//! upstream parses it, in the pool's own dialect; and the one place that
//! writes an outcome into a share event ([`complete`], [`local`]). On the
//! wire they are the contract's enums ([`Verdict::to_wire`],
//! [`Reason::to_wire`]); the strings the control plane stores ("accepted",
//! "rejected", "low difficulty share", ...) are those enums' labels, which
//! is also what `Display` prints here.

use std::fmt;
use std::time::Duration;

use switchyard_proto::v1 as pb;
use switchyard_stratum::Response;

use crate::events::{EventSink, ShareEvent};
use crate::reason;
use crate::upstream::PoolInfo;

/// Why a share was refused, by the pool or by the proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    Duplicate,
    Stale,
    /// With the difficulty the pool named, when it named one.
    LowDifficulty(Option<f64>),
    JobNotFound,
    Unauthorized,
    Timeout,
    NotConnected,
    /// Refused without a reason, or as invalid.
    Invalid,
    /// A RandomX nonce outside the miner's NiceHash slot (the proxy's own).
    InvalidNonce,
    /// Any other text, cleaned and bounded ([`reason::normalise`]).
    Pool(String),
}

impl Reason {
    /// A pool's refusal (its code and text, in any dialect's shape).
    pub fn classify(code: Option<i64>, text: &str) -> Reason {
        match reason::normalise(code, text).as_str() {
            reason::DUPLICATE => Reason::Duplicate,
            reason::STALE => Reason::Stale,
            reason::LOW_DIFFICULTY => Reason::LowDifficulty(reason::low_difficulty_value(text)),
            reason::JOB_NOT_FOUND => Reason::JobNotFound,
            reason::UNAUTHORIZED => Reason::Unauthorized,
            reason::TIMEOUT => Reason::Timeout,
            reason::NOT_CONNECTED => Reason::NotConnected,
            reason::INVALID | "" => Reason::Invalid,
            other => Reason::Pool(other.to_owned()),
        }
    }

    /// The category as stored and shown.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Duplicate => reason::DUPLICATE,
            Reason::Stale => reason::STALE,
            Reason::LowDifficulty(_) => reason::LOW_DIFFICULTY,
            Reason::JobNotFound => reason::JOB_NOT_FOUND,
            Reason::Unauthorized => reason::UNAUTHORIZED,
            Reason::Timeout => reason::TIMEOUT,
            Reason::NotConnected => reason::NOT_CONNECTED,
            Reason::Invalid => reason::INVALID,
            Reason::InvalidNonce => pb::Reason::InvalidNonce.label(),
            Reason::Pool(text) => text,
        }
    }

    /// The contract's category, with the text for a reason outside them.
    pub fn to_wire(&self) -> (pb::Reason, &str) {
        let category = match self {
            Reason::Duplicate => pb::Reason::Duplicate,
            Reason::Stale => pb::Reason::Stale,
            Reason::LowDifficulty(_) => pb::Reason::LowDifficulty,
            Reason::JobNotFound => pb::Reason::JobNotFound,
            Reason::Unauthorized => pb::Reason::Unauthorized,
            Reason::Timeout => pb::Reason::Timeout,
            Reason::NotConnected => pb::Reason::NotConnected,
            Reason::Invalid => pb::Reason::Invalid,
            Reason::InvalidNonce => pb::Reason::InvalidNonce,
            Reason::Pool(text) => return (pb::Reason::Other, text),
        };
        (category, "")
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A judgement on a share.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accepted,
    Rejected(Reason),
}

impl Verdict {
    /// From a dialect's reading of an answer: `None` accepts, a code and
    /// text refuse.
    pub fn from_refusal(refusal: Option<(Option<i64>, String)>) -> Verdict {
        match refusal {
            None => Verdict::Accepted,
            Some((code, text)) => Verdict::Rejected(Reason::classify(code, &text)),
        }
    }

    /// The reading every dialect but RandomX's status field shares: an
    /// error in any shape, or a `false` result with its `reject-reason`.
    pub fn of_response(r: &Response) -> Verdict {
        Verdict::from_refusal(r.error_parts())
    }

    pub fn is_accepted(&self) -> bool {
        *self == Verdict::Accepted
    }

    /// "accepted" or "rejected", as stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected(_) => "rejected",
        }
    }

    /// The reason as stored: empty when accepted.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Accepted => "",
            Verdict::Rejected(r) => r.as_str(),
        }
    }

    /// The contract's value.
    pub fn to_wire(&self) -> pb::Verdict {
        match self {
            Verdict::Accepted => pb::Verdict::Accepted,
            Verdict::Rejected(_) => pb::Verdict::Rejected,
        }
    }
}

/// Writes the pool's verdict and latency into a forwarded share's event.
pub fn complete(ev: &mut ShareEvent, verdict: &Verdict, latency: Duration) {
    ev.pool_latency_us = latency.as_micros().min(u128::from(u64::MAX)) as u64;
    ev.pool_verdict = Some(verdict.clone());
}

/// Writes the proxy's own verdict into a share's event.
pub fn local(ev: &mut ShareEvent, verdict: &Verdict) {
    ev.local_verdict = Some(verdict.clone());
}

/// Records a share the proxy judged by itself, counted for the pool whose
/// job it was.
pub fn record_local(
    events: &EventSink,
    pool: Option<&PoolInfo>,
    verdict: &Verdict,
    mut ev: ShareEvent,
) {
    if let Some(p) = pool {
        p.stats
            .local_verdict(verdict.is_accepted(), verdict.reason());
    }
    local(&mut ev, verdict);
    events.record(ev);
}

/// Records a share the proxy accepted but could not hand to its upstream
/// (the connection is gone): refused, "not connected", for that pool.
pub fn record_not_forwarded(events: &EventSink, pool: &PoolInfo, mut ev: ShareEvent) {
    let verdict = Verdict::Rejected(Reason::NotConnected);
    pool.stats.pool_verdict(false, verdict.reason());
    ev.pool_verdict = Some(verdict);
    events.record(ev);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pool_answers_are_classified_once_into_the_report_categories() {
        let cases: [(Option<i64>, &str, Reason); 9] = [
            (Some(22), "whatever", Reason::Duplicate),
            (None, "stale-work", Reason::Stale),
            (
                Some(23),
                "Low difficulty share of 512",
                Reason::LowDifficulty(Some(512.0)),
            ),
            (None, "high-hash", Reason::LowDifficulty(None)),
            (None, "unknown-work", Reason::JobNotFound),
            (Some(24), "", Reason::Unauthorized),
            (None, "", Reason::Pool("no reason given".into())),
            (Some(20), "bad-txnmrklroot", Reason::Invalid),
            (
                None,
                "Pool is on fire",
                Reason::Pool("pool is on fire".into()),
            ),
        ];
        for (code, text, want) in cases {
            assert_eq!(Reason::classify(code, text), want, "{code:?} {text:?}");
        }
        assert_eq!(
            Reason::LowDifficulty(Some(1.0)).to_string(),
            "low difficulty share"
        );
        let r = Response {
            id: json!(1),
            result: json!(false),
            error: json!(null),
            reject_reason: Some("high-hash".into()),
            jsonrpc: false,
        };
        assert_eq!(
            Verdict::of_response(&r),
            Verdict::Rejected(Reason::LowDifficulty(None))
        );
        assert_eq!(
            Verdict::of_response(&Response::ok(json!(1), json!(true))),
            Verdict::Accepted
        );
    }

    #[test]
    fn events_get_the_verdicts_and_the_wire_the_stored_labels() {
        let mut ev = crate::events::new_event();
        local(&mut ev, &Verdict::Accepted);
        complete(
            &mut ev,
            &Verdict::Rejected(Reason::Stale),
            Duration::from_micros(1500),
        );
        let w = ev.clone().to_wire();
        assert_eq!(
            (
                w.local_verdict().label(),
                w.pool_verdict().label(),
                w.reason().label(),
                w.pool_latency_us
            ),
            ("accepted", "rejected", "stale job", 1500)
        );
        complete(&mut ev, &Verdict::Accepted, Duration::ZERO);
        let w = ev.to_wire();
        assert_eq!(
            (w.pool_verdict(), w.reason()),
            (pb::Verdict::Accepted, pb::Reason::Unspecified)
        );
    }

    #[test]
    fn every_reason_is_a_wire_category_whose_label_is_the_stored_string() {
        let all = [
            Reason::Duplicate,
            Reason::Stale,
            Reason::LowDifficulty(Some(2.0)),
            Reason::JobNotFound,
            Reason::Unauthorized,
            Reason::Timeout,
            Reason::NotConnected,
            Reason::Invalid,
            Reason::InvalidNonce,
        ];
        for r in all {
            let (category, text) = r.to_wire();
            assert_eq!((category.label(), text), (r.as_str(), ""), "{r:?}");
            if r != Reason::InvalidNonce {
                // A pool's text naming a category reads as it (the nonce slot is the proxy's own).
                assert_eq!(
                    Reason::classify(None, category.label()).as_str(),
                    r.as_str()
                );
            }
        }
        let other = Reason::Pool("error 20".into());
        assert_eq!(other.to_wire(), (pb::Reason::Other, "error 20"));
        assert_eq!(
            Verdict::Accepted.to_wire().label(),
            Verdict::Accepted.as_str()
        );
        let rejected = Verdict::Rejected(Reason::Timeout);
        assert_eq!(rejected.to_wire().label(), rejected.as_str());
    }
}
