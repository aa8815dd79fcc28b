//! `ctl dataplane list`: the data planes known to the control plane, whether
//! they are connected, when they were last seen, whether they run the
//! site's current plan, and their share event spool (waiting and lost).

use clap::Subcommand;
use switchyard_proto::v1::{DataPlaneInfo, ListDataPlanesRequest};

use super::now_ms;
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Sheet};

#[derive(Debug, Subcommand)]
pub enum DataplaneCmd {
    /// List data planes.
    List {
        #[arg(long)]
        site: Option<String>,
    },
}

const COLUMNS: &[Column] = &[
    Column::new("id", "ID"),
    Column::new("site", "SITE"),
    Column::new("version", "VERSION"),
    Column::new("hostname", "HOSTNAME"),
    Column::human("PLAN (ACKED/SITE)"),
    Column::machine("acked_plan_version"),
    Column::machine("site_plan_version"),
    Column::machine("plan_current"),
    Column::time("last_seen", "LAST SEEN"),
    Column::new("connected", "CONNECTED"),
    Column::new("miners", "MINERS"),
    Column::new("spool_events", "SPOOLED"),
    Column::machine("spool_bytes"),
    Column::new("events_dropped", "LOST EVENTS"),
    Column::new("ack_error", "ACK ERROR"),
];

/// `12/12`, or `11/12 behind` when the data plane has not applied the plan.
pub fn plan_text(acked: u64, site: u64) -> String {
    if acked == site {
        format!("{acked}/{site}")
    } else {
        format!("{acked}/{site} behind")
    }
}

fn row(d: &DataPlaneInfo, now: i64) -> Vec<Cell> {
    vec![
        Cell::text(&d.id),
        Cell::text(&d.site),
        Cell::text(&d.version),
        Cell::text(&d.hostname),
        Cell::text(plan_text(d.acked_plan_version, d.site_plan_version)),
        Cell::U64(d.acked_plan_version),
        Cell::U64(d.site_plan_version),
        Cell::Bool(d.acked_plan_version == d.site_plan_version),
        Cell::TimeAgo(d.last_seen_unix_ms, now),
        Cell::Bool(d.connected),
        Cell::U64(u64::from(d.miners)),
        Cell::U64(d.spool_events),
        Cell::U64(d.spool_bytes),
        Cell::U64(d.events_dropped),
        Cell::text(&d.ack_error),
    ]
}

pub async fn run(ctx: &mut Ctx, cmd: DataplaneCmd) -> CtlResult {
    let DataplaneCmd::List { site } = cmd;
    let req = ListDataPlanesRequest {
        site: site.unwrap_or_default(),
    };
    let r = ctx
        .client()
        .await?
        .list_data_planes(req)
        .await
        .reply(&ctx.endpoint)?;
    let now = now_ms();
    let mut sheet = Sheet::new(COLUMNS);
    for d in &r.dataplanes {
        sheet.push(row(d, now));
    }
    sheet.print(ctx.out, "no data planes have connected yet")
}
