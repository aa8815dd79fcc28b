//! Conversions between store rows, model plans and the gRPC messages:
//! the model's and the store's names become the contract's enums here
//! (and the site's settings typed fields, in [`settings`]).

mod settings;

use switchyard_model::Algorithm;
use switchyard_model::config::{Proxy, parse_proxy_yaml};
use switchyard_model::plan::{SitePlan, SwitchReason};
use switchyard_proto::CONTRACT_VERSION;
use switchyard_proto::v1 as pb;

pub use settings::data_plane_settings;

use crate::grpc::Live;
use crate::planner::PlannerSettings;
use crate::store::{BreakerRow, DataPlaneRow, PoolRow, SiteRow};

/// The data-plane view of a computed plan (version and time set by the caller).
pub fn routing_plan(
    site: &SiteRow,
    plan: &SitePlan,
    pools: &[PoolRow],
    s: &PlannerSettings,
) -> pb::RoutingPlan {
    let algorithms: Vec<pb::AlgorithmPlan> = plan
        .algorithms
        .iter()
        .map(|a| pb::AlgorithmPlan {
            algorithm: algorithm(a.algorithm) as i32,
            current_pool: a.current.clone(),
            scheduled_pool: a.scheduled.clone(),
            switches: a
                .switches
                .iter()
                .map(|w| pb::Switch {
                    at_unix_ms: w.at.timestamp_millis(),
                    pool: w.to.clone(),
                    reason: switch_reason(w.reason) as i32,
                    split: pool_weights(&w.split),
                })
                .collect(),
            failover: a.failover.clone(),
            open_breakers: a.open_breakers.clone(),
            half_open: a.half_open.clone(),
            override_until_unix_ms: a.override_until.map_or(0, |t| t.timestamp_millis()),
            split: pool_weights(&a.split),
        })
        .collect();
    // Every pool of the planned algorithms: the data plane may need any of
    // them for failover.
    let pools = pools
        .iter()
        .filter(|p| {
            plan.algorithms
                .iter()
                .any(|a| a.algorithm.as_str() == p.algorithm)
        })
        .map(pool_settings)
        .collect();
    let proxy = site_proxy(site);
    let mut plan = pb::RoutingPlan {
        site: site.name.clone(),
        version: 0,
        generated_at_unix_ms: 0,
        timezone: site.timezone.clone(),
        grace_period_s: s.grace_period_s,
        switch_lead_s: s.switch_lead_s,
        server_switch_timeout_s: proxy
            .as_ref()
            .map_or(Proxy::default().global.server_switch_timeout, |p| {
                p.global.server_switch_timeout
            }),
        algorithms,
        pools,
        settings: proxy.as_ref().map(data_plane_settings),
        contract_version: CONTRACT_VERSION,
    };
    plan.contract_version = switchyard_proto::contract::plan_contract(&plan);
    plan
}

/// A weighted window's pools on the wire.
pub fn pool_weights(split: &[switchyard_model::PoolWeight]) -> Vec<pb::PoolWeight> {
    split
        .iter()
        .map(|p| pb::PoolWeight {
            pool: p.pool.clone(),
            weight: p.weight,
        })
        .collect()
}

/// A site's stored `proxy:` section; `None` when there is none, or when it
/// no longer reads (logged: its data planes then keep their own settings).
pub(crate) fn site_proxy(site: &SiteRow) -> Option<Proxy> {
    if site.proxy_yaml.trim().is_empty() {
        return None;
    }
    parse_proxy_yaml(&site.proxy_yaml)
        .map_err(|p| {
            tracing::error!(site = %site.name, problems = %switchyard_model::problem::render(&p),
                "the site's stored data-plane settings do not read; its plans carry none")
        })
        .ok()
}

/// The contract's value of an algorithm.
pub fn algorithm(a: Algorithm) -> pb::Algorithm {
    match a {
        Algorithm::Sha256 => pb::Algorithm::Sha256,
        Algorithm::Randomx => pb::Algorithm::Randomx,
        Algorithm::Zksnark => pb::Algorithm::Zksnark,
    }
}

