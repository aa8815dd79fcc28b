//! Single-machine mode: a data plane in the control plane's process, for the
//! default site (`controlplane.site_name`), configured from that site's
//! `proxy:` settings in the database and connected to this control plane
//! over the same gRPC API on loopback (with a per-process internal token),
//! so there is one code path for local and remote data planes. Its
//! listeners come from the `proxy:` section here (this process owns the
//! config file); the other settings go through the same typed conversion
//! as every routing plan ([`convert::data_plane_settings`]).

use std::path::Path;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Config, Listener, ListenerTls, Listeners, site};
use switchyard_model::config::{self, Import, Proxy, parse_proxy_yaml};

use crate::{ControlPlane, convert};

/// Where the embedded data plane keeps its id, last plan and spool.
pub fn state_dir(database: &Path) -> std::path::PathBuf {
    let mut s = database.as_os_str().to_owned();
    s.push(".dataplane");
    s.into()
}

/// The embedded data plane's miner listeners: each enabled `proxy.<algo>`
/// section, with its TLS files and `proxy.global.max_connections`.
pub fn listeners(proxy: &Proxy) -> Listeners {
    let listener = |l: &config::Listener| {
        l.enabled.then(|| Listener {
            bind: join_host_port(&l.bind_host, l.bind_port),
            max_connections: proxy.global.max_connections as usize,
            tls: match (&l.tls_cert, &l.tls_key) {
                (Some(cert_file), Some(key_file)) => Some(ListenerTls {
                    cert_file: cert_file.clone(),
                    key_file: key_file.clone(),
                }),
                _ => None,
            },
        })
    };
    Listeners {
        sha256: listener(&proxy.sha256).into_iter().collect(),
        randomx: listener(&proxy.randomx).into_iter().collect(),
        zksnark: listener(&proxy.zksnark).into_iter().collect(),
    }
}

/// The embedded data plane's config: the site's settings and listeners,
/// the LAN exempt from per-IP limits, and the control plane's grace period.
pub fn config(proxy: &Proxy, grace_period: u32) -> Config {
    let mut cfg = Config::default();
    site::apply(&mut cfg, &convert::data_plane_settings(proxy));
    cfg.listeners = listeners(proxy);
    cfg.limits.allow = site::LAN.iter().map(|n| n.to_string()).collect();
    cfg.upstream.grace_period = f64::from(grace_period);
    cfg
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
    if proxy.enabled_algorithms().is_empty() {
        tracing::info!(site = %site_name, "no embedded data plane: proxy.sha256, proxy.randomx and proxy.zksnark are disabled");
        return Ok(None);
    }
    let mut cfg = config(&proxy, import.controlplane.grace_period);
    cfg.controlplane.endpoint = Some(cp.internal_endpoint());
    cfg.controlplane.token = Some(cp.internal_site_token(site_name).await?.into());
    cfg.controlplane.state_dir = state_dir(database).display().to_string();
    let dp = DataPlane::start(cfg).await?;
    tracing::info!(site = %site_name, sha256 = ?dp.sha256_addr(), randomx = ?dp.randomx_addr(), zksnark = ?dp.zksnark_addr(), "embedded data plane started");
    Ok(Some(dp))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_sections_make_the_embedded_config_and_it_validates() {
        let mut proxy = Proxy::default();
        proxy.sha256.bind_host = "127.0.0.1".into();
        proxy.sha256.bind_port = 4444;
        proxy.randomx.enabled = true;
        proxy.randomx.bind_port = 4445;
        proxy.zksnark.enabled = true;
        proxy.zksnark.bind_port = 4446;
        proxy.zksnark.tls_cert = Some("zk.crt".into());
        proxy.zksnark.tls_key = Some("zk.key".into());
        proxy.global.miner_read_timeout = 180;
        proxy.global.max_connections = 77;
        proxy.validation.job_cache_size = 12;
        proxy.difficulty.buffer_start = 0.07;
        let mut cfg = config(&proxy, 45);
        let l = &cfg.listeners.sha256[0];
        assert_eq!(
            (l.bind.as_str(), l.max_connections, l.tls.is_none()),
            ("127.0.0.1:4444", 77, true)
        );
        let rx = &cfg.listeners.randomx[0];
        assert_eq!((rx.bind.as_str(), rx.max_connections), ("0.0.0.0:4445", 77));
        let zk = &cfg.listeners.zksnark[0];
        assert_eq!(zk.bind, "0.0.0.0:4446");
        assert_eq!(
            zk.tls,
            Some(ListenerTls {
                cert_file: "zk.crt".into(),
                key_file: "zk.key".into()
            })
        );
        assert_eq!(
            cfg.limits.miner_idle_timeout,
            site::MIN_MINER_IDLE,
            "the seed's 180 s would drop slow ASICs"
        );
        assert_eq!(cfg.validation.job_cache_size, 12);
        assert_eq!(cfg.difficulty.buffer_start, 0.07);
        assert_eq!(cfg.upstream.grace_period, 45.0);
        assert_eq!(cfg.limits.allow.len(), site::LAN.len());

        proxy.randomx.enabled = false;
        proxy.zksnark.enabled = false;
        let off = listeners(&proxy);
        assert!(
            off.randomx.is_empty() && off.zksnark.is_empty(),
            "disabled in the seed: off"
        );
        cfg.listeners.zksnark.clear();
        cfg.controlplane.endpoint = Some("http://127.0.0.1:1".into());
        cfg.controlplane.token = Some("t".into());
        cfg.validate().expect("a valid data-plane config");
        assert_eq!(join_host_port("::", 3333), "[::]:3333");
    }
}
