//! Single-machine mode for ALEO miners through the real binary: with only
//! `proxy.zksnark` enabled, `controlplane start --foreground` still runs its
//! embedded data plane, prints the zksnark listener's address, and an
//! AleoStratum/3.0.0 miner mines through it to a scripted ALEO pool (dialect
//! detected: plans carry none); the share shows up in `ctl shares` under
//! algorithm zksnark.

use std::time::Duration;

use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_tests::single::SingleMachine;
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_embedded_data_plane_serves_aleo_miners_alone() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = pool.addr().port();
    let yaml = format!(
        r#"
controlplane:
  timezone: "UTC"
proxy:
  sha256: {{ enabled: false, bind_host: "127.0.0.1", bind_port: 3333 }}
  zksnark: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 0 }}
servers:
  zksnark:
    - {{ name: aleo, host: "127.0.0.1", port: {port}, username: "farm.aleo", password: "x", start: "00:00", end: "24:00" }}
"#
    );
    let sm = SingleMachine::start(dir.path(), &yaml, &["zksnark"]).await;
    assert!(
        sm.startup_lines
            .iter()
            .all(|l| !l.contains("for sha256 miners")),
        "sha256 is off: {:?}",
        sm.startup_lines
    );
    assert!(
        sm.startup_lines
            .iter()
            .all(|l| !l.contains("for randomx miners")),
        "randomx is off: {:?}",
        sm.startup_lines
    );

    let mut m = AleoMiner::ready(sm.miners("zksnark"), Dialect::AleoStratum3, "farm.rig7")
        .await
        .unwrap();
    let share = m.next_share().unwrap();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(submit_result(&r), Ok(()), "{r:?}");
    assert!(
        pool.authorized_users()
            .iter()
            .any(|u| u == "farm.aleo.rig7"),
        "{:?}",
        pool.authorized_users()
    );
    pool.wait_for_accepted(1, T).await.unwrap();
    assert_eq!(pool.violations(), []);

    let rows = sm.wait_for_shares().await;
    let row = &rows[0];
    assert_eq!(row["worker"], "farm.rig7");
    assert_eq!(row["pool"], "aleo");
    assert_eq!(row["algorithm"], "zksnark", "{row}");
    assert_eq!(row["verdict"], "accepted");
    let dps = sm.ctl_json(&["dataplane", "list"]).await;
    assert_eq!(dps.as_array().unwrap().len(), 1, "{dps}");
    assert_eq!(dps[0]["connected"], true, "{dps}");

    // SIGTERM: a clean stop.
    sm.stop().await;
}
