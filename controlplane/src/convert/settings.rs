//! A site's `proxy:` section (the control plane's model of the seed format)
//! as the contract's typed [`pb::DataPlaneSettings`]: what every data plane
//! of the site, the embedded one included, applies. The listeners stay
//! out (each machine has its own; single-machine mode builds them in
//! `embedded`) and so does the circuit breaker (run here).

use switchyard_model::config::Proxy;
use switchyard_proto::v1 as pb;

/// The data-plane settings of `proxy`.
pub fn data_plane_settings(proxy: &Proxy) -> pb::DataPlaneSettings {
    let g = &proxy.global;
    let v = &proxy.validation;
    let d = &proxy.difficulty;
    pb::DataPlaneSettings {
        offline_after_s: g.offline_after,
        connections: Some(pb::ConnectionSettings {
            miner_read_timeout_s: g.miner_read_timeout,
            miner_write_timeout_s: g.miner_write_timeout,
            upstream_idle_timeout_s: g.upstream_idle_timeout,
            tcp_keepalive: g.tcp_keepalive,
            keepalive_idle_s: g.keepalive_idle,
            keepalive_interval_s: g.keepalive_interval,
            keepalive_count: g.keepalive_count,
        }),
        validation: Some(pb::ShareValidation {
            reject_duplicates: v.reject_duplicates,
            reject_stale: v.reject_stale,
            share_cache_size: v.share_cache_size,
            share_cache_ttl_s: v.share_cache_ttl,
            job_cache_size: v.job_cache_size,
        }),
        difficulty: Some(pb::DifficultyBuffer {
            change_cooldown_s: d.change_cooldown,
            decay_enabled: d.decay_enabled,
            decay_interval_s: d.decay_interval,
            decay_percent: d.decay_percent,
            floor_trigger_ratio: d.floor_trigger_ratio,
            floor_reset_ratio: d.floor_reset_ratio,
            share_rate_window_s: d.share_rate_window,
            share_rate_min_shares: d.share_rate_min_shares,
            share_rate_low_multiplier: d.share_rate_low_multiplier,
            buffer_start: d.buffer_start,
            buffer_min: d.buffer_min,
            buffer_max: d.buffer_max,
            buffer_increase_step: d.buffer_increase_step,
            buffer_decrease_interval_s: d.buffer_decrease_interval,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_dataplane::config::{Config, site};
    use switchyard_model::config::parse_proxy_yaml;

    /// Every setting the data plane takes, each away from its default.
    const EVERY_SETTING: &str = "\
global:
  miner_read_timeout: 400
  miner_write_timeout: 7
  upstream_idle_timeout: 240
  tcp_keepalive: false
  keepalive_idle: 61
  keepalive_interval: 11
  keepalive_count: 4
  offline_after: 900
validation:
  reject_duplicates: false
  reject_stale: false
  share_cache_size: 2000
  share_cache_ttl: 301
  job_cache_size: 9
difficulty:
  change_cooldown: 31
  decay_enabled: false
  decay_interval: 301
  decay_percent: 0.06
  floor_trigger_ratio: 0.51
  floor_reset_ratio: 0.76
  share_rate_window: 302
  share_rate_min_shares: 4
  share_rate_low_multiplier: 0.6
  buffer_start: 0.07
  buffer_min: 0.03
  buffer_max: 0.21
  buffer_increase_step: 0.02
  buffer_decrease_interval: 3601
";

    /// The seed YAML, through the model and the contract (encoded and
    /// decoded), into a data plane's config: every setting arrives.
    #[test]
    fn every_setting_goes_from_the_seed_yaml_to_the_data_plane_config() {
        use prost::Message;
        let proxy = parse_proxy_yaml(EVERY_SETTING).unwrap();
        let wire = data_plane_settings(&proxy).encode_to_vec();
        let settings = pb::DataPlaneSettings::decode(wire.as_slice()).unwrap();
        // The data plane's use of it is its own; the wire carries it.
        assert_eq!(settings.offline_after_s, 900);
        let mut own = Config::default();
        own.controlplane.endpoint = Some("http://127.0.0.1:1".into());
        own.controlplane.token = Some("t".into());
        let cfg = site::apply_site_settings(&own, &settings).unwrap();

        let (g, l) = (&proxy.global, &cfg.limits);
        assert_eq!(l.miner_idle_timeout, f64::from(g.miner_read_timeout));
        assert_eq!(l.miner_write_timeout, f64::from(g.miner_write_timeout));
        assert_eq!(
            cfg.upstream.idle_timeout,
            f64::from(g.upstream_idle_timeout)
        );
        assert_eq!(l.tcp_keepalive, g.tcp_keepalive);
        assert_eq!(l.keepalive_idle, u64::from(g.keepalive_idle));
        assert_eq!(l.keepalive_interval, u64::from(g.keepalive_interval));
        assert_eq!(l.keepalive_count, g.keepalive_count);

        let (v, c) = (&proxy.validation, &cfg.validation);
        assert_eq!(c.reject_duplicates, v.reject_duplicates);
        assert_eq!(c.reject_stale, v.reject_stale);
        assert_eq!(c.share_cache_size, v.share_cache_size as usize);
        assert_eq!(c.share_cache_ttl, f64::from(v.share_cache_ttl));
        assert_eq!(c.job_cache_size, v.job_cache_size as usize);

        let (d, c) = (&proxy.difficulty, &cfg.difficulty);
        assert_eq!(c.change_cooldown, f64::from(d.change_cooldown));
        assert_eq!(c.decay_enabled, d.decay_enabled);
        assert_eq!(c.decay_interval, f64::from(d.decay_interval));
        assert_eq!(c.decay_percent, d.decay_percent);
        assert_eq!(c.floor_trigger_ratio, d.floor_trigger_ratio);
        assert_eq!(c.floor_reset_ratio, d.floor_reset_ratio);
        assert_eq!(c.share_rate_window, f64::from(d.share_rate_window));
        assert_eq!(c.share_rate_min_shares, d.share_rate_min_shares);
        assert_eq!(c.share_rate_low_multiplier, d.share_rate_low_multiplier);
        assert_eq!(c.buffer_start, d.buffer_start);
        assert_eq!(c.buffer_min, d.buffer_min);
        assert_eq!(c.buffer_max, d.buffer_max);
        assert_eq!(c.buffer_increase_step, d.buffer_increase_step);
        assert_eq!(
            c.buffer_decrease_interval,
            f64::from(d.buffer_decrease_interval)
        );

        // Every value differs from the defaults, so none arrived by accident.
        let defaults = Proxy::default();
        assert_ne!(proxy.global.keepalive_idle, defaults.global.keepalive_idle);
        assert_ne!(proxy.global.offline_after, defaults.global.offline_after);
        assert_ne!(proxy.difficulty, defaults.difficulty);
        assert_ne!(proxy.validation, defaults.validation);
    }

    #[test]
    fn the_seed_defaults_make_a_config_the_data_plane_runs_with() {
        let settings = data_plane_settings(&Proxy::default());
        let mut own = Config::default();
        own.controlplane.endpoint = Some("http://127.0.0.1:1".into());
        own.controlplane.token = Some("t".into());
        let cfg = site::apply_site_settings(&own, &settings).unwrap();
        assert_eq!(
            cfg.limits.miner_idle_timeout,
            site::MIN_MINER_IDLE,
            "the seed's 180 s would drop slow ASICs"
        );
    }
}
