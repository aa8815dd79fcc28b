//! SHA-256 share maths: coinbase, merkle root, the 80-byte header, SHA256d,
//! share difficulty and version rolling, with the byte orders of stratum.

use sha2::{Digest, Sha256};

use crate::v1::Notify;

/// The BIP 320 general-purpose version-rolling mask.
pub const BIP320_MASK: u32 = 0x1fff_e000;

/// SHA256(SHA256(data)).
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    let first = Sha256::digest(data);
    Sha256::digest(first).into()
}

/// coinb1 + extranonce1 + extranonce2 + coinb2.
pub fn coinbase(coinb1: &[u8], extranonce1: &[u8], extranonce2: &[u8], coinb2: &[u8]) -> Vec<u8> {
    let mut tx =
        Vec::with_capacity(coinb1.len() + extranonce1.len() + extranonce2.len() + coinb2.len());
    tx.extend_from_slice(coinb1);
    tx.extend_from_slice(extranonce1);
    tx.extend_from_slice(extranonce2);
    tx.extend_from_slice(coinb2);
    tx
}

/// Folds the merkle branch over the coinbase's hash (internal byte order).
pub fn merkle_root(coinbase_hash: [u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    let mut buf = [0u8; 64];
    branch.iter().fold(coinbase_hash, |root, step| {
        buf[..32].copy_from_slice(&root);
        buf[32..].copy_from_slice(step);
        sha256d(&buf)
    })
}

/// Reverses the bytes of each 32-bit word: turns the stratum form of prevhash
/// into the header's internal order and back.
pub fn swap_words(bytes: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (dst, src) in out.chunks_exact_mut(4).zip(bytes.chunks_exact(4)) {
        dst.copy_from_slice(&[src[3], src[2], src[1], src[0]]);
    }
    out
}

/// The 80-byte block header. `prevhash` and `merkle_root` are in internal order.
pub fn header(
    version: u32,
    prevhash: &[u8; 32],
    merkle_root: &[u8; 32],
    ntime: u32,
    nbits: u32,
    nonce: u32,
) -> [u8; 80] {
    let mut h = [0u8; 80];
    h[0..4].copy_from_slice(&version.to_le_bytes());
    h[4..36].copy_from_slice(prevhash);
    h[36..68].copy_from_slice(merkle_root);
    h[68..72].copy_from_slice(&ntime.to_le_bytes());
    h[72..76].copy_from_slice(&nbits.to_le_bytes());
    h[76..80].copy_from_slice(&nonce.to_le_bytes());
    h
}

/// The block version a miner hashed: job version with the masked bits replaced.
pub fn rolled_version(job_version: u32, version_bits: Option<u32>, mask: u32) -> u32 {
    match version_bits {
        Some(bits) => (job_version & !mask) | (bits & mask),
        None => job_version,
    }
}

/// The header hash of a share for `job` as the pool sees it: the pool's
/// extranonce1 and the full extranonce2 that is (or would be) sent upstream.
pub fn share_hash(
    job: &Notify,
    extranonce1: &[u8],
    extranonce2: &[u8],
    ntime: u32,
    nonce: u32,
    version: u32,
) -> [u8; 32] {
    let cb = coinbase(&job.coinb1, extranonce1, extranonce2, &job.coinb2);
    let root = merkle_root(sha256d(&cb), &job.merkle_branch);
    sha256d(&header(
        version,
        &swap_words(&job.prevhash),
        &root,
        ntime,
        job.nbits,
        nonce,
    ))
}

/// Share difficulty of a header hash (internal order, a little-endian number):
/// diff1_target / hash. An all-zero hash has infinite difficulty.
pub fn hash_difficulty(hash: &[u8; 32]) -> f64 {
    let value = hash
        .iter()
        .rev()
        .fold(0.0f64, |acc, b| acc * 256.0 + f64::from(*b));
    if value == 0.0 {
        f64::INFINITY
    } else {
        65535.0 * 2f64.powi(208) / value
    }
}

/// Network difficulty of compact `nbits`.
pub fn nbits_difficulty(nbits: u32) -> f64 {
    let exponent = (nbits >> 24) as i32;
    let mantissa = f64::from(nbits & 0x00ff_ffff);
    if mantissa == 0.0 {
        return f64::INFINITY;
    }
    // diff1 is 0xffff * 256^(0x1d - 3).
    65535.0 / mantissa * 256f64.powi(0x1d - exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(hex_display: &str) -> [u8; 32] {
        let mut b: [u8; 32] = hex::decode(hex_display)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        b.reverse();
        b
    }

    // Bitcoin block 125552, the classic worked example of header hashing.
    const PREV: &str = "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81";
    const MERKLE: &str = "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3";
    const HASH: &str = "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d";

    #[test]
    fn block_125552_header_hash() {
        let h = header(
            1,
            &rev(PREV),
            &rev(MERKLE),
            0x4dd7f5c7,
            0x1a44b9f2,
            0x9546a142,
        );
        assert_eq!(sha256d(&h), rev(HASH));
    }

    #[test]
    fn block_125552_through_the_stratum_prevhash_form() {
        // A pool sends prevhash word-swapped; header building must undo that.
        let stratum_prev = swap_words(&rev(PREV));
        assert_ne!(stratum_prev, rev(PREV));
        let h = header(
            1,
            &swap_words(&stratum_prev),
            &rev(MERKLE),
            0x4dd7f5c7,
            0x1a44b9f2,
            0x9546a142,
        );
        assert_eq!(sha256d(&h), rev(HASH));
    }

    #[test]
    fn block_125552_difficulty_meets_its_network_difficulty() {
        let network = nbits_difficulty(0x1a44b9f2);
        assert!(
            (network - 244_112.487_774).abs() < 0.01,
            "network difficulty {network}"
        );
        let share = hash_difficulty(&rev(HASH));
        assert!(share >= network, "{share} < {network}");
        // The hash's leading 64 zero bits put it between 2^32 and 2^33 times diff 1.
        assert!(share > 4.0e9 && share < 1.0e11, "{share}");
    }

    #[test]
    fn difficulty_one_hash_is_difficulty_one() {
        let mut target = [0u8; 32];
        target[26] = 0xff;
        target[27] = 0xff;
        assert!((hash_difficulty(&target) - 1.0).abs() < 1e-9);
        assert_eq!(hash_difficulty(&[0u8; 32]), f64::INFINITY);
    }

    #[test]
    fn merkle_branch_fold_matches_the_full_tree() {
        let txids: Vec<[u8; 32]> = (0u8..4).map(|i| sha256d(&[i])).collect();
        let pair = |a: &[u8; 32], b: &[u8; 32]| sha256d(&[a.as_slice(), b.as_slice()].concat());
        let full = pair(&pair(&txids[0], &txids[1]), &pair(&txids[2], &txids[3]));
        let branch = [txids[1], pair(&txids[2], &txids[3])];
        assert_eq!(merkle_root(txids[0], &branch), full);
        assert_eq!(merkle_root(txids[0], &[]), txids[0]);
    }

    #[test]
    fn version_rolling_keeps_unmasked_bits() {
        assert_eq!(
            rolled_version(0x2000_0000, Some(0x1fff_e000), BIP320_MASK),
            0x3fff_e000
        );
        assert_eq!(
            rolled_version(0x2000_0004, Some(0xffff_ffff), BIP320_MASK),
            0x3fff_e004
        );
        assert_eq!(rolled_version(0x2000_0000, None, BIP320_MASK), 0x2000_0000);
    }

    #[test]
    fn coinbase_concatenates_in_order() {
        assert_eq!(coinbase(&[1], &[2, 3], &[4], &[5]), vec![1, 2, 3, 4, 5]);
    }
}
