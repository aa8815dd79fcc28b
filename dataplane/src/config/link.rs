//! The `controlplane:` section of a data-plane config: how a data plane
//! reaches its control plane (endpoint and site token), where it keeps its
//! state across restarts (its stable id, the last routing plan, the share
//! event spool) and how share events are batched. Without an `endpoint` the
//! data plane runs standalone from its own `pools:`.

use serde::Deserialize;
use switchyard_proto::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneLink {
    /// `http://host:port` or `https://host:port`; `None` = standalone.
    pub endpoint: Option<String>,
    /// The site's data-plane token (`ctl site add` prints it), or
    pub token: Option<Secret>,
    /// a file holding it (trimmed).
    pub token_file: Option<String>,
    /// PEM CA certificate for an `https://` endpoint with a private CA.
    pub ca_file: Option<String>,
    /// Directory for the data-plane id, the last plan and the spool.
    pub state_dir: String,
    /// Most bytes of unacknowledged share events kept on disk; beyond it new
    /// events are dropped, counted and logged loudly.
    pub spool_max_bytes: u64,
    /// Most events in one batch to the control plane.
    pub batch_max_events: usize,
    /// Seconds to wait for more events before sending a partial batch.
    pub batch_interval: f64,
    /// Seconds between health reports.
    pub health_interval: f64,
}

impl Default for ControlPlaneLink {
    fn default() -> Self {
        ControlPlaneLink {
            endpoint: None,
            token: None,
            token_file: None,
            ca_file: None,
            state_dir: "switchyard-dataplane-state".into(),
            spool_max_bytes: 256 << 20,
            batch_max_events: 1000,
            batch_interval: 0.2,
            health_interval: 10.0,
        }
    }
}

impl ControlPlaneLink {
    /// Problems of this section, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if let Some(e) = &self.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                errs.push(format!(
                    "controlplane.endpoint: {e:?} must start with http:// or https://"
                ));
            }
            if self.token.is_none() && self.token_file.is_none() {
                errs.push("controlplane.token: a site token (or controlplane.token_file) is required with an endpoint".into());
            }
        }
        if self.token.is_some() && self.token_file.is_some() {
            errs.push("controlplane.token_file: give token or token_file, not both".into());
        }
        if self.state_dir.trim().is_empty() {
            errs.push("controlplane.state_dir: must not be empty".into());
        }
        if self.spool_max_bytes < 1 << 20 {
            errs.push(format!(
                "controlplane.spool_max_bytes: {} must be at least 1048576 (1 MiB)",
                self.spool_max_bytes
            ));
        }
        if !(1..=10_000).contains(&self.batch_max_events) {
            errs.push(format!(
                "controlplane.batch_max_events: {} must be between 1 and 10000",
                self.batch_max_events
            ));
        }
        if !(0.01..=60.0).contains(&self.batch_interval) {
            errs.push(format!(
                "controlplane.batch_interval: {} must be between 0.01 and 60 seconds",
                self.batch_interval
            ));
        }
        if !(1.0..=3600.0).contains(&self.health_interval) {
            errs.push(format!(
                "controlplane.health_interval: {} must be between 1 and 3600 seconds",
                self.health_interval
            ));
        }
        errs
    }

    /// The token, from `token` or `token_file`.
    pub fn resolve_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = &self.token {
            return Ok(Some(t.expose().trim().to_string()));
        }
        match &self.token_file {
            Some(f) => {
                let t = std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("controlplane.token_file {f}: {e}"))?;
                Ok(Some(t.trim().to_string()))
            }
            None => Ok(None),
        }
    }
}
