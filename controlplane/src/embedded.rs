//! Single-machine mode: a data plane in the control plane's process, for the
//! default site (`controlplane.site_name`), configured from that site's
//! `proxy:` settings in the database and connected to this control plane
//! over the same gRPC API on loopback (with a per-process internal token),
//! so there is one code path for local and remote data planes.

use std::path::Path;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Config, seed};
use switchyard_model::config::{Import, parse_proxy_yaml};

use crate::ControlPlane;

/// Where the embedded data plane keeps its id, last plan and spool.
pub fn state_dir(database: &Path) -> std::path::PathBuf {
    let mut s = database.as_os_str().to_owned();
    s.push(".dataplane");
    s.into()
}

/// Starts the embedded data plane, or says why there is none.
pub async fn start(
    cp: &ControlPlane,
    import: &Import,
    database: &Path,
) -> anyhow::Result<Option<DataPlane>> {
    let site_name = &import.controlplane.site_name;
    let Ok(site) = cp.store().site(site_name).await else {
        tracing::info!(site = %site_name, "no embedded data plane: the site does not exist (set controlplane.site_name)");
        return Ok(None);
    };
    let proxy = parse_proxy_yaml(&site.proxy_yaml).map_err(|p| {
        anyhow::anyhow!(
            "site {site_name} settings: {}",
            switchyard_model::problem::render(&p)
        )
    })?;
    if !proxy.sha256.enabled && !proxy.randomx.enabled && !proxy.zksnark.enabled {
        tracing::info!(site = %site_name, "no embedded data plane: proxy.sha256, proxy.randomx and proxy.zksnark are disabled");
        return Ok(None);
    }
    let mut cfg = Config::default();
    seed::apply_proxy(&mut cfg, &proxy);
    cfg.limits.allow = seed::LAN.iter().map(|n| n.to_string()).collect();
    cfg.upstream.grace_period = f64::from(import.controlplane.grace_period);
    cfg.controlplane.endpoint = Some(cp.internal_endpoint());
    cfg.controlplane.token = Some(cp.internal_site_token(site_name).await?.into());
    cfg.controlplane.state_dir = state_dir(database).display().to_string();
    let dp = DataPlane::start(cfg).await?;
    tracing::info!(site = %site_name, sha256 = ?dp.sha256_addr(), randomx = ?dp.randomx_addr(), zksnark = ?dp.zksnark_addr(), "embedded data plane started");
    Ok(Some(dp))
}
