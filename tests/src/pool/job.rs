//! Realistic Stratum V1 jobs for the scripted pool: a coinbase split around
//! the extranonce, a two-step merkle branch, BIP 9 version, current ntime.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use switchyard_stratum::v1::Notify;

/// A realistic mainnet-era nbits (difficulty about 1e14); shares never meet it.
pub const NBITS: u32 = 0x1703_a30c;

/// Block version of every job (BIP 9 top bits).
pub const VERSION: u32 = 0x2000_0000;

/// Builds job `seq` (its id is `seq` in hex). `extranonce_len` is
/// extranonce1 + extranonce2 size, used for the coinbase script length.
pub fn build_job(seq: u64, extranonce_len: usize, clean: bool) -> Notify {
    let mut rng = rand::rng();
    let height = 800_000 + seq as u32;
    let tag = b"/switchyard-test/";

    // Coinbase script: BIP 34 height push, a tag, then the extranonce.
    let script_len = 4 + tag.len() + extranonce_len;
    let mut coinb1 = Vec::new();
    coinb1.extend_from_slice(&1u32.to_le_bytes()); // tx version
    coinb1.push(1); // one input
    coinb1.extend_from_slice(&[0u8; 32]); // null prevout hash
    coinb1.extend_from_slice(&u32::MAX.to_le_bytes()); // prevout index
    coinb1.push(script_len as u8);
    coinb1.push(3);
    coinb1.extend_from_slice(&height.to_le_bytes()[..3]);
    coinb1.extend_from_slice(tag);

    let mut coinb2 = Vec::new();
    coinb2.extend_from_slice(&u32::MAX.to_le_bytes()); // sequence
    coinb2.push(1); // one output
    coinb2.extend_from_slice(&625_000_000u64.to_le_bytes());
    // P2WPKH output script with a random key hash.
    coinb2.extend_from_slice(&[0x16, 0x00, 0x14]);
    let key_hash: [u8; 20] = rng.random();
    coinb2.extend_from_slice(&key_hash);
    coinb2.extend_from_slice(&0u32.to_le_bytes()); // lock time

    let ntime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1_700_000_000);

    Notify {
        job_id: format!("{seq:x}"),
        prevhash: rng.random(),
        coinb1,
        coinb2,
        merkle_branch: vec![rng.random(), rng.random()],
        version: VERSION,
        nbits: NBITS,
        ntime,
        clean_jobs: clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coinbase_script_length_covers_the_extranonce() {
        let job = build_job(1, 12, true);
        // version(4) + count(1) + prevout(36) = 41, then the script length.
        assert_eq!(job.coinb1[41] as usize, job.coinb1.len() - 42 + 12);
        assert_eq!(job.job_id, "1");
        assert_eq!(job.merkle_branch.len(), 2);
    }
}
