//! The weighted windows' part of `/metrics` (issue 14): per pool of the
//! window in force, its target part of the work, the part it received
//! over the last hour, the miners on it, and the moves between the
//! window's pools (counted, not pool switches).

use prometheus_client::encoding::DescriptorEncoder;

use super::{Fmt, counter, gauge};
use crate::telemetry::view::View;

impl View {
    pub(super) fn encode_splits(&self, d: &mut DescriptorEncoder) -> Fmt {
        let site = self.telemetry.site();
        let site = &*site;
        let now = crate::clock::now_ms();
        let splits = self.telemetry.splits.all();
        let (mut target, mut achieved, mut weight, mut miners, mut moves) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let statuses: Vec<_> = splits
            .iter()
            .map(|(algo, s)| (algo.as_str(), s.status(now), s.moves_total()))
            .collect();
        for (algo, pools, moved) in &statuses {
            let total: f64 = pools.iter().map(|p| p.achieved_work).sum();
            for p in pools {
                let l = vec![("site", site), ("algo", *algo), ("pool", p.pool.as_str())];
                target.push((l.clone(), p.target));
                if total > 0.0 {
                    achieved.push((l.clone(), p.achieved_work / total));
                }
                weight.push((l.clone(), f64::from(p.weight)));
                miners.push((l, p.miners as f64));
            }
            moves.push((vec![("site", site), ("algo", *algo)], *moved as f64));
        }
        gauge(
            d,
            "switchyard_split_weight",
            "The weight of each pool of the weighted window in force.",
            &weight,
        )?;
        gauge(
            d,
            "switchyard_split_target_ratio",
            "Each pool's part of the work the weights ask for now (a pool that is down gives its part to the others).",
            &target,
        )?;
        gauge(
            d,
            "switchyard_split_achieved_ratio",
            "Each pool's part of the accepted work (difficulty) over the last hour.",
            &achieved,
        )?;
        gauge(
            d,
            "switchyard_split_miners",
            "Miners on each pool of the weighted window.",
            &miners,
        )?;
        counter(
            d,
            "switchyard_split_moves",
            "Miners moved between the pools of a weighted window (not pool switches).",
            &moves,
        )
    }
}
