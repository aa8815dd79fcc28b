//! Pool rejection reasons: normalisation into stable categories, the difficulty in low-difficulty reasons, and a bounded per-pool count of reasons.
//!
//! Categories: "duplicate share", "stale job", "low difficulty share", "job not
//! found", "unauthorized", "timeout", "not connected", "invalid share";
//! anything else becomes a cleaned, bounded form of the pool's text.
//!
//! Decisions:
//! - Stratum codes 21-25 win over the text (their meaning is fixed; pools put
//!   anything in the text): 21 is "stale job" when the text mentions "stale",
//!   else "job not found"; 22 duplicate; 23 low difficulty; 24 unauthorized;
//!   25 (not subscribed) is also "unauthorized": the pool refuses shares from
//!   this session until it has completed its handshake, and the remedy (redo
//!   subscribe/authorize) is the same. Other codes (20 "other", -1 of the
//!   Monero dialect, ...) carry no meaning, so the text decides.
//! - BIP 22 texts: "high-hash" is low difficulty, "unknown-work" is job not
//!   found, "stale-*" is stale, "duplicate*" is duplicate, "time-too-new",
//!   "time-too-old" and "bad-*" are invalid share.
//! - An empty text with no known code is "no reason given" (or "error <code>").

use switchyard_proto::v1::Reason;

/// Normalised categories: the labels of the contract's reasons.
pub const DUPLICATE: &str = Reason::Duplicate.label();
pub const STALE: &str = Reason::Stale.label();
pub const LOW_DIFFICULTY: &str = Reason::LowDifficulty.label();
pub const JOB_NOT_FOUND: &str = Reason::JobNotFound.label();
pub const UNAUTHORIZED: &str = Reason::Unauthorized.label();
pub const TIMEOUT: &str = Reason::Timeout.label();
pub const NOT_CONNECTED: &str = Reason::NotConnected.label();
pub const INVALID: &str = Reason::Invalid.label();
/// A rejection with neither a known code nor any text.
pub const NO_REASON: &str = "no reason given";
/// Where [`ReasonCounts`] puts categories beyond its bound.
pub const OTHER: &str = "other";
/// The longest cleaned reason, in characters.
pub const MAX_REASON_CHARS: usize = 50;
/// The most categories one [`ReasonCounts`] holds, "other" included.
pub const MAX_CATEGORIES: usize = 50;

/// Maps a pool's rejection (code and text, as from `Response::error_parts`)
/// to a category or a cleaned, bounded form of the text.
pub fn normalise(code: Option<i64>, text: &str) -> String {
    let lower = text.trim().to_lowercase();
    if let Some(category) = by_code(code, &lower) {
        return category.to_owned();
    }
    // BIP 22 style texts use '-' and '_' where others use spaces.
    let spaced: String = lower
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    if let Some(category) = by_text(&spaced) {
        return category.to_owned();
    }
    let cleaned = clean(&lower);
    if !cleaned.is_empty() {
        return cleaned;
    }
    match code {
        Some(code) => format!("error {code}"),
        None => NO_REASON.to_owned(),
    }
}

fn by_code(code: Option<i64>, lower: &str) -> Option<&'static str> {
    match code? {
        21 if lower.contains("stale") => Some(STALE),
        21 => Some(JOB_NOT_FOUND),
        22 => Some(DUPLICATE),
        23 => Some(LOW_DIFFICULTY),
        24 | 25 => Some(UNAUTHORIZED),
        _ => None,
    }
}

/// Whether `phrase` occurs in `text` starting at a word boundary.
fn has(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(at, _)| {
        !text[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    })
}

fn any(text: &str, phrases: &str) -> bool {
    phrases.split('|').any(|p| has(text, p))
}

