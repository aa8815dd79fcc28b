//! Single-machine mode through the real binary (the README's run command):
//! `controlplane start --foreground` runs the control plane and a data plane
//! for the default site in one process. A miner mines through it to a
//! scripted pool, and the share shows up in `ctl shares` and `ctl stats`.

use std::time::Duration;

use switchyard_tests::single::{SingleMachine, sha256_yaml};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_control_plane_runs_an_embedded_data_plane_that_miners_mine_through() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = sha256_yaml(pool.addr().port(), "");
    let sm = SingleMachine::start(dir.path(), &yaml, &["sha256"]).await;

    let mut m = ScriptedMiner::ready(sm.miners("sha256"), "cgminer", "farm.rig7")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    pool.wait_for_accepted(1, T).await.unwrap();

    let rows = sm.wait_for_shares().await;
    let row = &rows[0];
    assert_eq!(row["worker"], "farm.rig7");
    assert_eq!(row["pool"], "main");
    assert_eq!(row["verdict"], "accepted");
    let dps = sm.ctl_json(&["dataplane", "list"]).await;
    assert_eq!(dps.as_array().unwrap().len(), 1, "{dps}");
    assert_eq!(dps[0]["connected"], true, "{dps}");

    // SIGTERM: a clean stop.
    sm.stop().await;
}
