//! `ctl breaker list|reset|open`: the per-(site, pool) circuit breakers that
//! take a failing pool out of rotation, and manual reset / trip.

use clap::Subcommand;
use switchyard_proto::v1::{Breaker, BreakerTarget, ListBreakersRequest};

use super::now_ms;
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Sheet};

#[derive(Debug, Subcommand)]
pub enum BreakerCmd {
    /// List breakers.
    List {
        #[arg(long)]
        site: Option<String>,
    },
    /// Close a breaker: the pool is usable again at once.
    Reset {
        #[arg(long)]
        site: String,
        #[arg(long)]
        pool: String,
    },
    /// Open a breaker: take the pool out of rotation at the site.
    Open {
        #[arg(long)]
        site: String,
        #[arg(long)]
        pool: String,
    },
}

const COLUMNS: &[Column] = &[
    Column::new("site", "SITE"),
    Column::new("pool", "POOL"),
    Column::new("state", "STATE"),
    Column::new("consecutive_failures", "FAILURES"),
    Column::new("successes", "SUCCESSES"),
    Column::new("connects_ok", "CONNECTS OK"),
    Column::new("connects_failed", "CONNECTS FAILED"),
    Column::time("changed_at", "CHANGED"),
    Column::time("retry_at", "RETRY"),
    Column::new("last_error", "LAST ERROR"),
];

fn row(b: &Breaker, now: i64) -> Vec<Cell> {
    // The retry time only means something while the breaker is open.
    let retry = if b.state == "open" {
        b.retry_at_unix_ms
    } else {
        0
    };
    vec![
        Cell::text(&b.site),
        Cell::text(&b.pool),
        Cell::text(&b.state),
        Cell::U64(u64::from(b.consecutive_failures)),
        Cell::U64(u64::from(b.successes)),
        Cell::U64(b.connects_ok),
        Cell::U64(b.connects_failed),
        Cell::TimeAgo(b.changed_at_unix_ms, now),
        Cell::TimeAgo(retry, now),
        Cell::text(&b.last_error),
    ]
}

pub async fn run(ctx: &mut Ctx, cmd: BreakerCmd) -> CtlResult {
    let now = now_ms();
    let (b, verb) = match cmd {
        BreakerCmd::List { site } => {
            let req = ListBreakersRequest {
                site: site.unwrap_or_default(),
            };
            let r = ctx
                .client()
                .await?
                .list_breakers(req)
                .await
                .reply(&ctx.endpoint)?;
            let mut sheet = Sheet::new(COLUMNS);
            for b in &r.breakers {
                sheet.push(row(b, now));
            }
            return sheet.print(ctx.out, "no breakers");
        }
        BreakerCmd::Reset { site, pool } => {
            let req = BreakerTarget { site, pool };
            (
                ctx.client()
                    .await?
                    .reset_breaker(req)
                    .await
                    .reply(&ctx.endpoint)?,
                "reset",
            )
        }
        BreakerCmd::Open { site, pool } => {
            let req = BreakerTarget { site, pool };
            (
                ctx.client()
                    .await?
                    .open_breaker(req)
                    .await
                    .reply(&ctx.endpoint)?,
                "opened",
            )
        }
    };
    let mut sheet = Sheet::new(COLUMNS);
    sheet.push(row(&b, now));
    sheet.print_one(
        ctx.out,
        &format!("breaker of {} at {} {verb}", b.pool, b.site),
    )
}
