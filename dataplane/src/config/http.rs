//! The `http:` section (the monitoring endpoints: health, readiness, status
//! and Prometheus metrics; off unless `listen` is set) and the `workers:`
//! section (when a silent rig stops counting as online).

use serde::Deserialize;

/// `http:`: where the endpoints listen and who may read them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// `host:port`; none: no HTTP listener. Loopback is the safe choice.
    pub listen: Option<String>,
    /// A file holding the bearer token `/status` and `/metrics` require;
    /// none: they are open (`/healthz` and `/readyz` always are).
    pub token_file: Option<String>,
    /// Per-worker series in `/metrics` (off by default: one series per rig).
    pub worker_metrics: bool,
    /// At most this many workers get series; the rest are counted only in
    /// the site totals.
    pub worker_metrics_cap: usize,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: None,
            token_file: None,
            worker_metrics: false,
            worker_metrics_cap: 5_000,
        }
    }
}

impl Http {
    /// Every problem of the section, each naming its field.
    pub fn problems(&self, field: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if let Some(l) = &self.listen
            && l.parse::<std::net::SocketAddr>().is_err()
        {
            errs.push(format!(
                "{field}.listen: {l:?} is not an address like 127.0.0.1:9100"
            ));
        }
        if let Some(f) = &self.token_file {
            match crate::http::read_token(std::path::Path::new(f)) {
                Ok(_) => {}
                Err(e) => errs.push(format!("{field}.token_file: {e}")),
            }
        }
        if self.worker_metrics_cap == 0 && self.worker_metrics {
            errs.push(format!(
                "{field}.worker_metrics_cap: must be at least 1 with worker_metrics on"
            ));
        }
        errs
    }
}

/// `workers:`: worker liveness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workers {
    /// Seconds without a share after which a worker is no longer online:
    /// idle while still connected, offline once gone. In control-plane
    /// mode the site's `proxy.global.offline_after` wins.
    pub offline_after: u64,
}

impl Default for Workers {
    fn default() -> Self {
        Workers { offline_after: 600 }
    }
}
