//! What every miner session of a listener shares ([`SessionCtx`]), and the
//! worker naming all three dialects use: the check of a miner's username,
//! the worker part of it and a passthrough pool username built from it.

use std::sync::{Arc, Mutex};

use crate::config::{Config, Timing};
use crate::prefix::PrefixAllocator;
use crate::route::RouterHandle;
use crate::stats::ListenerStats;

/// What every session of a listener shares.
pub struct SessionCtx {
    /// The miners' dialect: which session type the listener runs.
    pub algorithm: crate::config::Algorithm,
    pub config: Arc<Config>,
    pub timing: Arc<Timing>,
    pub router: RouterHandle,
    pub prefixes: Mutex<PrefixAllocator>,
    pub version_mask: u32,
    pub stats: Arc<ListenerStats>,
    /// Where share events go (shipped only with a control plane; always
    /// counted into `telemetry`).
    pub events: crate::events::EventSink,
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    /// `config.vardiff()`, made once: every miner's controller shares it.
    pub vardiff: Arc<crate::difficulty::vardiff::VarDiffConfig>,
}

/// A pool username for a passthrough miner: `{worker}` filled in, or the
/// worker appended after a dot.
pub fn pool_username(template: &str, worker: &str) -> String {
    if template.contains("{worker}") {
        template.replace("{worker}", worker)
    } else {
        format!("{template}.{worker}")
    }
}

/// The longest username a miner may give (a Monero integrated address with
/// a worker and a fixed difficulty fits several times).
pub const MAX_USERNAME: usize = 512;

/// Why a miner's username is refused: longer than [`MAX_USERNAME`] bytes,
/// or with control characters (a newline would forge log lines; nothing
/// a real miner sends). Such a name never reaches logs, the ledger or
/// metrics labels.
pub fn check_username(user: &str) -> Result<(), String> {
    if user.len() > MAX_USERNAME {
        return Err(format!(
            "Worker name too long: {} bytes, at most {MAX_USERNAME}",
            user.len()
        ));
    }
    if user.chars().any(char::is_control) {
        return Err("Worker name has control characters".into());
    }
    Ok(())
}

/// The worker part of a miner's username ("wallet.rig1" -> "rig1").
pub(crate) fn worker_name(user: &str) -> &str {
    user.split_once('.').map_or(user, |(_, w)| w).trim()
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_names_and_control_characters_are_refused() {
        use super::check_username as c;
        assert!(c("bc1qexample.rig-01 ünïcode ✓").is_ok());
        assert!(c("farm.rig1'; DROP TABLE share_events; --").is_ok());
        assert!(c(&"x".repeat(512)).is_ok());
        assert!(c(&"x".repeat(513)).unwrap_err().contains("513 bytes"));
        for bad in [
            "rig\n1",
            "rig\r",
            "a\u{1b}[31m",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let bad = bad.replace("\\n", "\n");
            assert!(c(&bad).is_err(), "{bad:?}");
        }
    }
}
