//! The seed's `proxy:` section (crypto-stratum-proxy format, as validated by
//! the control plane and carried in routing plans) applied to a data-plane
//! config: listeners, limits, timeouts, share validation and the difficulty
//! buffer. Used by single-machine mode and by data planes whose settings come
//! from their control plane.

use switchyard_model::config::Proxy;

use super::{Config, Listener, ListenerTls};

/// The least idle time a miner is given, whatever the seed setting says
/// (slow ASICs legitimately stay quiet for minutes; the seed's 180 s default
/// dropped them).
pub const MIN_MINER_IDLE: f64 = 300.0;

/// Private and loopback networks: a farm's own LAN. Single-machine mode
/// exempts them from the per-IP limits (the seed format has no setting for
/// those): after a power cut hundreds of rigs behind one site NAT reconnect
/// within seconds, and a rate ban would keep their hashrate off for minutes.
pub const LAN: [&str; 6] = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "::1/128",
    "fc00::/7",
];

/// Overwrites the parts of `cfg` that the seed's `proxy:` section sets.
pub fn apply_proxy(cfg: &mut Config, proxy: &Proxy) {
    let g = &proxy.global;
    let listener = |l: &switchyard_model::config::Listener| {
        l.enabled.then(|| Listener {
            bind: join_host_port(&l.bind_host, l.bind_port),
            max_connections: g.max_connections as usize,
            tls: match (&l.tls_cert, &l.tls_key) {
                (Some(cert_file), Some(key_file)) => Some(ListenerTls {
                    cert_file: cert_file.clone(),
                    key_file: key_file.clone(),
                }),
                _ => None,
            },
        })
    };
    cfg.listeners.sha256 = listener(&proxy.sha256).into_iter().collect();
    cfg.listeners.randomx = listener(&proxy.randomx).into_iter().collect();
    cfg.listeners.zksnark = listener(&proxy.zksnark).into_iter().collect();
    let l = &mut cfg.limits;
    l.miner_idle_timeout = f64::from(g.miner_read_timeout).max(MIN_MINER_IDLE);
    l.miner_write_timeout = f64::from(g.miner_write_timeout);
    l.tcp_keepalive = g.tcp_keepalive;
    l.keepalive_idle = u64::from(g.keepalive_idle);
    l.keepalive_interval = u64::from(g.keepalive_interval);
    l.keepalive_count = g.keepalive_count;
    cfg.upstream.idle_timeout = f64::from(g.upstream_idle_timeout);

    let v = &proxy.validation;
    cfg.validation.reject_duplicates = v.reject_duplicates;
    cfg.validation.reject_stale = v.reject_stale;
    cfg.validation.share_cache_size = v.share_cache_size as usize;
    cfg.validation.share_cache_ttl = f64::from(v.share_cache_ttl);
    cfg.validation.job_cache_size = v.job_cache_size as usize;

    let d = &proxy.difficulty;
    let c = &mut cfg.difficulty;
    c.change_cooldown = f64::from(d.change_cooldown);
    c.decay_enabled = d.decay_enabled;
    c.decay_interval = f64::from(d.decay_interval);
    c.decay_percent = d.decay_percent;
    c.floor_trigger_ratio = d.floor_trigger_ratio;
    c.floor_reset_ratio = d.floor_reset_ratio;
    c.share_rate_window = f64::from(d.share_rate_window);
    c.share_rate_min_shares = d.share_rate_min_shares;
    c.share_rate_low_multiplier = d.share_rate_low_multiplier;
    c.buffer_start = d.buffer_start;
    c.buffer_min = d.buffer_min;
    c.buffer_max = d.buffer_max;
    c.buffer_increase_step = d.buffer_increase_step;
    c.buffer_decrease_interval = f64::from(d.buffer_decrease_interval);
}

