//! Bad input through the real data plane: each gets a clear error (or a
//! closed connection) and nothing else is disturbed: a well-behaved miner on
//! the same data plane keeps mining shares the pool accepts. Lines that are
//! not requests are answered the same for every algorithm
//! (`every_algorithm/bad_input.rs`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::Config;
use switchyard_stratum::{Response, codes};
use switchyard_tests::dp::with_one_pool;
use switchyard_tests::raw::Raw;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};

const T: Duration = Duration::from_secs(20);
const AGENT: &str = "cgminer/4.11.1";

/// A scripted pool and a data plane in front of it, with `tweak` applied to
/// the test config.
async fn setup(tweak: impl FnOnce(&mut Config)) -> (ScriptedPool, DataPlane, SocketAddr) {
    with_one_pool(PoolConfig::default(), tweak).await
}

/// The well-behaved miner still mines: a fresh share of it is accepted by the pool.
async fn still_mines(p: &ScriptedPool, m: &mut ScriptedMiner) {
    let before = p.accepted();
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert!(r.is_ok(), "the well-behaved miner's share: {r:?}");
    p.wait_for_accepted(before + 1, T).await.unwrap();
}

fn error_of(r: &Response) -> (Option<i64>, String) {
    r.error_parts()
        .unwrap_or_else(|| panic!("an error answer, got {r:?}"))
}

fn subscribe_line() -> Vec<u8> {
    b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"raw\"]}\n".to_vec()
}

