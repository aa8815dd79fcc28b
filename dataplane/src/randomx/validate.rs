//! The proxy's own verdict on a RandomX share, before anything goes
//! upstream: the nonce inside the miner's NiceHash slot, and the claimed hash
//! (`result`) against the miner's and the pool's targets. The proxy cannot
//! afford to recompute RandomX, so like every RandomX proxy it trusts the
//! claimed hash for filtering and leaves verification to the pool. Pure: no
//! I/O, no clock.

use crate::outcome::Reason;
use switchyard_stratum::randomx::{Submit, Target, result_difficulty};

/// What the proxy decides about a share by itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Refused locally with a message for the miner and a normalised reason.
    Reject { message: String, reason: Reason },
    /// Meets the miner's target but not the pool's: accepted, not forwarded.
    Accept { difficulty: f64 },
    /// Meets the pool's target: forward it.
    Forward { difficulty: f64 },
}

/// The miner's side of the check: its slot (aggregation) and the target it
/// was given with the job.
#[derive(Debug, Clone, Copy)]
pub struct MinerView {
    pub slot: Option<u8>,
    pub target: Target,
}

/// Checks `submit` against the job's `pool_target` and the miner's view.
pub fn check(pool_target: Target, miner: MinerView, submit: &Submit) -> Verdict {
    if let Some(slot) = miner.slot
        && submit.slot() != slot
    {
        return Verdict::Reject {
            message: format!(
                "Nonce {} is outside this miner's nicehash slot: its top byte must be {slot:02x}",
                hex::encode(submit.nonce)
            ),
            reason: Reason::InvalidNonce,
        };
    }
    let difficulty = result_difficulty(&submit.result) as f64;
    if !miner.target.is_met_by(&submit.result) {
        return Verdict::Reject {
            message: "Low difficulty share".into(),
            reason: Reason::LowDifficulty(None),
        };
    }
    if pool_target.is_met_by(&submit.result) {
        Verdict::Forward { difficulty }
    } else {
        Verdict::Accept { difficulty }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    /// A claimed hash whose value (last 8 bytes, little-endian) is `v`.
    fn share(nonce: [u8; 4], v: u64) -> Submit {
        let mut result = [0u8; 32];
        result[24..].copy_from_slice(&v.to_le_bytes());
        Submit {
            id: "s".into(),
            job_id: "j".into(),
            nonce,
            result,
            algo: None,
            extra: Map::new(),
        }
    }

    #[test]
    fn the_claimed_hash_is_judged_against_both_targets() {
        let pool = Target::from_difficulty(1000);
        let miner = MinerView {
            slot: Some(3),
            target: Target::from_difficulty(100),
        };
        let n = [1, 2, 0, 3];
        // Difficulty 10,000: meets both.
        assert!(matches!(
            check(pool, miner, &share(n, u64::MAX / 10_000)),
            Verdict::Forward { difficulty } if difficulty >= 10_000.0
        ));
        // Difficulty 500: the miner's but not the pool's.
        assert!(matches!(
            check(pool, miner, &share(n, u64::MAX / 500)),
            Verdict::Accept { .. }
        ));
        // Difficulty 50: below the miner's.
        let v = check(pool, miner, &share(n, u64::MAX / 50));
        assert!(
            matches!(&v, Verdict::Reject { reason, .. } if reason.as_str() == "low difficulty share"),
            "{v:?}"
        );
    }

    #[test]
    fn a_nonce_outside_the_slot_is_refused_whatever_its_hash() {
        let t = Target::from_difficulty(1);
        let miner = MinerView {
            slot: Some(0x40),
            target: t,
        };
        let v = check(t, miner, &share([0, 0, 0, 0x41], 0));
        match v {
            Verdict::Reject { message, reason } => {
                assert_eq!(reason.as_str(), "invalid nonce");
                assert!(message.contains("must be 40"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Passthrough: no slot, any nonce.
        let free = MinerView {
            slot: None,
            target: t,
        };
        assert!(matches!(
            check(t, free, &share([0, 0, 0, 0x41], 0)),
            Verdict::Forward { .. }
        ));
    }
}