/// The model's algorithm of a contract value (`None` for UNSPECIFIED).
pub fn model_algorithm(a: pb::Algorithm) -> Option<Algorithm> {
    match a {
        pb::Algorithm::Unspecified => None,
        pb::Algorithm::Sha256 => Some(Algorithm::Sha256),
        pb::Algorithm::Randomx => Some(Algorithm::Randomx),
        pb::Algorithm::Zksnark => Some(Algorithm::Zksnark),
    }
}

pub fn switch_reason(r: SwitchReason) -> pb::SwitchReason {
    match r {
        SwitchReason::Schedule => pb::SwitchReason::Schedule,
        SwitchReason::OverrideEnds => pb::SwitchReason::OverrideEnds,
    }
}

/// A stored name as the contract's value (the store holds only valid
/// names; anything else reads as UNSPECIFIED).
pub fn stored<E: Default>(name: &str, from_label: fn(&str) -> Option<E>) -> E {
    from_label(name).unwrap_or_default()
}

pub fn pool_settings(p: &PoolRow) -> pb::PoolSettings {
    pb::PoolSettings {
        name: p.name.clone(),
        algorithm: stored(&p.algorithm, pb::Algorithm::from_label) as i32,
        host: p.host.clone(),
        port: u32::try_from(p.port).unwrap_or(0),
        username: p.username.clone(),
        password: p.password.expose().to_owned(),
        tls: p.tls,
        mode: stored(&p.mode, pb::PoolMode::from_label) as i32,
        enabled: p.enabled,
        connect_timeout_s: u32::try_from(p.connect_timeout_s).unwrap_or(30),
        retry_interval_s: u32::try_from(p.retry_interval_s).unwrap_or(5),
        buffer_percent: p.buffer_percent,
        min_difficulty: p.min_difficulty,
        max_difficulty: p.max_difficulty,
        dialect: stored(
            p.dialect.as_deref().unwrap_or(""),
            pb::AleoDialect::from_label,
        ) as i32,
        // Data planes never learn which other sites share a pool.
        sites: Vec::new(),
    }
}

/// A pool for ctl: never with its password.
pub fn pool(p: &PoolRow) -> pb::Pool {
    pb::Pool {
        settings: Some(pb::PoolSettings {
            password: String::new(),
            sites: p.sites.0.clone(),
            ..pool_settings(p)
        }),
        password_set: !p.password.is_empty(),
    }
}

pub fn site(s: &SiteRow) -> pb::Site {
    pb::Site {
        name: s.name.clone(),
        timezone: s.timezone.clone(),
        plan_version: u64::try_from(s.plan_version).unwrap_or(0),
        created_at_unix_ms: s.created_ms,
    }
}

pub fn breaker(b: &BreakerRow) -> pb::Breaker {
    pb::Breaker {
        site: b.site.clone(),
        pool: b.pool.clone(),
        state: b.state.clone(),
        consecutive_failures: u32::try_from(b.consecutive_failures).unwrap_or(0),
        successes: u32::try_from(b.successes).unwrap_or(0),
        changed_at_unix_ms: b.changed_ms,
        retry_at_unix_ms: b.retry_ms.unwrap_or(0),
        last_error: b.last_error.clone(),
        // Filled by the caller from the data planes' reports.
        connects_ok: 0,
        connects_failed: 0,
    }
}

pub fn dataplane(d: &DataPlaneRow, live: Option<&Live>) -> pb::DataPlaneInfo {
    let l = live.cloned().unwrap_or_default();
    pb::DataPlaneInfo {
        miners: l.miners,
        spool_events: l.spool_events,
        spool_bytes: l.spool_bytes,
        events_dropped: l.events_dropped,
        id: d.id.clone(),
        site: d.site.clone(),
        version: d.version.clone(),
        hostname: d.hostname.clone(),
        last_seen_unix_ms: d.last_seen_ms,
        acked_plan_version: u64::try_from(d.acked_plan_version).unwrap_or(0),
        site_plan_version: u64::try_from(d.site_plan_version).unwrap_or(0),
        connected: l.streams > 0,
        ack_error: d.ack_error.clone(),
    }
}
