//! `ctl schedule set|show|preview|failover`: a site's daily pool schedule per
//! algorithm (entries `POOL@HH:MM-HH:MM` in the site's local time, checked
//! here one by one; the server checks the whole day), the switches coming up,
//! and the failover order.

use clap::Subcommand;
use serde::Serialize;
use serde_json::json;
use switchyard_proto::v1::{
    PreviewScheduleRequest, ScheduleEntry, SetFailoverRequest, SetScheduleRequest,
    ShowScheduleRequest, SiteSchedule,
};

use super::zone;
use crate::cli::{Algo, algo_filter};
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Format, Sheet, done, emit, emit_json};

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Replace a site's whole day for one algorithm (atomically).
    Set {
        #[arg(long)]
        site: String,
        #[arg(long, value_enum)]
        algo: Algo,
        /// Slots in the site's local time, end exclusive, covering the whole
        /// day; `24:00` ends the day, `22:00-02:00` crosses midnight. A
        /// window split by work between pools names each with its weight:
        /// `btc:70,bch:30@00:00-18:00`.
        #[arg(required = true, value_name = "POOL@HH:MM-HH:MM", value_parser = parse_entry)]
        entries: Vec<Window>,
    },
    /// Show schedules, failover orders and overrides.
    Show {
        #[arg(long)]
        site: Option<String>,
        #[arg(long, value_enum)]
        algo: Option<Algo>,
    },
    /// List the pool switches coming up.
    Preview {
        #[arg(long)]
        site: Option<String>,
        #[arg(long, value_enum)]
        algo: Option<Algo>,
        /// How far ahead to look.
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..=8784))]
        hours: u32,
    },
    /// Set the pools tried, in order, when the scheduled pool is down.
    Failover {
        #[arg(long)]
        site: String,
        #[arg(long, value_enum)]
        algo: Algo,
        /// Pools in order of preference.
        #[arg(required_unless_present = "clear", value_name = "POOL")]
        pools: Vec<String>,
        /// Remove the failover order.
        #[arg(long, conflicts_with = "pools")]
        clear: bool,
    },
}

const ENTRY_EXAMPLE: &str = "expected POOL@HH:MM-HH:MM in the site's local time, e.g. btc@00:00-12:00 \
     (or a weighted window, btc:70,bch:30@00:00-12:00)";

/// One window as written on the command line: its entries (one per pool).
#[derive(Debug, Clone, PartialEq)]
pub struct Window(pub Vec<ScheduleEntry>);

/// Parses one `POOL@HH:MM-HH:MM` (or `POOL:W,POOL:W@HH:MM-HH:MM`) window,
/// normalizing the times to `HH:MM`.
pub fn parse_entry(s: &str) -> Result<Window, String> {
    let (pool, range) = s
        .trim()
        .rsplit_once('@')
        .ok_or_else(|| format!("missing '@'; {ENTRY_EXAMPLE}"))?;
    if pool.is_empty() {
        return Err(format!("missing pool name before '@'; {ENTRY_EXAMPLE}"));
    }
    let (start, end) = range
        .split_once('-')
        .ok_or_else(|| format!("missing '-' between start and end; {ENTRY_EXAMPLE}"))?;
    let (a, b) = (minutes(start, "start")?, minutes(end, "end")?);
    if a == 1440 {
        return Err(format!("24:00 is only valid as an end; {ENTRY_EXAMPLE}"));
    }
    if a == b {
        return Err(format!(
            "start and end are equal (an empty slot); {ENTRY_EXAMPLE}"
        ));
    }
    let entry = |pool: &str, weight| ScheduleEntry {
        pool: pool.to_string(),
        start: hhmm(a),
        end: hhmm(b),
        weight,
    };
    if !pool.contains([':', ',']) {
        return Ok(Window(vec![entry(pool, 0)]));
    }
    let split = switchyard_model::schedule::parse_pools(pool)
        .map_err(|e| format!("{e}; {ENTRY_EXAMPLE}"))?;
    Ok(Window(
        split.iter().map(|p| entry(&p.pool, p.weight)).collect(),
    ))
}