/// The site's settings from a routing plan applied to a data plane that
/// has its own config file: everything of the `proxy:` section except the
/// listeners, whose addresses belong to the machine the data plane runs on.
/// Returns the config to run with, or why the plan's settings were not used.
pub fn apply_site_settings(cfg: &Config, proxy_yaml: &str) -> Result<Config, String> {
    let proxy = switchyard_model::config::parse_proxy_yaml(proxy_yaml)
        .map_err(|p| switchyard_model::problem::render(&p))?;
    let mut out = cfg.clone();
    apply_proxy(&mut out, &proxy);
    out.listeners = cfg.listeners.clone();
    out.validate().map_err(|e| e.to_string())?;
    Ok(out)
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
    fn the_seed_sections_land_in_the_data_plane_config_and_it_validates() {
        let mut proxy = Proxy::default();
        proxy.sha256.bind_host = "127.0.0.1".into();
        proxy.sha256.bind_port = 4444;
        proxy.randomx.enabled = true;
        proxy.randomx.bind_port = 4445;
        proxy.zksnark.enabled = true;
        proxy.zksnark.bind_port = 4446;
        proxy.global.miner_read_timeout = 180;
        proxy.global.max_connections = 77;
        proxy.validation.job_cache_size = 12;
        proxy.difficulty.buffer_start = 0.07;
        let mut cfg = Config::default();
        cfg.controlplane.endpoint = Some("http://127.0.0.1:1".into());
        cfg.controlplane.token = Some("t".into());
        apply_proxy(&mut cfg, &proxy);
        let l = &cfg.listeners.sha256[0];
        assert_eq!((l.bind.as_str(), l.max_connections), ("127.0.0.1:4444", 77));
        let rx = cfg
            .listeners
            .randomx
            .first()
            .expect("proxy.randomx is enabled");
        assert_eq!((rx.bind.as_str(), rx.max_connections), ("0.0.0.0:4445", 77));
        let zk = cfg
            .listeners
            .zksnark
            .first()
            .expect("proxy.zksnark is enabled");
        assert_eq!((zk.bind.as_str(), zk.max_connections), ("0.0.0.0:4446", 77));
        proxy.randomx.enabled = false;
        proxy.zksnark.enabled = false;
        let mut off = Config::default();
        apply_proxy(&mut off, &proxy);
        assert!(
            off.listeners.randomx.is_empty(),
            "disabled in the seed: off"
        );
        assert!(
            off.listeners.zksnark.is_empty(),
            "disabled in the seed: off"
        );
        assert_eq!(
            cfg.limits.miner_idle_timeout, 300.0,
            "the seed's 180 s would drop slow ASICs"
        );
        assert_eq!(cfg.validation.job_cache_size, 12);
        assert_eq!(cfg.difficulty.buffer_start, 0.07);
        cfg.validate().expect("a valid data-plane config");
        assert_eq!(join_host_port("::", 3333), "[::]:3333");
    }

    #[test]
    fn the_lan_networks_are_exempt_from_per_ip_limits() {
        let mut cfg = Config::default();
        cfg.limits.allow = LAN.iter().map(|n| n.to_string()).collect();
        let mut l = crate::limits::IpLimiter::new(cfg.ip_limits());
        let t = std::time::Instant::now();
        let lan: std::net::IpAddr = "192.168.7.20".parse().unwrap();
        // Far beyond the default 120 new connections a minute from one address.
        assert!((0..1000).all(|_| l.admit(lan, t).is_ok()));
        let public: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        let admitted = (0..1000).filter(|_| l.admit(public, t).is_ok()).count();
        assert!(admitted < 1000, "public addresses stay limited");
    }

    #[test]
    fn a_plan_sets_the_site_settings_but_not_the_listeners_of_this_machine() {
        let mut cfg = Config::default();
        cfg.controlplane.endpoint = Some("http://127.0.0.1:1".into());
        cfg.controlplane.token = Some("t".into());
        cfg.listeners.sha256 = vec![Listener {
            bind: "127.0.0.1:0".into(),
            max_connections: 10,
            tls: None,
        }];
        let yaml = "global:\n  miner_write_timeout: 7\nvalidation:\n  job_cache_size: 9\nsha256:\n  enabled: true\n  bind_port: 4444\n";
        let out = apply_site_settings(&cfg, yaml).unwrap();
        assert_eq!(out.listeners.sha256[0].bind, "127.0.0.1:0");
        assert_eq!(out.limits.miner_write_timeout, 7.0);
        assert_eq!(out.validation.job_cache_size, 9);

        let err = apply_site_settings(&cfg, "global:\n  bogus: 1\n").unwrap_err();
        assert!(err.contains("bogus"), "{err}");
    }
}
