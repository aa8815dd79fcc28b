//! Hex helpers with the conventions of stratum: 32-bit fields as 8 hex digits.

/// Why a hex field is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("empty hex string")]
    Empty,
    #[error("{0:?} is longer than 8 hex digits")]
    TooLong(String),
    #[error("{0:?} is not hex")]
    NotHex(String),
    #[error("{0:?} has an odd number of hex digits")]
    OddLength(String),
}

fn clip(s: &str) -> String {
    s.chars().take(72).collect()
}

/// Parses a 32-bit big-endian hex field ("504e86ed"); fewer than 8 digits are
/// accepted as a number (some miners drop leading zeros).
pub fn parse_hex_u32(s: &str) -> Result<u32, HexError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.is_empty() {
        return Err(HexError::Empty);
    }
    if s.len() > 8 {
        return Err(HexError::TooLong(clip(s)));
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HexError::NotHex(clip(s)));
    }
    u32::from_str_radix(s, 16).map_err(|_| HexError::NotHex(clip(s)))
}

/// Formats a 32-bit field as 8 lowercase hex digits.
pub fn hex_u32(v: u32) -> String {
    format!("{v:08x}")
}

/// Decodes a hex byte string (upper or lower case).
pub fn parse_hex_vec(s: &str) -> Result<Vec<u8>, HexError> {
    if s.len() % 2 == 1 {
        return Err(HexError::OddLength(clip(s)));
    }
    hex::decode(s).map_err(|_| HexError::NotHex(clip(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_fields() {
        assert_eq!(parse_hex_u32("504e86ed"), Ok(0x504e86ed));
        assert_eq!(parse_hex_u32("ABC"), Ok(0xabc));
        assert_eq!(hex_u32(0xabc), "00000abc");
        assert!(matches!(
            parse_hex_u32("123456789"),
            Err(HexError::TooLong(_))
        ));
        assert!(matches!(parse_hex_u32("zz"), Err(HexError::NotHex(_))));
        assert_eq!(parse_hex_u32(""), Err(HexError::Empty));
    }

    #[test]
    fn byte_strings() {
        assert_eq!(parse_hex_vec("00ff"), Ok(vec![0, 255]));
        assert!(matches!(parse_hex_vec("0ff"), Err(HexError::OddLength(_))));
        assert!(matches!(parse_hex_vec("0g"), Err(HexError::NotHex(_))));
    }
}
