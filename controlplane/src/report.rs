//! The quarter-hour statistics report of the seed, per site and algorithm,
//! logged at :00, :15, :30 and :45 local time and at shutdown, from the
//! share events in the database (since the control plane started) and what
//! the data planes reported.

use std::fmt::Write;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;

use crate::clock;
use crate::grpc::Ctx;
use crate::store::{ShareFilter, StoreError};

/// One pool's lines in a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerLines {
    pub name: String,
    pub address: String,
    pub schedule: String,
    pub username: String,
    pub active: bool,
    pub connections: u64,
    pub reconnections: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub reasons: Vec<(String, u64)>,
}

/// Everything one report shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub site: String,
    pub algorithm: String,
    pub uptime: Duration,
    pub servers: Vec<ServerLines>,
    pub miners_active: u64,
    pub miner_connections: u64,
    pub miner_disconnections: u64,
    pub active: Option<(String, String)>,
    pub previous: Option<(String, String)>,
    /// Last switch, as site-local time with its UTC offset.
    pub last_switch: Option<String>,
}

const RULE: &str = "============================================================";
const THIN: &str = "----------------------------------------";

/// Renders a report in the seed's format.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let mins = r.uptime.num_minutes().max(0);
    let _ = writeln!(s, "{RULE}");
    let _ = writeln!(
        s,
        "PROXY STATISTICS site {} {} (uptime: {}h {}m)",
        r.site,
        r.algorithm,
        mins / 60,
        mins % 60
    );
    let _ = writeln!(s, "{RULE}");
    let _ = writeln!(s, "Servers:");
    for v in &r.servers {
        let _ = writeln!(
            s,
            "  - {} ({}) Schedule: {} Username: {}",
            v.name, v.address, v.schedule, v.username
        );
    }
    let _ = writeln!(
        s,
        "Miners: {} active | {} total connections | {} disconnections",
        r.miners_active, r.miner_connections, r.miner_disconnections
    );
    let named = |p: &Option<(String, String)>| {
        p.as_ref()
            .map_or("none".to_string(), |(n, a)| format!("{n} ({a})"))
    };
    let _ = writeln!(s, "Active server: {}", named(&r.active));
    let _ = writeln!(s, "Previous server: {}", named(&r.previous));
    let _ = writeln!(
        s,
        "Last switch: {}",
        r.last_switch.as_deref().unwrap_or("never")
    );
    for v in &r.servers {
        let _ = writeln!(s, "{THIN}");
        let _ = writeln!(
            s,
            "Server: {}{}",
            v.name,
            if v.active { " (active)" } else { "" }
        );
        let _ = writeln!(
            s,
            "  Connections: {} | Reconnections: {}",
            v.connections, v.reconnections
        );
        let total = v.accepted + v.rejected;
        let pct = |n: u64| {
            if total == 0 {
                0.0
            } else {
                100.0 * n as f64 / total as f64
            }
        };
        let _ = writeln!(
            s,
            "  Shares: {} accepted / {} rejected ({:.1}% / {:.1}%)",
            v.accepted,
            v.rejected,
            pct(v.accepted),
            pct(v.rejected)
        );
        if !v.reasons.is_empty() {
            let list: Vec<String> = v
                .reasons
                .iter()
                .map(|(r, n)| format!("\"{r}\": {n}"))
                .collect();
            let _ = writeln!(s, "  Rejection reasons: {}", list.join(", "));
        }
    }
    let _ = write!(s, "{RULE}");
    s
}

/// Builds the reports of every site and algorithm from the database.
pub async fn gather(ctx: &Ctx, now: DateTime<Utc>) -> Result<Vec<Report>, StoreError> {
    let store = &ctx.store;
    let pools = store.pools(None).await?;
    let uptime = now - clock::from_ms(ctx.started_at_ms);
    let live = ctx.live().clone();
    let mut out = Vec::new();
    for site in store.sites().await? {
        let tz = Tz::from_str(&site.timezone).unwrap_or(Tz::UTC);
        let slots = store.schedule(site.id).await?;
        let plan = ctx.planner.current(site.id);
        let site_live: Vec<_> = live.values().filter(|l| l.site_id == site.id).collect();
        let mut algos: Vec<String> = slots.iter().map(|s| s.algorithm.clone()).collect();
        algos.dedup();
        for algo in algos {
            let filter = ShareFilter {
                site: Some(site.name.clone()),
                algorithm: Some(algo.clone()),
                since_ms: Some(ctx.started_at_ms),
                ..Default::default()
            };
            let stats = store.stats(&filter, 0).await?;
            let current = plan
                .as_ref()
                .and_then(|p| p.algorithms.iter().find(|a| a.algorithm().label() == algo))
                .map(|a| a.current_pool.clone());
            let address = |name: &str| {
                pools
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| format!("{}:{}", p.host, p.port))
                    .unwrap_or_default()
            };
            let mut servers = Vec::new();
            for p in pools.iter().filter(|p| p.algorithm == algo) {
                let sched: Vec<String> = slots
                    .iter()
                    .filter(|s| s.algorithm == algo && s.pool == p.name)
                    .map(|s| match s.weight {
                        0 => format!("{}-{}", hhmm(s.start_min), hhmm(s.end_min)),
                        w => format!("{}-{} (weight {w})", hhmm(s.start_min), hhmm(s.end_min)),
                    })
                    .collect();
                let st = stats.iter().find(|s| s.pool == p.name);
                let ok: u64 = site_live
                    .iter()
                    .map(|l| l.connects.get(&p.name).map_or(0, |c| c.0))
                    .sum();
                let dps = site_live
                    .iter()
                    .filter(|l| l.connects.get(&p.name).is_some_and(|c| c.0 > 0))
                    .count() as u64;
                servers.push(ServerLines {
                    name: p.name.clone(),
                    address: format!("{}:{}", p.host, p.port),
                    schedule: if sched.is_empty() {
                        "-".into()
                    } else {
                        sched.join(", ")
                    },
                    username: p.username.clone(),
                    active: current.as_deref() == Some(p.name.as_str()),
                    connections: ok,
                    reconnections: ok.saturating_sub(dps),
                    accepted: st.map_or(0, |s| s.accepted.max(0) as u64),
                    rejected: st.map_or(0, |s| s.rejected.max(0) as u64),
                    reasons: st.map_or(Vec::new(), |s| {
                        s.reasons
                            .iter()
                            .map(|(r, n)| (r.clone(), *n as u64))
                            .collect()
                    }),
                });
            }
            let switches = store.switch_events(&site.name, &algo, 1).await?;
            let last = switches.first();
            out.push(Report {
                site: site.name.clone(),
                algorithm: algo.clone(),
                uptime,
                servers,
                miners_active: site_live.iter().map(|l| u64::from(l.miners)).sum(),
                miner_connections: site_live.iter().map(|l| l.connections_total).sum(),
                miner_disconnections: site_live.iter().map(|l| l.disconnections_total).sum(),
                active: current.as_ref().map(|c| (c.clone(), address(c))),
                previous: last
                    .filter(|e| !e.from_pool.is_empty())
                    .map(|e| (e.from_pool.clone(), address(&e.from_pool))),
                last_switch: last.map(|e| {
                    clock::from_ms(e.at_ms)
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M:%S%z")
                        .to_string()
                }),
            });
        }
    }
    Ok(out)
}

