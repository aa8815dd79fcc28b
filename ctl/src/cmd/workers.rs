//! `ctl workers`: every worker seen in the window (a share since `--since`,
//! or still connected to a data plane), with its state, latest share,
//! hashrate over 15 minutes, an hour and a day, counts and difficulty.

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use switchyard_proto::v1::{self as pb, ListWorkersRequest, WorkerRow};

use super::stats::hashrate_unit;
use crate::cli::{Algo, algo_filter};
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Format, Sheet, emit};
use crate::timeparse::since_arg;
use crate::values::fmt_time;

#[derive(Debug, Args)]
pub struct WorkersArgs {
    #[arg(long)]
    pub site: Option<String>,
    #[arg(long, value_enum)]
    pub algo: Option<Algo>,
    /// Only workers in this state.
    #[arg(long, value_enum)]
    pub state: Option<State>,
    /// Workers with a share since then, and the idle ones (default 24h ago;
    /// at most 48h ago).
    #[arg(long, value_name = "TIME", value_parser = since_arg, allow_hyphen_values = true)]
    pub since: Option<DateTime<Utc>>,
}

/// A worker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum State {
    /// A share within its site's offline_after (default 10 minutes).
    Online,
    /// No share within offline_after, but still connected to a data plane.
    Idle,
    /// Neither: silent and gone.
    Offline,
}

impl State {
    pub fn to_wire(self) -> i32 {
        match self {
            State::Online => pb::WorkerState::Online,
            State::Idle => pb::WorkerState::Idle,
            State::Offline => pb::WorkerState::Offline,
        }
        .into()
    }
}

const COLUMNS: &[Column] = &[
    Column::new("site", "SITE"),
    Column::new("algorithm", "ALGO"),
    Column::new("worker", "WORKER"),
    Column::new("state", "STATE"),
    Column::time("last_share", "LAST SHARE"),
    Column::new("hashrate_15m_hs", "HASHRATE 15M"),
    Column::new("hashrate_1h_hs", "HASHRATE 1H"),
    Column::new("hashrate_24h_hs", "HASHRATE 24H"),
    Column::machine("hashrate_unit"),
    Column::new("accepted", "ACCEPTED"),
    Column::new("rejected", "REJECTED"),
    Column::new("difficulty", "DIFFICULTY"),
    Column::new("dataplane_id", "DATA PLANE"),
];

pub fn row(w: &WorkerRow, now: i64) -> Vec<Cell> {
    let difficulty = if w.last_share_unix_ms == 0 && w.difficulty == 0.0 {
        Cell::F64(None)
    } else {
        Cell::difficulty(w.difficulty)
    };
    vec![
        Cell::text(&w.site),
        Cell::text(w.algorithm().label()),
        Cell::text(&w.worker),
        Cell::text(w.state().label()),
        Cell::TimeAgo(w.last_share_unix_ms, now),
        Cell::hashrate(w.algorithm, w.hashrate_15m_hs),
        Cell::hashrate(w.algorithm, w.hashrate_1h_hs),
        Cell::hashrate(w.algorithm, w.hashrate_24h_hs),
        Cell::text(hashrate_unit(w.algorithm)),
        Cell::U64(w.accepted),
        Cell::U64(w.rejected),
        difficulty,
        Cell::text(&w.dataplane_id),
    ]
}

pub async fn run(ctx: &mut Ctx, a: WorkersArgs) -> CtlResult {
    let req = ListWorkersRequest {
        site: a.site.unwrap_or_default(),
        algorithm: algo_filter(a.algo),
        state: a.state.map_or(0, State::to_wire),
        since_unix_ms: a.since.map_or(0, |t| t.timestamp_millis()),
    };
    let r = ctx
        .client()
        .await?
        .list_workers(req)
        .await
        .reply(&ctx.endpoint)?;
    let heading = format!(
        "workers with a share since {} or still connected; hashrate over 15 min, 1 h, 24 h; counts since {}",
        fmt_time(r.since_unix_ms, None),
        fmt_time(r.counts_from_unix_ms, None),
    );
    let mut sheet = Sheet::new(COLUMNS);
    for w in &r.workers {
        sheet.push(row(w, r.now_unix_ms));
    }
    if ctx.out == Format::Table && !sheet.is_empty() {
        emit(&format!("{heading}\n\n"))?;
    }
    sheet.print(ctx.out, &format!("no workers: {heading}"))
}
