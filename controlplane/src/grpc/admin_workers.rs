//! `ListWorkers` (ctl workers): the store's workers with their windows'
//! counts and hashrates, and each one's state from its latest share, its
//! site's `offline_after` and the idle workers its site's connected data
//! planes last reported.

use std::collections::{BTreeMap, HashMap};

use switchyard_model::hashrate;
use switchyard_model::{Algorithm, config::DEFAULT_OFFLINE_AFTER};
use switchyard_proto::known;
use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::{AdminService, algorithm_filter};
use super::{invalid, status};
use crate::clock;
use crate::convert::{self, stored};
use crate::store::workers::MAX_SINCE_MS;
use crate::store::{WorkerRow, WorkerWindows};

const DAY_MS: i64 = 86_400_000;

/// (site, algorithm, worker).
type Key = (String, String, String);

pub(super) async fn list(
    a: &AdminService,
    r: pb::ListWorkersRequest,
) -> Result<pb::ListWorkersResponse, Status> {
    let algorithm = algorithm_filter("algorithm", r.algorithm)?;
    let want: pb::WorkerState = known("state", r.state).map_err(Status::invalid_argument)?;
    let now = clock::now_ms();
    let since = if r.since_unix_ms == 0 {
        now - DAY_MS
    } else {
        r.since_unix_ms
    };
    check_since(since, now)?;
    let sites = if r.site.is_empty() {
        a.ctx.store.sites().await.map_err(status)?
    } else {
        vec![a.site(&r.site).await?]
    };
    let offline_after: HashMap<String, i64> = sites
        .iter()
        .map(|s| {
            let secs =
                convert::site_proxy(s).map_or(DEFAULT_OFFLINE_AFTER, |p| p.global.offline_after);
            (s.name.clone(), i64::from(secs) * 1000)
        })
        .collect();
    let idle = idle_workers(a, &sites, algorithm);

    let site = (!r.site.is_empty()).then_some(r.site.as_str());
    let algo = algorithm.map(Algorithm::as_str);
    let w = WorkerWindows::new(since, now);
    let store = &a.ctx.store;
    let ledger = store.ledger_start_ms().await.map_err(status)?;
    let mut rows: BTreeMap<Key, WorkerRow> = store
        .workers(site, algo, &w)
        .await
        .map_err(status)?
        .into_iter()
        .filter(|r| offline_after.contains_key(&r.site))
        .map(|r| ((r.site.clone(), r.algorithm.clone(), r.worker.clone()), r))
        .collect();
    // Idle workers the store knows nothing of (yet): their report's share.
    for (key, last) in &idle {
        rows.entry(key.clone()).or_insert_with(|| WorkerRow {
            site: key.0.clone(),
            algorithm: key.1.clone(),
            worker: key.2.clone(),
            last_share_ms: *last,
            ..Default::default()
        });
    }

    let mut workers = Vec::new();
    for (key, r) in rows {
        let online_after = offline_after.get(&r.site).copied().unwrap_or(600_000);
        let state = if r.last_share_ms > 0 && r.last_share_ms >= now - online_after {
            pb::WorkerState::Online
        } else if idle.contains_key(&key) {
            pb::WorkerState::Idle
        } else {
            pb::WorkerState::Offline
        };
        if r.last_share_ms < since && state != pb::WorkerState::Idle {
            continue;
        }
        if want != pb::WorkerState::Unspecified && want != state {
            continue;
        }
        let algorithm = stored(&r.algorithm, pb::Algorithm::from_label);
        let rate = |work: f64, from: i64| match r.algorithm.parse::<Algorithm>() {
            Ok(a) => hashrate::rate(a, work, hashrate::covered_ms(from, now, ledger, now)),
            Err(_) => 0.0,
        };
        workers.push(pb::WorkerRow {
            hashrate_15m_hs: rate(r.work_15m, w.from_15m_ms),
            hashrate_1h_hs: rate(r.work_1h, w.from_1h_ms),
            hashrate_24h_hs: rate(r.work_24h, w.from_24h_ms),
            site: r.site,
            algorithm: algorithm as i32,
            worker: r.worker,
            state: state as i32,
            last_share_unix_ms: r.last_share_ms,
            accepted: r.accepted.max(0) as u64,
            rejected: r.rejected.max(0) as u64,
            dataplane_id: r.dataplane_id,
            difficulty: r.last_difficulty,
        });
    }
    Ok(pb::ListWorkersResponse {
        workers,
        now_unix_ms: now,
        since_unix_ms: since,
        counts_from_unix_ms: w.counts_from_ms,
    })
}

fn check_since(since: i64, now: i64) -> Result<(), Status> {
    if since > now {
        return Err(invalid("since", "is in the future"));
    }
    if now - since > MAX_SINCE_MS {
        return Err(invalid(
            "since",
            format!(
                "{} h ago is too far back: per-worker counts go back {} hours \
                 (`ctl stats --worker NAME` reads the whole history)",
                (now - since) / 3_600_000,
                MAX_SINCE_MS / 3_600_000
            ),
        ));
    }
    Ok(())
}

/// The idle workers of the sites' connected data planes (a worker two data
/// planes list keeps the later share).
fn idle_workers(
    a: &AdminService,
    sites: &[crate::store::SiteRow],
    algorithm: Option<Algorithm>,
) -> HashMap<Key, i64> {
    let names: HashMap<i64, &str> = sites.iter().map(|s| (s.id, s.name.as_str())).collect();
    let mut out: HashMap<Key, i64> = HashMap::new();
    for l in a.ctx.live().values().filter(|l| l.streams > 0) {
        let Some(site) = names.get(&l.site_id) else {
            continue;
        };
        for ((algo, worker), last) in &l.idle_workers {
            if algorithm.is_some_and(|a| a.as_str() != algo) {
                continue;
            }
            let e = out
                .entry((site.to_string(), algo.clone(), worker.clone()))
                .or_default();
            *e = (*e).max(*last);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_refused_in_the_future_and_beyond_48_hours() {
        let now = 1_000 * DAY_MS;
        assert!(check_since(now - DAY_MS, now).is_ok());
        assert!(check_since(now - MAX_SINCE_MS, now).is_ok());
        let e = check_since(now + 1, now).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), "since: is in the future");
        let e = check_since(now - 72 * 3_600_000, now).unwrap_err();
        assert!(
            e.message().starts_with("since: 72 h ago is too far back"),
            "{}",
            e.message()
        );
    }
}
