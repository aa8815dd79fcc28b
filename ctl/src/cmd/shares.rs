//! `ctl shares`: individual shares from the history, newest filters first
//! (site, pool, worker, algorithm, verdict, time range), up to `--limit`.
//! Also owns the share filter flags that `ctl stats` reuses.

use chrono::{DateTime, Utc};
use clap::Args;
use switchyard_proto::v1::{QuerySharesRequest, ShareFilter, ShareRow};

use crate::cli::{Algo, Verdict, algo_filter};
use crate::client::{Ctx, Reply};
use crate::error::{CtlError, CtlResult};
use crate::output::{Cell, Column, Sheet};
use crate::timeparse::{check_range, since_arg, until_arg};

/// Filters shared by `shares` and `stats`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    #[arg(long)]
    pub site: Option<String>,
    #[arg(long)]
    pub pool: Option<String>,
    #[arg(long, value_enum)]
    pub algo: Option<Algo>,
    /// From this time: 2026-11-23T18:00:00Z, "2026-11-23 18:00" (local), now, 2h (ago), 1d (ago).
    #[arg(long, value_name = "TIME", value_parser = since_arg, allow_hyphen_values = true)]
    pub since: Option<DateTime<Utc>>,
    /// Up to this time (same forms; +2h is from now, -2h ago).
    #[arg(long, value_name = "TIME", value_parser = until_arg, allow_hyphen_values = true)]
    pub until: Option<DateTime<Utc>>,
}

impl FilterArgs {
    /// The wire filter; `since` replaces a missing `--since`.
    pub fn to_filter(
        &self,
        worker: Option<String>,
        verdict: Option<Verdict>,
        since: Option<DateTime<Utc>>,
    ) -> CtlResult<ShareFilter> {
        let since = self.since.or(since);
        check_range(since, self.until).map_err(CtlError::Usage)?;
        Ok(ShareFilter {
            site: self.site.clone().unwrap_or_default(),
            pool: self.pool.clone().unwrap_or_default(),
            worker: worker.unwrap_or_default(),
            algorithm: algo_filter(self.algo),
            verdict: verdict.map_or(0, Verdict::to_wire),
            since_unix_ms: since.map_or(0, |t| t.timestamp_millis()),
            until_unix_ms: self.until.map_or(0, |t| t.timestamp_millis()),
        })
    }
}

#[derive(Debug, Args)]
pub struct SharesArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The miner's worker name.
    #[arg(long)]
    pub worker: Option<String>,
    /// The final verdict (the pool's when the share was forwarded).
    #[arg(long, value_enum)]
    pub verdict: Option<Verdict>,
    /// At most this many shares.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
}

const COLUMNS: &[Column] = &[
    Column::machine("id"),
    Column::time("at", "TIME (UTC)"),
    Column::new("site", "SITE"),
    Column::machine("dataplane_id"),
    Column::new("algorithm", "ALGO"),
    Column::new("pool", "POOL"),
    Column::new("worker", "WORKER"),
    Column::machine("job_id"),
    Column::new("miner_difficulty", "MINER DIFF"),
    Column::new("share_difficulty", "SHARE DIFF"),
    Column::machine("local_verdict"),
    Column::new("forwarded", "FWD"),
    Column::machine("pool_verdict"),
    Column::new("verdict", "VERDICT"),
    Column::new("reason", "REASON"),
    Column::human("LATENCY"),
    Column::machine("pool_latency_us"),
];

fn row(s: &ShareRow) -> Vec<Cell> {
    let latency = if s.forwarded && s.pool_latency_us > 0 {
        format!("{:.1}ms", s.pool_latency_us as f64 / 1000.0)
    } else {
        String::new()
    };
    vec![
        Cell::text(&s.id),
        Cell::Time(s.at_unix_ms, None),
        Cell::text(&s.site),
        Cell::text(&s.dataplane_id),
        Cell::text(s.algorithm().label()),
        Cell::text(&s.pool),
        Cell::text(&s.worker),
        Cell::text(&s.job_id),
        Cell::difficulty(s.miner_difficulty),
        Cell::difficulty(s.share_difficulty),
        Cell::text(s.local_verdict().label()),
        Cell::Bool(s.forwarded),
        Cell::text(s.pool_verdict().label()),
        Cell::text(s.verdict().label()),
        Cell::text(s.reason().stored(&s.reason_text)),
        Cell::text(latency),
        Cell::U64(s.pool_latency_us),
    ]
}

pub async fn run(ctx: &mut Ctx, a: SharesArgs) -> CtlResult {
    let filter = a.filter.to_filter(a.worker, a.verdict, None)?;
    let req = QuerySharesRequest {
        filter: Some(filter),
        limit: a.limit,
    };
    let r = ctx
        .client()
        .await?
        .query_shares(req)
        .await
        .reply(&ctx.endpoint)?;
    let mut sheet = Sheet::new(COLUMNS);
    for s in &r.shares {
        sheet.push(row(s));
    }
    sheet.print(ctx.out, "no shares match")?;
    if r.truncated {
        eprintln!(
            "note: showing the first {} matching shares; more matched (raise --limit or narrow --since/--until)",
            r.shares.len()
        );
    }
    Ok(())
}
