//! [`ShareEvent`]: one share as a session records it, with typed verdicts;
//! [`ShareEvent::to_wire`] writes it in the contract's form
//! ([`WireEvent`]), which the spool stores and the control plane receives.

use switchyard_proto::v1 as pb;

use crate::config::Algorithm;
use crate::outcome::Verdict;

/// An event in the contract's form.
pub type WireEvent = pb::ShareEvent;

/// One share a miner submitted (design.md decision 5), as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareEvent {
    /// UUIDv7; filled in when recorded if empty.
    pub id: String,
    pub at_unix_ms: i64,
    /// The algorithm's name (`sha256`, `randomx`, `zksnark`): a constant,
    /// no allocation per share.
    pub algorithm: &'static str,
    pub pool: String,
    pub worker: String,
    pub job_id: String,
    pub miner_difficulty: f64,
    /// 0 where the hash cannot be computed (ALEO).
    pub share_difficulty: f64,
    /// The proxy's verdict.
    pub local_verdict: Option<Verdict>,
    pub forwarded: bool,
    /// The pool's verdict; `None` when not forwarded or unanswered.
    pub pool_verdict: Option<Verdict>,
    /// Round trip to the pool in microseconds; 0 when not forwarded.
    pub pool_latency_us: u64,
    /// The miner connection it came from (the telemetry's id; 0: none).
    /// Not part of the record.
    pub conn: u64,
}

impl ShareEvent {
    /// The event in the contract's form. Its reason is the final verdict's:
    /// the pool's when it answered, else the proxy's.
    pub fn to_wire(self) -> WireEvent {
        let verdict = |v: &Option<Verdict>| {
            v.as_ref()
                .map_or(pb::Verdict::Unspecified, Verdict::to_wire) as i32
        };
        let (reason, reason_text) = match self.pool_verdict.as_ref().or(self.local_verdict.as_ref())
        {
            Some(Verdict::Rejected(r)) => r.to_wire(),
            _ => (pb::Reason::Unspecified, ""),
        };
        WireEvent {
            // By exact name: no allocation per share.
            algorithm: Algorithm::ALL
                .into_iter()
                .find(|a| a.as_str() == self.algorithm)
                .map_or(pb::Algorithm::Unspecified, Algorithm::to_wire)
                as i32,
            local_verdict: verdict(&self.local_verdict),
            pool_verdict: verdict(&self.pool_verdict),
            reason: reason as i32,
            reason_text: reason_text.to_owned(),
            id: self.id,
            at_unix_ms: self.at_unix_ms,
            pool: self.pool,
            worker: self.worker,
            job_id: self.job_id,
            miner_difficulty: self.miner_difficulty,
            share_difficulty: self.share_difficulty,
            forwarded: self.forwarded,
            pool_latency_us: self.pool_latency_us,
            ..WireEvent::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Reason;

    fn share(local: Option<Verdict>, pool: Option<Verdict>) -> WireEvent {
        ShareEvent {
            id: "e".into(),
            at_unix_ms: 5,
            algorithm: "randomx",
            pool: "xmr".into(),
            worker: "rig".into(),
            job_id: "j".into(),
            miner_difficulty: 2.0,
            share_difficulty: 3.0,
            local_verdict: local,
            forwarded: pool.is_some(),
            pool_verdict: pool,
            pool_latency_us: 7,
            conn: 0,
        }
        .to_wire()
    }

    #[test]
    fn the_wire_form_carries_every_field_and_the_final_reason() {
        let w = share(Some(Verdict::Accepted), Some(Verdict::Accepted));
        assert_eq!(
            (w.id.as_str(), w.at_unix_ms, w.algorithm(), w.pool.as_str()),
            ("e", 5, pb::Algorithm::Randomx, "xmr")
        );
        assert_eq!(
            (w.worker.as_str(), w.job_id.as_str(), w.miner_difficulty),
            ("rig", "j", 2.0)
        );
        assert_eq!(
            (w.share_difficulty, w.forwarded, w.pool_latency_us),
            (3.0, true, 7)
        );
        assert_eq!(
            (w.local_verdict(), w.pool_verdict(), w.reason()),
            (
                pb::Verdict::Accepted,
                pb::Verdict::Accepted,
                pb::Reason::Unspecified
            )
        );
        assert!(!switchyard_proto::contract::has_legacy_fields(&w));

        let pool_refused = share(
            Some(Verdict::Accepted),
            Some(Verdict::Rejected(Reason::Pool("pool is on fire".into()))),
        );
        assert_eq!(
            (pool_refused.reason(), pool_refused.reason_text.as_str()),
            (pb::Reason::Other, "pool is on fire")
        );
        let local = share(Some(Verdict::Rejected(Reason::Duplicate)), None);
        assert_eq!(
            (local.local_verdict(), local.pool_verdict(), local.reason()),
            (
                pb::Verdict::Rejected,
                pb::Verdict::Unspecified,
                pb::Reason::Duplicate
            )
        );
        assert_eq!(local.reason_text, "");
    }

    #[test]
    fn an_unknown_algorithm_name_goes_out_unspecified_for_the_control_plane_to_refuse() {
        let w = ShareEvent {
            algorithm: "scrypt",
            ..ShareEvent::default()
        }
        .to_wire();
        assert_eq!(w.algorithm(), pb::Algorithm::Unspecified);
    }
}
