//! No share lost to a SIGKILL (issue 16 item 3): the real `dataplane`
//! binary is killed with SIGKILL under load 20 times, each at a random
//! moment while miners submit, and restarted on the same state directory
//! (its spool). Every share a miner saw answered is then in the control
//! plane's ledger, and no share is in it twice (each worker name is used in
//! one round only, so a worker's stored shares can be neither fewer than
//! its answered ones nor more than its submitted ones).
//! Unix only: the kill is a signal.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use switchyard_stratum::Request;
use switchyard_tests::cp::ControlPlane;
use switchyard_tests::dp_process::{kill, spawn, stop};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};
use tokio::sync::watch;

const T: Duration = Duration::from_secs(60);
const ROUNDS: usize = 20;
const MINERS: usize = 4;

/// What one miner did: shares sent, shares answered (either verdict).
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    submitted: u64,
    answered: u64,
}

/// Submits pipelined this many at a time.
const BURST: u64 = 25;

/// Mines one real share and submits it again and again (the first is the
/// pool's to judge, the rest duplicates the proxy refuses: the highest rate
/// a debug-built miner can keep up) until the connection dies; `first` is
/// told after the first answer. Every submit is a share event.
async fn mine(addr: SocketAddr, worker: String, first: watch::Sender<bool>) -> (String, Tally) {
    let mut t = Tally::default();
    let Ok(mut m) = ScriptedMiner::ready(addr, "cgminer", &worker).await else {
        return (worker, t);
    };
    let Ok(share) = m.find_share().await else {
        return (worker, t);
    };
    'mining: loop {
        let ids: Vec<Value> = (0..BURST)
            .map(|k| json!(1_000_000 + t.submitted + k))
            .collect();
        let mut lines = Vec::new();
        for id in &ids {
            lines.extend(Request::new(id.clone(), "mining.submit", share.to_params()).to_line());
        }
        t.submitted += BURST;
        if m.send_raw(&lines).await.is_err() {
            break;
        }
        for id in &ids {
            if m.wait_response(id).await.is_err() {
                break 'mining;
            }
            t.answered += 1;
            first.send_replace(true);
        }
    }
    (worker, t)
}

/// Shares in the ledger per worker.
async fn ledger(cp: &ControlPlane) -> BTreeMap<String, u64> {
    let out = cp
        .ctl(&[
            "-o", "json", "shares", "--since", "30d", "--limit", "100000",
        ])
        .await;
    let rows = out.json();
    let rows = rows.as_array().expect("a list of shares");
    assert!(rows.len() < 100_000, "more shares than one query lists");
    let mut n = BTreeMap::new();
    for row in rows {
        let w = row["worker"].as_str().expect("a worker").to_string();
        *n.entry(w).or_insert(0) += 1;
    }
    n
}

#[tokio::test]
async fn sigkill_of_the_data_plane_under_load_never_loses_an_answered_share() {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let yaml = format!(
        "controlplane:\n  timezone: \"UTC\"\nservers:\n  sha256:\n    - {{ name: main, host: \"127.0.0.1\", port: {}, username: \"farm.main\", password: \"x\", start: \"00:00\", end: \"24:00\" }}\n",
        pool.addr().port()
    );
    let mut cp = ControlPlane::start_with(&yaml, "UTC").await;
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

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for round in 0..ROUNDS {
        let (mut dp, addr) = spawn(&dp_config, &[]).await;
        let (first, mut answered) = watch::channel(false);
        let miners: Vec<_> = (0..MINERS)
            .map(|i| tokio::spawn(mine(addr, format!("farm.r{round}m{i}"), first.clone())))
            .collect();
        drop(first);
        // Under load: after the first answer, a random moment.
        tokio::time::timeout(T, answered.wait_for(|a| *a))
            .await
            .expect("a share answered")
            .expect("a miner answered");
        let at = rand::rng().random_range(0..300);
        tokio::time::sleep(Duration::from_millis(at)).await;
        kill(&mut dp).await;
        for m in miners {
            let (w, t) = tokio::time::timeout(T, m)
                .await
                .expect("miner ends")
                .unwrap();
            tallies.insert(w, t);
        }
    }
    let answered: u64 = tallies.values().map(|t| t.answered).sum();
    let submitted: u64 = tallies.values().map(|t| t.submitted).sum();
    println!("{ROUNDS} SIGKILLs: {submitted} shares submitted, {answered} answered");
    assert!(
        answered >= (ROUNDS * MINERS) as u64,
        "under load: {answered} shares answered in {ROUNDS} rounds"
    );

    // A last start ships what the last SIGKILL left in the spool.
    let (mut dp, _) = spawn(&dp_config, &[]).await;
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let stored = ledger(&cp).await;
        for (w, t) in &tallies {
            let n = stored.get(w).copied().unwrap_or(0);
            assert!(n <= t.submitted, "{w}: {n} stored of {t:?}: a share twice");
        }
        let missing: Vec<_> = tallies
            .iter()
            .filter(|(w, t)| stored.get(*w).copied().unwrap_or(0) < t.answered)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "answered shares missing from the ledger: {missing:?} (stored {stored:?})"
        );
        // No notification exists for "stored": poll, bounded.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(&mut dp).await;
    cp.stop().await;
}
