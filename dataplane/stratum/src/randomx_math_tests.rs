//! Unit and property tests of the RandomX maths: targets in both forms and
//! difficulties, claimed-hash difficulty, blob nonce and NiceHash slot
//! helpers, and algorithm negotiation.

use super::*;
use proptest::prelude::*;

/// A 76-byte blob whose byte i is i (so the nonce bytes are 39..43).
fn blob_hex() -> String {
    hex::encode((0u8..76).collect::<Vec<_>>())
}

/// A claimed hash whose last 8 bytes are 2^52 little-endian.
const RESULT: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607180000000000001000";

#[test]
fn targets_in_both_forms() {
    let t = Target::parse("b88d0600").expect("compact");
    assert_eq!(
        (t, t.difficulty(), t.to_hex()),
        (Target::Compact(0x0006_8db8), 10_000, "b88d0600".into())
    );
    assert_eq!(Target::parse("B88D0600"), Ok(t));
    let full = Target::parse("0000000000000010").expect("full");
    assert_eq!(
        (full, full.difficulty(), full.to_hex()),
        (Target::Full(1 << 60), 16, "0000000000000010".into())
    );
    assert_eq!(Target::parse("ffffffff").map(|t| t.difficulty()), Ok(1));
    assert_eq!(
        Target::parse("0100000000000000").map(|t| t.difficulty()),
        Ok(u64::MAX)
    );
    assert_eq!(Target::parse("00000000"), Err(RandomxError::ZeroTarget));
    assert_eq!(
        Target::parse("0000000000000000"),
        Err(RandomxError::ZeroTarget)
    );
    for bad in ["b88d06", "b88d060000", "00", "", "b88d0600b88d0600b8"] {
        assert!(
            matches!(
                Target::parse(bad),
                Err(RandomxError::Length {
                    field: "target",
                    ..
                })
            ),
            "{bad}"
        );
    }
    for bad in ["b88d060", "xyzw0600", "0x8d0600"] {
        assert!(
            matches!(
                Target::parse(bad),
                Err(RandomxError::Hex {
                    field: "target",
                    ..
                })
            ),
            "{bad}"
        );
    }
}

#[test]
fn difficulty_to_target() {
    assert_eq!(Target::from_difficulty(10_000).to_hex(), "b88d0600");
    assert_eq!(Target::from_difficulty(1), Target::Compact(u32::MAX));
    assert_eq!(Target::from_difficulty(0), Target::Compact(u32::MAX));
    // 10^8 does not fit 4 bytes exactly: 8 bytes, read back exactly.
    let t = Target::from_difficulty(100_000_000);
    assert!(matches!(t, Target::Full(_)), "{t:?}");
    assert_eq!(t.difficulty(), 100_000_000);
    assert!(matches!(Target::from_difficulty(1 << 32), Target::Full(_)));
    assert_eq!(Target::from_difficulty(u64::MAX), Target::Full(1));
    assert_eq!(
        Target::from_difficulty_f64(f64::NAN),
        Target::Compact(u32::MAX)
    );
    assert_eq!(Target::from_difficulty_f64(0.5), Target::Compact(u32::MAX));
    assert_eq!(
        Target::from_difficulty_f64(9_999.2),
        Target::from_difficulty(10_000)
    );
    assert_eq!(Target::from_difficulty_f64(f64::INFINITY), Target::Full(1));
}

#[test]
fn claimed_hash_difficulty_and_target_check() {
    let mut hash = [0xffu8; 32];
    hash[24..].copy_from_slice(&(1u64 << 54).to_le_bytes());
    assert_eq!(
        (hash_value(&hash), result_difficulty(&hash)),
        (1 << 54, 1024)
    );
    hash[24..].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(result_difficulty(&hash), 256);
    assert_eq!(result_difficulty(&[0u8; 32]), u64::MAX);
    hash[24..].copy_from_slice(&1u64.to_le_bytes());
    assert_eq!(result_difficulty(&hash), u64::MAX);
    // A hash is accepted strictly below the threshold.
    let t = Target::Full(1000);
    hash[24..].copy_from_slice(&999u64.to_le_bytes());
    assert!(t.is_met_by(&hash));
    hash[24..].copy_from_slice(&1000u64.to_le_bytes());
    assert!(!t.is_met_by(&hash));
    assert_eq!(Target::Compact(u32::MAX).threshold(), u64::MAX);
    let compact = Target::parse("b88d0600").expect("compact");
    assert_eq!(compact.threshold(), u64::MAX / 10_000);
    assert_eq!(
        parse_result(RESULT).map(|r| result_difficulty(&r)),
        Ok(4096)
    );
}

