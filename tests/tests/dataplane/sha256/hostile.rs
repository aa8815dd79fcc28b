//! Hostile devices on the LAN (issue 16 item 4), through the real data
//! plane with the farm's network allow-listed (as in single-machine mode):
//! thousands of connections that never finish their handshake, slow-drip
//! lines, floods of garbage, deeply nested JSON, huge numbers and hostile
//! worker names. Each gets a clear error or a close; miners past their
//! handshake keep mining throughout. Several hosts are played from
//! different loopback addresses (127.0.x.y).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use switchyard_stratum::{Response, codes};
use switchyard_tests::dp::with_one_pool;
use switchyard_tests::raw::Raw;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(30);
const AGENT: &str = "cgminer/4.11.1";

fn host(c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, c, d))
}

/// Mines until `stop`, counting shares the pool accepted; any other answer
/// or error fails the test.
fn keep_mining(
    p: Arc<ScriptedPool>,
    mut m: ScriptedMiner,
    stop: Arc<AtomicBool>,
    mined: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Relaxed) {
            let share = m.find_share().await.expect("a job to mine");
            let r = m.submit(&share).await.expect("an answer");
            assert!(
                r.is_ok(),
                "an honest miner's share during the attack: {r:?}"
            );
            mined.fetch_add(1, Relaxed);
        }
        drop(p);
    })
}

fn error_text(r: &Response) -> String {
    r.error_parts()
        .unwrap_or_else(|| panic!("an error answer, got {r:?}"))
        .1
}

