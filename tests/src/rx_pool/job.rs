//! Monero-shaped jobs for the RandomX scripted pool: a hashing blob laid out
//! like a block header (versions, timestamp, previous id, nonce at 39, tree
//! root, tx count), per-connection personalisation and the target.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Map;
use switchyard_stratum::randomx::{Job, NONCE_OFFSET, Target};

use super::RxPoolConfig;

/// How a pushed job differs from the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobChange {
    /// Same height and seed: earlier jobs stay valid.
    Refresh,
    /// The next height: jobs of lower heights become stale.
    NewHeight,
    /// The next height and a new `seed_hash`.
    NewSeed,
}

/// Where the tree root starts; per-connection bytes go here.
const ROOT_OFFSET: usize = NONCE_OFFSET + 4;

/// The target for `difficulty` in the form the config asks for.
pub(crate) fn target(config: &RxPoolConfig, difficulty: u64) -> Target {
    if config.full_target {
        Target::Full(u64::MAX / difficulty.max(1))
    } else {
        Target::from_difficulty(difficulty)
    }
}

/// A job template: zero nonce, random previous id and tree root.
pub(crate) fn build_job(
    config: &RxPoolConfig,
    seq: u64,
    height: u64,
    seed_hash: [u8; 32],
    difficulty: u64,
) -> Job {
    let mut blob: Vec<u8> = (0..config.blob_len.max(76))
        .map(|_| rand::random())
        .collect();
    blob[0] = 16; // major version
    blob[1] = 16; // minor version
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1_700_000_000);
    blob[2..7].copy_from_slice(&varint5(now));
    blob[NONCE_OFFSET..NONCE_OFFSET + 4].fill(0);
    blob[75] = 1; // transaction count
    Job {
        blob,
        job_id: format!("{}{seq}", config.job_id_prefix),
        target: target(config, difficulty),
        algo: config.algo_in_job.then(|| config.algo.clone()),
        height: Some(height),
        seed_hash: Some(seed_hash),
        extra: Map::new(),
    }
}

/// The template as sent to connection `conn`: its id mixed into the tree
/// root, as a pool's per-connection reserved nonce would change it.
pub(crate) fn personalise(job: &Job, conn: usize) -> Job {
    let mut job = job.clone();
    let tag = (conn as u32).wrapping_add(1).to_le_bytes();
    for (i, b) in tag.iter().enumerate() {
        job.blob[ROOT_OFFSET + i] ^= b;
    }
    job
}

/// A 5-byte varint (enough for a Unix time).
fn varint5(mut v: u64) -> [u8; 5] {
    let mut out = [0u8; 5];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (v & 0x7f) as u8;
        v >>= 7;
        if i < 4 {
            *b |= 0x80;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_differ_per_connection_outside_the_nonce() {
        let cfg = RxPoolConfig::default();
        let job = build_job(&cfg, 1, 10, [7; 32], 1000);
        assert_eq!(job.blob.len(), 76);
        assert_eq!(job.target.to_hex(), "37894100");
        assert_eq!(job.difficulty(), 1000);
        let a = personalise(&job, 0);
        let b = personalise(&job, 1);
        assert_ne!(a.blob, b.blob);
        assert_eq!(a.blob[..ROOT_OFFSET], b.blob[..ROOT_OFFSET]);
        let full = RxPoolConfig {
            full_target: true,
            ..cfg
        };
        assert_eq!(target(&full, 1000).to_hex().len(), 16);
    }
}
