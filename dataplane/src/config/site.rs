//! The site's data-plane settings as a routing plan carries them
//! ([`pb::DataPlaneSettings`]: typed fields, no YAML) applied to a
//! data-plane config: limits and timeouts, share validation and the
//! difficulty buffer. The listeners are not among them: their addresses
//! belong to the machine (single-machine mode sets them from the control
//! plane's config file).

use switchyard_proto::v1 as pb;

use super::Config;

/// The least idle time a miner is given, whatever the site's setting says
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

/// Overwrites the parts of `cfg` that the site's settings set; a section
/// left out keeps `cfg`'s values.
pub fn apply(cfg: &mut Config, s: &pb::DataPlaneSettings) {
    if s.offline_after_s > 0 {
        cfg.workers.offline_after = u64::from(s.offline_after_s);
    }
    if let Some(c) = &s.connections {
        let l = &mut cfg.limits;
        l.miner_idle_timeout = f64::from(c.miner_read_timeout_s).max(MIN_MINER_IDLE);
        l.miner_write_timeout = f64::from(c.miner_write_timeout_s);
        l.tcp_keepalive = c.tcp_keepalive;
        l.keepalive_idle = u64::from(c.keepalive_idle_s);
        l.keepalive_interval = u64::from(c.keepalive_interval_s);
        l.keepalive_count = c.keepalive_count;
        cfg.upstream.idle_timeout = f64::from(c.upstream_idle_timeout_s);
    }
    if let Some(v) = &s.validation {
        let c = &mut cfg.validation;
        c.reject_duplicates = v.reject_duplicates;
        c.reject_stale = v.reject_stale;
        c.share_cache_size = v.share_cache_size as usize;
        c.share_cache_ttl = f64::from(v.share_cache_ttl_s);
        c.job_cache_size = v.job_cache_size as usize;
    }
    if let Some(d) = &s.difficulty {
        let c = &mut cfg.difficulty;
        c.change_cooldown = f64::from(d.change_cooldown_s);
        c.decay_enabled = d.decay_enabled;
        c.decay_interval = f64::from(d.decay_interval_s);
        c.decay_percent = d.decay_percent;
        c.floor_trigger_ratio = d.floor_trigger_ratio;
        c.floor_reset_ratio = d.floor_reset_ratio;
        c.share_rate_window = f64::from(d.share_rate_window_s);
        c.share_rate_min_shares = d.share_rate_min_shares;
        c.share_rate_low_multiplier = d.share_rate_low_multiplier;
        c.buffer_start = d.buffer_start;
        c.buffer_min = d.buffer_min;
        c.buffer_max = d.buffer_max;
        c.buffer_increase_step = d.buffer_increase_step;
        c.buffer_decrease_interval = f64::from(d.buffer_decrease_interval_s);
    }
}