#[tokio::test]
async fn ten_thousand_silent_connections_from_the_lan_do_not_lock_miners_out() {
    let (p, dp, addr) = with_one_pool(PoolConfig::default(), |c| {
        // The single-machine listener's size; the LAN is allow-listed.
        if let Some(l) = c.listeners.sha256.first_mut() {
            l.max_connections = 1024;
        }
    })
    .await;
    let p = Arc::new(p);
    let (stop, mined) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let before = ScriptedMiner::ready(addr, AGENT, "wallet.before")
        .await
        .unwrap();
    let miner = keep_mining(p.clone(), before, stop.clone(), mined.clone());

    // 10,000 connections that never say a word, from 40 hosts (250 each:
    // under the per-address cap, so only the listener's size stops them).
    let mut silent = Vec::new();
    for i in 0..10_000u32 {
        let from = host(1, (i % 40) as u8 + 1);
        match Raw::connect_from(addr, from).await {
            Ok(c) => silent.push(c),
            Err(e) => panic!("connect {i} from {from}: {e}"),
        }
    }
    let evicted = dp.listener_stats.evicted.load(Relaxed);
    assert!(
        evicted >= 10_000 - 1024,
        "a full listener closes its oldest unfinished handshakes: {evicted} closed"
    );
    // Miners arriving during the attack get in and mine: 50 at once from
    // one address (a farm behind a NAT coming back), whose connections are
    // the youngest of the unfinished handshakes, not the first closed.
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..50 {
        burst.spawn(
            async move { ScriptedMiner::ready(addr, AGENT, &format!("wallet.nat{i}")).await },
        );
    }
    let mut arrived = Vec::new();
    while let Some(m) = burst.join_next().await {
        arrived.push(
            m.unwrap()
                .expect("a miner of the burst finishes its handshake"),
        );
    }
    for m in &mut arrived[..3] {
        let share = m.find_share().await.unwrap();
        assert!(m.submit(&share).await.unwrap().is_ok());
    }
    // The miner connected before was never closed and kept mining.
    let during = mined.load(Relaxed);
    assert!(during > 0, "the connected miner mined during the attack");
    stop.store(true, Relaxed);
    miner.await.unwrap();
    drop(silent);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unfinished_handshakes_are_capped_per_address_even_on_the_allow_list() {
    let (_p, dp, addr) = with_one_pool(PoolConfig::default(), |c| {
        c.limits.max_pending_per_ip = 5;
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(Raw::connect_from(addr, host(2, 1)).await.unwrap());
    }
    // The sixth from that host is closed at once...
    let mut sixth = Raw::connect_from(addr, host(2, 1)).await.unwrap();
    sixth.expect_closed_at_once().await;
    // ...while the five are served as soon as they speak.
    silent[0]
        .send(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"x\"]}\n")
        .await;
    assert!(silent[0].answer().await.is_ok());
    // Another host of the LAN is not affected.
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.other")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    assert!(dp.listener_stats.refused.load(Relaxed) >= 1);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn protocol_errors_in_a_row_disconnect_and_a_good_request_resets_the_count() {
    let (_p, dp, addr) = with_one_pool(PoolConfig::default(), |_| {}).await;
    let mut c = Raw::connect(addr).await;
    let good = b"{\"id\":7,\"method\":\"mining.suggest_difficulty\",\"params\":[1]}\n";
    for round in 0..2 {
        for _ in 0..9 {
            c.send(b"this is not json\n").await;
            assert!(error_text(&c.answer().await).contains("Invalid message"));
        }
        if round == 0 {
            c.send(good).await;
            assert!(c.answer().await.is_ok(), "still connected after 9");
        }
    }
    // The tenth in a row: answered, then closed.
    c.send(b"{\"id\":1,\"method\":\"mining.submit\",\"params\":\"nope\"}\n")
        .await;
    let r = c.answer().await;
    assert!(r.error_parts().is_some(), "{r:?}");
    c.expect_closed().await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_slow_drip_line_is_closed_at_the_handshake_timeout_and_costs_no_one_else() {
    let (p, dp, addr) = with_one_pool(PoolConfig::default(), |c| {
        c.limits.handshake_timeout = 1.0;
    })
    .await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let mut drip = Raw::connect(addr).await;
    let closed = async {
        // One byte at a time, never a newline: a slowloris.
        for b in b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":["
            .iter()
            .cycle()
        {
            if drip.try_send(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(T, closed)
        .await
        .expect("closed by the data plane");
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    drop(p);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn nested_json_huge_numbers_and_hostile_worker_names_get_clear_errors() {
    let (_p, dp, addr) = with_one_pool(PoolConfig::default(), |_| {}).await;
    let mut c = Raw::connect(addr).await;
    // 30,000 levels of nesting (within the 64 KiB line limit).
    let mut nested = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":".to_vec();
    nested.extend(std::iter::repeat_n(b'[', 30_000));
    nested.extend(std::iter::repeat_n(b']', 30_000));
    nested.extend(b"}\n");
    c.send(&nested).await;
    assert!(error_text(&c.answer().await).contains("Invalid message"));
    // Numbers beyond any type.
    let huge = format!(
        "{{\"id\":1e999999,\"method\":\"mining.suggest_difficulty\",\"params\":[{}]}}\n",
        "9".repeat(5000)
    );
    c.send(huge.as_bytes()).await;
    assert!(c.answer().await.error_parts().is_some());
    c.send(b"{\"id\":2,\"method\":\"mining.suggest_difficulty\",\"params\":[1e400]}\n")
        .await;
    let _ = c.answer().await; // an answer, either way: no panic, no hang
    c.send(b"{\"id\":3,\"method\":\"mining.subscribe\",\"params\":[\"x\"]}\n")
        .await;
    assert!(c.answer().await.is_ok());
    // Worker names: a newline (a forged log line), an escape sequence, 10 KB.
    for (name, why) in [
        ("wallet.rig\n2026-12-07 ERROR forged", "control characters"),
        ("wallet.\u{1b}[31mred", "control characters"),
        (&*"w".repeat(10 * 1024), "too long"),
    ] {
        let line =
            serde_json::json!({"id": 4, "method": "mining.authorize", "params": [name, "x"]});
        c.send(format!("{line}\n").as_bytes()).await;
        let r = c.answer().await;
        let (code, text) = r.error_parts().expect("refused");
        assert_eq!(code, Some(codes::UNAUTHORIZED), "{text}");
        assert!(text.contains(why), "{text}");
    }
    // SQL in a name is just a name (stored with bound parameters).
    let line = serde_json::json!({"id": 5, "method": "mining.authorize",
        "params": ["wallet.x'); DROP TABLE share_events; --", "x"]});
    c.send(format!("{line}\n").as_bytes()).await;
    assert!(c.answer().await.is_ok());
    dp.shutdown(Duration::from_secs(2)).await;
}
