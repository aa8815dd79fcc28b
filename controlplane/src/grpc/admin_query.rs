//! Admin handlers for share history and statistics.

use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::{AdminService, algorithm};
use super::{invalid, status};
use crate::store::ShareFilter;

/// Most rows one `ctl shares` call returns.
const MAX_ROWS: u32 = 100_000;

fn filter(f: Option<pb::ShareFilter>) -> Result<ShareFilter, Status> {
    let f = f.unwrap_or_default();
    let opt = |s: String| (!s.is_empty()).then_some(s);
    if !f.verdict.is_empty() && !matches!(f.verdict.as_str(), "accepted" | "rejected") {
        return Err(invalid(
            "verdict",
            format!("{:?}: must be accepted or rejected", f.verdict),
        ));
    }
    let algorithm = if f.algorithm.is_empty() {
        None
    } else {
        Some(algorithm("algorithm", &f.algorithm)?.as_str().to_string())
    };
    if f.since_unix_ms > 0 && f.until_unix_ms > 0 && f.until_unix_ms <= f.since_unix_ms {
        return Err(invalid("until", "must be after since"));
    }
    Ok(ShareFilter {
        site: opt(f.site),
        pool: opt(f.pool),
        worker: opt(f.worker),
        algorithm,
        verdict: opt(f.verdict),
        since_ms: (f.since_unix_ms > 0).then_some(f.since_unix_ms),
        until_ms: (f.until_unix_ms > 0).then_some(f.until_unix_ms),
    })
}

pub(super) async fn shares(
    a: &AdminService,
    r: pb::QuerySharesRequest,
) -> Result<pb::QuerySharesResponse, Status> {
    let f = filter(r.filter)?;
    let limit = if r.limit == 0 { 100 } else { r.limit };
    if limit > MAX_ROWS {
        return Err(invalid("limit", format!("{limit} is more than {MAX_ROWS}")));
    }
    let (rows, truncated) = a.ctx.store.query_shares(&f, limit).await.map_err(status)?;
    Ok(pb::QuerySharesResponse {
        shares: rows
            .into_iter()
            .map(|r| pb::ShareRow {
                id: r.id,
                at_unix_ms: r.at_ms,
                site: r.site,
                dataplane_id: r.dataplane_id,
                algorithm: r.algorithm,
                pool: r.pool,
                worker: r.worker,
                job_id: r.job_id,
                miner_difficulty: r.miner_difficulty,
                share_difficulty: r.share_difficulty.unwrap_or(0.0),
                local_verdict: r.local_verdict,
                forwarded: r.forwarded,
                pool_verdict: r.pool_verdict.unwrap_or_default(),
                reason: r.reason.unwrap_or_default(),
                pool_latency_us: r.pool_latency_us.map_or(0, |v| v.max(0) as u64),
                verdict: r.verdict,
            })
            .collect(),
        truncated,
    })
}

pub(super) async fn stats(
    a: &AdminService,
    r: pb::StatsRequest,
) -> Result<pb::StatsResponse, Status> {
    let f = filter(r.filter)?;
    let window_ms = i64::from(r.window_s) * 1000;
    if let (Some(s), Some(u)) = (f.since_ms, f.until_ms)
        && window_ms > 0
        && (u - s) / window_ms > 10_000
    {
        return Err(invalid(
            "window",
            "more than 10,000 windows; use a longer window or a shorter range",
        ));
    }
    let rows = a.ctx.store.stats(&f, window_ms).await.map_err(status)?;
    Ok(pb::StatsResponse {
        pools: rows
            .into_iter()
            .map(|s| pb::PoolStats {
                window_start_unix_ms: s.window_start_ms,
                site: s.site,
                algorithm: s.algorithm,
                pool: s.pool,
                accepted: s.accepted.max(0) as u64,
                rejected: s.rejected.max(0) as u64,
                reasons: s
                    .reasons
                    .into_iter()
                    .map(|(reason, n)| pb::ReasonCount {
                        reason,
                        count: n.max(0) as u64,
                    })
                    .collect(),
                local_only: s.local_only.max(0) as u64,
            })
            .collect(),
    })
}
