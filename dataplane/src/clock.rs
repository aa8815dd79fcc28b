//! The process's notion of now for routing plans (switch instants), used by
//! the data plane and the control plane alike. A test can shift it for a
//! whole process with
//! `SWITCHYARD_CLOCK_OFFSET_MS` (read once at start) to put a schedule
//! boundary seconds ahead without waiting for wall-clock minutes.

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};

static OFFSET_MS: OnceLock<i64> = OnceLock::new();

/// The environment variable holding a clock offset in milliseconds (tests only).
pub const OFFSET_ENV: &str = "SWITCHYARD_CLOCK_OFFSET_MS";

fn offset_ms() -> i64 {
    *OFFSET_MS.get_or_init(|| {
        std::env::var(OFFSET_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Sets the offset before anything read the clock (tests in their own
/// process); false if the clock was already read.
pub fn set_offset_ms(ms: i64) -> bool {
    OFFSET_MS.set(ms).is_ok()
}

pub fn now() -> DateTime<Utc> {
    Utc::now() + TimeDelta::milliseconds(offset_ms())
}

pub fn now_ms() -> i64 {
    now().timestamp_millis()
}

/// How long from now until `at` (zero if past), for timers.
pub fn until(at: DateTime<Utc>) -> std::time::Duration {
    (at - now()).to_std().unwrap_or_default()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
