//! `ctl stats`: accepted and rejected share counts per time window and pool,
//! with percentages, the hashrate the accepted shares stand for and the
//! most common reject reasons.

use chrono::{DurationRound, TimeDelta, Utc};
use clap::Args;
use serde_json::json;
use switchyard_model::{Algorithm, hashrate};
use switchyard_proto::v1::{PoolStats, ReasonCount, SplitPoolStats, SplitStats, StatsRequest};

use super::shares::FilterArgs;
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Format, Sheet, emit};
use crate::timeparse::window_arg;
use crate::values::{fmt_span, fmt_time};

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Group into windows of this length (15m, 1h, 1d); default: one window.
    #[arg(long, value_name = "DURATION", value_parser = window_arg)]
    pub window: Option<u32>,
}

/// How many reasons the table shows per row (JSON and CSV have all).
const TOP_REASONS: usize = 3;

const COLUMNS: &[Column] = &[
    Column::time("window_start", "WINDOW (UTC)"),
    Column::new("site", "SITE"),
    Column::new("algorithm", "ALGO"),
    Column::new("pool", "POOL"),
    Column::new("accepted", "ACCEPTED"),
    Column::new("rejected", "REJECTED"),
    Column::new("accepted_percent", "ACC %"),
    Column::new("rejected_percent", "REJ %"),
    Column::new("local_only", "LOCAL ONLY"),
    Column::new("hashrate_hs", "HASHRATE"),
    Column::machine("hashrate_unit"),
    Column::machine("accepted_difficulty"),
    Column::new("reasons", "TOP REASONS"),
    Column::new("split", "SPLIT TARGET/1H %"),
    Column::machine("split_target_percent"),
    Column::machine("split_achieved_percent"),
];

/// The pool's place in a weighted window in force, if it has one.
fn split_of<'a>(splits: &'a [SplitStats], p: &PoolStats) -> Option<&'a SplitPoolStats> {
    splits
        .iter()
        .filter(|s| s.site == p.site && s.algorithm == p.algorithm)
        .flat_map(|s| &s.pools)
        .find(|x| x.pool == p.pool)
}

/// A weighted window in one line: `farm-a sha256: btc 70% (69.1% over the
/// last hour), bch 30% (30.9%)`.
pub fn split_line(s: &SplitStats) -> String {
    let pools: Vec<String> = s
        .pools
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let over = if i == 0 { " over the last hour" } else { "" };
            format!(
                "{} {:.1}% ({:.1}%{over})",
                p.pool, p.target_percent, p.achieved_percent
            )
        })
        .collect();
    format!(
        "weighted window {} {}: {}",
        s.site,
        s.algorithm().label(),
        pools.join(", ")
    )
}

/// `H/s`, or `work/s` for ALEO (its difficulty is not a hash count).
pub fn hashrate_unit(algorithm: i32) -> &'static str {
    Algorithm::from_wire(algorithm).map_or("H/s", hashrate::unit)
}

/// `(accepted %, rejected %)`, `None` when there were no shares.
pub fn percentages(accepted: u64, rejected: u64) -> (Option<f64>, Option<f64>) {
    let total = accepted as f64 + rejected as f64;
    if total == 0.0 {
        return (None, None);
    }
    (
        Some(accepted as f64 * 100.0 / total),
        Some(rejected as f64 * 100.0 / total),
    )
}

/// A reason as stored and shown: its category's label, or its text.
pub fn reason_name(r: &ReasonCount) -> &str {
    r.reason().stored(&r.reason_text)
}

/// Reasons by count (most first, then by name).
pub fn sorted_reasons(reasons: &[ReasonCount]) -> Vec<&ReasonCount> {
    let mut v: Vec<&ReasonCount> = reasons.iter().collect();
    v.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| reason_name(a).cmp(reason_name(b)))
    });
    v
}

/// `reason: count, ...` with at most `top` entries and `+N more`.
pub fn reasons_text(reasons: &[ReasonCount], top: usize) -> String {
    let sorted = sorted_reasons(reasons);
    let mut parts: Vec<String> = sorted
        .iter()
        .take(top)
        .map(|r| format!("{}: {}", reason_name(r), r.count))
        .collect();
    if sorted.len() > top {
        parts.push(format!("+{} more", sorted.len() - top));
    }
    parts.join(", ")
}

fn reasons_cell(reasons: &[ReasonCount]) -> Cell {
    let sorted = sorted_reasons(reasons);
    let machine = sorted
        .iter()
        .map(|r| json!({ "reason": reason_name(r), "count": r.count }))
        .collect();
    let csv = sorted
        .iter()
        .map(|r| format!("{}: {}", reason_name(r), r.count))
        .collect::<Vec<_>>()
        .join("; ");
    Cell::Custom {
        human: reasons_text(reasons, TOP_REASONS),
        machine,
        csv,
    }
}

pub fn row(p: &PoolStats, splits: &[SplitStats]) -> Vec<Cell> {
    let (acc, rej) = percentages(p.accepted, p.rejected);
    let split = split_of(splits, p);
    vec![
        Cell::Time(p.window_start_unix_ms, None),
        Cell::text(&p.site),
        Cell::text(p.algorithm().label()),
        Cell::text(&p.pool),
        Cell::U64(p.accepted),
        Cell::U64(p.rejected),
        Cell::Pct(acc),
        Cell::Pct(rej),
        Cell::U64(p.local_only),
        Cell::hashrate(p.algorithm, p.hashrate_hs),
        Cell::text(hashrate_unit(p.algorithm)),
        Cell::F64(Some(p.accepted_difficulty)),
        reasons_cell(&p.reasons),
        Cell::text(split.map_or(String::new(), |x| {
            format!("{:.1}/{:.1}", x.target_percent, x.achieved_percent)
        })),
        Cell::F64(split.map(|x| x.target_percent)),
        Cell::F64(split.map(|x| x.achieved_percent)),
    ]
}

pub async fn run(ctx: &mut Ctx, a: StatsArgs) -> CtlResult {
    let now = Utc::now();
    let default_since =
        now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now) - TimeDelta::hours(24);
    let filter = a.filter.to_filter(None, None, Some(default_since))?;
    let heading = format!(
        "shares from {} to {}, {}",
        fmt_time(filter.since_unix_ms, None),
        if filter.until_unix_ms == 0 {
            "now".to_string()
        } else {
            fmt_time(filter.until_unix_ms, None)
        },
        match a.window {
            Some(w) => format!("per {} window", fmt_span(i64::from(w))),
            None => "one window".to_string(),
        }
    );
    let req = StatsRequest {
        filter: Some(filter),
        window_s: a.window.unwrap_or(0),
    };
    let r = ctx.client().await?.stats(req).await.reply(&ctx.endpoint)?;
    let mut sheet = Sheet::new(COLUMNS);
    for p in &r.pools {
        sheet.push(row(p, &r.splits));
    }
    if ctx.out == Format::Table && !sheet.is_empty() {
        emit(&format!("{heading}\n\n"))?;
    }
    sheet.print(ctx.out, &format!("no shares: {heading}"))?;
    if ctx.out == Format::Table && !r.splits.is_empty() {
        let lines: Vec<String> = r.splits.iter().map(split_line).collect();
        emit(&format!("\n{}\n", lines.join("\n")))?;
    }
    Ok(())
}
