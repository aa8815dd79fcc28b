//! A share's outcome as types: [`Verdict`] and [`Reason`] (the seed report's
//! normalised categories), read from a pool's answer once, where the
//! upstream parses it, in the pool's own dialect; and the one place that
//! writes an outcome into a share event ([`complete`], [`local`]). The
//! strings the control plane stores ("accepted", "rejected", "low
//! difficulty share", ...) are what their `Display` prints, so the proto,
//! the database and every view read as before.

use std::fmt;
use std::time::Duration;

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
            Reason::InvalidNonce => "invalid nonce",
            Reason::Pool(text) => text,
        }
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
}

/// Writes the pool's verdict and latency into a forwarded share's event.
pub fn complete(ev: &mut ShareEvent, verdict: &Verdict, latency: Duration) {
    ev.pool_latency_us = latency.as_micros().min(u128::from(u64::MAX)) as u64;
    ev.pool_verdict = verdict.as_str().into();
    ev.reason = verdict.reason().into();
}

/// Writes the proxy's own verdict into a share's event.
pub fn local(ev: &mut ShareEvent, verdict: &Verdict) {
    ev.local_verdict = verdict.as_str().into();
    ev.reason = verdict.reason().into();
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
    ev.pool_verdict = verdict.as_str().into();
    ev.reason = verdict.reason().into();
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
    fn events_get_the_stored_strings() {
        let mut ev = crate::events::new_event();
        local(&mut ev, &Verdict::Accepted);
        complete(
            &mut ev,
            &Verdict::Rejected(Reason::Stale),
            Duration::from_micros(1500),
        );
        assert_eq!(
            (
                ev.local_verdict.as_str(),
                ev.pool_verdict.as_str(),
                ev.reason.as_str(),
                ev.pool_latency_us
            ),
            ("accepted", "rejected", "stale job", 1500)
        );
        complete(&mut ev, &Verdict::Accepted, Duration::ZERO);
        assert_eq!(
            (ev.pool_verdict.as_str(), ev.reason.as_str()),
            ("accepted", "")
        );
    }
}
