//! Single-machine mode for RandomX miners through the real binary: with only
//! `proxy.randomx` enabled, `controlplane start --foreground` still runs its
//! embedded data plane, prints the RandomX listener's address, and an
//! xmrig-style miner mines through it to a scripted RandomX pool; the share
//! shows up in `ctl shares` under algorithm randomx.

use std::time::Duration;

use switchyard_stratum::randomx::reply_status;
use switchyard_tests::single::SingleMachine;
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_embedded_data_plane_serves_randomx_miners_alone() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = pool.addr().port();
    let yaml = format!(
        r#"
controlplane:
  timezone: "UTC"
proxy:
  sha256: {{ enabled: false, bind_host: "127.0.0.1", bind_port: 3333 }}
  randomx: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 0 }}
servers:
  randomx:
    - {{ name: xmr, host: "127.0.0.1", port: {port}, username: "farm.xmr", password: "x", start: "00:00", end: "24:00" }}
"#
    );
    let sm = SingleMachine::start(dir.path(), &yaml, &["randomx"]).await;
    assert!(
        sm.startup_lines
            .iter()
            .all(|l| !l.contains("for sha256 miners")),
        "sha256 is off: {:?}",
        sm.startup_lines
    );

    let mut m = RxMiner::ready(sm.miners("randomx"), "farm.rig7")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    assert_eq!(pool.logins(), ["farm.xmr"]);
    pool.wait_for_accepted(1, T).await.unwrap();

    let rows = sm.wait_for_shares().await;
    let row = &rows[0];
    assert_eq!(row["worker"], "farm.rig7");
    assert_eq!(row["pool"], "xmr");
    assert_eq!(row["algorithm"], "randomx", "{row}");
    assert_eq!(row["verdict"], "accepted");
    let dps = sm.ctl_json(&["dataplane", "list"]).await;
    assert_eq!(dps.as_array().unwrap().len(), 1, "{dps}");
    assert_eq!(dps[0]["connected"], true, "{dps}");

    // SIGTERM: a clean stop.
    sm.stop().await;
}
