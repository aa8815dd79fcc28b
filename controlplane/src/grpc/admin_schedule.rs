//! Admin handlers for schedules (whole-day replacement validated as a
//! whole), the switch preview across DST, failover order and overrides;
//! an ALEO schedule or failover list mixing pool dialects is warned about.

use std::str::FromStr;

use chrono::Duration;
use chrono_tz::Tz;
use switchyard_model::config::AleoDialect;
use switchyard_model::dialects::mixed_dialects;
use switchyard_model::schedule::{MAX_WEIGHT, push_part};
use switchyard_model::{Algorithm, DaySchedule, Slot, TimeOfDay};
use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::{AdminService, algorithm, algorithm_filter};
use super::{invalid, status};
use crate::clock;
use crate::convert;

pub(super) async fn set_schedule(
    a: &AdminService,
    r: pb::SetScheduleRequest,
) -> Result<pb::ScheduleResponse, Status> {
    let site = a.site(&r.site).await?;
    let algo = algorithm("algorithm", r.algorithm)?;
    let pools = a.ctx.store.pools(None).await.map_err(status)?;
    let mut problems = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    for (i, e) in r.entries.iter().enumerate() {
        let field = format!("entries[{i}] ({}@{}-{})", e.pool, e.start, e.end);
        match pools.iter().find(|p| p.name == e.pool) {
            None if e.pool.contains([':', ',']) => problems.push(format!(
                "{field}: name each pool of a weighted window in its own entry with a weight"
            )),
            None => problems.push(format!("{field}: no pool named {:?}", e.pool)),
            Some(p) if p.algorithm != algo.as_str() => problems.push(format!(
                "{field}: pool {} is {}, not {algo}",
                p.name, p.algorithm
            )),
            Some(p) if !p.enabled => problems.push(format!(
                "{field}: pool {} is disabled (ctl pool enable {} first)",
                p.name, p.name
            )),
            Some(p) => {
                if let Err(m) = p.check_site(&site.name) {
                    problems.push(format!("{field}: {m}"));
                }
            }
        }
        if e.weight > MAX_WEIGHT {
            problems.push(format!(
                "{field}: weight {} is above {MAX_WEIGHT}",
                e.weight
            ));
        }
        let start = TimeOfDay::parse(&e.start).map_err(|m| format!("{field}: start: {m}"));
        let end = TimeOfDay::parse(&e.end).map_err(|m| format!("{field}: end: {m}"));
        match (start, end) {
            (Ok(start), Ok(end)) => push_part(&mut slots, &e.pool, e.weight, start, end),
            (s, e) => problems.extend([s.err(), e.err()].into_iter().flatten()),
        }
    }
    if problems.is_empty() {
        let field = format!("schedule of site {} ({algo})", site.name);
        if let Err(p) = DaySchedule::new(&field, slots.clone()) {
            problems.extend(p.iter().map(|p| p.to_string()));
        }
    }
    if !problems.is_empty() {
        return Err(Status::invalid_argument(problems.join("\n")));
    }
    a.ctx
        .store
        .set_day(site.id, algo.as_str(), &slots)
        .await
        .map_err(status)?;
    let detail: Vec<String> = slots
        .iter()
        .map(|s| format!("{}@{}-{}", s.pools_text(), s.start, s.end))
        .collect();
    a.audit(
        "schedule.set",
        &format!("{}/{algo}", site.name),
        &detail.join(" "),
    )
    .await?;
    a.refresh().await?;
    let plan_version = a.ctx.planner.current(site.id).map_or(0, |p| p.version);
    let warnings = dialect_warnings(a, &site, algo).await?;
    Ok(pb::ScheduleResponse {
        site: site.name,
        algorithm: convert::algorithm(algo) as i32,
        entries: r.entries,
        plan_version,
        warnings,
    })
}

/// A day's slots as the contract's entries (a weighted window: one entry
/// per pool, with its weight).
pub(super) fn entries(slots: &[Slot]) -> Vec<pb::ScheduleEntry> {
    let mut out = Vec::new();
    for s in slots {
        let (start, end) = (s.start.to_string(), s.end.to_string());
        if s.split.is_empty() {
            out.push(pb::ScheduleEntry {
                pool: s.pool.clone(),
                start: start.clone(),
                end: end.clone(),
                weight: 0,
            });
        }
        for p in &s.split {
            out.push(pb::ScheduleEntry {
                pool: p.pool.clone(),
                start: start.clone(),
                end: end.clone(),
                weight: p.weight,
            });
        }
    }
    out
}

