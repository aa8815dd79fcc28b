//! Regression tests for the seeds' relaying defects (seed-behaviour.md,
//! "Seed defects in relaying"): pool messages the seeds dropped, answers
//! they lost, a stalled miner that blocked the rest, a joining miner that got
//! nothing until the next job. Share handling is in `regressions_shares.rs`.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::Config;
use switchyard_stratum::v1::{Notify, ServerMethod};
use switchyard_tests::dp::{mine_one, wait_for_pool_job, with_one_pool};
use switchyard_tests::pool::build_job;
use switchyard_tests::{Fault, PoolConfig, ScriptedMiner, ScriptedPool, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);
const AGENT: &str = "cgminer/4.11.1";

async fn setup(
    pool_config: PoolConfig,
    tweak: impl FnOnce(&mut Config),
) -> (ScriptedPool, DataPlane, SocketAddr) {
    with_one_pool(pool_config, tweak).await
}

#[tokio::test]
async fn responses_with_null_result_and_null_error_are_delivered() {
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.rig")
        .await
        .unwrap();
    // Hold the scripted pool's own answer; answer by hand with null/null.
    p.set_fault(Fault::SlowAnswers(Duration::from_secs(600)));
    let id = json!("caps-1");
    m.send_request_with_id(id.clone(), "mining.capabilities", json!([]))
        .await
        .unwrap();
    p.wait_until("the relayed request", T, |s| {
        s.requests
            .iter()
            .any(|(_, q)| q.method == "mining.capabilities")
    })
    .await
    .unwrap();
    let (conn, pool_id) = p
        .requests()
        .into_iter()
        .find(|(_, q)| q.method == "mining.capabilities")
        .map(|(c, q)| (c, q.id))
        .unwrap();
    let answer = json!({"id": pool_id, "result": null, "error": null});
    p.send_raw(conn, answer.to_string().as_bytes());
    let r = m.wait_response(&id).await.unwrap();
    assert_eq!(
        (&r.id, &r.result, &r.error),
        (&id, &Value::Null, &Value::Null)
    );
    p.set_fault(Fault::None);
    mine_one(&p, &mut m).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unknown_pool_notifications_are_relayed() {
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m1 = ScriptedMiner::ready(addr, AGENT, "wallet.a").await.unwrap();
    let mut m2 = ScriptedMiner::ready(addr, AGENT, "wallet.b").await.unwrap();
    p.send_raw_to_all(br#"{"id":null,"method":"mining.custom","params":[1]}"#);
    for m in [&mut m1, &mut m2] {
        let n = m.wait_for_notification("mining.custom").await.unwrap();
        assert_eq!((n.id, n.params), (Value::Null, json!([1])));
        mine_one(&p, m).await;
    }
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unknown_pool_notifications_sent_back_to_back_are_all_relayed() {
    // Single-threaded runtime: the upstream task reads all three lines before
    // the session runs, so the watch channel holds only the last.
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.a").await.unwrap();
    let mut lines = Vec::new();
    for i in 1..=3 {
        lines.extend(
            format!("{{\"id\":null,\"method\":\"mining.custom\",\"params\":[{i}]}}\n").bytes(),
        );
    }
    p.send_raw_to_all(&lines);
    for i in 1..=3 {
        let n = m.wait_for_notification("mining.custom").await.unwrap();
        assert_eq!(n.params, json!([i]));
    }
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn unknown_pool_notifications_are_relayed_after_the_upstream_reconnects() {
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.a").await.unwrap();
    p.send_raw_to_all(br#"{"id":null,"method":"mining.custom","params":["first"]}"#);
    let n = m.wait_for_notification("mining.custom").await.unwrap();
    assert_eq!(n.params, json!(["first"]));
    let old = m.latest_job.clone().unwrap();
    p.close_all();
    p.wait_for_connections(2, T).await.unwrap();
    p.wait_for_open_connections(1, T).await.unwrap();
    m.wait_for_new_job(&old).await.unwrap();
    p.send_raw_to_all(br#"{"id":null,"method":"mining.custom","params":["second"]}"#);
    let n = m.wait_for_notification("mining.custom").await.unwrap();
    assert_eq!(n.params, json!(["second"]));
    dp.shutdown(Duration::from_secs(2)).await;
}

// ---- client.show_message: logged (README), never breaking the session ----

/// Texts of "message from pool" events, from a global tracing layer.
static POOL_MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct PoolMessages;

#[derive(Default)]
struct MessageFields(Vec<String>);

impl tracing::field::Visit for MessageFields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" || field.name() == "text" {
            self.0.push(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PoolMessages {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = MessageFields::default();
        event.record(&mut fields);
        if fields.0.iter().any(|m| m == "message from pool") {
            let mut all = POOL_MESSAGES.lock().unwrap();
            all.extend(fields.0.into_iter().filter(|m| m != "message from pool"));
        }
    }
}

fn capture_pool_messages() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{Layer, filter::LevelFilter};
    let subscriber =
        tracing_subscriber::registry().with(PoolMessages.with_filter(LevelFilter::INFO));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[tokio::test]
async fn client_show_message_is_not_dropped_and_does_not_break_the_session() {
    // The global tracing subscriber is set once per process.
    switchyard_tests::own_process!();
    capture_pool_messages();
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut m = ScriptedMiner::ready(addr, AGENT, "wallet.a").await.unwrap();
    let text = "maintenance at 12:00 UTC \\/ switchyard-show-message-test";
    p.send_raw_to_all(
        format!(r#"{{"id":null,"method":"client.show_message","params":["{text}"]}}"#).as_bytes(),
    );
    // Something after it on the same pool connection still arrives.
    p.new_job(false);
    wait_for_pool_job(&p, &mut m).await;
    let logged = POOL_MESSAGES.lock().unwrap().clone();
    assert!(
        logged
            .iter()
            .any(|l| l.contains("maintenance at 12:00 UTC / switchyard-show-message-test")),
        "the pool's message is logged: {logged:?}"
    );
    mine_one(&p, &mut m).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn client_reconnect_from_the_pool_reconnects_the_upstream_there() {
    let (a, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let b = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut m1 = ScriptedMiner::ready(addr, AGENT, "wallet.a").await.unwrap();
    let mut m2 = ScriptedMiner::ready(addr, AGENT, "wallet.b").await.unwrap();
    let e1 = m1.extranonce1.clone();
    a.send_reconnect("127.0.0.1", b.addr().port());
    b.wait_for_authorized(1, T).await.unwrap();
    a.wait_for_open_connections(0, T).await.unwrap();
    for m in [&mut m1, &mut m2] {
        wait_for_pool_job(&b, m).await;
        mine_one(&b, m).await;
    }
    assert_eq!(b.accepted(), 2);
    assert_eq!(m1.extranonce1, e1, "the miner keeps its extranonce1");
    assert!(!m1.is_closed() && !m2.is_closed());
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn set_version_mask_from_the_pool_is_handled() {
    let pool_config = PoolConfig {
        version_mask: Some(0x1fff_e000),
        ..PoolConfig::default()
    };
    let (p, dp, addr) = setup(pool_config, |_| {}).await;
    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    let params = json!({"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2});
    m.configure(&["version-rolling"], params).await.unwrap();
    assert_eq!(m.version_mask, Some(0x1fff_e000));
    m.subscribe(AGENT).await.unwrap();
    assert!(m.authorize("wallet.vr", "x").await.unwrap());
    m.wait_for_job().await.unwrap();
    mine_one(&p, &mut m).await;

    p.send_raw_to_all(br#"{"id":null,"method":"mining.set_version_mask","params":["00ffe000"]}"#);
    p.new_job(false);
    let n = m
        .wait_for_notification("mining.set_version_mask")
        .await
        .unwrap();
    assert_eq!(n.params, json!(["00ffe000"]));
    wait_for_pool_job(&p, &mut m).await;
    assert_eq!(m.version_mask, Some(0x00ff_e000));
    for _ in 0..3 {
        let share = m.find_share().await.unwrap();
        assert_eq!(share.version_bits.unwrap_or(0) & !0x00ff_e000, 0);
        let r = m.submit(&share).await.unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    p.wait_for_accepted(4, T).await.unwrap();
    assert_eq!(p.rejected(), 0);
    dp.shutdown(Duration::from_secs(2)).await;
}

/// A job with a coinbase of `size` bytes: big lines fill socket buffers fast.
fn big_job_line(seq: u64, size: usize) -> Vec<u8> {
    let mut job: Notify = build_job(1_000_000 + seq, 12, false);
    job.job_id = format!("big{seq}");
    job.coinb2.extend(std::iter::repeat_n(0xab, size));
    ServerMethod::Notify(job).to_notification().to_line()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_miner_does_not_block_other_miners() {
    let (p, dp, addr) = setup(PoolConfig::default(), |c| {
        c.limits.miner_write_timeout = 2.0;
        c.limits.outbound_queue = 8;
    })
    .await;
    let mut good = ScriptedMiner::ready(addr, AGENT, "wallet.good")
        .await
        .unwrap();
    good.set_timeout(T);
    // The stalled miner: a small receive buffer, a handshake, then never a read.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = within("connect", T, socket.connect(addr))
        .await
        .unwrap()
        .unwrap();
    stalled
        .write_all(
            b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"stuck\"]}\n\
              {\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"wallet.stuck\",\"x\"]}\n",
        )
        .await
        .unwrap();

    // Push big jobs until the data plane gives up on the stalled miner; the
    // good miner gets every one of them promptly meanwhile.
    let mut slowest = Duration::ZERO;
    let mut sent = 0u64;
    while dp.listener_stats.disconnections.load(Relaxed) == 0 {
        assert!(sent < 2000, "the stalled miner was never disconnected");
        let before = good.latest_job.clone().unwrap();
        let at = Instant::now();
        p.send_raw_to_all(&big_job_line(sent, 20_000));
        good.wait_for_new_job(&before).await.unwrap();
        slowest = slowest.max(at.elapsed());
        sent += 1;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a job took {slowest:?} to reach the good miner while the other one stalled ({sent} jobs)"
    );
    assert_eq!(dp.listener_stats.active.load(Relaxed), 1);
    // The stalled miner's connection is closed: draining it ends.
    within("the stalled connection's end", T, async {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(1..) = stalled.read(&mut buf).await {}
    })
    .await
    .unwrap();
    // The good miner mines on the pool's next job.
    p.new_job(true);
    wait_for_pool_job(&p, &mut good).await;
    mine_one(&p, &mut good).await;
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_joining_miner_gets_the_current_difficulty_and_job_at_once() {
    let (p, dp, addr) = setup(PoolConfig::default(), |_| {}).await;
    let mut first = ScriptedMiner::ready(addr, AGENT, "wallet.first")
        .await
        .unwrap();
    p.set_difficulty(2e-6);
    p.new_job(false);
    p.new_job(true);
    wait_for_pool_job(&p, &mut first).await;
    assert_eq!(first.difficulty, Some(2e-6));

    let mut m = ScriptedMiner::connect(addr).await.unwrap();
    m.subscribe(AGENT).await.unwrap();
    assert!(m.authorize("wallet.late", "x").await.unwrap());
    // No new job from the pool: what comes is the replay of the current state.
    let job = m.wait_for_job().await.unwrap();
    assert_eq!(job.prevhash, p.current_job().prevhash, "the current job");
    let methods: Vec<&str> = m
        .notifications()
        .iter()
        .map(|n| n.method.as_str())
        .collect();
    let diff_at = methods.iter().position(|n| *n == "mining.set_difficulty");
    let job_at = methods.iter().position(|n| *n == "mining.notify");
    assert!(
        diff_at.is_some() && diff_at < job_at,
        "set_difficulty comes before the first notify: {methods:?}"
    );
    assert_eq!(m.difficulty, Some(2e-6), "the pool's current difficulty");
    assert_eq!(m.current_job().unwrap().difficulty, Some(2e-6));
    mine_one(&p, &mut m).await;
    dp.shutdown(Duration::from_secs(2)).await;
}
