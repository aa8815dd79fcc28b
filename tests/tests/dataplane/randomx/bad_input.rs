//! Bad input from a RandomX miner is answered with a clear xmrig-style
//! error (`"error":{"code":-1,"message":..}` with `"jsonrpc":"2.0"`), never
//! a panic or a silent drop, and the connection stays usable: wrong params,
//! an unknown method, shares before login or with a foreign session id, a
//! login with an algorithm the pool does not mine. Lines that are not
//! requests: `every_algorithm/bad_input.rs`.

use std::time::Duration;

use serde_json::json;
use switchyard_dataplane::config::PoolMode;
use switchyard_stratum::randomx::{RpcError, reply_status};
use switchyard_stratum::{Message, Response};
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig, rx_login};

const T: Duration = Duration::from_secs(20);

/// Reads raw lines until an answer comes (jobs may come first).
async fn next_answer(m: &mut RxMiner) -> (Response, String) {
    loop {
        let line = m.recv_line_timeout(T).await.unwrap();
        let text = String::from_utf8_lossy(&line).into_owned();
        if let Ok(Message::Response(r)) = Message::parse(&line) {
            return (r, text);
        }
    }
}

fn error_of(r: &Response, raw: &str) -> RpcError {
    assert!(
        raw.contains(r#""jsonrpc":"2.0""#),
        "JSON-RPC 2.0 replies: {raw}"
    );
    let e = reply_status(r).expect_err("an error");
    let obj = r.error.as_object().expect("an error object");
    assert!(
        obj.contains_key("code") && obj.contains_key("message"),
        "{raw}"
    );
    e
}

#[tokio::test]
async fn bad_lines_and_params_get_clear_errors_and_the_session_goes_on() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let (dp, addr) = start_rx(rx_test_config(vec![rx_pool(
        "xmr",
        pool.addr(),
        PoolMode::Aggregate,
    )]))
    .await
    .unwrap();
    let mut m = RxMiner::connect(addr).await.unwrap();

    // A submit before login.
    let id = m
        .send_request(
            "submit",
            json!({"id": "x", "job_id": "1", "nonce": "00000000", "result": "00".repeat(32)}),
        )
        .await
        .unwrap();
    let (r, raw) = next_answer(&mut m).await;
    assert_eq!(r.id, id);
    assert!(error_of(&r, &raw).message.contains("Unauthenticated"));

    // Wrong params: a login without its login field, a submit with a short nonce.
    for (method, params, what) in [
        ("login", json!({"pass": "x"}), "login"),
        ("login", json!(["WALLET", "x"]), "object"),
        (
            "submit",
            json!({"id": "x", "job_id": "1", "nonce": "00", "result": "00".repeat(32)}),
            "nonce",
        ),
    ] {
        let id = m.send_request(method, params).await.unwrap();
        let (r, raw) = next_answer(&mut m).await;
        assert_eq!(r.id, id);
        let e = error_of(&r, &raw);
        assert_eq!(e.code, -1);
        assert!(e.message.contains(what), "{method}: {e}");
    }

    // An unknown method.
    let id = m.send_request("mining.subscribe", json!([])).await.unwrap();
    let (r, raw) = next_answer(&mut m).await;
    assert_eq!(r.id, id);
    assert!(error_of(&r, &raw).message.contains("Unsupported method"));

    // The same connection still logs in and mines.
    let login = m.login(&rx_login("WALLET.rig")).await.unwrap();
    assert_eq!(login.status.as_deref(), Some("OK"));
    let mut share = m.find_share().await.unwrap();
    // A foreign session id is refused; the right one is accepted.
    share.id = "someone-else".into();
    let e = reply_status(&m.submit(&share).await.unwrap()).unwrap_err();
    assert!(e.message.contains("Unauthenticated"), "{e}");
    share.id = login.id.clone();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    // A second login on the same connection.
    let r = m.login_response(&rx_login("WALLET.again")).await.unwrap();
    assert!(reply_status(&r).is_err(), "{r:?}");
    pool.wait_for_accepted(1, T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_miner_without_the_pools_algorithm_is_told_so() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let (dp, addr) = start_rx(rx_test_config(vec![rx_pool(
        "xmr",
        pool.addr(),
        PoolMode::Aggregate,
    )]))
    .await
    .unwrap();
    let mut m = RxMiner::connect(addr).await.unwrap();
    let mut login = rx_login("WALLET.gpu");
    login.algo = vec!["kawpow".into(), "cn/r".into()];
    let r = m.login_response(&login).await.unwrap();
    let e = reply_status(&r).unwrap_err();
    assert!(
        e.message.contains("Unsupported algorithm") && e.message.contains("rx/0"),
        "{e}"
    );
    m.expect_closed(T).await.unwrap();
    // A miner that names no algorithm is taken as able to mine the pool's.
    let mut ok = RxMiner::connect(addr).await.unwrap();
    let mut login = rx_login("WALLET.cpu");
    login.algo = vec![];
    ok.login(&login).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}
