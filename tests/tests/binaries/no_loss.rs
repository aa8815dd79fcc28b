//! Share history with no loss: the control plane (the real binary) is
//! SIGKILLed while miners submit, and a data plane is restarted while the
//! control plane is down; after the control plane is back, every share the
//! miners submitted is in its database exactly once.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use switchyard_tests::cp::{bin, ctl_raw};
use switchyard_tests::linked::linked_dataplane;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const T: Duration = Duration::from_secs(60);

async fn start_cp(dir: &Path, listen: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(bin("controlplane"))
        .args([
            "start",
            "--foreground",
            "--no-dataplane",
            "--listen",
            listen,
            "--config",
        ])
        .arg(dir.join("config.yaml"))
        .arg("--pid-file")
        .arg(dir.join("cp.pid"))
        .arg("--log-file")
        .arg(dir.join("cp.log"))
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(T, lines.next_line())
            .await
            .expect("startup")
            .unwrap()
            .expect("a line");
        if let Some(a) = line.strip_prefix("controlplane listening on ") {
            return (child, a.parse().unwrap());
        }
    }
}

/// Mines and submits `n` shares per miner; returns how many were answered.
async fn submit(miners: &mut [ScriptedMiner], n: usize) -> usize {
    let mut answered = 0;
    for _ in 0..n {
        for m in miners.iter_mut() {
            let share = m.find_share().await.unwrap();
            m.submit(&share).await.unwrap();
            answered += 1;
        }
    }
    answered
}

/// Shares the control plane has stored, per `ctl stats` (accepted + rejected).
async fn stored(dir: &Path, cp: SocketAddr) -> u64 {
    let endpoint = format!("http://{cp}");
    let token = dir.join("switchyard.db.admin-token").display().to_string();
    let out = ctl_raw(
        &[
            "--endpoint",
            &endpoint,
            "--token-file",
            &token,
            "-o",
            "json",
            "stats",
            "--since",
            "30d",
        ],
        &[],
    )
    .await;
    if out.code != 0 {
        return 0;
    }
    out.json()
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| r["accepted"].as_u64().unwrap_or(0) + r["rejected"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

async fn wait_stored(dir: &Path, cp: SocketAddr, want: u64) {
    // No notification exists for "stored": poll, bounded.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let n = stored(dir, cp).await;
        assert!(
            n <= want,
            "{n} stored for {want} submitted: a share counted twice"
        );
        if n == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} of {want} shares stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_share_is_stored_exactly_once_across_a_sigkill_and_a_data_plane_restart() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("config.yaml"),
        format!(
            "controlplane:\n  timezone: \"UTC\"\nservers:\n  sha256:\n    - {{ name: main, host: \"127.0.0.1\", port: {}, username: \"farm.main\", password: \"x\", start: \"00:00\", end: \"24:00\" }}\n",
            pool.addr().port()
        ),
    )
    .unwrap();
    let (mut cp, addr) = start_cp(d, "127.0.0.1:0").await;
    let dp = linked_dataplane(d, addr, "default").await;
    let miners_addr = dp.sha256_addr().unwrap();
    let mut miners = Vec::new();
    for i in 0..3 {
        miners.push(
            ScriptedMiner::ready(miners_addr, "cgminer", &format!("farm.rig{i}"))
                .await
                .unwrap(),
        );
    }
    let mut total = submit(&mut miners, 5).await as u64;
    wait_stored(d, addr, total).await;

    // SIGKILL the control plane mid-run; the miners keep submitting.
    cp.start_kill().unwrap();
    cp.wait().await.unwrap();
    total += submit(&mut miners, 5).await as u64;

    // The data plane restarts while the control plane is down: its spool
    // survives on disk. Miners reconnect to the new data plane.
    dp.shutdown(Duration::from_secs(2)).await;
    drop(miners);
    let dp = linked_dataplane(d, addr, "default").await;
    let miners_addr = dp.sha256_addr().unwrap();
    let mut miners = Vec::new();
    for i in 0..3 {
        miners.push(
            ScriptedMiner::ready(miners_addr, "cgminer", &format!("farm.rig{i}"))
                .await
                .unwrap(),
        );
    }
    total += submit(&mut miners, 3).await as u64;

    // The control plane comes back on the same address and database.
    let (_cp, addr2) = start_cp(d, &addr.to_string()).await;
    assert_eq!(addr2, addr);
    total += submit(&mut miners, 2).await as u64;
    wait_stored(d, addr, total).await;
    assert_eq!(total, 3 * (5 + 5 + 3 + 2));
    dp.shutdown(Duration::from_secs(2)).await;
}
