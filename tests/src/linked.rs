//! Setups for tests of data planes linked to a control plane: a control
//! plane in this process on a temporary database, and data planes following
//! its plans with their own state directories.

use std::net::SocketAddr;
use std::path::Path;

use switchyard_controlplane::{ControlPlane, Options, site_token_file};
use switchyard_dataplane::DataPlane;

use crate::dp::test_config;

/// A control plane on `<dir>/switchyard.db` listening on 127.0.0.1:0, from
/// `yaml` (the default site's zone is UTC).
pub async fn control_plane(dir: &Path, yaml: &str) -> ControlPlane {
    let config = switchyard_model::config::load(yaml, chrono_tz::Tz::UTC).expect("a valid config");
    ControlPlane::start(Options {
        config,
        database: dir.join("switchyard.db"),
        listen: Some("127.0.0.1:0".parse().expect("an address")),
        local_tz: chrono_tz::Tz::UTC,
        tls: None,
    })
    .await
    .expect("the control plane starts")
}

/// A data plane of `site` linked to the control plane at `cp` (whose database
/// is `<dir>/switchyard.db`), keeping its state in `<dir>/dp-<site>`.
pub async fn linked_dataplane(dir: &Path, cp: SocketAddr, site: &str) -> DataPlane {
    linked_dataplane_with(dir, cp, site, |_| {}).await
}

/// [`linked_dataplane`] with `tweak` applied to its config first (another
/// listener, other timeouts).
pub async fn linked_dataplane_with(
    dir: &Path,
    cp: SocketAddr,
    site: &str,
    tweak: impl FnOnce(&mut switchyard_dataplane::config::Config),
) -> DataPlane {
    let mut cfg = test_config(Vec::new());
    tweak(&mut cfg);
    cfg.controlplane.endpoint = Some(format!("http://{cp}"));
    cfg.controlplane.token_file = Some(
        site_token_file(&dir.join("switchyard.db"), site)
            .display()
            .to_string(),
    );
    cfg.controlplane.state_dir = dir.join(format!("dp-{site}")).display().to_string();
    DataPlane::start(cfg).await.expect("the data plane starts")
}
