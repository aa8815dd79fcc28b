//! The proxy's own verdict on a SHA-256 share, before anything goes
//! upstream: extranonce2 size, ntime window, version bits, and the hash
//! against the miner's and the pool's targets. Pure: no I/O, no clock.

use switchyard_stratum::codes;
use switchyard_stratum::share::{hash_difficulty, rolled_version, share_hash};
use switchyard_stratum::v1::Submit;

use crate::outcome::Reason;
use crate::sha256::job::Job;

/// What the proxy decides about a share by itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Refused locally with a Stratum error code and a normalised reason.
    Reject {
        code: i64,
        message: &'static str,
        reason: Reason,
    },
    /// Meets the miner's target but not the pool's: accepted, not forwarded.
    Accept { difficulty: f64 },
    /// Meets the pool's target: forward this extranonce2 and version bits.
    Forward {
        difficulty: f64,
        extranonce2: Vec<u8>,
        version_bits: Option<u32>,
    },
}

/// The miner's side of the check.
#[derive(Debug, Clone, Copy)]
pub struct MinerView<'a> {
    pub prefix: &'a [u8],
    pub extranonce2_size: usize,
    /// The version mask negotiated with the miner (0 when it did not ask).
    pub version_mask: u32,
    /// The lowest difficulty the miner may legitimately be working at.
    pub difficulty: f64,
    pub ntime_max_future: u32,
}

fn reject(code: i64, message: &'static str, reason: Reason) -> Verdict {
    Verdict::Reject {
        code,
        message,
        reason,
    }
}

/// Checks `submit` for `job`; `pool_difficulty` is the forwarding threshold.
pub fn check(job: &Job, miner: MinerView<'_>, submit: &Submit, pool_difficulty: f64) -> Verdict {
    if submit.extranonce2.len() != miner.extranonce2_size {
        return reject(codes::OTHER, "Invalid extranonce2 size", Reason::Invalid);
    }
    let job_ntime = job.notify.ntime;
    if submit.ntime < job_ntime || submit.ntime - job_ntime > miner.ntime_max_future {
        return reject(codes::OTHER, "Ntime out of range", Reason::Invalid);
    }
    let mask = miner.version_mask & job.version_mask;
    if let Some(bits) = submit.version_bits
        && bits & !mask != 0
    {
        return reject(
            codes::OTHER,
            "Version bits outside the negotiated mask",
            Reason::Invalid,
        );
    }
    let extranonce2 = job.upstream_extranonce2(miner.prefix, &submit.extranonce2);
    let version = rolled_version(job.notify.version, submit.version_bits, mask);
    let hash = share_hash(
        &job.notify,
        &job.extranonce1,
        &extranonce2,
        submit.ntime,
        submit.nonce,
        version,
    );
    let difficulty = hash_difficulty(&hash);
    // A hair of tolerance so a share exactly at the target is not lost to rounding.
    if difficulty < miner.difficulty * (1.0 - 1e-9) {
        return reject(
            codes::LOW_DIFFICULTY,
            "Low difficulty share",
            Reason::LowDifficulty(None),
        );
    }
    if difficulty >= pool_difficulty * (1.0 - 1e-9) {
        let version_bits = submit.version_bits.filter(|_| mask != 0).map(|b| b & mask);
        Verdict::Forward {
            difficulty,
            extranonce2,
            version_bits,
        }
    } else {
        Verdict::Accept { difficulty }
    }
}