fn hhmm(m: i64) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The next :00/:15/:30/:45 of `tz` after `now`.
pub fn next_quarter(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    let into = Duration::minutes(i64::from(local.minute() % 15))
        + Duration::seconds(i64::from(local.second()))
        + Duration::nanoseconds(i64::from(local.nanosecond() % 1_000_000_000));
    now - into + Duration::minutes(15)
}

/// Logs every report.
pub async fn log_all(ctx: &Ctx) {
    match gather(ctx, clock::now()).await {
        Ok(reports) => {
            for r in reports {
                tracing::info!("statistics report\n{}", render(&r));
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot build the statistics report"),
    }
}

/// The timer: a report at each quarter hour, and one at shutdown.
pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let at = next_quarter(clock::now(), ctx.local_tz);
        tokio::select! {
            _ = tokio::time::sleep(clock::until(at)) => log_all(&ctx).await,
            _ = shutdown.changed() => {
                log_all(&ctx).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_the_seed_layout() {
        let r = Report {
            site: "texas".into(),
            algorithm: "sha256".into(),
            uptime: Duration::minutes(150),
            servers: vec![
                ServerLines {
                    name: "pool1".into(),
                    address: "stratum.pool1.com:3333".into(),
                    schedule: "00:00-12:00".into(),
                    username: "wallet.worker1".into(),
                    active: true,
                    connections: 1,
                    reconnections: 0,
                    accepted: 990,
                    rejected: 10,
                    reasons: vec![("duplicate share".into(), 6), ("stale job".into(), 4)],
                },
                ServerLines {
                    name: "pool2".into(),
                    address: "p2:3333".into(),
                    schedule: "12:00-24:00".into(),
                    ..Default::default()
                },
            ],
            miners_active: 3,
            miner_connections: 5,
            miner_disconnections: 2,
            active: Some(("pool1".into(), "stratum.pool1.com:3333".into())),
            previous: Some(("pool2".into(), "p2:3333".into())),
            last_switch: Some("2025-12-16 12:00:00-0600".into()),
        };
        let text = render(&r);
        for line in [
            "PROXY STATISTICS site texas sha256 (uptime: 2h 30m)",
            "  - pool1 (stratum.pool1.com:3333) Schedule: 00:00-12:00 Username: wallet.worker1",
            "Miners: 3 active | 5 total connections | 2 disconnections",
            "Active server: pool1 (stratum.pool1.com:3333)",
            "Previous server: pool2 (p2:3333)",
            "Last switch: 2025-12-16 12:00:00-0600",
            "Server: pool1 (active)",
            "  Connections: 1 | Reconnections: 0",
            "  Shares: 990 accepted / 10 rejected (99.0% / 1.0%)",
            "  Rejection reasons: \"duplicate share\": 6, \"stale job\": 4",
            "Server: pool2",
            "  Shares: 0 accepted / 0 rejected (0.0% / 0.0%)",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn reports_fall_on_local_quarter_hours() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            next_quarter(t("2026-11-23T10:07:31Z"), Tz::UTC),
            t("2026-11-23T10:15:00Z")
        );
        assert_eq!(
            next_quarter(t("2026-11-23T10:15:00Z"), Tz::UTC),
            t("2026-11-23T10:30:00Z")
        );
        // Nepal is UTC+05:45: its quarter hours are not UTC's.
        assert_eq!(
            next_quarter(t("2026-11-23T10:00:00Z"), Tz::Asia__Kathmandu),
            t("2026-11-23T10:15:00Z")
        );
        assert_eq!(
            next_quarter(t("2026-11-23T10:01:00Z"), Tz::Asia__Kathmandu),
            t("2026-11-23T10:15:00Z")
        );
        assert_eq!(
            next_quarter(t("2026-11-23T10:14:00Z"), Tz::Asia__Kathmandu),
            t("2026-11-23T10:15:00Z")
        );
    }
}