/// `HH:MM` (or `H:MM`) to minutes since midnight, `24:00` = 1440.
fn minutes(t: &str, what: &str) -> Result<u16, String> {
    let bad = || format!("invalid {what} time {t:?}; {ENTRY_EXAMPLE}");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let digits = |x: &str, max_len| {
        !x.is_empty() && x.len() <= max_len && x.bytes().all(|c| c.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(format!(
            "{what} time {t:?} is out of range (00:00 to 24:00); {ENTRY_EXAMPLE}"
        ));
    }
    Ok(h * 60 + m)
}

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `btc@00:00-12:00 ltc:70,bch:30@12:00-24:00`, the syntax `schedule set`
/// takes (a weighted window's entries are one window).
pub fn entries_text(entries: &[ScheduleEntry]) -> String {
    let mut parts: Vec<(String, &ScheduleEntry)> = Vec::new();
    for e in entries {
        match parts.last_mut() {
            Some((text, last))
                if e.weight > 0
                    && last.weight > 0
                    && (&last.start, &last.end) == (&e.start, &e.end) =>
            {
                text.push_str(&format!(",{}:{}", e.pool, e.weight));
            }
            _ if e.weight > 0 => parts.push((format!("{}:{}", e.pool, e.weight), e)),
            _ => parts.push((e.pool.clone(), e)),
        }
    }
    let parts: Vec<String> = parts
        .iter()
        .map(|(pools, e)| format!("{pools}@{}-{}", e.start, e.end))
        .collect();
    parts.join(" ")
}

/// An entry in JSON: the weight only where the window is weighted.
fn entry_json(e: &ScheduleEntry) -> serde_json::Value {
    let mut v = json!({ "pool": e.pool, "start": e.start, "end": e.end });
    if e.weight > 0 {
        v["weight"] = json!(e.weight);
    }
    v
}

fn entries_cell(entries: &[ScheduleEntry]) -> Cell {
    let text = entries_text(entries);
    let machine = entries.iter().map(entry_json).collect();
    Cell::Custom {
        human: text.clone(),
        machine,
        csv: text,
    }
}

const SHOW_COLUMNS: &[Column] = &[
    Column::new("site", "SITE"),
    Column::new("timezone", "TIMEZONE"),
    Column::new("algorithm", "ALGO"),
    Column::new("entries", "SCHEDULE (SITE TIME)"),
    Column::new("failover", "FAILOVER"),
    Column::new("override_pool", "OVERRIDE"),
    Column::time("override_until", "UNTIL"),
];

fn show_row(s: &SiteSchedule) -> Vec<Cell> {
    let (opool, ountil) = match &s.r#override {
        Some(o) if !o.pool.is_empty() => (o.pool.clone(), o.until_unix_ms),
        _ => (String::new(), 0),
    };
    vec![
        Cell::text(&s.site),
        Cell::text(&s.timezone),
        Cell::text(s.algorithm().label()),
        entries_cell(&s.entries),
        Cell::List(s.failover.clone()),
        Cell::text(opool),
        Cell::Time(ountil, zone(&s.timezone)),
    ]
}

const PREVIEW_COLUMNS: &[Column] = &[
    Column::new("site", "SITE"),
    Column::new("algorithm", "ALGO"),
    Column::machine_time("at"),
    Column::new("local_time", "LOCAL TIME"),
    Column::new("utc_time", "UTC TIME"),
    Column::new("from_pool", "FROM"),
    Column::new("to_pool", "TO"),
    Column::new("reason", "REASON"),
];

const ENTRY_COLUMNS: &[Column] = &[
    Column::new("pool", "POOL"),
    Column::new("start", "START"),
    Column::new("end", "END"),
    Column::new("weight", "WEIGHT"),
];

#[derive(Serialize)]
struct SetJson<'a> {
    site: &'a str,
    algorithm: &'a str,
    plan_version: u64,
    entries: Vec<serde_json::Value>,
    warnings: Vec<serde_json::Value>,
}

