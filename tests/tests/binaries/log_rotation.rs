//! The seed's `logging:` rotation and retention through the real binary: a
//! control plane (with its embedded data plane) logging at DEBUG into a file
//! that rotates at 2 KB keeps the live file and two rotated ones, none much
//! larger than 2 KB, each line one JSON object.

use std::time::Duration;

use switchyard_tests::single::SingleMachine;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_log_file_rotates_by_size_and_keeps_only_its_retention() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = pool.addr().port();
    let yaml = format!(
        r#"
controlplane:
  timezone: "UTC"
logging:
  level: DEBUG
  rotation: "2 KB"
  retention: 2
  format: json
proxy:
  sha256: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 0 }}
servers:
  sha256:
    - {{ name: main, host: "127.0.0.1", port: {port}, username: "farm.main", password: "x", start: "00:00", end: "24:00" }}
"#
    );
    let sm = SingleMachine::start(dir.path(), &yaml, &["sha256"]).await;
    let mut m = ScriptedMiner::ready(sm.miners("sha256"), "cgminer", "farm.rig7")
        .await
        .unwrap();
    for _ in 0..5 {
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
    }
    pool.wait_for_accepted(5, T).await.unwrap();
    sm.wait_for_shares().await;
    sm.stop().await;

    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cp.log"))
        .collect();
    names.sort();
    // A start at DEBUG writes far more than 3 x 2 KB: it rotated, and only
    // two old files are left.
    assert_eq!(names, ["cp.log", "cp.log.1", "cp.log.2"]);
    for name in &names {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        // BytesSurpassed: a file ends with the event that took it past 2 KB.
        let longest = text.lines().map(str::len).max().unwrap_or(0);
        assert!(
            text.len() <= 2_000 + longest + 1,
            "{name}: {} bytes",
            text.len()
        );
        if name != "cp.log" {
            assert!(!text.is_empty(), "{name} is empty");
        }
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: not one JSON object a line ({e}): {line}"));
            assert!(
                v.get("level").is_some() && v.get("fields").is_some(),
                "{line}"
            );
        }
    }
}