/// The warning for a site whose ALEO schedule and failover list, as now
/// stored, mix pools of the two dialects (none for other algorithms).
async fn dialect_warnings(
    a: &AdminService,
    site: &crate::store::SiteRow,
    algo: Algorithm,
) -> Result<Vec<pb::Problem>, Status> {
    if algo != Algorithm::Zksnark {
        return Ok(Vec::new());
    }
    let pools = a.ctx.store.pools(None).await.map_err(status)?;
    let slots = a.ctx.store.schedule(site.id).await.map_err(status)?;
    let failover = a.ctx.store.failover(site.id).await.map_err(status)?;
    let names = slots
        .iter()
        .filter(|s| s.algorithm == algo.as_str())
        .map(|s| s.pool.as_str())
        .chain(
            failover
                .iter()
                .filter(|(x, _)| x == algo.as_str())
                .map(|(_, p)| p.as_str()),
        );
    let dialect = |name: &str| {
        pools
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.dialect.as_deref())
            .and_then(|d| d.parse::<AleoDialect>().ok())
    };
    let field = format!("site {} ({algo})", site.name);
    Ok(mixed_dialects(&field, names.map(|n| (n, dialect(n))))
        .into_iter()
        .map(|p| pb::Problem {
            field: p.field,
            message: p.message,
        })
        .collect())
}

pub(super) async fn show_schedule(
    a: &AdminService,
    r: pb::ShowScheduleRequest,
) -> Result<pb::ShowScheduleResponse, Status> {
    let sites = if r.site.is_empty() {
        a.ctx.store.sites().await.map_err(status)?
    } else {
        vec![a.site(&r.site).await?]
    };
    let only = algorithm_filter("algorithm", r.algorithm)?;
    let mut out = Vec::new();
    for site in sites {
        let days = a.ctx.store.days(site.id).await.map_err(status)?;
        let failover = a.ctx.store.failover(site.id).await.map_err(status)?;
        let overrides = a.ctx.store.overrides(site.id).await.map_err(status)?;
        for (algo, slots) in days {
            if only.is_some_and(|o| o != algo) {
                continue;
            }
            let algo = algo.as_str();
            out.push(pb::SiteSchedule {
                site: site.name.clone(),
                timezone: site.timezone.clone(),
                algorithm: convert::stored(algo, pb::Algorithm::from_label) as i32,
                entries: entries(&slots),
                failover: failover
                    .iter()
                    .filter(|(x, _)| *x == algo)
                    .map(|(_, p)| p.clone())
                    .collect(),
                r#override: overrides
                    .iter()
                    .find(|o| o.algorithm == algo && o.until_ms > clock::now_ms())
                    .map(|o| pb::Override {
                        pool: o.pool.clone(),
                        until_unix_ms: o.until_ms,
                    }),
            });
        }
    }
    Ok(pb::ShowScheduleResponse { schedules: out })
}

pub(super) async fn preview(
    a: &AdminService,
    r: pb::PreviewScheduleRequest,
) -> Result<pb::PreviewScheduleResponse, Status> {
    let hours = if r.hours == 0 { 48 } else { r.hours };
    if hours > 24 * 400 {
        return Err(invalid("hours", format!("{hours} is more than 400 days")));
    }
    let sites = if r.site.is_empty() {
        a.ctx.store.sites().await.map_err(status)?
    } else {
        vec![a.site(&r.site).await?]
    };
    let only = algorithm_filter("algorithm", r.algorithm)?;
    let now = clock::now();
    let mut out = Vec::new();
    for site in sites {
        let tz = Tz::from_str(&site.timezone).unwrap_or(Tz::UTC);
        // Exactly the requested window (the planner never plans less than 24 h).
        let plan = a
            .ctx
            .planner
            .preview(&site, now, Duration::hours(i64::from(hours).max(24)))
            .await
            .map_err(status)?;
        let end = now + Duration::hours(i64::from(hours));
        for ap in plan.algorithms {
            if only.is_some_and(|o| o != ap.algorithm) {
                continue;
            }
            for w in ap.switches.iter().filter(|w| w.at <= end) {
                out.push(pb::PreviewSwitch {
                    site: site.name.clone(),
                    algorithm: convert::algorithm(ap.algorithm) as i32,
                    at_unix_ms: w.at.timestamp_millis(),
                    local_time: w
                        .at
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M %Z (%:z)")
                        .to_string(),
                    utc_time: w.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    from_pool: w.from.clone(),
                    to_pool: w.to.clone(),
                    reason: convert::switch_reason(w.reason) as i32,
                });
            }
        }
    }
    out.sort_by(|x, y| {
        let key = |p: &pb::PreviewSwitch| (p.at_unix_ms, p.site.clone(), p.algorithm().label());
        key(x).cmp(&key(y))
    });
    Ok(pb::PreviewScheduleResponse { switches: out })
}