#[test]
fn blob_nonce_and_nicehash_slot() {
    let mut blob = parse_blob(&blob_hex()).expect("76 bytes");
    assert_eq!(blob_nonce(&blob), Ok([39, 40, 41, 42]));
    set_blob_nonce(&mut blob, parse_nonce("d0030040").expect("nonce")).expect("long enough");
    assert_eq!(&hex::encode(&blob)[78..86], "d0030040");
    assert_eq!(blob_nonce(&blob), Ok([0xd0, 3, 0, 0x40]));
    set_nicehash_slot(&mut blob, 0x7f).expect("long enough");
    assert_eq!(&hex::encode(&blob)[84..86], "7f");
    assert_eq!(blob_nonce(&blob), Ok([0xd0, 3, 0, 0x7f]));
    assert_eq!((blob[41], blob[43]), (0, 43));
    assert_eq!(nonce_hex_in_slot("d003007f", 0x7f), Ok(true));
    assert_eq!(nonce_hex_in_slot("7f030000", 0x7f), Ok(false));
    assert!(nonce_hex_in_slot("d00300", 0x7f).is_err());
    assert!(nonce_hex_in_slot("d00300zz", 0x7f).is_err());
    let mut short = vec![0u8; 75];
    assert_eq!(
        parse_blob(&hex::encode(&short)),
        Err(RandomxError::BlobTooShort(75))
    );
    assert_eq!(blob_nonce(&short), Err(RandomxError::BlobTooShort(75)));
    assert_eq!(
        set_blob_nonce(&mut short, [1; 4]),
        Err(RandomxError::BlobTooShort(75))
    );
    assert_eq!(
        set_nicehash_slot(&mut short, 1),
        Err(RandomxError::BlobTooShort(75))
    );
    assert_eq!(short, vec![0u8; 75]);
    assert!(matches!(
        parse_blob("0g"),
        Err(RandomxError::Hex { field: "blob", .. })
    ));
}

fn lists(ls: &[&[&str]]) -> Vec<Vec<String>> {
    ls.iter()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn algorithm_negotiation() {
    let pick = |ls: &[&[&str]], pool: Option<&str>| {
        let ls = lists(ls);
        negotiate_algo(ls.iter().map(Vec::as_slice), pool)
    };
    let rx = Some("rx/0".to_owned());
    assert_eq!(pick(&[&["rx/0", "cn/r"], &["rx/0"]], Some("rx/0")), rx);
    assert_eq!(pick(&[&["randomx"], &["RX/0"]], Some("rx/0")), rx);
    assert_eq!(pick(&[&["rx/0"]], Some("RandomX")), Some("RandomX".into()));
    assert_eq!(pick(&[&["rx/0"], &["rx/wow"]], Some("rx/0")), None);
    assert_eq!(
        pick(&[&["rx/wow", "rx/0"], &[]], Some("rx/wow")),
        Some("rx/wow".into())
    );
    assert_eq!(pick(&[], Some("rx/arq")), Some("rx/arq".into()));
    assert_eq!(pick(&[], None), rx);
    assert_eq!(pick(&[&["cn/r", "rx/0"], &["rx/0", "cn/r"]], None), rx);
    assert_eq!(
        pick(&[&["rx/wow", "cn/r"], &["cn/r", "rx/wow"]], None),
        Some("rx/wow".into())
    );
    assert_eq!(pick(&[&["rx/wow"], &["cn/r"]], None), None);
    assert_eq!(pick(&[&["rx/0"]], Some("  ")), rx);
    let ls = lists(&[&["RX/WOW", "rx/0", "rx/wow"], &["rx/0", "rx/wow"]]);
    assert_eq!(
        common_algos(ls.iter().map(Vec::as_slice)),
        vec!["rx/wow".to_owned(), "rx/0".into()]
    );
    assert_eq!(normalize_algo(" RandomX "), "rx/0");
}

proptest! {
    #[test]
    fn target_difficulty_round_trip(d in any::<u64>()) {
        let t = Target::from_difficulty(d);
        prop_assert!(t.difficulty() >= d.max(1));
        if d <= 1 << 32 {
            prop_assert_eq!(t.difficulty(), d.max(1));
        }
        prop_assert_eq!(Target::parse(&t.to_hex()), Ok(t));
    }

    #[test]
    fn target_hex_round_trip(v in 1u64.., compact in any::<bool>()) {
        let t = if compact { Target::Compact((v as u32).max(1)) } else { Target::Full(v) };
        prop_assert_eq!(Target::parse(&t.to_hex()), Ok(t));
        prop_assert_eq!(Target::parse(&t.to_hex().to_uppercase()), Ok(t));
    }

    #[test]
    fn nonce_write_then_read(nonce in any::<[u8; 4]>(), slot in any::<u8>(), len in 76usize..200) {
        let mut blob = vec![0x55u8; len];
        set_blob_nonce(&mut blob, nonce).expect("long enough");
        set_nicehash_slot(&mut blob, slot).expect("long enough");
        let read = blob_nonce(&blob).expect("long enough");
        prop_assert_eq!(&read[..3], &nonce[..3]);
        prop_assert_eq!(nonce_slot(read), slot);
        prop_assert!(nonce_hex_in_slot(&hex::encode(read), slot).expect("hex"));
        prop_assert_eq!(blob.iter().filter(|b| **b != 0x55).count() <= 4, true);
    }


    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,100}") {
        let _ = Target::parse(&s);
        let _ = parse_blob(&s);
        let _ = parse_nonce(&s);
        let _ = nonce_hex_in_slot(&s, 0);
        let _ = normalize_algo(&s);
    }
}