/// Phrases (matched at word starts, separated by '|') per category, in order:
/// the more specific first ("invalid job id" is job not found,
/// "duplicate-invalid" a duplicate, "ntime out of range" not a timeout).
#[rustfmt::skip]
const RULES: &[(&str, &str)] = &[
    (DUPLICATE, "duplicate|dup|already submitted|already found|share already"),
    (STALE, "stale|obsolete|outdated|old job|too late|job expired|share expired|expired job"),
    (JOB_NOT_FOUND, "unknown work|job not found|no such job|unknown job"),
    (LOW_DIFFICULTY, "high hash|above target|target not met|not meet|lowdiff|low diff"),
    (UNAUTHORIZED, "unauthori|not authori|not subscribed|unknown user|invalid user"),
    (UNAUTHORIZED, "unknown worker|invalid worker|worker not|not logged in|login required"),
    (UNAUTHORIZED, "unauthenticat|authenticat|invalid address|invalid wallet|forbidden"),
    (TIMEOUT, "timeout|timed out|time out"),
    (NOT_CONNECTED, "not connected|no connection|disconnected|connection closed"),
    (NOT_CONNECTED, "connection lost|connection reset|unavailable|no upstream"),
    (INVALID, "invalid|time too new|time too old|ntime|incorrect|malformed|rejected"),
    (INVALID, "out of range|mismatch|bad"),
];

/// `s` is lowercase with '-' and '_' turned into spaces.
fn by_text(s: &str) -> Option<&'static str> {
    let job_missing =
        any(s, "job") && any(s, "not found|unknown|invalid|no such|not exist|missing");
    let diff_low = s.contains("diff") && any(s, "low|below|insufficient|too small");
    RULES.iter().find_map(|&(category, phrases)| {
        let special = match category {
            JOB_NOT_FOUND => job_missing,
            LOW_DIFFICULTY => diff_low,
            _ => false,
        };
        (special || any(s, phrases)).then_some(category)
    })
}

/// Lowercase text with hex runs of 8+ characters as "<hex>", long or
/// fractional numbers as "<n>" (numbers of up to 3 digits, like codes, stay),
/// control characters and repeated spaces removed, at most
/// [`MAX_REASON_CHARS`] characters ("…" marks a cut).
fn clean(lower: &str) -> String {
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                        && i > start
                        && chars[i - 1].is_ascii_digit()
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit))
            {
                i += 1;
            }
            let token: String = chars[start..i].iter().collect();
            out.push_str(&clean_token(&token));
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    let trimmed = out.trim_matches(|c: char| c.is_whitespace() || ".:;,!-".contains(c));
    bound(trimmed)
}

fn clean_token(token: &str) -> String {
    let body = token.strip_prefix("0x").unwrap_or(token);
    let digits_only = !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || c == '.');
    if body.len() >= 8 && body.chars().all(|c| c.is_ascii_hexdigit()) {
        let hex = body.chars().any(|c| c.is_ascii_digit()) && !digits_only;
        return if hex { "<hex>" } else { "<n>" }.to_owned();
    }
    if digits_only && (body.len() > 3 || body.contains('.')) {
        return "<n>".to_owned();
    }
    token.to_owned()
}

fn bound(text: &str) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_REASON_CHARS - 1).collect();
    format!("{}…", head.trim_end())
}

/// Words before a number that name the difficulty the pool wants.
const REQUIRED: &[&str] = &[
    "expected", "required", "requires", "need", "needed", "needs", "minimum", "min", "target",
    "want", "wanted",
];
/// Words before a number that is not a difficulty.
const NOT_DIFFICULTY: &[&str] = &[
    "job", "id", "code", "error", "height", "block", "nonce", "ntime", "worker",
];

/// The difficulty in a low-difficulty reason: "Low difficulty share (12.5)",
/// "low difficulty share of 0.0012", "share difficulty 0.5 below target
/// 1024" (a number after "expected"/"required"/"target"/... wins; otherwise
/// the first number after the word "difficulty"). Meant for texts that
/// [`normalise`] classifies as [`LOW_DIFFICULTY`]. Only finite positive
/// values; hex and identifiers are not numbers.
pub fn low_difficulty_value(text: &str) -> Option<f64> {
    let lower = text.to_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '+')))
        .map(|t| t.trim_end_matches('.'))
        .filter(|t| !t.is_empty())
        .collect();
    let number = |t: &str| -> Option<f64> {
        let t = t.strip_prefix('+').unwrap_or(t);
        if !t.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        t.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
    };
    let numbers: Vec<(usize, f64)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, number(t)?)))
        .collect();
    let before = |i: usize, words: &[&str]| {
        tokens[i.saturating_sub(2)..i]
            .iter()
            .any(|t| words.contains(t))
    };
    if let Some(&(_, v)) = numbers.iter().find(|(i, _)| before(*i, REQUIRED)) {
        return Some(v);
    }
    let usable = |i: usize| i == 0 || !NOT_DIFFICULTY.contains(&tokens[i - 1]);
    let marker = tokens
        .iter()
        .position(|t| t.contains("diff") || t.contains("hash"));
    let after_marker = marker.and_then(|m| numbers.iter().find(|(i, _)| *i > m && usable(*i)));
    after_marker
        .or_else(|| numbers.iter().find(|(i, _)| usable(*i)))
        .map(|&(_, v)| v)
}