pub(super) async fn set_failover(
    a: &AdminService,
    r: pb::SetFailoverRequest,
) -> Result<pb::FailoverResponse, Status> {
    let site = a.site(&r.site).await?;
    let algo = algorithm("algorithm", r.algorithm)?;
    let mut ids = Vec::new();
    for (i, name) in r.pools.iter().enumerate() {
        let p = a
            .ctx
            .store
            .pool(name)
            .await
            .map_err(|_| invalid(&format!("pools[{i}]"), format!("no pool named {name:?}")))?;
        if p.algorithm != algo.as_str() {
            return Err(invalid(
                &format!("pools[{i}]"),
                format!("pool {name} is {}, not {algo}", p.algorithm),
            ));
        }
        if ids.contains(&p.id) {
            return Err(invalid(
                &format!("pools[{i}]"),
                format!("pool {name} is listed twice"),
            ));
        }
        p.check_site(&site.name)
            .map_err(|m| invalid(&format!("pools[{i}]"), m))?;
        ids.push(p.id);
    }
    a.ctx
        .store
        .set_failover(site.id, algo.as_str(), &ids)
        .await
        .map_err(status)?;
    a.audit(
        "failover.set",
        &format!("{}/{algo}", site.name),
        &r.pools.join(" "),
    )
    .await?;
    a.refresh().await?;
    let warnings = dialect_warnings(a, &site, algo).await?;
    Ok(pb::FailoverResponse { warnings })
}

pub(super) async fn set_override(
    a: &AdminService,
    r: pb::SetOverrideRequest,
) -> Result<pb::Empty, Status> {
    let site = a.site(&r.site).await?;
    let algo = algorithm("algorithm", r.algorithm)?;
    let pool = a
        .ctx
        .store
        .pool(&r.pool)
        .await
        .map_err(|_| invalid("pool", format!("no pool named {:?}", r.pool)))?;
    if pool.algorithm != algo.as_str() {
        return Err(invalid(
            "pool",
            format!("pool {} is {}, not {algo}", pool.name, pool.algorithm),
        ));
    }
    if !pool.enabled {
        return Err(invalid("pool", format!("pool {} is disabled", pool.name)));
    }
    pool.check_site(&site.name)
        .map_err(|m| invalid("pool", m))?;
    let now = clock::now_ms();
    if r.until_unix_ms <= now {
        return Err(invalid("until", "must be in the future"));
    }
    if r.until_unix_ms > now + 366 * 86_400_000 {
        return Err(invalid("until", "at most a year ahead"));
    }
    let has_schedule = a
        .ctx
        .store
        .schedule(site.id)
        .await
        .map_err(status)?
        .iter()
        .any(|s| s.algorithm == algo.as_str());
    if !has_schedule {
        return Err(Status::failed_precondition(format!(
            "site {} has no {algo} schedule; set one first (ctl schedule set)",
            site.name
        )));
    }
    a.ctx
        .store
        .set_override(site.id, algo.as_str(), pool.id, r.until_unix_ms)
        .await
        .map_err(status)?;
    let until = clock::from_ms(r.until_unix_ms).to_rfc3339();
    a.audit(
        "override.set",
        &format!("{}/{algo}", site.name),
        &format!("pool={} until={until}", pool.name),
    )
    .await?;
    a.refresh().await?;
    Ok(pb::Empty {})
}

pub(super) async fn clear_override(
    a: &AdminService,
    r: pb::ClearOverrideRequest,
) -> Result<pb::Empty, Status> {
    let site = a.site(&r.site).await?;
    let algo = algorithm("algorithm", r.algorithm)?;
    if !a
        .ctx
        .store
        .clear_override(site.id, algo.as_str())
        .await
        .map_err(status)?
    {
        return Err(Status::not_found(format!(
            "site {} has no {algo} override",
            site.name
        )));
    }
    a.audit("override.clear", &format!("{}/{algo}", site.name), "")
        .await?;
    a.refresh().await?;
    Ok(pb::Empty {})
}
