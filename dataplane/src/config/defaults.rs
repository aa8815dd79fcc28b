//! Defaults of every data-plane config section: what a farm gets when a
//! field is left out (the seed's values where the seed had the knob).

use super::*;

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "info".into(),
            file: None,
            rotation: "50 MB".into(),
            retention: 10,
            format: "text".into(),
        }
    }
}

/// A file without `listeners:`: SHA-256 on 0.0.0.0:3333 (a `listeners:` map
/// in the file replaces this as a whole).
impl Default for Listeners {
    fn default() -> Self {
        Listeners {
            sha256: vec![Listener::default()],
            randomx: Vec::new(),
            zksnark: Vec::new(),
        }
    }
}

impl Listener {
    /// The default listener of `algorithm`: all interfaces, its default port.
    pub fn for_algorithm(algorithm: Algorithm) -> Listener {
        Listener {
            bind: format!("0.0.0.0:{}", algorithm.default_port()),
            ..Listener::default()
        }
    }
}

/// `listeners.sha256` in a `listeners:` map: absent or null is off; a map
/// (or each map of a list) gets the SHA-256 defaults (port 3333) for the
/// fields it leaves out.
pub(super) fn sha256_listeners<'de, D>(d: D) -> Result<Vec<Listener>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    listeners(d, Algorithm::Sha256)
}

/// `listeners.randomx`: as `listeners.sha256`, with the RandomX port 3334.
pub(super) fn randomx_listeners<'de, D>(d: D) -> Result<Vec<Listener>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    listeners(d, Algorithm::Randomx)
}

/// `listeners.zksnark`: as `listeners.sha256`, with the ALEO port 3335.
pub(super) fn zksnark_listeners<'de, D>(d: D) -> Result<Vec<Listener>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    listeners(d, Algorithm::Zksnark)
}

/// A pool's `dialect:` by name (`aleostratum3`, `iceriver`); null is "detect".
pub(super) fn aleo_dialect<'de, D>(
    d: D,
) -> Result<Option<switchyard_stratum::aleo::Dialect>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

/// An algorithm's listeners: absent or null is none; one map is one
/// listener, a list of maps several; each gets the defaults of `algorithm`
/// for the fields it leaves out.
fn listeners<'de, D>(d: D, algorithm: Algorithm) -> Result<Vec<Listener>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        bind: Option<String>,
        max_connections: Option<usize>,
        tls: Option<super::ListenerTls>,
    }
    // A visitor rather than an untagged enum: a mistake inside a map keeps
    // its own message ("unknown field `bnd`, expected one of ...").
    struct OneOrMany;
    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<Raw>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a listener (a map with bind, max_connections, tls) or a list of them")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(OneOrMany)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let one = Raw::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            Ok(vec![one])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::<Raw>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }
    }
    let raws = d.deserialize_option(OneOrMany)?;
    Ok(raws
        .into_iter()
        .map(|r| {
            let base = Listener::for_algorithm(algorithm);
            Listener {
                bind: r.bind.unwrap_or(base.bind),
                max_connections: r.max_connections.unwrap_or(base.max_connections),
                tls: r.tls,
            }
        })
        .collect())
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            bind: "0.0.0.0:3333".into(),
            max_connections: 10_000,
            tls: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections_per_ip: 256,
            max_connections_per_minute: 120,
            ban_duration: 300.0,
            allow: Vec::new(),
            max_pending_per_ip: 256,
            max_protocol_errors: 10,
            max_line_length: 64 * 1024,
            outbound_queue: 64,
            handshake_timeout: 60.0,
            miner_idle_timeout: 900.0,
            miner_write_timeout: 30.0,
            tcp_keepalive: true,
            keepalive_idle: 60,
            keepalive_interval: 10,
            keepalive_count: 3,
        }
    }
}

impl Default for Aggregation {
    fn default() -> Self {
        Aggregation {
            extranonce_prefix_size: 2,
            miner_extranonce2_size: 4,
            miners_per_upstream: 10_000,
            subscribe_wait: 30.0,
            version_mask: "1fffe000".into(),
        }
    }
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            reject_duplicates: true,
            reject_stale: true,
            share_cache_size: 1000,
            share_cache_ttl: 300.0,
            job_cache_size: 10,
            ntime_max_future: 7200,
        }
    }
}

impl Default for Difficulty {
    fn default() -> Self {
        let b = BufferConfig::default();
        Difficulty {
            change_cooldown: b.change_cooldown.as_secs_f64(),
            decay_enabled: b.decay_enabled,
            decay_interval: b.decay_interval.as_secs_f64(),
            decay_percent: b.decay_percent,
            floor_trigger_ratio: b.floor_trigger_ratio,
            floor_reset_ratio: b.floor_reset_ratio,
            share_rate_window: b.share_rate_window.as_secs_f64(),
            share_rate_min_shares: b.share_rate_min_shares,
            share_rate_low_multiplier: b.share_rate_low_multiplier,
            buffer_start: b.buffer_start,
            buffer_min: b.buffer_min,
            buffer_max: b.buffer_max,
            buffer_increase_step: b.buffer_increase_step,
            buffer_decrease_interval: b.buffer_decrease_interval.as_secs_f64(),
            vardiff: VarDiff::default(),
        }
    }
}

impl Default for VarDiff {
    fn default() -> Self {
        let v = VarDiffConfig::default();
        VarDiff {
            target_interval: v.target_interval.as_secs_f64(),
            retarget_every: v.retarget_every.as_secs_f64(),
            min_difficulty: v.min_difficulty,
            max_difficulty: v.max_difficulty,
            initial_difficulty: v.initial_difficulty,
        }
    }
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            connect_timeout: 10.0,
            handshake_timeout: 15.0,
            request_timeout: 30.0,
            idle_timeout: 300.0,
            backoff_min: 0.5,
            backoff_max: 30.0,
            grace_period: 30.0,
            tls_ca_file: None,
        }
    }
}
