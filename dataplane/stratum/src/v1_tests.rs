//! Unit tests of the typed Stratum V1 messages in both directions (property tests: tests/roundtrip.rs).

use super::*;
use crate::jsonrpc::Message;
use serde_json::json;

fn request(line: &str) -> Request {
    match Message::parse(line.as_bytes()).expect("parses") {
        Message::Request(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn submit_with_five_and_six_params() {
    let r = request(
        r#"{"id":4,"method":"mining.submit","params":["wallet.worker1","bf","00000001","504e86ed","b2957c02"]}"#,
    );
    let ClientMethod::Submit(s) = ClientMethod::from_request(&r).expect("valid") else {
        panic!("not a submit")
    };
    assert_eq!(s.extranonce2, vec![0, 0, 0, 1]);
    assert_eq!(s.ntime, 0x504e86ed);
    assert_eq!(s.nonce, 0xb2957c02);
    assert_eq!(s.version_bits, None);
    let r = request(
        r#"{"id":4,"method":"mining.submit","params":["w","bf","00000001","504e86ed","b2957c02","1fffe000"]}"#,
    );
    let ClientMethod::Submit(s) = ClientMethod::from_request(&r).expect("valid") else {
        panic!("not a submit")
    };
    assert_eq!(s.version_bits, Some(0x1fffe000));
}

#[test]
fn suggest_difficulty_as_number_or_string() {
    let r = request(r#"{"id":5,"method":"mining.suggest_difficulty","params":[512]}"#);
    assert_eq!(
        ClientMethod::from_request(&r),
        Ok(ClientMethod::SuggestDifficulty(512.0))
    );
    let r = request(r#"{"id":5,"method":"mining.suggest_difficulty","params":["0.001000"]}"#);
    assert_eq!(
        ClientMethod::from_request(&r),
        Ok(ClientMethod::SuggestDifficulty(0.001))
    );
}

#[test]
fn unknown_methods_are_kept_raw() {
    let r = request(r#"{"id":9,"method":"mining.capabilities","params":[{"x":1}]}"#);
    let m = ClientMethod::from_request(&r).expect("kept");
    assert_eq!(m.method(), "mining.capabilities");
    assert_eq!(m.params(), serde_json::json!([{"x":1}]));
}

fn line_of(method: &str, params: &str) -> String {
    format!(r#"{{"id":7,"method":"{method}","params":{params}}}"#)
}

fn notification_of(method: &str, params: &str) -> String {
    format!(r#"{{"id":null,"method":"{method}","params":{params}}}"#)
}

fn client(method: &str, params: &str) -> Result<ClientMethod, ParamsError> {
    ClientMethod::from_request(&request(&line_of(method, params)))
}

fn server(method: &str, params: &str) -> Result<ServerMethod, ParamsError> {
    ServerMethod::from_request(&request(&line_of(method, params)))
}

fn text(req: &Request) -> String {
    String::from_utf8(req.to_line()).expect("utf-8")
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

const PREVHASH: &str = "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000";
const BRANCH: &str = "f3d5b2c9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170695a4b";

fn notify_params(clean: &str) -> String {
    format!(
        r#"["bf","{PREVHASH}","01000000010000","ffffffff",["{BRANCH}"],"20000000","1c2ac4af","504e86b9"{clean}]"#
    )
}

/// Miner messages: (method, params read, value, params written). Each value
/// is written exactly so and survives `to_request` -> line -> `from_request`.
#[rustfmt::skip]
fn client_cases() -> Vec<(&'static str, &'static str, ClientMethod, &'static str)> {
    use ClientMethod::*;
    let user = || "wallet.worker1".to_owned();
    vec![
        ("mining.subscribe", r#"["cgminer/4.11.1"]"#, Subscribe { agent: some("cgminer/4.11.1"), session: None }, "="),
        ("mining.subscribe", r#"["cpuminer/2.5.1","ae6812eb"]"#, Subscribe { agent: some("cpuminer/2.5.1"), session: some("ae6812eb") }, "="),
        ("mining.subscribe", r#"[null,"ae6812eb"]"#, Subscribe { agent: None, session: some("ae6812eb") }, "="),
        ("mining.subscribe", "[]", Subscribe { agent: None, session: None }, "="),
        ("mining.authorize", r#"["wallet.worker1","x"]"#, Authorize { user: user(), password: some("x") }, "="),
        ("mining.authorize", r#"["wallet.worker1"]"#, Authorize { user: user(), password: None }, "="),
        ("mining.extranonce.subscribe", "[]", ExtranonceSubscribe, "="),
        ("mining.suggest_difficulty", "[512]", SuggestDifficulty(512.0), "[512.0]"),
        ("mining.suggest_difficulty", r#"["0.001000"]"#, SuggestDifficulty(0.001), "[0.001]"),
        ("mining.suggest_difficulty", r#"[" 64 "]"#, SuggestDifficulty(64.0), "[64.0]"),
        ("mining.capabilities", r#"[{"x":1}]"#, Unknown { method: "mining.capabilities".into(), params: json!([{"x": 1}]) }, "="),
        ("mining.get_transactions", r#"{"job":"bf"}"#, Unknown { method: "mining.get_transactions".into(), params: json!({"job": "bf"}) }, "="),
    ]
}

#[test]
fn client_messages_both_directions() {
    for (method, params, want, written) in client_cases() {
        assert_eq!(
            client(method, params),
            Ok(want.clone()),
            "{method} {params}"
        );
        let written = if written == "=" { params } else { written };
        assert_eq!(text(&want.to_request(7)), line_of(method, written) + "\n");
        let back = request(&text(&want.to_request("id-1")));
        assert_eq!(back.id, json!("id-1"));
        assert_eq!(
            ClientMethod::from_request(&back),
            Ok(want),
            "{method} {params}"
        );
    }
    // stratum-client (npm) uses the method name as a string id.
    let r = request(r#"{"id":"mining.subscribe","method":"mining.subscribe","params":[]}"#);
    assert!(matches!(
        ClientMethod::from_request(&r),
        Ok(ClientMethod::Subscribe { .. })
    ));
}

#[test]
fn configure_with_all_four_extensions() {
    let params = r#"[["version-rolling","minimum-difficulty","subscribe-extranonce","info"],
        {"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2,
         "minimum-difficulty.value":2048,"info.connection-url":"stratum+tcp://pool:3333",
         "info.hw-version":"S19","info.sw-version":"bmminer 1.0","info.hw-id":"abc"}]"#;
    let Ok(ClientMethod::Configure(c)) = client("mining.configure", &params.replace('\n', ""))
    else {
        panic!("not a configure")
    };
    for ext in [
        "version-rolling",
        "minimum-difficulty",
        "subscribe-extranonce",
        "info",
    ] {
        assert!(c.has(ext), "{ext}");
    }
    assert!(!c.has("version"));
    assert_eq!(c.version_rolling_mask(), Some(0x1fffe000));
    assert_eq!(c.version_rolling_min_bit_count(), 2);
    assert_eq!(c.minimum_difficulty(), Some(2048.0));
    assert_eq!(c.params["info.hw-version"], json!("S19"));
    let m = ClientMethod::Configure(c);
    assert_eq!(
        ClientMethod::from_request(&request(&text(&m.to_request(1)))),
        Ok(m)
    );
}

#[test]
fn configure_defaults_and_clamps() {
    let conf = |params: &str| match client("mining.configure", params) {
        Ok(ClientMethod::Configure(c)) => c,
        other => panic!("{params}: {other:?}"),
    };
    // Version rolling without a mask allows every bit; no object at all is fine.
    let c = conf(r#"[["version-rolling"]]"#);
    assert_eq!(c.version_rolling_mask(), Some(0xffff_ffff));
    assert_eq!(c.version_rolling_min_bit_count(), 0);
    assert_eq!((c.minimum_difficulty(), c.params.len()), (None, 0));
    // Values of extensions not asked for are ignored; odd values are clamped.
    let c = conf(
        r#"[["minimum-difficulty"],{"version-rolling.mask":"ffffffff","version-rolling.min-bit-count":99,"minimum-difficulty.value":"0.5"}]"#,
    );
    assert_eq!(c.version_rolling_mask(), None);
    assert_eq!(c.version_rolling_min_bit_count(), 32);
    assert_eq!(c.minimum_difficulty(), Some(0.5));
    let c = conf(r#"[["minimum-difficulty"],{"minimum-difficulty.value":0}]"#);
    assert_eq!(c.minimum_difficulty(), None);
}

#[test]
fn submit_is_written_exactly() {
    let s = Submit {
        worker: "wallet.worker1".into(),
        job_id: "bf".into(),
        extranonce2: vec![0, 0, 0, 1],
        ntime: 0x504e86ed,
        nonce: 0xb2957c02,
        version_bits: None,
    };
    let params = r#"["wallet.worker1","bf","00000001","504e86ed","b2957c02"]"#;
    let m = ClientMethod::Submit(s.clone());
    assert_eq!(
        text(&m.to_request(7)),
        line_of("mining.submit", params) + "\n"
    );
    let rolled = ClientMethod::Submit(Submit {
        version_bits: Some(0x2000),
        ..s
    });
    let line = text(&rolled.to_request(7));
    assert!(line.contains(r#""b2957c02","00002000"]"#), "{line}");
    assert_eq!(ClientMethod::from_request(&request(&line)), Ok(rolled));
    // A numeric job id becomes its text; a null version_bits is absent.
    let p = r#"["w",17,"00","504e86ed","b2957c02",null]"#;
    let Ok(ClientMethod::Submit(s)) = client("mining.submit", p) else {
        panic!("{p}")
    };
    assert_eq!((s.job_id.as_str(), s.version_bits), ("17", None));
}

#[test]
fn notify_from_pool_and_back() {
    let Ok(ServerMethod::Notify(n)) = server("mining.notify", &notify_params(",false")) else {
        panic!("not a notify")
    };
    assert_eq!(
        (n.job_id.as_str(), hex::encode(n.prevhash)),
        ("bf", PREVHASH.into())
    );
    assert_eq!((n.coinb1.len(), &n.coinb2), (7, &vec![0xff; 4]));
    assert_eq!(
        n.merkle_branch.iter().map(hex::encode).collect::<Vec<_>>(),
        [BRANCH]
    );
    assert_eq!(
        (n.version, n.nbits, n.ntime),
        (0x20000000, 0x1c2ac4af, 0x504e86b9)
    );
    let m = ServerMethod::Notify(n);
    let line = text(&m.to_notification());
    let want = notification_of("mining.notify", &notify_params(",false"));
    assert_eq!(line, want + "\n");
    assert_eq!(ServerMethod::from_request(&request(&line)), Ok(m));
    // Upper-case hex and a numeric job id are accepted.
    let upper = notify_params(",true").replace(PREVHASH, &PREVHASH.to_uppercase());
    let Ok(ServerMethod::Notify(n)) = server("mining.notify", &upper.replace(r#""bf""#, "42"))
    else {
        panic!("{upper}")
    };
    assert_eq!(
        (n.job_id.as_str(), hex::encode(n.prevhash)),
        ("42", PREVHASH.into())
    );
}

#[test]
fn notify_clean_jobs_as_bool_int_or_string() {
    #[rustfmt::skip]
    let cases = [
        (",true", true), (",false", false), (",1", true), (",0", false), (r#","true""#, true),
        (r#","false""#, false), (r#","1""#, true), (r#","TRUE""#, true), (",null", false), ("", false),
    ];
    for (clean, want) in cases {
        match server("mining.notify", &notify_params(clean)) {
            Ok(ServerMethod::Notify(n)) => assert_eq!(n.clean_jobs, want, "{clean}"),
            other => panic!("{clean}: {other:?}"),
        }
    }
}

/// Pool messages: (method, params read, value, params written). Each value
/// is written exactly so and survives `to_notification` -> line -> `from_request`.
#[rustfmt::skip]
fn server_cases() -> Vec<(&'static str, &'static str, ServerMethod, &'static str)> {
    use ServerMethod::*;
    let reconnect = |host: Option<String>, port, wait_seconds| Reconnect { host, port, wait_seconds };
    let unknown = |method: &str, params| Unknown { method: method.into(), params };
    vec![
        ("mining.set_difficulty", "[16384]", SetDifficulty(16384.0), "[16384.0]"),
        ("mining.set_difficulty", "[0.001]", SetDifficulty(0.001), "="),
        ("mining.set_difficulty", r#"["512"]"#, SetDifficulty(512.0), "[512.0]"),
        ("mining.set_extranonce", r#"["08000002",4]"#, SetExtranonce { extranonce1: vec![8, 0, 0, 2], extranonce2_size: 4 }, "="),
        ("mining.set_version_mask", r#"["1fffe000"]"#, SetVersionMask(0x1fffe000), "="),
        ("mining.set_version_mask", r#"["1FFFE000"]"#, SetVersionMask(0x1fffe000), r#"["1fffe000"]"#),
        ("client.reconnect", r#"["host",3333,0]"#, reconnect(some("host"), Some(3333), 0), "="),
        ("client.reconnect", r#"["host",3333]"#, reconnect(some("host"), Some(3333), 0), r#"["host",3333,0]"#),
        ("client.reconnect", r#"["host","3333","5"]"#, reconnect(some("host"), Some(3333), 5), r#"["host",3333,5]"#),
        ("client.reconnect", "[]", reconnect(None, None, 0), "="),
        ("client.reconnect", r#"["",70000,"x"]"#, reconnect(None, None, 0), "[]"),
        ("client.show_message", r#"["at 12:00 \/ UTC"]"#, ShowMessage("at 12:00 / UTC".into()), r#"["at 12:00 / UTC"]"#),
        ("client.show_message", r#"["a \"q\"\n é"]"#, ShowMessage("a \"q\"\n é".into()), "="),
        ("client.show_message", "[]", ShowMessage(String::new()), r#"[""]"#),
        ("client.get_version", "[]", GetVersion, "="),
        ("mining.set_target", "[18446744073709551]", unknown("mining.set_target", json!([18446744073709551u64])), "="),
        ("job", r#"{"blob":"00","job_id":"q7"}"#, unknown("job", json!({"blob": "00", "job_id": "q7"})), "="),
    ]
}

#[test]
fn server_messages_both_directions() {
    for (method, params, want, written) in server_cases() {
        assert_eq!(
            server(method, params),
            Ok(want.clone()),
            "{method} {params}"
        );
        let written = if written == "=" { params } else { written };
        let line = text(&want.to_notification());
        assert_eq!(line, notification_of(method, written) + "\n");
        assert_eq!(
            ServerMethod::from_request(&request(&line)),
            Ok(want),
            "{method} {params}"
        );
    }
    // get_version is a request with an id; a pool's notify sent by a miner is kept raw.
    let get_version = request(r#"{"id":8,"method":"client.get_version","params":[]}"#);
    assert_eq!(
        ServerMethod::from_request(&get_version),
        Ok(ServerMethod::GetVersion)
    );
    let m = client("mining.notify", &notify_params(",true")).expect("kept");
    assert!(matches!(m, ClientMethod::Unknown { .. }));
}

#[test]
fn subscribe_result_shapes() {
    let subs = json!([
        ["mining.set_difficulty", "b4b6693b"],
        ["mining.notify", "ae6812eb"]
    ]);
    let r = SubscribeResult::from_result(&json!([subs, "08000002", 4])).expect("standard");
    assert_eq!(r.subscription_id.as_deref(), Some("ae6812eb"));
    assert_eq!(
        (r.extranonce1.clone(), r.extranonce2_size),
        (vec![8, 0, 0, 2], 4)
    );
    assert_eq!(SubscribeResult::from_result(&r.to_result()), Ok(r));
    // ckpool lists only mining.notify; aiostratum sends null; others a flat pair or nothing.
    for (subs, id) in [
        (json!([["mining.notify", "x1"]]), Some("x1")),
        (json!(null), None),
        (json!(["mining.notify", "x1"]), None),
        (json!([]), None),
    ] {
        let r = SubscribeResult::from_result(&json!([subs, "08000002", 4])).expect("tolerated");
        assert_eq!(
            (r.subscription_id.as_deref(), r.extranonce2_size),
            (id, 4),
            "{subs}"
        );
    }
    let r = SubscribeResult::from_result(&json!([null, "", 8])).expect("empty extranonce1");
    assert!(r.extranonce1.is_empty());
}

#[test]
#[rustfmt::skip]
fn bad_params_give_params_error_not_panic() {
    let bad: &[(&str, &[&str])] = &[
        ("mining.authorize", &["[]", r#"[5,"x"]"#, "[null]", r#"{"user":"w"}"#]),
        ("mining.configure", &["[]", r#"["version-rolling"]"#, r#"[["version-rolling"],"1fffe000"]"#, "{}"]),
        ("mining.suggest_difficulty", &["[]", "[0]", "[-1]", r#"["abc"]"#, r#"["NaN"]"#, r#"["inf"]"#, "[[1]]"]),
        ("mining.submit", &[r#"["w","bf","00000001","504e86ed"]"#, r#"["w","bf","0000001","504e86ed","b2957c02"]"#,
            r#"["w","bf","zz","504e86ed","b2957c02"]"#, r#"["w","bf","00","504e86ed","b2957c0211"]"#,
            r#"["w","bf","00","","b2957c02"]"#, r#"["w",null,"00","504e86ed","b2957c02"]"#,
            r#"[1,"bf","00","504e86ed","b2957c02"]"#, r#"["w","bf","00","504e86ed","b2957c02","xyz"]"#, "{}"]),
    ];
    for (method, cases) in bad {
        for params in *cases {
            assert_eq!(client(method, params).map_err(|e| e.method), Err(*method), "{params}");
        }
    }
    let good = notify_params(",true");
    let notify = [
        good.replace(PREVHASH, &PREVHASH[2..]), good.replace(PREVHASH, "zz"),
        good.replace(BRANCH, &BRANCH[2..]), good.replace(&format!(r#"["{BRANCH}"]"#), r#""nope""#),
        good.replace(&format!(r#"["{BRANCH}"]"#), "[5]"), good.replace("01000000010000", "0100000001000"),
        good.replace("1c2ac4af", "1c2ac4af00"), good.replace(r#""bf""#, "null"),
        r#"["bf"]"#.into(), r#"{"job_id":"bf"}"#.into(),
    ];
    let bad: &[(&str, &[&str])] = &[
        ("mining.set_difficulty", &["[]", "[0]", "[-5]", r#"["x"]"#, "[null]", "[true]"]),
        ("mining.set_extranonce", &[r#"["0800000",4]"#, r#"["08000002"]"#, r#"["08000002",33]"#, r#"["08000002","4"]"#, "[8,4]"]),
        ("mining.set_version_mask", &["[]", r#"["xyz"]"#, r#"["1fffe0000"]"#, "[536862720]"]),
    ];
    for params in &notify {
        assert_eq!(server("mining.notify", params).map_err(|e| e.method), Err("mining.notify"), "{params}");
    }
    for (method, cases) in bad {
        for params in *cases {
            assert_eq!(server(method, params).map_err(|e| e.method), Err(*method), "{params}");
        }
    }
    for bad in [json!({"extranonce1": "08"}), json!([null, "0800000", 4]), json!([null, "08000002"]),
        json!([null, "08000002", 0]), json!([null, "08000002", 33]), json!([null, 8, 4]), json!([null, "08", "4"])] {
        assert!(SubscribeResult::from_result(&bad).is_err(), "{bad}");
    }
}

/// BUG (v1.rs `SubscribeResult::to_result`): a result without a subscription
/// id is written with "" as the id and read back as `Some("")`.
#[test]
fn subscribe_result_without_id_round_trips() {
    let r = SubscribeResult {
        subscription_id: None,
        extranonce1: vec![8, 0, 0, 2],
        extranonce2_size: 4,
    };
    assert_eq!(SubscribeResult::from_result(&r.to_result()), Ok(r));
}

/// BUG (hexutil.rs `parse_hex_u32`): `u32::from_str_radix` accepts a leading
/// '+', so "+2957c02" is taken as a nonce (and relayed as "02957c02").
#[test]
fn submit_rejects_signed_hex() {
    let r = client(
        "mining.submit",
        r#"["w","bf","00000001","504e86ed","+2957c02"]"#,
    );
    assert_eq!(r.map_err(|e| e.method), Err("mining.submit"));
}

/// A share's params written as text are exactly what serialising its
/// `Value` gives: the pool sees the same line either way.
#[test]
fn submit_params_written_as_text_match_the_value() {
    let shares = [
        Submit {
            worker: "pool.user".into(),
            job_id: "j".into(),
            extranonce2: vec![0, 0, 0, 1],
            ntime: 0x5f5e1000,
            nonce: 2,
            version_bits: None,
        },
        Submit {
            worker: "w \"quoted\" \\ \n\u{1}é".into(),
            job_id: "1f</>".into(),
            extranonce2: vec![0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89],
            ntime: u32::MAX,
            nonce: 0,
            version_bits: Some(0x1fffe000),
        },
        Submit {
            worker: String::new(),
            job_id: String::new(),
            extranonce2: vec![],
            ntime: 0,
            nonce: 0xdeadbeef,
            version_bits: Some(0),
        },
    ];
    for s in shares {
        let mut text = Vec::new();
        s.write_params(&mut text);
        assert_eq!(String::from_utf8(text).unwrap(), s.to_params().to_string());
    }
}
