//! Single-machine mode for ALEO miners through the real binary: with only
//! `proxy.zksnark` enabled, `controlplane start --foreground` still runs its
//! embedded data plane, prints the zksnark listener's address, and an
//! AleoStratum/3.0.0 miner mines through it to a scripted ALEO pool (dialect
//! detected: plans carry none); the share shows up in `ctl shares` under
//! algorithm zksnark.

use std::process::Stdio;
use std::time::Duration;

use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_tests::cp::{bin, ctl_raw};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_embedded_data_plane_serves_aleo_miners_alone() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
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
  zksnark: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 0 }}
servers:
  zksnark:
    - {{ name: aleo, host: "127.0.0.1", port: {port}, username: "farm.aleo", password: "x", start: "00:00", end: "24:00" }}
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
        assert!(
            !line.contains("for randomx miners"),
            "randomx is off: {line}"
        );
        if let Some(a) = line.strip_prefix("dataplane listening for zksnark miners on ") {
            miners_addr = Some(a.parse::<std::net::SocketAddr>().unwrap());
        }
    }

    let mut m = AleoMiner::ready(miners_addr.unwrap(), Dialect::AleoStratum3, "farm.rig7")
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
    assert_eq!(row["pool"], "aleo");
    assert_eq!(row["algorithm"], "zksnark", "{row}");
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