pub async fn run(ctx: &mut Ctx, cmd: ScheduleCmd) -> CtlResult {
    match cmd {
        ScheduleCmd::Set {
            site,
            algo,
            entries,
        } => {
            let req = SetScheduleRequest {
                site,
                algorithm: algo.to_wire(),
                entries: entries.into_iter().flat_map(|w| w.0).collect(),
            };
            let r = ctx
                .client()
                .await?
                .set_schedule(req)
                .await
                .reply(&ctx.endpoint)?;
            super::print_warnings(&r.warnings);
            let heading = format!(
                "schedule of {} {} set (plan version {})",
                r.site,
                r.algorithm().label(),
                r.plan_version
            );
            match ctx.out {
                Format::Json => emit_json(&SetJson {
                    site: &r.site,
                    algorithm: r.algorithm().label(),
                    plan_version: r.plan_version,
                    entries: r.entries.iter().map(entry_json).collect(),
                    warnings: super::warnings_json(&r.warnings),
                }),
                out => {
                    let mut sheet = Sheet::new(ENTRY_COLUMNS);
                    for e in &r.entries {
                        sheet.push(vec![
                            Cell::text(&e.pool),
                            Cell::text(&e.start),
                            Cell::text(&e.end),
                            Cell::text(if e.weight > 0 {
                                e.weight.to_string()
                            } else {
                                "-".into()
                            }),
                        ]);
                    }
                    if out == Format::Table {
                        emit(&format!("{heading}\n{}", sheet.table()))
                    } else {
                        sheet.print(out, "")
                    }
                }
            }
        }
        ScheduleCmd::Show { site, algo } => {
            let req = ShowScheduleRequest {
                site: site.unwrap_or_default(),
                algorithm: algo_filter(algo),
            };
            let r = ctx
                .client()
                .await?
                .show_schedule(req)
                .await
                .reply(&ctx.endpoint)?;
            let mut sheet = Sheet::new(SHOW_COLUMNS);
            for s in &r.schedules {
                sheet.push(show_row(s));
            }
            sheet.print(
                ctx.out,
                "no schedules (set one with: ctl schedule set --site S --algo A POOL@00:00-24:00)",
            )
        }
        ScheduleCmd::Preview { site, algo, hours } => {
            let req = PreviewScheduleRequest {
                site: site.unwrap_or_default(),
                algorithm: algo_filter(algo),
                hours,
            };
            let r = ctx
                .client()
                .await?
                .preview_schedule(req)
                .await
                .reply(&ctx.endpoint)?;
            let mut sheet = Sheet::new(PREVIEW_COLUMNS);
            for p in &r.switches {
                sheet.push(vec![
                    Cell::text(&p.site),
                    Cell::text(p.algorithm().label()),
                    Cell::Time(p.at_unix_ms, None),
                    Cell::text(&p.local_time),
                    Cell::text(&p.utc_time),
                    Cell::text(&p.from_pool),
                    Cell::text(&p.to_pool),
                    Cell::text(p.reason().label()),
                ]);
            }
            sheet.print(
                ctx.out,
                &format!("no pool switches in the next {hours} hours"),
            )
        }
        ScheduleCmd::Failover {
            site,
            algo,
            pools,
            clear,
        } => {
            let pools = if clear { Vec::new() } else { pools };
            let message = if pools.is_empty() {
                format!("failover of {site} {} cleared", algo.as_str())
            } else {
                format!(
                    "failover of {site} {}: {}",
                    algo.as_str(),
                    pools.join(" -> ")
                )
            };
            let req = SetFailoverRequest {
                site,
                algorithm: algo.to_wire(),
                pools,
            };
            let r = ctx
                .client()
                .await?
                .set_failover(req)
                .await
                .reply(&ctx.endpoint)?;
            super::print_warnings(&r.warnings);
            done(ctx.out, &message)
        }
    }
}
