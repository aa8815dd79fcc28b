//! Admin handlers for share history and statistics: the filter's enums
//! read, the stored names (algorithm, verdicts, reason) given back as the
//! contract's enums, and each stats row's hashrate.

use switchyard_model::{Algorithm, hashrate};
use switchyard_proto::known;
use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::{AdminService, algorithm_filter};
use super::{invalid, status};
use crate::clock;
use crate::convert::stored;
use crate::store::{ShareFilter, StatsRow};

/// Most rows one `ctl shares` call returns.
const MAX_ROWS: u32 = 100_000;

fn filter(f: Option<pb::ShareFilter>) -> Result<ShareFilter, Status> {
    let f = f.unwrap_or_default();
    let opt = |s: String| (!s.is_empty()).then_some(s);
    let verdict: pb::Verdict = known("verdict", f.verdict).map_err(Status::invalid_argument)?;
    let algorithm = algorithm_filter("algorithm", f.algorithm)?.map(|a| a.as_str().to_string());
    if f.since_unix_ms > 0 && f.until_unix_ms > 0 && f.until_unix_ms <= f.since_unix_ms {
        return Err(invalid("until", "must be after since"));
    }
    Ok(ShareFilter {
        site: opt(f.site),
        pool: opt(f.pool),
        worker: opt(f.worker),
        algorithm,
        verdict: opt(verdict.label().to_string()),
        since_ms: (f.since_unix_ms > 0).then_some(f.since_unix_ms),
        until_ms: (f.until_unix_ms > 0).then_some(f.until_unix_ms),
    })
}

/// Most switches one call returns.
const MAX_SWITCHES: u32 = 1_000;

pub(super) async fn switches(
    a: &AdminService,
    r: pb::ListSwitchesRequest,
) -> Result<pb::ListSwitchesResponse, Status> {
    let site = a.site(&r.site).await?;
    let algorithm = algorithm_filter("algorithm", r.algorithm)?;
    if r.limit > MAX_SWITCHES {
        return Err(invalid("limit", format!("at most {MAX_SWITCHES}")));
    }
    let limit = if r.limit == 0 { 50 } else { r.limit };
    let rows = a
        .ctx
        .store
        .switches(&site.name, algorithm.map(|x| x.as_str()), limit)
        .await
        .map_err(status)?;
    Ok(pb::ListSwitchesResponse {
        switches: rows
            .into_iter()
            .map(|e| pb::SwitchRecord {
                at_unix_ms: e.at_ms,
                site: e.site,
                algorithm: stored(&e.algorithm, pb::Algorithm::from_label) as i32,
                from_pool: e.from_pool,
                to_pool: e.to_pool,
                reason: e.reason,
            })
            .collect(),
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
            .map(|r| {
                let (reason, reason_text) =
                    pb::Reason::from_stored(r.reason.as_deref().unwrap_or(""));
                pb::ShareRow {
                    reason: reason as i32,
                    reason_text: reason_text.to_string(),
                    id: r.id,
                    at_unix_ms: r.at_ms,
                    site: r.site,
                    dataplane_id: r.dataplane_id,
                    algorithm: stored(&r.algorithm, pb::Algorithm::from_label) as i32,
                    pool: r.pool,
                    worker: r.worker,
                    job_id: r.job_id,
                    miner_difficulty: r.miner_difficulty,
                    share_difficulty: r.share_difficulty.unwrap_or(0.0),
                    local_verdict: stored(&r.local_verdict, pb::Verdict::from_label) as i32,
                    forwarded: r.forwarded,
                    pool_verdict: stored(
                        r.pool_verdict.as_deref().unwrap_or(""),
                        pb::Verdict::from_label,
                    ) as i32,
                    pool_latency_us: r.pool_latency_us.map_or(0, |v| v.max(0) as u64),
                    verdict: stored(&r.verdict, pb::Verdict::from_label) as i32,
                }
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
    let ledger = a.ctx.store.ledger_start_ms().await.map_err(status)?;
    let now = clock::now_ms();
    let splits = super::admin_split::splits(a, &f).await?;
    Ok(pb::StatsResponse {
        splits,
        pools: rows
            .into_iter()
            .map(|s| pb::PoolStats {
                hashrate_hs: hashrate_of(&s, &f, window_ms, ledger, now),
                accepted_difficulty: s.accepted_difficulty,
                window_start_unix_ms: s.window_start_ms,
                site: s.site,
                algorithm: stored(&s.algorithm, pb::Algorithm::from_label) as i32,
                pool: s.pool,
                accepted: s.accepted.max(0) as u64,
                rejected: s.rejected.max(0) as u64,
                reasons: s
                    .reasons
                    .into_iter()
                    .map(|(stored, n)| {
                        let (reason, text) = pb::Reason::from_stored(&stored);
                        pb::ReasonCount {
                            reason: reason as i32,
                            reason_text: text.to_string(),
                            count: n.max(0) as u64,
                        }
                    })
                    .collect(),
                local_only: s.local_only.max(0) as u64,
            })
            .collect(),
    })
}

/// A stats row's accepted work per second of its window: the window
/// (or the whole range) cut to the filter's since and until and to the
/// time the ledger covers (see [`hashrate::covered_ms`]).
fn hashrate_of(
    s: &StatsRow,
    f: &ShareFilter,
    window_ms: i64,
    ledger: Option<i64>,
    now: i64,
) -> f64 {
    let Ok(algorithm) = s.algorithm.parse::<Algorithm>() else {
        return 0.0;
    };
    let (mut start, mut end) = if window_ms > 0 {
        (s.window_start_ms, s.window_start_ms + window_ms)
    } else {
        (i64::MIN, i64::MAX)
    };
    if let Some(since) = f.since_ms {
        start = start.max(since);
    }
    if let Some(until) = f.until_ms {
        end = end.min(until);
    }
    let covered = hashrate::covered_ms(start, end, ledger, now);
    hashrate::rate(algorithm, s.accepted_difficulty, covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_reads_its_enums_and_refuses_unknown_values_naming_the_field() {
        let f = filter(Some(pb::ShareFilter {
            algorithm: pb::Algorithm::Zksnark as i32,
            verdict: pb::Verdict::Rejected as i32,
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(
            (f.algorithm.as_deref(), f.verdict.as_deref()),
            (Some("zksnark"), Some("rejected"))
        );
        let all = filter(None).unwrap();
        assert_eq!((all.algorithm, all.verdict), (None, None));
        for (want, bad) in [
            (
                "verdict: 9 ",
                pb::ShareFilter {
                    verdict: 9,
                    ..Default::default()
                },
            ),
            (
                "algorithm: 7 ",
                pb::ShareFilter {
                    algorithm: 7,
                    ..Default::default()
                },
            ),
        ] {
            let err = filter(Some(bad)).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
            assert!(err.message().starts_with(want), "{}", err.message());
        }
    }
}
