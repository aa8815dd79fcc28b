//! The weighted windows in force, for `ctl stats` (issue 14): each window's
//! target from the site's current plan, and what the share history says
//! each of its pools received (accepted difficulty over the last hour).

use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminService;
use super::status;
use crate::clock;
use crate::store::ShareFilter;

/// The last hour the achieved parts are over.
const WINDOW_MS: i64 = 3_600_000;

/// The windows of the sites and algorithm `f` names (all when it names none).
pub(super) async fn splits(
    a: &AdminService,
    f: &ShareFilter,
) -> Result<Vec<pb::SplitStats>, Status> {
    let now = clock::now_ms();
    let since = now - WINDOW_MS;
    let mut out = Vec::new();
    for site in a.ctx.store.sites().await.map_err(status)? {
        if f.site.as_ref().is_some_and(|s| *s != site.name) {
            continue;
        }
        let Some(plan) = a.ctx.planner.current(site.id) else {
            continue;
        };
        for algo in plan.algorithms.iter().filter(|x| !x.split.is_empty()) {
            let label = algo.algorithm().label();
            if f.algorithm.as_ref().is_some_and(|x| x != label) {
                continue;
            }
            let filter = ShareFilter {
                site: Some(site.name.clone()),
                algorithm: Some(label.to_string()),
                since_ms: Some(since),
                ..Default::default()
            };
            let rows = a.ctx.store.stats(&filter, 0).await.map_err(status)?;
            let work = |pool: &str| {
                rows.iter()
                    .filter(|r| r.pool == pool)
                    .map(|r| r.accepted_difficulty)
                    .sum::<f64>()
            };
            out.push(pb::SplitStats {
                site: site.name.clone(),
                algorithm: algo.algorithm,
                pools: split_pools(&algo.split, work),
                since_unix_ms: since,
            });
        }
    }
    Ok(out)
}

/// Target and achieved parts of a window's pools, in percent.
fn split_pools(split: &[pb::PoolWeight], work: impl Fn(&str) -> f64) -> Vec<pb::SplitPoolStats> {
    let weights: f64 = split.iter().map(|p| f64::from(p.weight)).sum();
    let done: Vec<f64> = split.iter().map(|p| work(&p.pool)).collect();
    let total: f64 = done.iter().sum();
    split
        .iter()
        .zip(done)
        .map(|(p, d)| pb::SplitPoolStats {
            pool: p.pool.clone(),
            weight: p.weight,
            target_percent: if weights > 0.0 {
                100.0 * f64::from(p.weight) / weights
            } else {
                0.0
            },
            achieved_percent: if total > 0.0 { 100.0 * d / total } else { 0.0 },
            accepted_difficulty: d,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_percent_of_the_weights_and_of_the_work_done() {
        let split = [("btc", 70), ("bch", 30)].map(|(pool, weight)| pb::PoolWeight {
            pool: pool.into(),
            weight,
        });
        let got = split_pools(&split, |p| if p == "btc" { 690.0 } else { 310.0 });
        assert_eq!(got[0].target_percent, 70.0);
        assert!((got[0].achieved_percent - 69.0).abs() < 1e-9);
        assert!((got[1].achieved_percent - 31.0).abs() < 1e-9);
        let none = split_pools(&split, |_| 0.0);
        assert_eq!(none[1].achieved_percent, 0.0, "nothing accepted yet");
    }
}