#[tokio::test]
async fn an_oversized_line_gets_an_error_naming_the_limit_and_a_close() {
    let (p, dp, addr) = setup(|c| c.limits.max_line_length = 4096).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    for newline in [false, true] {
        let mut raw = Raw::connect(addr).await;
        let mut line = vec![b'x'; 10 * 1024];
        if newline {
            line.push(b'\n');
        }
        raw.send(&line).await;
        let r = raw.answer().await;
        let (code, text) = error_of(&r);
        assert_eq!(code, Some(codes::OTHER), "{r:?}");
        assert!(text.contains("4096"), "the answer names the limit: {text}");
        raw.expect_closed().await;
    }
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_oversized_line_after_a_short_one_gets_an_error_naming_the_limit_and_a_close() {
    // Once `mining.subscribe` (65 bytes) is split off the buffer, the buffer
    // is full at 4096 - 65 bytes and `len.clamp(512, max - len)` panics: the
    // session task dies without an answer and without `finish` (its
    // extranonce prefix is never released). The same happens at the default
    // 64 KiB limit; pool connections use the same reader (1 MiB bound).
    let (p, dp, addr) = setup(|c| c.limits.max_line_length = 4096).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    m.subscribe(AGENT).await.unwrap();
    let padding = "a".repeat(10 * 1024);
    let line = format!(r#"{{"id":9,"method":"mining.authorize","params":["{padding}","x"]}}"#);
    m.send_raw(line.as_bytes()).await.unwrap();
    let r = m.wait_response(&Value::Null).await.unwrap();
    let (code, text) = error_of(&r);
    assert_eq!(code, Some(codes::OTHER), "{r:?}");
    assert!(text.contains("4096"), "the answer names the limit: {text}");
    m.expect_closed(T).await.unwrap();
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_unknown_method_is_refused_before_authorize_and_relayed_after() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    m.subscribe(AGENT).await.unwrap();
    let r = m.request("foo.bar", json!([1])).await.unwrap();
    let (code, text) = error_of(&r);
    assert_eq!(code, Some(codes::OTHER), "{r:?}");
    assert!(
        text.contains("foo.bar") && text.contains("authorize"),
        "a clear error: {text}"
    );
    assert!(
        p.requests().iter().all(|(_, q)| q.method != "foo.bar"),
        "nothing is relayed before authorize"
    );

    assert!(m.authorize("wallet.curious", "x").await.unwrap());
    m.wait_for_job().await.unwrap();
    for (id, method) in [
        (json!("caps-7"), "mining.capabilities"),
        (json!(77), "foo.bar"),
    ] {
        m.send_request_with_id(id.clone(), method, json!([{"notify": []}]))
            .await
            .unwrap();
        let r = m.wait_response(&id).await.unwrap();
        assert_eq!(r.id, id);
        // The scripted pool answers methods it does not know with 20.
        assert_eq!(
            r.error_parts(),
            Some((Some(codes::OTHER), "Unknown method".into())),
            "the pool's own answer comes back: {r:?}"
        );
        let at_pool: Vec<Value> = p
            .requests()
            .iter()
            .filter(|(_, q)| q.method == method)
            .map(|(_, q)| q.id.clone())
            .collect();
        assert_eq!(at_pool.len(), 1, "{method} relayed once");
        assert!(
            at_pool[0].is_u64(),
            "relayed with the proxy's own id, not the miner's: {at_pool:?}"
        );
    }
    still_mines(&p, &mut m).await;
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

/// One miner cannot flood the shared pool connection with unknown
/// methods (SECURITY.md F8): a burst of 10 is relayed, the rest refused
/// with a clear error until the budget refills; it and others mine on.
#[tokio::test]
async fn a_miners_relayed_methods_are_rate_limited() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.chatty")
        .await
        .unwrap();
    let mut refused = 0;
    for i in 0..15u64 {
        let id = json!(1000 + i);
        m.send_request_with_id(id.clone(), "foo.flood", json!([i]))
            .await
            .unwrap();
        let r = m.wait_response(&id).await.unwrap();
        let (_, text) = error_of(&r);
        if text.contains("Too many requests") {
            assert!(text.contains("a minute per miner"), "{text}");
            refused += 1;
        }
    }
    assert_eq!(refused, 5, "10 relayed, 5 refused");
    let relayed = p
        .requests()
        .iter()
        .filter(|(_, q)| q.method == "foo.flood")
        .count();
    assert_eq!(relayed, 10, "the pool saw the burst only");
    still_mines(&p, &mut m).await;
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

/// A ready miner and a real share of it, not submitted.
async fn miner_with_share(addr: SocketAddr) -> (ScriptedMiner, switchyard_stratum::v1::Submit) {
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.sloppy")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    (m, share)
}

#[tokio::test]
async fn a_submit_for_an_unknown_job_gets_21() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let (mut m, mut share) = miner_with_share(addr).await;
    share.job_id = "no-such-job".into();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(error_of(&r).0, Some(codes::JOB_NOT_FOUND), "{r:?}");
    assert!(p.shares().is_empty(), "not forwarded");
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_submit_with_a_wrong_extranonce2_size_gets_20() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let (mut m, share) = miner_with_share(addr).await;
    for extranonce2 in [vec![0u8; 3], vec![0u8; 5], Vec::new()] {
        let mut bad = share.clone();
        bad.extranonce2 = extranonce2;
        let r = m.submit(&bad).await.unwrap();
        let (code, text) = error_of(&r);
        assert_eq!(code, Some(codes::OTHER), "{r:?}");
        assert!(text.to_lowercase().contains("extranonce2"), "{text}");
    }
    assert!(p.shares().is_empty(), "not forwarded");
    // The real share is still fine afterwards.
    assert!(m.submit(&share).await.unwrap().is_ok());
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_submit_with_a_bad_hex_nonce_gets_20_naming_the_field() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let (mut m, share) = miner_with_share(addr).await;
    let mut params = share.to_params();
    params[4] = json!("zz12ab!?");
    let r = m.request("mining.submit", params).await.unwrap();
    let (code, text) = error_of(&r);
    assert_eq!(code, Some(codes::OTHER), "{r:?}");
    assert!(
        text.contains("nonce"),
        "the message names the field: {text}"
    );
    let mut params = share.to_params();
    params[3] = json!("123456789");
    let r = m.request("mining.submit", params).await.unwrap();
    let (code, text) = error_of(&r);
    assert_eq!(code, Some(codes::OTHER), "{r:?}");
    assert!(
        text.contains("ntime"),
        "the message names the field: {text}"
    );
    assert!(p.shares().is_empty(), "not forwarded");
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_submit_before_subscribe_gets_25_and_before_authorize_24() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let params = json!(["wallet.early", "1", "00000000", "00000000", "00000000"]);
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    let r = m.request("mining.submit", params.clone()).await.unwrap();
    assert_eq!(error_of(&r).0, Some(codes::NOT_SUBSCRIBED), "{r:?}");
    m.subscribe(AGENT).await.unwrap();
    let r = m.request("mining.submit", params).await.unwrap();
    assert_eq!(error_of(&r).0, Some(codes::UNAUTHORIZED), "{r:?}");
    assert!(p.shares().is_empty(), "not forwarded");
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_share_below_the_miners_difficulty_gets_23_and_is_not_forwarded() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let (mut m, share) = miner_with_share(addr).await;
    let difficulty = m.difficulty.unwrap();
    let mut low = share.clone();
    // The next nonce that misses the miner's difficulty (almost any does).
    loop {
        low.nonce = low.nonce.wrapping_add(1);
        if m.share_difficulty(&low).unwrap() < difficulty {
            break;
        }
    }
    let before = p.shares().len();
    let r = m.submit(&low).await.unwrap();
    assert_eq!(error_of(&r).0, Some(codes::LOW_DIFFICULTY), "{r:?}");
    assert_eq!(p.shares().len(), before, "not forwarded to the pool");
    let s = dp.pool_stats("a").unwrap();
    assert_eq!(s.local_rejected, 1, "{s:?}");
    assert_eq!(s.forwarded, 0, "{s:?}");
    assert!(m.submit(&share).await.unwrap().is_ok());
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_connection_flood_from_one_ip_is_closed_at_once_and_the_ip_banned() {
    let (p, dp, addr) = setup(|c| {
        c.limits.allow = Vec::new();
        c.limits.max_connections_per_minute = 5;
        c.limits.max_connections_per_ip = 100;
    })
    .await;
    // Connected before the flood (the first of the five a minute).
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let mut flood = Vec::new();
    for _ in 0..10 {
        flood.push(Raw::connect(addr).await);
    }
    // The burst allows five in all: four more are served...
    for c in &mut flood[..4] {
        c.send(&subscribe_line()).await;
        let r = c.answer().await;
        assert!(r.is_ok(), "{r:?}");
    }
    // ...the later ones are closed at once.
    for c in &mut flood[4..] {
        c.expect_closed_at_once().await;
    }
    assert!(dp.listener_stats.refused.load(Relaxed) >= 6);
    // The address is banned: even with its connections gone, a new one is closed.
    drop(flood);
    Raw::connect(addr).await.expect_closed_at_once().await;
    // The miner connected before the flood is not affected.
    still_mines(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_third_concurrent_connection_from_one_ip_is_closed_when_the_limit_is_two() {
    let (p, dp, addr) = setup(|c| {
        c.limits.allow = Vec::new();
        c.limits.max_connections_per_minute = 0;
        c.limits.max_connections_per_ip = 2;
    })
    .await;
    let mut first = ScriptedMiner::ready(addr, AGENT, "wallet.one")
        .await
        .unwrap();
    let mut second = ScriptedMiner::ready(addr, AGENT, "wallet.two")
        .await
        .unwrap();
    Raw::connect(addr).await.expect_closed_at_once().await;
    still_mines(&p, &mut first).await;
    still_mines(&p, &mut second).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_connection_beyond_the_listener_limit_is_closed_at_once() {
    let (p, dp, addr) = setup(|c| {
        if let Some(l) = c.listeners.sha256.first_mut() {
            l.max_connections = 3;
        }
    })
    .await;
    let mut miners = Vec::new();
    for i in 0..3 {
        miners.push(
            ScriptedMiner::ready(addr, AGENT, &format!("wallet.{i}"))
                .await
                .unwrap(),
        );
    }
    Raw::connect(addr).await.expect_closed_at_once().await;
    for m in &mut miners {
        still_mines(&p, m).await;
    }
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_oversized_line_from_the_pool_costs_only_that_connection() {
    let (p, dp, addr) = setup(|_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    let old = m.latest_job.clone().unwrap();
    // Over the upstream's 1 MiB line bound, right after a short line.
    let mut lines = br#"{"id":null,"method":"mining.set_difficulty","params":[1e-6]}"#.to_vec();
    lines.push(b'\n');
    lines.extend(vec![b'x'; (1 << 20) + 100]);
    p.send_raw(0, &lines);
    // The upstream drops that connection, reconnects, and miners carry on.
    p.wait_for_connections(2, T).await.unwrap();
    m.wait_for_new_job(&old).await.unwrap();
    still_mines(&p, &mut m).await;
    dp.shutdown(Duration::from_secs(2)).await;
}