/// Rejections of one pool by reason: at most [`MAX_CATEGORIES`] entries
/// ("other" included); reasons beyond that are counted as "other". Reasons
/// are expected to come from [`normalise`]; longer ones are cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCounts {
    entries: Vec<(String, u64)>,
    total: u64,
}

impl ReasonCounts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, reason: &str) {
        self.total = self.total.saturating_add(1);
        let reason = bound(reason.trim());
        let key = if self.entries.iter().any(|(r, _)| *r == reason) {
            reason
        } else {
            let named = self.entries.iter().filter(|(r, _)| r != OTHER).count();
            if named < MAX_CATEGORIES - 1 {
                reason
            } else {
                OTHER.to_owned()
            }
        };
        match self.entries.iter_mut().find(|(r, _)| *r == key) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => self.entries.push((key, 1)),
        }
    }

    /// Categories with their counts, most frequent first (ties by name).
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        let mut sorted: Vec<(&str, u64)> =
            self.entries.iter().map(|(r, n)| (r.as_str(), *n)).collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        sorted.into_iter()
    }

    pub fn get(&self, reason: &str) -> u64 {
        self.entries
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// All rejections recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct categories held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_21_to_25() {
        assert_eq!(normalise(Some(21), "Job not found"), JOB_NOT_FOUND);
        assert_eq!(normalise(Some(21), ""), JOB_NOT_FOUND);
        assert_eq!(normalise(Some(21), "Stale share"), STALE);
        assert_eq!(normalise(Some(21), "job not found (STALE)"), STALE);
        assert_eq!(normalise(Some(22), "whatever"), DUPLICATE);
        assert_eq!(normalise(Some(23), "Low difficulty share"), LOW_DIFFICULTY);
        assert_eq!(normalise(Some(24), "Unauthorized worker"), UNAUTHORIZED);
        assert_eq!(normalise(Some(25), "Not subscribed"), UNAUTHORIZED);
        // Codes without a fixed meaning leave it to the text.
        assert_eq!(normalise(Some(20), "Duplicate share"), DUPLICATE);
        assert_eq!(normalise(Some(-1), "Low difficulty share"), LOW_DIFFICULTY);
        assert_eq!(normalise(Some(20), ""), "error 20");
        assert_eq!(normalise(None, "  "), NO_REASON);
    }

    /// Pool texts ('|'-separated) and the category each must give.
    #[rustfmt::skip]
    const TEXTS: &[(&str, &str)] = &[
        (DUPLICATE, "Duplicate share|duplicate|duplicate-invalid|dup|Dupe share"),
        (DUPLICATE, "Share already submitted"),
        (STALE, "stale|Stale share|stale-prevblk|stale-work|Job expired|Stale job (job not found)"),
        (JOB_NOT_FOUND, "Job not found|job-not-found|unknown-work|Invalid job id|Unknown job"),
        (JOB_NOT_FOUND, "Job does not exist|no such job|job_id missing"),
        (LOW_DIFFICULTY, "high-hash|Share above target|Low difficulty share|low_difficulty"),
        (LOW_DIFFICULTY, "Low difficulty share (12.5)|Share difficulty too low|lowdiff|low-diff"),
        (LOW_DIFFICULTY, "Difficulty below target|insufficient difficulty|target not met"),
        (UNAUTHORIZED, "Unauthorized worker|unauthorised|Not subscribed|unknown-user"),
        (UNAUTHORIZED, "Invalid worker name|Worker not authorized|not authenticated"),
        (UNAUTHORIZED, "Unauthenticated|Invalid wallet address|Forbidden|Not logged in"),
        (TIMEOUT, "Timeout|Request timed out|share submit timeout|time out"),
        (NOT_CONNECTED, "Not connected|upstream disconnected|Pool unavailable|connection reset"),
        (NOT_CONNECTED, "Connection closed|connection lost|no upstream"),
        (INVALID, "Invalid share|invalid nonce|time-too-new|time-too-old|ntime out of range"),
        (INVALID, "bad-txnmrklroot|bad-diffbits|Share rejected|incorrect coinbase|malformed"),
        (INVALID, "extranonce2 out of range|merkle mismatch|bad-version"),
    ];

    #[test]
    fn every_category_from_text() {
        for (want, texts) in TEXTS {
            for text in texts.split('|') {
                assert_eq!(normalise(None, text), *want, "{text:?}");
                assert_eq!(normalise(Some(20), text), *want, "{text:?} code 20");
                assert_eq!(normalise(Some(-1), &text.to_uppercase()), *want, "{text:?}");
            }
        }
    }

    #[rustfmt::skip]
    const CLEANED: &[(&str, &str)] = &[
        ("  Pool Is On FIRE  ", "pool is on fire"),
        ("Block 00000000abcdef0123456789 is weird", "block <hex> is weird"),
        ("weird 0xDEADBEEF1 thing", "weird <hex> thing"),
        ("weird 12345678901 thing", "weird <n> thing"),
        ("weird at 1699999999.", "weird at <n>"),
        ("weird 0.0012 and 3.5", "weird <n> and <n>"),
        ("weird error 503", "weird error 503"),
        ("defaced facade", "defaced facade"), // hex letters only: words, kept
        ("a\tb\n\u{1}c   d", "a b c d"),
    ];

    #[test]
    fn other_texts_are_cleaned_and_bounded() {
        for (text, want) in CLEANED {
            assert_eq!(normalise(None, text), *want, "{text:?}");
        }
        let long = normalise(None, &"word ".repeat(40));
        assert_eq!(long.chars().count(), MAX_REASON_CHARS);
        assert!(long.ends_with("word…"), "{long}");
        let unicode = normalise(None, &"ÄÖÜ ".repeat(30));
        assert_eq!(unicode.chars().count(), MAX_REASON_CHARS);
        assert!(unicode.starts_with("äöü"));
    }

    #[test]
    fn low_difficulty_values() {
        let cases: &[(&str, Option<f64>)] = &[
            ("Low difficulty share (12.5)", Some(12.5)),
            ("low difficulty share of 0.0012", Some(0.0012)),
            ("Low difficulty share 1e-3.", Some(0.001)),
            ("share difficulty 0.5 below target 1024", Some(1024.0)),
            ("low difficulty: got 0.5, expected 1024", Some(1024.0)),
            ("Low difficulty share (target 2048, got 3)", Some(2048.0)),
            ("job 17: low difficulty share 64", Some(64.0)),
            ("error 23: low difficulty share (8)", Some(8.0)),
            ("high-hash 256", Some(256.0)),
            ("Low difficulty share", None),
            ("Low difficulty share for job 5f3ab", None),
            ("Low difficulty share 0", None),
            ("low difficulty inf nan -5", None),
            ("low difficulty 0x1234", None),
        ];
        for (text, want) in cases {
            assert_eq!(low_difficulty_value(text), *want, "{text:?}");
        }
    }

    #[test]
    fn counts_sorted_and_bounded() {
        let mut c = ReasonCounts::new();
        assert!(c.is_empty());
        assert_eq!(c.total(), 0);
        for r in [STALE, DUPLICATE, STALE, LOW_DIFFICULTY, STALE, DUPLICATE] {
            c.record(r);
        }
        let got: Vec<_> = c.iter().collect();
        assert_eq!(got, vec![(STALE, 3), (DUPLICATE, 2), (LOW_DIFFICULTY, 1)]);
        assert_eq!(c.total(), 6);
        assert_eq!(c.get(STALE), 3);
        assert_eq!(c.get("nothing"), 0);
        for i in 0..100 {
            c.record(&format!("reason {i}"));
        }
        assert_eq!(c.len(), MAX_CATEGORIES);
        assert_eq!(c.total(), 106);
        assert_eq!(c.get(OTHER), 100 - (MAX_CATEGORIES as u64 - 1 - 3));
        // Known categories keep counting after the bound is reached.
        c.record(STALE);
        assert_eq!(c.get(STALE), 4);
        assert_eq!(c.iter().map(|(_, n)| n).sum::<u64>(), c.total());
        // Overlong reasons are cut.
        let mut c = ReasonCounts::new();
        c.record(&"x".repeat(500));
        assert!(c.iter().all(|(r, _)| r.chars().count() <= MAX_REASON_CHARS));
    }
}
