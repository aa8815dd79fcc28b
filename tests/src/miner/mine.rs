//! CPU share search for the scripted miner: iterate nonces per extranonce2,
//! optionally rolling version bits, until a header meets the difficulty.

use switchyard_stratum::share::{
    coinbase, hash_difficulty, header, merkle_root, rolled_version, sha256d, share_hash, swap_words,
};
use switchyard_stratum::v1::{Notify, Submit};

/// Everything needed to mine one job as the miner was told it.
#[derive(Debug, Clone)]
pub struct Work {
    pub worker: String,
    pub job: Notify,
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    pub difficulty: f64,
    /// Roll version bits inside this mask (and send `version_bits`) when set.
    pub version_mask: Option<u32>,
}

/// A share found, with the search's bookkeeping.
#[derive(Debug, Clone)]
pub struct Found {
    pub submit: Submit,
    pub difficulty: f64,
    /// Where to resume the extranonce2 counter for the next search.
    pub next_counter: u64,
    pub hashes: u64,
}

/// The extranonce2 for `counter`: big-endian, right-aligned in `size` bytes.
pub fn extranonce2(counter: u64, size: usize) -> Vec<u8> {
    let bytes = counter.to_be_bytes();
    if size >= 8 {
        let mut out = vec![0u8; size - 8];
        out.extend_from_slice(&bytes);
        out
    } else {
        bytes[8 - size..].to_vec()
    }
}

/// Version bits for `counter` inside `mask` (from the mask's lowest bit up).
pub fn version_bits(counter: u64, mask: u32) -> u32 {
    if mask == 0 {
        return 0;
    }
    ((counter as u32) << mask.trailing_zeros()) & mask
}

/// Searches from extranonce2 `counter` on; gives up after `max_hashes`.
pub fn mine(work: &Work, mut counter: u64, max_hashes: u64) -> Option<Found> {
    let prevhash = swap_words(&work.job.prevhash);
    let mut hashes = 0u64;
    while hashes < max_hashes {
        let en2 = extranonce2(counter, work.extranonce2_size);
        let bits = work.version_mask.map(|m| version_bits(counter, m));
        let version = rolled_version(work.job.version, bits, work.version_mask.unwrap_or(0));
        let cb = coinbase(&work.job.coinb1, &work.extranonce1, &en2, &work.job.coinb2);
        let root = merkle_root(sha256d(&cb), &work.job.merkle_branch);
        let mut h = header(version, &prevhash, &root, work.job.ntime, work.job.nbits, 0);
        for nonce in 0..=u32::MAX {
            if hashes >= max_hashes {
                return None;
            }
            hashes += 1;
            h[76..80].copy_from_slice(&nonce.to_le_bytes());
            let difficulty = hash_difficulty(&sha256d(&h));
            if difficulty >= work.difficulty {
                let submit = Submit {
                    worker: work.worker.clone(),
                    job_id: work.job.job_id.clone(),
                    extranonce2: en2,
                    ntime: work.job.ntime,
                    nonce,
                    version_bits: bits,
                };
                return Some(Found {
                    submit,
                    difficulty,
                    next_counter: counter + 1,
                    hashes,
                });
            }
        }
        counter += 1;
    }
    None
}

/// The difficulty of `submit` for `job` as a pool with this extranonce1 and
/// negotiated mask computes it.
pub fn share_difficulty(
    job: &Notify,
    extranonce1: &[u8],
    submit: &Submit,
    mask: Option<u32>,
) -> f64 {
    let version = rolled_version(job.version, submit.version_bits, mask.unwrap_or(0));
    hash_difficulty(&share_hash(
        job,
        extranonce1,
        &submit.extranonce2,
        submit.ntime,
        submit.nonce,
        version,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::build_job;

    #[test]
    fn extranonce2_is_right_aligned() {
        assert_eq!(extranonce2(0x0102, 4), vec![0, 0, 1, 2]);
        assert_eq!(extranonce2(0x0102, 2), vec![1, 2]);
        assert_eq!(extranonce2(1, 10), vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(version_bits(3, 0x1fff_e000), 0x6000);
    }

    #[test]
    fn found_share_meets_difficulty_through_share_hash() {
        for mask in [None, Some(0x1fff_e000)] {
            let work = Work {
                worker: "w".into(),
                job: build_job(7, 12, true),
                extranonce1: vec![1, 2, 3, 4],
                extranonce2_size: 8,
                difficulty: 1e-6,
                version_mask: mask,
            };
            let found = mine(&work, 5, 1_000_000).expect("a share at 1e-6");
            let d = share_difficulty(&work.job, &work.extranonce1, &found.submit, mask);
            assert_eq!(d, found.difficulty);
            assert!(d >= 1e-6);
            assert_eq!(found.submit.version_bits.is_some(), mask.is_some());
        }
    }
}
