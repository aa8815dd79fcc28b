//! RandomX share maths, re-exported by [`crate::randomx`]: targets (4- and
//! 8-byte little-endian hex) and difficulties, the difficulty of a claimed
//! hash, blob validation, the nonce at blob offset 39 with its NiceHash slot
//! byte, and algorithm negotiation between miners and a pool.

use crate::hexutil::{HexError, parse_hex_vec};

/// Byte offset of the 4-byte little-endian nonce in a blob (hex chars 78..86).
pub const NONCE_OFFSET: usize = 39;
/// The nonce's most significant byte, owned by the proxy under NiceHash.
pub const NICEHASH_OFFSET: usize = 42;
/// Shortest blob xmrig accepts.
pub const MIN_BLOB_LEN: usize = 76;
/// What a pool that names no algorithm is assumed to mine.
pub const DEFAULT_ALGO: &str = "rx/0";

/// Why a blob, target, nonce or hash is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RandomxError {
    #[error("{field}: {source}")]
    Hex {
        field: &'static str,
        source: HexError,
    },
    #[error("{field} must be {expected} bytes, got {got}")]
    Length {
        field: &'static str,
        expected: &'static str,
        got: usize,
    },
    #[error("blob is {0} bytes, at least 76 are needed")]
    BlobTooShort(usize),
    #[error("target is zero")]
    ZeroTarget,
}

pub(super) fn decode(field: &'static str, s: &str) -> Result<Vec<u8>, RandomxError> {
    parse_hex_vec(s).map_err(|source| RandomxError::Hex { field, source })
}

pub(super) fn fixed<const N: usize>(
    field: &'static str,
    expected: &'static str,
    s: &str,
) -> Result<[u8; N], RandomxError> {
    let bytes = decode(field, s)?;
    let got = bytes.len();
    bytes.try_into().map_err(|_| RandomxError::Length {
        field,
        expected,
        got,
    })
}

/// A share target as sent in a job: 4 or 8 bytes of little-endian hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `"b88d0600"`: difficulty = 0xFFFFFFFF / value.
    Compact(u32),
    /// 16 hex digits: difficulty = 2^64 / value.
    Full(u64),
}

impl Target {
    /// Parses either form; a zero target is an error.
    pub fn parse(s: &str) -> Result<Target, RandomxError> {
        let bytes = decode("target", s)?;
        let target = match bytes.as_slice() {
            [a, b, c, d] => Target::Compact(u32::from_le_bytes([*a, *b, *c, *d])),
            eight if eight.len() == 8 => {
                let mut le = [0u8; 8];
                le.copy_from_slice(eight);
                Target::Full(u64::from_le_bytes(le))
            }
            other => {
                return Err(RandomxError::Length {
                    field: "target",
                    expected: "4 or 8",
                    got: other.len(),
                });
            }
        };
        if matches!(target, Target::Compact(0) | Target::Full(0)) {
            return Err(RandomxError::ZeroTarget);
        }
        Ok(target)
    }

    /// Lowercase little-endian hex of the same width as parsed.
    pub fn to_hex(&self) -> String {
        match self {
            Target::Compact(t) => hex::encode(t.to_le_bytes()),
            Target::Full(t) => hex::encode(t.to_le_bytes()),
        }
    }

    /// The difficulty this target asks for (a zero target saturates to `u64::MAX`).
    pub fn difficulty(&self) -> u64 {
        match *self {
            Target::Compact(0) | Target::Full(0) => u64::MAX,
            Target::Compact(t) => u64::from(u32::MAX / t),
            Target::Full(t) => div_2_64(t),
        }
    }

    /// The target for a difficulty (0 counts as 1): the 4-byte form when it
    /// reads back as exactly `difficulty`, else the 8-byte form. Either way
    /// the difficulty read back is never below the one asked for.
    pub fn from_difficulty(difficulty: u64) -> Target {
        let d = difficulty.max(1);
        if let Ok(d32) = u32::try_from(d) {
            let t = u32::MAX / d32;
            if t != 0 && u32::MAX / t == d32 {
                return Target::Compact(t);
            }
        }
        Target::Full(((1u128 << 64) / u128::from(d)).min(u128::from(u64::MAX)) as u64)
    }

    /// [`Target::from_difficulty`] of a fractional difficulty, rounded up
    /// (NaN and values below 1 count as 1).
    pub fn from_difficulty_f64(difficulty: f64) -> Target {
        let d = if difficulty.is_nan() || difficulty < 1.0 {
            1
        } else {
            // `as` saturates at u64::MAX for huge and infinite values.
            difficulty.ceil() as u64
        };
        Target::from_difficulty(d)
    }

    /// The 64-bit bound xmrig compares a hash's last 8 bytes against (as xmrig
    /// widens a 4-byte target: `u64::MAX / (0xFFFFFFFF / t)`).
    pub fn threshold(&self) -> u64 {
        match *self {
            Target::Compact(0) | Target::Full(0) => 0,
            Target::Compact(t) => u64::MAX / u64::from(u32::MAX / t),
            Target::Full(t) => t,
        }
    }

