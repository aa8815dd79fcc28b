//! `ctl switches --site NAME`: the site's last pool switches (newest first)
//! with their reason (initial, schedule, override, failover), as the
//! control plane planned them.

use clap::Args;
use switchyard_proto::v1::{ListSitesRequest, ListSwitchesRequest, SwitchRecord};

use super::zone;
use crate::cli::{Algo, algo_filter};
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Sheet};

#[derive(Debug, Args)]
pub struct SwitchesArgs {
    #[arg(long)]
    pub site: String,
    #[arg(long, value_enum)]
    pub algo: Option<Algo>,
    /// How many (newest first; at most 1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

const COLUMNS: &[Column] = &[
    Column::time("at", "WHEN"),
    Column::new("algorithm", "ALGO"),
    Column::new("from_pool", "FROM"),
    Column::new("to_pool", "TO"),
    Column::new("reason", "REASON"),
];

fn row(s: &SwitchRecord, tz: Option<chrono_tz::Tz>) -> Vec<Cell> {
    vec![
        Cell::Time(s.at_unix_ms, tz),
        Cell::text(s.algorithm().label()),
        Cell::text(&s.from_pool),
        Cell::text(&s.to_pool),
        Cell::text(&s.reason),
    ]
}

pub async fn run(ctx: &mut Ctx, a: SwitchesArgs) -> CtlResult {
    let r = ctx
        .client()
        .await?
        .list_switches(ListSwitchesRequest {
            site: a.site.clone(),
            algorithm: algo_filter(a.algo),
            limit: a.limit,
        })
        .await
        .reply(&ctx.endpoint)?;
    // Times in the site's own zone.
    let sites = ctx
        .client()
        .await?
        .list_sites(ListSitesRequest {})
        .await
        .reply(&ctx.endpoint)?;
    let tz = sites
        .sites
        .iter()
        .find(|s| s.name == a.site)
        .and_then(|s| zone(&s.timezone));
    let mut sheet = Sheet::new(COLUMNS);
    for s in &r.switches {
        sheet.push(row(s, tz));
    }
    sheet.print(ctx.out, &format!("no switches recorded at site {}", a.site))
}
