//! Validation of a data plane's config: every field checked, every problem
//! reported at once and named by its path (listeners, limits, timeouts,
//! difficulty, pools).

use std::net::SocketAddr;

use super::{Algorithm, Config, ConfigErrors, parse_pool_url};

impl Config {
    /// Checks every field; reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errs = self.controlplane.problems();
        self.validate_logging(&mut errs);
        errs.extend(self.http.problems("http"));
        if self.workers.offline_after == 0 {
            errs.push("workers.offline_after: must be at least 1 second".into());
        }
        let all = self.listeners.all();
        if all.is_empty() {
            errs.push(
                "listeners: no listener configured: a `listeners:` map opens exactly the listeners it names; \
                 name listeners.sha256, listeners.randomx or listeners.zksnark (without `listeners:` at all, \
                 SHA-256 listens on 0.0.0.0:3333)"
                    .into(),
            );
        }
        for (algorithm, field, l) in &all {
            let port = algorithm.default_port();
            if l.bind.parse::<SocketAddr>().is_err() {
                errs.push(format!(
                    "{field}.bind: {:?} is not an address like 0.0.0.0:{port}",
                    l.bind
                ));
            }
            if l.max_connections == 0 {
                errs.push(format!("{field}.max_connections: must be at least 1"));
            }
            if let Some(Err(e)) = l.tls.as_ref().map(super::ListenerTls::load) {
                errs.push(format!("{field}.tls: {e}"));
            }
        }
        for (i, (_, b, y)) in all.iter().enumerate() {
            if let Some((_, a, _)) = all[..i]
                .iter()
                .find(|(_, _, x)| x.bind == y.bind && !x.bind.ends_with(":0"))
            {
                errs.push(format!(
                    "{b}.bind: {:?} is already the address of {a}",
                    y.bind
                ));
            }
        }
        if let Some(f) = &self.upstream.tls_ca_file
            && let Err(e) = crate::tls::PoolTls::new(Some(std::path::Path::new(f)))
        {
            errs.push(format!("upstream.tls_ca_file: {e}"));
        }
        let l = &self.limits;
        for cidr in &l.allow {
            if self.allow_net(cidr).is_none() {
                errs.push(format!(
                    "limits.allow: {cidr:?} is not a CIDR like 10.0.0.0/8 or an IP address"
                ));
            }
        }
        if !(1024..=1 << 20).contains(&l.max_line_length) {
            errs.push(format!(
                "limits.max_line_length: {} must be between 1024 and 1048576",
                l.max_line_length
            ));
        }
        if !(8..=65_536).contains(&l.outbound_queue) {
            errs.push(format!(
                "limits.outbound_queue: {} must be between 8 and 65536",
                l.outbound_queue
            ));
        }
        for (name, v) in [
            ("limits.handshake_timeout", l.handshake_timeout),
            ("limits.miner_idle_timeout", l.miner_idle_timeout),
            ("limits.miner_write_timeout", l.miner_write_timeout),
            ("upstream.connect_timeout", self.upstream.connect_timeout),
            (
                "upstream.handshake_timeout",
                self.upstream.handshake_timeout,
            ),
            ("upstream.request_timeout", self.upstream.request_timeout),
            ("upstream.idle_timeout", self.upstream.idle_timeout),
            ("upstream.backoff_min", self.upstream.backoff_min),
            ("upstream.backoff_max", self.upstream.backoff_max),
            (
                "aggregation.subscribe_wait",
                self.aggregation.subscribe_wait,
            ),
            (
                "difficulty.vardiff.target_interval",
                self.difficulty.vardiff.target_interval,
            ),
            (
                "difficulty.vardiff.retarget_every",
                self.difficulty.vardiff.retarget_every,
            ),
            (
                "validation.share_cache_ttl",
                self.validation.share_cache_ttl,
            ),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                errs.push(format!(
                    "{name}: {v} must be a number of seconds above 0 and at most 86400"
                ));
            }
        }
        if !(self.upstream.grace_period.is_finite()
            && (0.0..=3600.0).contains(&self.upstream.grace_period))
        {
            errs.push(format!(
                "upstream.grace_period: {} must be between 0 and 3600 seconds",
                self.upstream.grace_period
            ));
        }
        if self.upstream.backoff_min > self.upstream.backoff_max {
            errs.push("upstream.backoff_min: must not exceed upstream.backoff_max".into());
        }
        if l.miner_idle_timeout < 300.0 {
            errs.push(format!(
                "limits.miner_idle_timeout: {} s would drop slow ASICs; use at least 300",
                l.miner_idle_timeout
            ));
        }
        let a = &self.aggregation;
        if !(1..=4).contains(&a.extranonce_prefix_size) {
            errs.push(format!(
                "aggregation.extranonce_prefix_size: {} must be 1 to 4 bytes",
                a.extranonce_prefix_size
            ));
        }
        if !(2..=16).contains(&a.miner_extranonce2_size) {
            errs.push(format!(
                "aggregation.miner_extranonce2_size: {} must be 2 to 16 bytes",
                a.miner_extranonce2_size
            ));
        }
        if a.miners_per_upstream == 0 {
            errs.push("aggregation.miners_per_upstream: must be at least 1".into());
        }
        if switchyard_stratum::hexutil::parse_hex_u32(&a.version_mask).is_err() {
            errs.push(format!(
                "aggregation.version_mask: {:?} is not 8 hex digits like 1fffe000",
                a.version_mask
            ));
        }
        let v = &self.validation;
        if !(1..=100_000).contains(&v.share_cache_size) {
            errs.push(format!(
                "validation.share_cache_size: {} must be 1 to 100000",
                v.share_cache_size
            ));
        }
        if !(1..=1000).contains(&v.job_cache_size) {
            errs.push(format!(
                "validation.job_cache_size: {} must be 1 to 1000",
                v.job_cache_size
            ));
        }
        self.validate_difficulty(&mut errs);
        self.validate_pools(&mut errs);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }

    fn validate_logging(&self, errs: &mut Vec<String>) {
        let l = &self.logging;
        if let Err(e) = l.rotation.parse::<crate::logfile::Rotation>() {
            errs.push(format!("logging.rotation: {e}"));
        }
        if l.retention == 0 {
            errs.push("logging.retention: keep at least 1 rotated file".into());
        }
        if !matches!(l.format.as_str(), "text" | "json") {
            errs.push(format!(
                "logging.format: {:?} is not a format (text or json)",
                l.format
            ));
        }
        if l.file.as_deref().is_some_and(|f| f.trim().is_empty()) {
            errs.push("logging.file: is empty: give a file path (or leave the field out)".into());
        }
    }

    fn validate_difficulty(&self, errs: &mut Vec<String>) {
        let d = &self.difficulty;
        for (name, v, lo, hi) in [
            ("difficulty.decay_percent", d.decay_percent, 0.0, 1.0),
            (
                "difficulty.floor_trigger_ratio",
                d.floor_trigger_ratio,
                0.0,
                1.0,
            ),
            (
                "difficulty.floor_reset_ratio",
                d.floor_reset_ratio,
                0.0,
                1.0,
            ),
            (
                "difficulty.share_rate_low_multiplier",
                d.share_rate_low_multiplier,
                0.0,
                1.0,
            ),
            ("difficulty.buffer_start", d.buffer_start, 0.0, 1.0),
            ("difficulty.buffer_min", d.buffer_min, 0.0, 1.0),
            ("difficulty.buffer_max", d.buffer_max, 0.0, 1.0),
            (
                "difficulty.buffer_increase_step",
                d.buffer_increase_step,
                0.0,
                1.0,
            ),
            (
                "difficulty.change_cooldown",
                d.change_cooldown,
                0.0,
                86_400.0,
            ),
            ("difficulty.decay_interval", d.decay_interval, 1.0, 86_400.0),
            (
                "difficulty.share_rate_window",
                d.share_rate_window,
                1.0,
                86_400.0,
            ),
            (
                "difficulty.buffer_decrease_interval",
                d.buffer_decrease_interval,
                1.0,
                864_000.0,
            ),
        ] {
            if !(v.is_finite() && v >= lo && v <= hi) {
                errs.push(format!("{name}: {v} must be between {lo} and {hi}"));
            }
        }
        if d.buffer_min > d.buffer_max
            || d.buffer_start < d.buffer_min
            || d.buffer_start > d.buffer_max
        {
            errs.push(format!(
                "difficulty.buffer_start: {} must lie within buffer_min {} and buffer_max {}",
                d.buffer_start, d.buffer_min, d.buffer_max
            ));
        }
        let vd = &d.vardiff;
        if !(vd.min_difficulty.is_finite()
            && vd.min_difficulty > 0.0
            && vd.min_difficulty <= vd.max_difficulty)
        {
            errs.push(format!(
                "difficulty.vardiff.min_difficulty: {} must be above 0 and at most max_difficulty {}",
                vd.min_difficulty, vd.max_difficulty
            ));
        }
        if let Some(i) = vd
            .initial_difficulty
            .filter(|i| !(i.is_finite() && *i > 0.0))
        {
            errs.push(format!(
                "difficulty.vardiff.initial_difficulty: {i} must be above 0"
            ));
        }
    }

    fn validate_pools(&self, errs: &mut Vec<String>) {
        // With a control plane the pools come from its routing plans.
        if self.controlplane.endpoint.is_none() && !self.pools.iter().any(|p| p.enabled) {
            errs.push("pools: at least one enabled pool is needed".into());
        }
        for (i, p) in self.pools.iter().enumerate() {
            let at = format!("pools[{i}] ({:?})", p.name);
            if p.name.trim().is_empty() {
                errs.push(format!("pools[{i}].name: must not be empty"));
            }
            if self.pools[..i].iter().any(|q| q.name == p.name) {
                errs.push(format!("{at}.name: duplicate pool name {:?}", p.name));
            }
            if let Err(e) = parse_pool_url(&p.url) {
                errs.push(format!("{at}.url: {e}"));
            }
            if p.username.is_empty() {
                errs.push(format!("{at}.username: must not be empty"));
            }
            if let Some(b) = p.buffer_percent.filter(|b| !(0.01..=0.50).contains(b)) {
                errs.push(format!(
                    "{at}.buffer_percent: {b} must be between 0.01 and 0.50"
                ));
            }
            for (field, v) in [
                ("min_difficulty", p.min_difficulty),
                ("max_difficulty", p.max_difficulty),
            ] {
                if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                    errs.push(format!("{at}.{field}: {v} must be above 0"));
                }
            }
            if p.dialect.is_some() && p.algorithm != Algorithm::Zksnark {
                errs.push(format!(
                    "{at}.dialect: only ALEO pools (algorithm: zksnark) have a dialect"
                ));
            }
            if let (Some(lo), Some(hi)) = (p.min_difficulty, p.max_difficulty)
                && lo > hi
            {
                errs.push(format!(
                    "{at}.min_difficulty: {lo} exceeds max_difficulty {hi}"
                ));
            }
        }
    }

    pub(super) fn allow_net(&self, s: &str) -> Option<ipnet::IpNet> {
        s.parse::<ipnet::IpNet>()
            .ok()
            .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
    }
}
