//! storebench's worker queries (issue 12): what `ctl workers` asks the
//! store (the workers, their 15 min / 1 h / 24 h work and counts, and the
//! ledger's first instant) for every site, one site and two days, and the
//! hourly pruning of the workers' buckets, run first as the control plane
//! does.

use std::time::Instant;

use switchyard_controlplane::store::{Store, WorkerWindows};

use super::{Args, DAY_MS, Fleet, HOUR_MS, Timing, ms, time};

/// Prunes the workers' buckets as of `end_ms` (as the hourly retention task
/// does), then times the worker queries.
pub(super) async fn timings(
    a: &Args,
    store: &Store,
    fleet: &Fleet,
    end_ms: i64,
) -> anyhow::Result<Vec<Timing>> {
    let start = Instant::now();
    let pruned = store
        .prune_workers(end_ms, end_ms - a.days * DAY_MS)
        .await?;
    eprintln!(
        "  pruned {pruned} rows of the workers' tables in {}",
        ms(start.elapsed())
    );
    let mut out = Vec::new();
    for (name, site, since) in [
        ("workers, last 24 h (ctl workers)", None, end_ms - DAY_MS),
        (
            "workers of one site, last 48 h",
            Some(0),
            end_ms - 48 * HOUR_MS,
        ),
        (
            "workers, last hour (5-minute counts)",
            None,
            end_ms - HOUR_MS,
        ),
    ] {
        let site = site.map(|i: usize| fleet.sites[i].clone());
        let t = time(name, a.runs, |_| {
            let site = site.clone();
            async move {
                let w = WorkerWindows::new(since, end_ms);
                store.ledger_start_ms().await?;
                let rows = store.workers(site.as_deref(), None, &w).await?;
                Ok(rows.iter().filter(|r| r.last_share_ms >= since).count())
            }
        })
        .await?;
        out.push(t);
    }
    Ok(out)
}
