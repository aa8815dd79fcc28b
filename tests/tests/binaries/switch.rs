//! The real binaries end to end: a `controlplane` and a `dataplane` process
//! whose clocks are both shifted by `SWITCHYARD_CLOCK_OFFSET_MS` so that a
//! schedule boundary (12:00 UTC) is seconds ahead. The data plane switches
//! the miner at the instant; then it is restarted (SIGTERM, same state
//! directory) and comes back as the same data plane on the same plan; the
//! miner reconnects and mines on. Every share the miner was answered is in
//! the control plane's history exactly once, counted for the right pool, and
//! `ctl dataplane list` shows one data plane running the site's plan.
//! Unix only: the data plane binary's clean restart is driven by SIGTERM.
#![cfg(unix)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_tests::cp::{ControlPlane, bin};
use switchyard_tests::dp_process::{spawn, stop};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_switch_and_a_data_plane_restart_with_the_real_binaries() {
    // The clock offset is set once per process.
    switchyard_tests::own_process!();
    // Build (if needed) before the clock starts running towards noon.
    bin("dataplane");
    // Both child processes (and this one) see 11:59:53 UTC about now.
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 53).unwrap();
    let offset_ms = (start - Utc::now()).num_milliseconds();
    assert!(switchyard_dataplane::clock::set_offset_ms(offset_ms));
    let offset = offset_ms.to_string();
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();

    let a = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let b = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let yaml = format!(
        r#"
controlplane: {{ timezone: "UTC", grace_period: 20, switch_lead: 2 }}
servers:
  sha256:
    - {{ name: btc, host: "127.0.0.1", port: {}, username: "farm.btc", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: bch, host: "127.0.0.1", port: {}, username: "farm.bch", password: "x", start: "12:00", end: "24:00" }}
"#,
        a.addr().port(),
        b.addr().port()
    );
    let mut cp = ControlPlane::start_with_env(
        &yaml,
        "UTC",
        &[("SWITCHYARD_CLOCK_OFFSET_MS", offset.as_str())],
    )
    .await;
    let token_file = switchyard_controlplane::site_token_file(&cp.path("switchyard.db"), "default");
    let dp_config = cp.write(
        "dp.yaml",
        &format!(
            "controlplane:\n  endpoint: \"{}\"\n  token_file: \"{}\"\n  state_dir: \"{}\"\nlisteners:\n  sha256: {{ bind: \"127.0.0.1:0\" }}\nlimits:\n  allow: [\"127.0.0.0/8\"]\n",
            cp.endpoint,
            token_file.display(),
            cp.path("dp-state").display()
        ),
    );
    let (mut dp, addr) = spawn(&dp_config, &[("SWITCHYARD_CLOCK_OFFSET_MS", &offset)]).await;

    let mut m = ScriptedMiner::ready(addr, "cgminer", "farm.rig1")
        .await
        .unwrap();
    let mut answered_ok = 0;
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    answered_ok += 1;
    a.wait_for_accepted(1, T).await.unwrap();

    // The switch, at the instant by the shifted clock of both processes.
    let old = m.latest_job.clone().unwrap();
    let new = m.wait_for_new_job(&old).await.unwrap();
    let at = switchyard_dataplane::clock::now();
    assert!(new.clean_jobs);
    assert!(at >= noon, "not before the instant: {at}");
    assert!(at < noon + chrono::Duration::seconds(3), "on time: {at}");
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    answered_ok += 1;
    b.wait_for_accepted(1, T).await.unwrap();

    // A restart: the same data plane (its id from the state directory)
    // comes back on the new pool; the miner reconnects and mines on.
    stop(&mut dp).await;
    m.expect_closed(T).await.unwrap();
    let (mut dp, addr) = spawn(&dp_config, &[("SWITCHYARD_CLOCK_OFFSET_MS", &offset)]).await;
    let mut m = ScriptedMiner::ready(addr, "cgminer", "farm.rig1")
        .await
        .unwrap();
    for _ in 0..3 {
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
        answered_ok += 1;
    }
    b.wait_for_accepted(4, T).await.unwrap();
    assert_eq!(a.accepted(), 1);

    // Every answered share is stored exactly once, for the right pool.
    let deadline = tokio::time::Instant::now() + T;
    let stats = loop {
        let out = cp.ctl(&["-o", "json", "stats", "--since", "30d"]).await;
        let v = out.json();
        let count = |pool: &str| {
            v.as_array()
                .into_iter()
                .flatten()
                .find(|p| p["pool"] == pool)
                .map_or(0, |p| p["accepted"].as_u64().unwrap_or(0))
        };
        let got = (count("btc"), count("bch"));
        if got.0 + got.1 >= answered_ok {
            break got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shares stored: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats, (1, 4), "every share once, for its pool");

    let out = cp.ctl(&["-o", "json", "dataplane", "list"]).await;
    let list = out.json();
    let dps = list.as_array().expect("a list");
    assert_eq!(dps.len(), 1, "the restarted data plane kept its id: {list}");
    assert_eq!(dps[0]["plan_current"], true, "{list}");
    assert_eq!(dps[0]["events_dropped"], 0, "{list}");

    stop(&mut dp).await;
    cp.stop().await;
}
