//! The real `dataplane` binary: `validate` names every problem (and the
//! listeners that will open), `start` serves miners from a config file and
//! stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_dataplane");

/// Kills the data plane if the test fails before stopping it.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn validate_accepts_the_example_and_names_every_problem_of_a_bad_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/dataplane.yaml");
    let ok = Command::new(BIN)
        .args(["validate", example])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(
        said.contains("listener: sha256 on 0.0.0.0:3333") && !said.contains("randomx"),
        "validate names the listeners that will open: {said}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "limits:\n  outbound_queue: 1\npools:\n  - name: a\n    url: \"nowhere\"\n    username: w\n").unwrap();
    let out = Command::new(BIN)
        .args(["validate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("limits.outbound_queue") && err.contains("pools[0] (\"a\").url"),
        "{err}"
    );
}

/// A pool that speaks just enough Stratum V1 for one connection.
fn tiny_pool(listener: TcpListener) {
    let (stream, _) = listener.accept().unwrap();
    let mut w = stream.try_clone().unwrap();
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let id = v["id"].clone();
        let answer = match v["method"].as_str() {
            Some("mining.configure") => {
                serde_json::json!({"id": id, "result": {"version-rolling": false}, "error": null})
            }
            Some("mining.subscribe") => {
                serde_json::json!({"id": id, "result": [[["mining.notify", "s1"]], "a0b1c2d3", 8], "error": null})
            }
            Some("mining.authorize") => {
                let ok = serde_json::json!({"id": id, "result": true, "error": null});
                let diff = serde_json::json!({"id": null, "method": "mining.set_difficulty", "params": [2]});
                let notify = serde_json::json!({"id": null, "method": "mining.notify", "params": [
                    "j1", "00".repeat(32), "01000000", "ffffffff", [], "20000000", "1d00ffff", "5f5e1000", true]});
                writeln!(w, "{ok}\n{diff}\n{notify}").unwrap();
                continue;
            }
            _ => continue,
        };
        writeln!(w, "{answer}").unwrap();
    }
}

#[test]
fn start_serves_a_miner_and_stops_on_sigterm() {
    let pool = TcpListener::bind("127.0.0.1:0").unwrap();
    let pool_addr = pool.local_addr().unwrap();
    std::thread::spawn(move || tiny_pool(pool));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("dp.yaml");
    let yaml = format!(
        "listeners:\n  sha256:\n    bind: \"127.0.0.1:0\"\n  randomx:\n    bind: \"127.0.0.1:0\"\n  zksnark:\n    bind: \"127.0.0.1:0\"\npools:\n  - name: tiny\n    url: \"stratum+tcp://{pool_addr}\"\n    username: acct\n    password: sekrit\n"
    );
    std::fs::write(&cfg, yaml).unwrap();
    let child = Command::new(BIN)
        .args(["start", "--foreground", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    // Stdout carries the address line for scripts; the logs go to stderr.
    let stdout = child.0.stdout.take().unwrap();
    let stderr = child.0.stderr.take().unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = addr_tx.send(line);
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line = addr_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the data plane prints its address");
        if let Some(a) = line.strip_prefix("dataplane listening for sha256 miners on ") {
            break a.trim().to_owned();
        }
    };
    // Each enabled algorithm's listener has its line.
    let rx_line = addr_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the data plane prints its randomx address");
    let rx_addr = rx_line
        .strip_prefix("dataplane listening for randomx miners on ")
        .unwrap_or_else(|| panic!("{rx_line}"));
    assert_ne!(rx_addr.trim(), addr, "a port per algorithm");
    TcpStream::connect(rx_addr.trim()).expect("the randomx listener accepts");
    let zk_line = addr_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the data plane prints its zksnark address");
    let zk_addr = zk_line
        .strip_prefix("dataplane listening for zksnark miners on ")
        .unwrap_or_else(|| panic!("{zk_line}"));
    assert!(zk_addr.trim() != addr && zk_addr.trim() != rx_addr.trim());
    TcpStream::connect(zk_addr.trim()).expect("the zksnark listener accepts");
    let miner = TcpStream::connect(&addr).unwrap();
    miner
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut w = miner.try_clone().unwrap();
    writeln!(
        w,
        r#"{{"id":1,"method":"mining.subscribe","params":["test"]}}"#
    )
    .unwrap();
    writeln!(
        w,
        r#"{{"id":2,"method":"mining.authorize","params":["wallet.rig","x"]}}"#
    )
    .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(miner).lines() {
        let line = line.expect("the miner is answered");
        seen.push(line.clone());
        if line.contains(r#""method":"mining.notify""#) {
            break;
        }
    }
    let sub = seen
        .iter()
        .find(|l| l.starts_with(r#"{"id":1,"#))
        .expect("subscribe answered");
    let sub: serde_json::Value = serde_json::from_str(sub).unwrap();
    assert_eq!(
        sub["result"][2], 4,
        "miners get a 4-byte extranonce2: {seen:?}"
    );
    let notify = seen.last().unwrap();
    assert!(
        notify.contains("01000000a0b1c2d3"),
        "the pool's extranonce1 is folded into coinb1: {notify}"
    );
    let diff_at = seen.iter().position(|l| l.contains("set_difficulty"));
    assert!(
        diff_at.is_some() && diff_at < Some(seen.len() - 1),
        "{seen:?}"
    );

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push(line);
    }
    assert!(
        log.iter().any(|l| l.contains("listening for miners")),
        "the logs were read: {log:?}"
    );
    assert!(
        !log.join("\n").contains("sekrit"),
        "the pool password never appears in logs"
    );
}
