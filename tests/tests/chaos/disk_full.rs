//! The spool's disk full: the data plane's state directory is a small tmpfs
//! and its control-plane link is cut, so the spool grows until writes fail
//! with ENOSPC. Mining goes on (every share answered and accepted), the
//! lost events are counted (`/status` spool.lost, the
//! `switchyard_share_events_lost_total{cause="disk_error"}` metric) and
//! logged at error; when the link returns the spool drains, and the ledger
//! holds exactly the answered shares less the counted losses; and (the
//! second test) new events are spooled again once the disk has room.

use std::time::Duration;

use switchyard_tests::http::sample_sum;
use switchyard_tests::netns::lab_or_skip;

use crate::common::*;

fn one_pool(ips: &[std::net::Ipv4Addr]) -> String {
    format!(
        "    - {{ name: main, host: \"{}\", port: {STRATUM}, username: \"farm.main\", password: \"x\", start: \"00:00\", end: \"24:00\" }}\n",
        ips[0]
    )
}

fn lost(status: &serde_json::Value) -> u64 {
    status["spool"]["lost"].as_u64().unwrap_or(0)
}

/// `spool_max_bytes` at its minimum (1 MiB): 128 KiB segments, so the
/// spool has closed segments to delete on this small disk.
const SPOOL: &str = "  spool_max_bytes: 1048576\n";

#[tokio::test]
async fn a_full_spool_disk_loses_counted_events_and_nothing_else() {
    disk_full("a_full_spool_disk", false).await;
}

/// Once the link returns and every event is acknowledged, the spool
/// deletes the acknowledged segments and new events are spooled again.
/// (It failed before 8798f20: the cursor file's write, ENOSPC, came first,
/// so the segments stayed and every new event was lost until a restart.)
#[tokio::test]
async fn a_full_spool_disk_recovers_once_the_events_are_acknowledged() {
    disk_full("a_full_spool_disk_recovers", true).await;
}

async fn disk_full(test: &str, check_recovery: bool) {
    let Some(mut lab) = lab_or_skip(test) else {
        return;
    };
    let state_parent = tempfile::tempdir().unwrap();
    let state = state_parent.path().join("state");
    lab.tmpfs(&state, "160k");
    let state_dir = state.clone();
    let s = Linked::start(
        lab,
        &["a"],
        "timezone: \"UTC\"",
        one_pool,
        Some(state),
        SPOOL,
        &[],
    )
    .await;
    let pool = &s.pools[0];
    let work = Workload::start(miners(s.dp().miners).await);
    work.wait_for(30, T).await;
    until("the first shares stored", T, || async {
        s.cp.shares(&s.lab).await.filter(|r| !r.is_empty())
    })
    .await;

    // The link is cut: the spool grows until the tmpfs is full.
    s.lab.blackhole("dp", s.cp_ip);
    let first_lost = until(
        "events lost to the full disk",
        Duration::from_secs(120),
        || async {
            let st = s.dp().status().await;
            (lost(&st) > 0).then_some(st)
        },
    )
    .await;
    eprintln!(
        "disk full after {} answered shares: spool {}",
        work.count(),
        first_lost["spool"]
    );
    // Mining goes on while events are lost.
    let (n, accepted) = (work.count(), pool.accepted());
    work.wait_for(n + 60, T).await;
    assert!(pool.accepted() > accepted, "the pool gets shares");
    let st = s.dp().status().await;
    assert!(
        lost(&st) > lost(&first_lost),
        "losses are counted as they happen"
    );
    let metrics = s.dp().metrics().await;
    let disk_error = sample_sum(
        &metrics,
        "switchyard_share_events_lost_total",
        &[("cause", "disk_error")],
    );
    let log = s.dp().log_text();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("panic"))
        .take(20)
        .collect();
    eprintln!("disk full: the data plane's errors:\n{}", errors.join("\n"));
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("events_lost"))
        .collect();
    eprintln!("disk full: {}", lines.join("; "));
    assert!(
        disk_error > 0.0,
        "no disk_error losses in /metrics: {lines:?}"
    );
    assert!(
        log.contains("share events LOST: cannot write the spool"),
        "the loss is logged at error:\n{log}"
    );

    // The link returns: the spool drains and takes events again.
    s.lab.nft_clear("dp");
    until("the spool drains", Duration::from_secs(240), || async {
        let st = s.dp().status().await;
        (st["spool"]["events"].as_u64() == Some(0)).then_some(())
    })
    .await;
    let lost_after_drain = lost(&s.dp().status().await);
    // What holds the disk now: the spool's files, and files it deleted but
    // keeps open.
    let files: Vec<String> = std::fs::read_dir(state_dir.join("spool"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.file_name().to_string_lossy(),
                        e.metadata().map_or(0, |m| m.len())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let open_deleted: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", s.dp().pid))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .filter(|p| p.contains("(deleted)"))
                .collect()
        })
        .unwrap_or_default();
    let df = std::process::Command::new("df")
        .args(["-k", &state_dir.display().to_string()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    eprintln!(
        "disk full: after the drain, spool files {files:?}; open deleted files {open_deleted:?}; {}",
        df.lines().last().unwrap_or_default()
    );
    let n = work.count();
    work.wait_for(n + 30, T).await;
    let (answers, _miners) = work.finish().await;
    assert!(answers.iter().all(|a| a.2), "every share was accepted");
    let status = s.dp().status().await;
    let lost_total = lost(&status);
    if check_recovery {
        assert_eq!(
            lost_total, lost_after_drain,
            "no loss once the disk has room"
        );
    }
    // Every answered share is in the ledger or counted lost.
    let want = answers.len() as u64 - lost_total;
    let rows = until(
        "the ledger holds the answered shares less the lost ones",
        T,
        || async {
            let rows = s.cp.shares(&s.lab).await.unwrap_or_default();
            assert!(
                rows.len() as u64 <= want,
                "{} stored, {want} expected",
                rows.len()
            );
            (rows.len() as u64 == want).then_some(rows)
        },
    )
    .await;
    eprintln!(
        "disk full: {} answered, {lost_total} lost (counted; {lost_after_drain} by the drain), {} in the ledger",
        answers.len(),
        rows.len()
    );
    let mut dp = s.dp;
    assert!(dp.as_mut().unwrap().running());
}