/// `cfg` with the site's settings of a routing plan applied, validated:
/// the config to run with, or why the plan's settings were not used.
pub fn apply_site_settings(cfg: &Config, s: &pb::DataPlaneSettings) -> Result<Config, String> {
    let mut out = cfg.clone();
    apply(&mut out, s);
    out.validate().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data plane whose pools come from its control plane.
    fn linked() -> Config {
        let mut cfg = Config::default();
        cfg.controlplane.endpoint = Some("http://127.0.0.1:1".into());
        cfg.controlplane.token = Some("t".into());
        cfg
    }

    /// Every field set, each to a value no default has.
    fn every_field() -> pb::DataPlaneSettings {
        pb::DataPlaneSettings {
            offline_after_s: 1234,
            connections: Some(pb::ConnectionSettings {
                miner_read_timeout_s: 400,
                miner_write_timeout_s: 7,
                upstream_idle_timeout_s: 240,
                tcp_keepalive: false,
                keepalive_idle_s: 61,
                keepalive_interval_s: 11,
                keepalive_count: 4,
            }),
            validation: Some(pb::ShareValidation {
                reject_duplicates: false,
                reject_stale: false,
                share_cache_size: 2000,
                share_cache_ttl_s: 301,
                job_cache_size: 9,
            }),
            difficulty: Some(pb::DifficultyBuffer {
                change_cooldown_s: 31,
                decay_enabled: false,
                decay_interval_s: 301,
                decay_percent: 0.06,
                floor_trigger_ratio: 0.51,
                floor_reset_ratio: 0.76,
                share_rate_window_s: 302,
                share_rate_min_shares: 4,
                share_rate_low_multiplier: 0.6,
                buffer_start: 0.07,
                buffer_min: 0.03,
                buffer_max: 0.21,
                buffer_increase_step: 0.02,
                buffer_decrease_interval_s: 3601,
            }),
        }
    }

    #[test]
    fn every_setting_lands_in_the_data_plane_config_and_it_validates() {
        let mut own = linked();
        own.listeners.sha256[0].bind = "127.0.0.1:0".into();
        let cfg = apply_site_settings(&own, &every_field()).unwrap();
        let l = &cfg.limits;
        assert_eq!(
            (l.miner_idle_timeout, l.miner_write_timeout, l.tcp_keepalive),
            (400.0, 7.0, false)
        );
        assert_eq!(
            (l.keepalive_idle, l.keepalive_interval, l.keepalive_count),
            (61, 11, 4)
        );
        assert_eq!(cfg.upstream.idle_timeout, 240.0);
        assert_eq!(cfg.workers.offline_after, 1234);
        let v = &cfg.validation;
        assert_eq!(
            (v.reject_duplicates, v.reject_stale, v.share_cache_size),
            (false, false, 2000)
        );
        assert_eq!((v.share_cache_ttl, v.job_cache_size), (301.0, 9));
        let d = &cfg.difficulty;
        assert_eq!(
            (d.change_cooldown, d.decay_enabled, d.decay_interval),
            (31.0, false, 301.0)
        );
        assert_eq!(
            (d.decay_percent, d.floor_trigger_ratio, d.floor_reset_ratio),
            (0.06, 0.51, 0.76)
        );
        assert_eq!(
            (
                d.share_rate_window,
                d.share_rate_min_shares,
                d.share_rate_low_multiplier
            ),
            (302.0, 4, 0.6)
        );
        assert_eq!(
            (d.buffer_start, d.buffer_min, d.buffer_max),
            (0.07, 0.03, 0.21)
        );
        assert_eq!(
            (d.buffer_increase_step, d.buffer_decrease_interval),
            (0.02, 3601.0)
        );
        assert_eq!(
            cfg.listeners.sha256[0].bind, "127.0.0.1:0",
            "the listeners are this machine's"
        );
    }

    #[test]
    fn slow_asics_keep_their_idle_time_and_left_out_sections_keep_the_own_values() {
        let mut s = every_field();
        s.connections.as_mut().unwrap().miner_read_timeout_s = 180;
        s.validation = None;
        s.difficulty = None;
        let own = linked();
        let cfg = apply_site_settings(&own, &s).unwrap();
        assert_eq!(
            cfg.limits.miner_idle_timeout, MIN_MINER_IDLE,
            "the seed's 180 s would drop slow ASICs"
        );
        assert_eq!(cfg.validation.job_cache_size, own.validation.job_cache_size);
        assert_eq!(cfg.difficulty.buffer_start, own.difficulty.buffer_start);
        let untouched = apply_site_settings(&own, &pb::DataPlaneSettings::default()).unwrap();
        assert_eq!(
            untouched.limits.miner_idle_timeout,
            own.limits.miner_idle_timeout
        );
    }

    #[test]
    fn settings_the_data_plane_cannot_run_with_are_refused_naming_the_field() {
        let mut s = every_field();
        s.validation.as_mut().unwrap().job_cache_size = 0;
        let err = apply_site_settings(&linked(), &s).unwrap_err();
        assert!(err.contains("validation.job_cache_size"), "{err}");
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
}