    /// Whether a claimed hash meets this target (value < threshold).
    pub fn is_met_by(&self, result: &[u8; 32]) -> bool {
        hash_value(result) < self.threshold()
    }
}

fn div_2_64(v: u64) -> u64 {
    if v == 0 {
        return u64::MAX;
    }
    ((1u128 << 64) / u128::from(v)).min(u128::from(u64::MAX)) as u64
}

/// The last 8 bytes of a hash as a little-endian number.
pub fn hash_value(result: &[u8; 32]) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(&result[24..]);
    u64::from_le_bytes(le)
}

/// Difficulty of a claimed hash: 2^64 / last-8-bytes (saturating at `u64::MAX`).
pub fn result_difficulty(result: &[u8; 32]) -> u64 {
    div_2_64(hash_value(result))
}

/// Decodes a job blob: hex of at least [`MIN_BLOB_LEN`] bytes.
pub fn parse_blob(s: &str) -> Result<Vec<u8>, RandomxError> {
    let blob = decode("blob", s)?;
    check_blob(&blob)?;
    Ok(blob)
}

fn check_blob(blob: &[u8]) -> Result<(), RandomxError> {
    if blob.len() < MIN_BLOB_LEN {
        return Err(RandomxError::BlobTooShort(blob.len()));
    }
    Ok(())
}

/// A submitted nonce: exactly 8 hex digits, bytes in blob order.
pub fn parse_nonce(s: &str) -> Result<[u8; 4], RandomxError> {
    fixed("nonce", "4", s)
}

/// A claimed hash (`result`): exactly 64 hex digits.
pub fn parse_result(s: &str) -> Result<[u8; 32], RandomxError> {
    fixed("result", "32", s)
}

/// The nonce bytes at [`NONCE_OFFSET`].
pub fn blob_nonce(blob: &[u8]) -> Result<[u8; 4], RandomxError> {
    check_blob(blob)?;
    let mut n = [0u8; 4];
    n.copy_from_slice(&blob[NONCE_OFFSET..NONCE_OFFSET + 4]);
    Ok(n)
}

/// Writes nonce bytes at [`NONCE_OFFSET`].
pub fn set_blob_nonce(blob: &mut [u8], nonce: [u8; 4]) -> Result<(), RandomxError> {
    check_blob(blob)?;
    blob[NONCE_OFFSET..NONCE_OFFSET + 4].copy_from_slice(&nonce);
    Ok(())
}

/// Writes a miner's NiceHash slot into the nonce's top byte (blob byte 42).
pub fn set_nicehash_slot(blob: &mut [u8], slot: u8) -> Result<(), RandomxError> {
    check_blob(blob)?;
    blob[NICEHASH_OFFSET] = slot;
    Ok(())
}

/// The NiceHash slot a nonce was found in: its most significant byte.
pub fn nonce_slot(nonce: [u8; 4]) -> u8 {
    nonce[3]
}

/// Whether a submitted nonce (hex) lies in `slot`.
pub fn nonce_hex_in_slot(nonce_hex: &str, slot: u8) -> Result<bool, RandomxError> {
    Ok(nonce_slot(parse_nonce(nonce_hex)?) == slot)
}

/// Canonical spelling of an algorithm: lowercase, xmrig's RandomX aliases
/// (`randomx`, `rx`) folded into `rx/0`.
pub fn normalize_algo(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "randomx" | "rx" | "rx/monero" => DEFAULT_ALGO.to_owned(),
        _ => lower,
    }
}

/// Algorithms every non-empty list shares, normalised, in the order of the
/// first non-empty list (empty lists say nothing and constrain nothing).
pub fn common_algos<'a>(miner_lists: impl IntoIterator<Item = &'a [String]>) -> Vec<String> {
    let lists: Vec<Vec<String>> = miner_lists
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.iter().map(|a| normalize_algo(a)).collect())
        .collect();
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for algo in first {
        if !out.contains(algo) && rest.iter().all(|l| l.contains(algo)) {
            out.push(algo.clone());
        }
    }
    out
}

/// Picks the algorithm to mine. With a pool algorithm: that algorithm (as the
/// pool spells it) when every miner that sent a list supports it, else `None`.
/// Without one: [`DEFAULT_ALGO`] when all support it (or nobody sent a
/// list), else the first common algorithm, else `None`.
pub fn negotiate_algo<'a>(
    miner_lists: impl IntoIterator<Item = &'a [String]>,
    pool_algo: Option<&str>,
) -> Option<String> {
    let lists: Vec<&[String]> = miner_lists.into_iter().filter(|l| !l.is_empty()).collect();
    let supported_by_all = |algo: &str| {
        let want = normalize_algo(algo);
        lists
            .iter()
            .all(|l| l.iter().any(|a| normalize_algo(a) == want))
    };
    if let Some(pool) = pool_algo.filter(|p| !p.trim().is_empty()) {
        return supported_by_all(pool).then(|| pool.to_owned());
    }
    if supported_by_all(DEFAULT_ALGO) {
        return Some(DEFAULT_ALGO.to_owned());
    }
    common_algos(lists).into_iter().next()
}

#[cfg(test)]
#[path = "randomx_math_tests.rs"]
mod tests;
