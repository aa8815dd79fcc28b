//! Rendering: aligned tables, JSON keys and time pairs, CSV quoting, and the
//! time, age and difficulty formats.

use switchyard_ctl::output::{Cell, Column, Sheet, align};
use switchyard_ctl::values::{clean, fmt_age, fmt_difficulty, fmt_span, fmt_time};

const COLUMNS: &[Column] = &[
    Column::new("name", "NAME"),
    Column::time("seen", "SEEN"),
    Column::human("NOTE"),
    Column::machine("secret_set"),
    Column::new("pct", "PCT"),
    Column::new("tags", "TAGS"),
];

// 2026-11-23T18:00:00Z
const T: i64 = 1_795_456_800_000;

fn sheet() -> Sheet {
    let mut s = Sheet::new(COLUMNS);
    s.push(vec![
        Cell::text("alpha"),
        Cell::Time(T, Some(chrono_tz::Europe::Berlin)),
        Cell::text("hi"),
        Cell::Bool(true),
        Cell::Pct(Some(97.25)),
        Cell::List(vec!["a".into(), "b,c".into()]),
    ]);
    s.push(vec![
        Cell::text("b\n\u{1b}[31m"),
        Cell::Time(0, None),
        Cell::text(""),
        Cell::Bool(false),
        Cell::Pct(None),
    ]);
    s
}

#[test]
fn tables_are_aligned_with_headers() {
    let t = sheet().table();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(
        lines[0],
        "NAME     SEEN                     NOTE  PCT    TAGS"
    );
    assert_eq!(
        lines[1],
        "alpha    2026-11-23 19:00:00 CET  hi    97.3%  a, b,c"
    );
    assert_eq!(lines[2], "b  [31m  -                        -     -      -");
    assert!(!t.contains('\u{1b}'));
}

#[test]
fn json_has_snake_case_keys_in_order_and_time_pairs() {
    let j = sheet().json();
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let first = &v[0];
    assert_eq!(first["seen"], "2026-11-23T18:00:00Z");
    assert_eq!(first["seen_unix_ms"], T);
    assert_eq!(first["secret_set"], true);
    assert_eq!(first["pct"], 97.3);
    assert_eq!(first["tags"], serde_json::json!(["a", "b,c"]));
    assert!(first.get("NOTE").is_none() && first.get("").is_none());
    assert!(v[1]["seen"].is_null() && v[1]["pct"].is_null());
    let order: Vec<usize> = [
        "\"name\"",
        "\"seen\"",
        "\"seen_unix_ms\"",
        "\"secret_set\"",
        "\"pct\"",
    ]
    .iter()
    .map(|k| j.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{j}");
    assert_eq!(Sheet::new(COLUMNS).json(), "[]");
}

#[test]
fn csv_has_a_header_and_quotes() {
    let c = sheet().csv();
    let mut lines = c.lines();
    assert_eq!(
        lines.next(),
        Some("name,seen,seen_unix_ms,secret_set,pct,tags")
    );
    assert_eq!(
        lines.next(),
        Some("alpha,2026-11-23T18:00:00Z,1795456800000,true,97.3,\"a;b,c\"")
    );
    assert!(c.contains("\"b\n\u{1b}[31m\",,,false,,"));
    assert_eq!(
        Sheet::new(COLUMNS).csv(),
        "name,seen,seen_unix_ms,secret_set,pct,tags\n"
    );
}

#[test]
fn single_results_are_json_objects() {
    let v: serde_json::Value = serde_json::from_str(&sheet().json_object()).unwrap();
    assert_eq!(v["name"], "alpha");
    assert_eq!(Sheet::new(COLUMNS).json_object(), "{}");
}

#[test]
fn times_ages_spans() {
    assert_eq!(fmt_time(T, None), "2026-11-23 18:00:00 UTC");
    assert_eq!(
        fmt_time(T, Some(chrono_tz::America::New_York)),
        "2026-11-23 13:00:00 EST"
    );
    assert_eq!(fmt_time(0, None), "");
    assert_eq!(fmt_time(i64::MAX, None), "");
    assert_eq!(fmt_age(T - 3_000, T), "3s ago");
    assert_eq!(fmt_age(T + 90 * 60_000, T), "in 1h 30m");
    assert_eq!(
        fmt_age(i64::MIN + 1, i64::MAX),
        format!("{} ago", fmt_span(i64::MAX / 1000))
    );
    assert_eq!(fmt_span(0), "0s");
    assert_eq!(fmt_span(125), "2m 5s");
    assert_eq!(fmt_span(3600), "1h");
    assert_eq!(fmt_span(86_400 * 3 + 3600 * 4), "3d 4h");
}

#[test]
fn difficulties_keep_three_significant_digits() {
    let cases: &[(f64, &str)] = &[
        // tiny: a lab or NiceHash-style pool, never `0`
        (0.00001, "1e-5"),
        (0.0000123456, "1.23e-5"),
        (1.5e-12, "1.5e-12"),
        (0.0000999, "9.99e-5"),
        (0.000099996, "0.0001"),
        // fractional
        (0.0001, "0.0001"),
        (0.00042, "0.00042"),
        (0.001, "0.001"),
        (0.25, "0.25"),
        (0.123456, "0.123"),
        (1.5, "1.5"),
        (12.345, "12.3"),
        // integer
        (1.0, "1"),
        (512.0, "512"),
        (999.0, "999"),
        // thousands: the whole number, as pools give them
        (999.7, "1000"),
        (1000.0, "1000"),
        (1234.56, "1235"),
        (65_536.0, "65536"),
        (131_072.0, "131072"),
        (999_999.0, "999999"),
        // large: SI prefixes, rounding carried into the prefix
        (999_999.7, "1M"),
        (1_000_000.0, "1M"),
        (1_200_000.0, "1.2M"),
        (4.2e9, "4.2G"),
        (3.4e12, "3.4T"),
        (1.0e15, "1P"),
        (2.5e18, "2.5E"),
        (1e30, "1e30"),
        // zero and signs
        (0.0, "0"),
        (-0.0, "0"),
        (-65_536.0, "-65536"),
        (-0.00001, "-1e-5"),
        // non-finite
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ];
    for &(v, want) in cases {
        assert_eq!(fmt_difficulty(v), want, "fmt_difficulty({v:e})");
    }
}

#[test]
fn difficulty_cells_keep_full_precision_for_machines() {
    const COLS: &[Column] = &[Column::new("difficulty", "DIFF")];
    let values = [0.00001, 0.000421234567891, 65_536.123456789, 3.4e12];
    let mut s = Sheet::new(COLS);
    for v in values {
        s.push(vec![Cell::difficulty(v)]);
    }
    let table = s.table();
    for human in ["1e-5", "0.000421", "65536", "3.4T"] {
        assert!(table.contains(human), "{table}");
    }
    let json: serde_json::Value = serde_json::from_str(&s.json()).unwrap();
    let csv = s.csv();
    for (i, v) in values.into_iter().enumerate() {
        assert_eq!(json[i]["difficulty"].as_f64(), Some(v), "{json}");
        let field = csv.lines().nth(i + 1).unwrap();
        assert_eq!(field.parse::<f64>().ok(), Some(v), "{csv}");
    }
}

#[test]
fn align_and_clean() {
    let grid = vec![
        vec!["a".to_string(), "bb".to_string()],
        vec!["ccc".to_string(), "d".to_string()],
    ];
    assert_eq!(align(&grid), "a    bb\nccc  d\n");
    assert_eq!(align(&[]), "");
    assert_eq!(clean("a\tb\r\n"), "a b  ");
}
