//! `ctl status`: the control plane's version, uptime, counts and, per site,
//! the pool each algorithm is on now and the next scheduled switch.

use serde::Serialize;
use switchyard_proto::v1::{StatusRequest, StatusResponse};

use super::now_ms;
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Format, Sheet, align, emit, emit_json};
use crate::values::{fmt_age, fmt_time, time_json};

const PLAN_COLUMNS: &[Column] = &[
    Column::new("site", "SITE"),
    Column::new("plan_version", "PLAN"),
    Column::new("algorithm", "ALGO"),
    Column::new("current_pool", "CURRENT"),
    Column::new("scheduled_pool", "SCHEDULED"),
    Column::time("next_switch", "NEXT SWITCH"),
    Column::new("next_pool", "NEXT POOL"),
];

pub async fn run(ctx: &mut Ctx) -> CtlResult {
    let r = ctx
        .client()
        .await?
        .status(StatusRequest {})
        .await
        .reply(&ctx.endpoint)?;
    let now = now_ms();
    match ctx.out {
        Format::Json => emit_json(&StatusJson::new(&r)),
        Format::Csv => plans(&r, now).print(Format::Csv, ""),
        Format::Table => {
            let started = match r.started_at_unix_ms {
                0 => "-".to_string(),
                ms => format!("{} ({})", fmt_time(ms, None), fmt_age(ms, now)),
            };
            let rows = [
                ("endpoint", ctx.endpoint.clone()),
                ("version", r.version.clone()),
                ("started", started),
                ("database", r.database.clone()),
                ("sites", r.sites.to_string()),
                ("pools", r.pools.to_string()),
                (
                    "data planes",
                    format!("{} connected", r.dataplanes_connected),
                ),
                ("share events", r.share_events.to_string()),
            ];
            let grid: Vec<Vec<String>> = rows
                .into_iter()
                .map(|(k, v)| vec![k.to_string(), v])
                .collect();
            let mut text = align(&grid);
            let sheet = plans(&r, now);
            if !sheet.is_empty() {
                text.push('\n');
                text.push_str(&sheet.table());
            }
            emit(&text)
        }
    }
}

fn plans(r: &StatusResponse, now: i64) -> Sheet {
    let mut sheet = Sheet::new(PLAN_COLUMNS);
    for p in &r.plans {
        if p.active.is_empty() {
            sheet.push(vec![Cell::text(&p.site), Cell::U64(p.plan_version)]);
        }
        for a in &p.active {
            let next = if a.next_switch_unix_ms == 0 {
                Cell::text("")
            } else {
                Cell::TimeAgo(a.next_switch_unix_ms, now)
            };
            sheet.push(vec![
                Cell::text(&p.site),
                Cell::U64(p.plan_version),
                Cell::text(a.algorithm().label()),
                Cell::text(&a.current_pool),
                Cell::text(&a.scheduled_pool),
                next,
                Cell::text(&a.next_pool),
            ]);
        }
    }
    sheet
}

#[derive(Serialize)]
struct StatusJson<'a> {
    version: &'a str,
    started_at: Option<String>,
    started_at_unix_ms: Option<i64>,
    database: &'a str,
    sites: u32,
    pools: u32,
    dataplanes_connected: u32,
    share_events: u64,
    plans: Vec<PlanJson<'a>>,
}

#[derive(Serialize)]
struct PlanJson<'a> {
    site: &'a str,
    plan_version: u64,
    active: Vec<ActiveJson<'a>>,
}

#[derive(Serialize)]
struct ActiveJson<'a> {
    algorithm: &'a str,
    current_pool: &'a str,
    scheduled_pool: &'a str,
    next_switch: Option<String>,
    next_switch_unix_ms: Option<i64>,
    next_pool: &'a str,
}

impl<'a> StatusJson<'a> {
    fn new(r: &'a StatusResponse) -> Self {
        let (started_at, started_at_unix_ms) = time_json(r.started_at_unix_ms);
        let plans = r
            .plans
            .iter()
            .map(|p| PlanJson {
                site: &p.site,
                plan_version: p.plan_version,
                active: p
                    .active
                    .iter()
                    .map(|a| {
                        let (next_switch, next_switch_unix_ms) = time_json(a.next_switch_unix_ms);
                        ActiveJson {
                            algorithm: a.algorithm().label(),
                            current_pool: &a.current_pool,
                            scheduled_pool: &a.scheduled_pool,
                            next_switch,
                            next_switch_unix_ms,
                            next_pool: &a.next_pool,
                        }
                    })
                    .collect(),
            })
            .collect();
        StatusJson {
            version: &r.version,
            started_at,
            started_at_unix_ms,
            database: &r.database,
            sites: r.sites,
            pools: r.pools,
            dataplanes_connected: r.dataplanes_connected,
            share_events: r.share_events,
            plans,
        }
    }
}
