//! Single-machine mode for RandomX miners through the real binary: with only
//! `proxy.randomx` enabled, `controlplane start --foreground` still runs its
//! embedded data plane, prints the RandomX listener's address, and an
//! xmrig-style miner mines through it to a scripted RandomX pool; the share
//! shows up in `ctl shares` under algorithm randomx.

use std::process::Stdio;
use std::time::Duration;

use switchyard_stratum::randomx::reply_status;
use switchyard_tests::cp::{bin, ctl_raw};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_embedded_data_plane_serves_randomx_miners_alone() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let port = pool.addr().port();
    std::fs::write(
        &config,
        format!(
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
        ),
    )
    .unwrap();
    let mut child = Command::new(bin("controlplane"))
        .args([
            "start",
            "--foreground",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config)
        .arg("--pid-file")
        .arg(dir.path().join("cp.pid"))
        .arg("--log-file")
        .arg(dir.path().join("cp.log"))
        .env("TZ", "UTC")
        .env_remove("SWITCHYARD_CLOCK_OFFSET_MS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut cp_addr, mut miners_addr) = (None, None);
    while cp_addr.is_none() || miners_addr.is_none() {
        let line = tokio::time::timeout(T, lines.next_line())
            .await
            .expect("startup lines")
            .unwrap()
            .expect("a line");
        if let Some(a) = line.strip_prefix("controlplane listening on ") {
            cp_addr = Some(a.to_string());
        }
        assert!(!line.contains("for sha256 miners"), "sha256 is off: {line}");
        if let Some(a) = line.strip_prefix("dataplane listening for randomx miners on ") {
            miners_addr = Some(a.parse::<std::net::SocketAddr>().unwrap());
        }
    }

    let mut m = RxMiner::ready(miners_addr.unwrap(), "farm.rig7")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    assert_eq!(pool.logins(), ["farm.xmr"]);
    pool.wait_for_accepted(1, T).await.unwrap();

    let endpoint = format!("http://{}", cp_addr.unwrap());
    let token_file = format!("{}", dir.path().join("switchyard.db.admin-token").display());
    let ctl = |args: Vec<&str>| {
        let mut all = vec![
            "--endpoint",
            endpoint.as_str(),
            "--token-file",
            token_file.as_str(),
            "-o",
            "json",
        ];
        all.extend(args);
        all.into_iter().map(String::from).collect::<Vec<_>>()
    };
    // The event travels data plane -> spool -> control plane: poll, bounded.
    let deadline = tokio::time::Instant::now() + T;
    let rows = loop {
        let args = ctl(vec!["shares"]);
        let out = ctl_raw(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]).await;
        let rows = out.json();
        if rows.as_array().is_some_and(|r| !r.is_empty()) {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the share reaches the history"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let row = &rows[0];
    assert_eq!(row["worker"], "farm.rig7");
    assert_eq!(row["pool"], "xmr");
    assert_eq!(row["algorithm"], "randomx", "{row}");
    assert_eq!(row["verdict"], "accepted");
    let args = ctl(vec!["dataplane", "list"]);
    let dps = ctl_raw(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
        .await
        .json();
    assert_eq!(dps.as_array().unwrap().len(), 1, "{dps}");
    assert_eq!(dps[0]["connected"], true, "{dps}");

    // SIGTERM: a clean stop.
    let pid = child.id().unwrap() as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = tokio::time::timeout(T, child.wait())
        .await
        .expect("it stops")
        .unwrap();
    assert!(status.success(), "{status}");
}
