//! Two sites in different time zones on one control plane: each site's data
//! plane follows its own schedule in its own local time, and both are listed
//! with the plan versions they acknowledged.

use std::time::Duration;

use chrono::{Timelike, Utc};
use chrono_tz::Tz;
use switchyard_tests::linked::{control_plane, linked_dataplane};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);

/// The pool a "btc 00:00-12:00, bch 12:00-24:00" day gives at this moment in `tz`.
fn expected(tz: Tz) -> &'static str {
    if Utc::now().with_timezone(&tz).hour() < 12 {
        "btc"
    } else {
        "bch"
    }
}

#[tokio::test]
async fn each_site_follows_its_own_local_schedule() {
    let btc = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let bch = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    // Two zones 12 hours apart (UTC+6 and UTC-6, no DST): at any instant
    // their local halves of the day differ.
    let (east, west) = (Tz::Etc__GMTMinus6, Tz::Etc__GMTPlus6);
    let yaml = format!(
        r#"
servers:
  sha256:
    - {{ name: btc, host: "127.0.0.1", port: {}, username: "farm.btc", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: bch, host: "127.0.0.1", port: {}, username: "farm.bch", password: "x", start: "12:00", end: "24:00" }}
sites:
  - {{ name: east, timezone: "{}" }}
  - {{ name: west, timezone: "{}" }}
"#,
        btc.addr().port(),
        bch.addr().port(),
        east.name(),
        west.name()
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml).await;

    let mut dps = Vec::new();
    for (site, tz) in [("east", east), ("west", west)] {
        let dp = linked_dataplane(dir.path(), cp.addr(), site).await;
        // A miner gets work once the site's scheduled pool is ready.
        let _m = ScriptedMiner::ready(dp.sha256_addr().unwrap(), "cgminer", "farm.rig")
            .await
            .unwrap();
        assert_eq!(
            dp.active_pool().as_deref(),
            Some(expected(tz)),
            "site {site} in {}",
            tz.name()
        );
        dps.push(dp);
    }
    assert_ne!(
        dps[0].active_pool(),
        dps[1].active_pool(),
        "12 hours apart, the sites mine on different pools"
    );

    // Both data planes are listed with the plan version of their own site.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let rows = cp.store().dataplanes(None).await.unwrap();
        let acked = rows
            .iter()
            .filter(|r| r.acked_plan_version == r.site_plan_version && r.acked_plan_version > 0)
            .count();
        if rows.len() == 2 && acked == 2 {
            let sites: Vec<&str> = rows.iter().map(|r| r.site.as_str()).collect();
            assert_eq!(sites, ["east", "west"]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both data planes ack their site's plan: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for dp in dps {
        dp.shutdown(Duration::from_secs(2)).await;
    }
    cp.shutdown().await;
}
