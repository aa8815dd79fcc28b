//! Conversions between store rows, model plans and the gRPC messages.

use switchyard_model::plan::SitePlan;
use switchyard_proto::v1 as pb;

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
            algorithm: a.algorithm.as_str().to_string(),
            current_pool: a.current.clone(),
            scheduled_pool: a.scheduled.clone(),
            switches: a
                .switches
                .iter()
                .map(|w| pb::Switch {
                    at_unix_ms: w.at.timestamp_millis(),
                    pool: w.to.clone(),
                    reason: w.reason.as_str().to_string(),
                })
                .collect(),
            failover: a.failover.clone(),
            open_breakers: a.open_breakers.clone(),
            half_open: a.half_open.clone(),
            override_until_unix_ms: a.override_until.map_or(0, |t| t.timestamp_millis()),
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
    pb::RoutingPlan {
        site: site.name.clone(),
        version: 0,
        generated_at_unix_ms: 0,
        timezone: site.timezone.clone(),
        grace_period_s: s.grace_period_s,
        switch_lead_s: s.switch_lead_s,
        server_switch_timeout_s: server_switch_timeout(&site.proxy_yaml),
        algorithms,
        pools,
        settings: Some(pb::DataPlaneSettings {
            proxy_yaml: site.proxy_yaml.clone(),
        }),
    }
}

/// `proxy.global.server_switch_timeout` of a site's settings (seed default 900 s).
fn server_switch_timeout(proxy_yaml: &str) -> u32 {
    serde_yaml_ng::from_str::<serde_yaml_ng::Value>(proxy_yaml)
        .ok()
        .and_then(|v| v.get("global")?.get("server_switch_timeout")?.as_u64())
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(900)
}

pub fn pool_settings(p: &PoolRow) -> pb::PoolSettings {
    pb::PoolSettings {
        name: p.name.clone(),
        algorithm: p.algorithm.clone(),
        host: p.host.clone(),
        port: u32::try_from(p.port).unwrap_or(0),
        username: p.username.clone(),
        password: p.password.expose().to_owned(),
        tls: p.tls,
        mode: p.mode.clone(),
        enabled: p.enabled,
        connect_timeout_s: u32::try_from(p.connect_timeout_s).unwrap_or(30),
        retry_interval_s: u32::try_from(p.retry_interval_s).unwrap_or(5),
        buffer_percent: p.buffer_percent,
        min_difficulty: p.min_difficulty,
        max_difficulty: p.max_difficulty,
        dialect: p.dialect.clone().unwrap_or_default(),
    }
}

/// A pool for ctl: never with its password.
pub fn pool(p: &PoolRow) -> pb::Pool {
    pb::Pool {
        name: p.name.clone(),
        algorithm: p.algorithm.clone(),
        host: p.host.clone(),
        port: u32::try_from(p.port).unwrap_or(0),
        username: p.username.clone(),
        password: String::new(),
        tls: p.tls,
        mode: p.mode.clone(),
        enabled: p.enabled,
        connect_timeout_s: u32::try_from(p.connect_timeout_s).unwrap_or(30),
        retry_interval_s: u32::try_from(p.retry_interval_s).unwrap_or(5),
        buffer_percent: p.buffer_percent,
        min_difficulty: p.min_difficulty,
        max_difficulty: p.max_difficulty,
        password_set: !p.password.is_empty(),
        dialect: p.dialect.clone().unwrap_or_default(),
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
