//! What every miner session of a listener shares ([`SessionCtx`]), and the
//! worker naming all three dialects use: the miner's worker part of a
//! username and a passthrough pool username built from it.

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

/// The worker part of a miner's username ("wallet.rig1" -> "rig1").
pub(crate) fn worker_name(user: &str) -> &str {
    user.split_once('.').map_or(user, |(_, w)| w).trim()
}
