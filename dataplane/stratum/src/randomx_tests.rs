//! Unit and property tests of the RandomX (xmrig) messages and replies (the
//! maths are tested in randomx_math_tests.rs).

use super::*;
use crate::jsonrpc::Message;
use proptest::prelude::*;
use serde_json::json;

fn request(line: &str) -> Request {
    match Message::parse(line.as_bytes()).expect("parses") {
        Message::Request(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn response(line: &str) -> Response {
    match Message::parse(line.as_bytes()).expect("parses") {
        Message::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

fn client(method: &str, params: &str) -> Result<ClientMethod, ParamsError> {
    let line = format!(r#"{{"id":1,"jsonrpc":"2.0","method":"{method}","params":{params}}}"#);
    ClientMethod::from_request(&request(&line))
}

/// A 76-byte blob whose byte i is i (so the nonce bytes are 39..43).
fn blob_hex() -> String {
    hex::encode((0u8..76).collect::<Vec<_>>())
}

const SEED: &str = "3132333435363738393031323334353637383930313233343536373839303132";
const RESULT: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607180000000000001000";

fn job_json() -> Value {
    json!({"blob": blob_hex(), "job_id": "q7PL", "target": "b88d0600", "algo": "rx/0",
           "height": 3000000, "seed_hash": SEED, "id": "sess-1", "variant": "rx"})
}

#[test]
fn xmrig_login_with_every_field_and_extras() {
    let params = r#"{"login":"WALLET","pass":"x","agent":"XMRig/6.21.0","algo":["rx/0","cn/r"],"rigid":"rig01","algo-perf":{"rx/0":1200.5}}"#;
    let Ok(ClientMethod::Login(l)) = client("login", params) else {
        panic!("not a login")
    };
    assert_eq!(
        (l.login.as_str(), l.pass.as_deref(), l.agent.as_deref()),
        ("WALLET", Some("x"), Some("XMRig/6.21.0"))
    );
    assert_eq!(
        (l.algo.clone(), l.rigid.as_deref()),
        (vec!["rx/0".to_owned(), "cn/r".into()], Some("rig01"))
    );
    assert_eq!(l.extra.get("algo-perf"), Some(&json!({"rx/0": 1200.5})));
    let line = text(l.to_request(5).to_line());
    assert!(
        line.starts_with(r#"{"id":5,"jsonrpc":"2.0","method":"login","params":{"#),
        "{line}"
    );
    let back = request(&line);
    assert_eq!(
        back.params,
        serde_json::from_str::<Value>(params).expect("json")
    );
    assert_eq!(
        ClientMethod::from_request(&back),
        Ok(ClientMethod::Login(l))
    );
}

#[test]
fn login_optional_fields_are_tolerated() {
    let Ok(ClientMethod::Login(l)) = client("login", r#"{"login":"W"}"#) else {
        panic!("minimal login")
    };
    assert_eq!(
        l,
        Login {
            login: "W".into(),
            ..Login::default()
        }
    );
    assert_eq!(l.to_params(), json!({"login": "W"}));
    let Ok(ClientMethod::Login(l)) = client("login", r#"{"login":"W","algo":"rx/0","pass":null}"#)
    else {
        panic!("algo as a string")
    };
    assert_eq!((l.algo, l.pass), (vec!["rx/0".to_owned()], None));
}

#[test]
fn submit_from_xmrig_and_back() {
    let params = format!(
        r#"{{"id":"sess-1","job_id":"q7PL","nonce":"d0030040","result":"{RESULT}","algo":"rx/0","sig":"x"}}"#
    );
    let Ok(ClientMethod::Submit(s)) = client("submit", &params) else {
        panic!("not a submit")
    };
    assert_eq!(s.nonce, [0xd0, 0x03, 0x00, 0x40]);
    assert_eq!(
        (s.slot(), s.id.as_str(), s.algo.as_deref()),
        (0x40, "sess-1", Some("rx/0"))
    );
    assert_eq!(hex::encode(s.result), RESULT);
    // Last 8 bytes little-endian: 0x0010_0000_0000_0000 = 2^52 -> 2^12.
    assert_eq!(s.difficulty(), 4096);
    assert_eq!(
        s.share_key(),
        ShareKey {
            job_id: "q7PL".into(),
            nonce: [0xd0, 3, 0, 0x40]
        }
    );
    assert_eq!(s.extra.get("sig"), Some(&json!("x")));
    let line = text(s.to_request(9).to_line());
    assert_eq!(
        request(&line).params,
        serde_json::from_str::<Value>(&params).expect("json")
    );
    // Upper-case hex is read; written back in lower case.
    let upper = params.replace("d0030040", "D00300AB");
    let Ok(ClientMethod::Submit(s)) = client("submit", &upper) else {
        panic!("upper-case nonce")
    };
    assert_eq!(
        (s.nonce, s.to_params()["nonce"].clone()),
        ([0xd0, 3, 0, 0xab], json!("d00300ab"))
    );
}

#[test]
fn keepalived_getjob_and_unknown() {
    assert_eq!(
        client("keepalived", r#"{"id":"sess-1"}"#),
        Ok(ClientMethod::Keepalived {
            id: Some("sess-1".into())
        })
    );
    assert_eq!(
        client("keepalived", "[]"),
        Ok(ClientMethod::Keepalived { id: None })
    );
    assert_eq!(
        client("getjob", "{}"),
        Ok(ClientMethod::GetJob { id: None })
    );
    let line = r#"{"id":3,"jsonrpc":"2.0","method":"keepalived"}"#;
    assert_eq!(
        ClientMethod::from_request(&request(line)),
        Ok(ClientMethod::Keepalived { id: None })
    );
    let k = ClientMethod::Keepalived {
        id: Some("s".into()),
    };
    assert_eq!(
        text(k.to_request(3).to_line()),
        "{\"id\":3,\"jsonrpc\":\"2.0\",\"method\":\"keepalived\",\"params\":{\"id\":\"s\"}}\n"
    );
    let g = ClientMethod::GetJob {
        id: Some("s".into()),
    };
    assert_eq!(
        ClientMethod::from_request(&request(&text(g.to_request(4).to_line()))),
        Ok(g)
    );
    let u = client("mining.subscribe", r#"["x"]"#).expect("kept raw");
    assert_eq!((u.method(), u.params()), ("mining.subscribe", json!(["x"])));
    assert!(text(u.to_request(1).to_line()).contains(r#""jsonrpc":"2.0""#));
}

#[test]
#[rustfmt::skip]
fn bad_client_params_are_errors_not_panics() {
    let result = |r: &str| format!(r#"{{"id":"s","job_id":"j","nonce":"d0030040","result":"{r}"}}"#);
    let cases: Vec<(&str, String)> = vec![
        ("login", r#"["WALLET","x"]"#.into()), ("login", "{}".into()), ("login", r#"{"login":5}"#.into()),
        ("login", r#"{"login":"W","algo":[1]}"#.into()), ("login", r#"{"login":"W","algo":{}}"#.into()),
        ("login", r#"{"login":"W","pass":5}"#.into()), ("login", r#"{"login":"W","rigid":[]}"#.into()),
        ("submit", result(&RESULT[2..])), ("submit", result(&format!("{RESULT}00"))), ("submit", result("zz")),
        ("submit", result(&RESULT[1..])),
        ("submit", result(RESULT).replace("d0030040", "d00300")), ("submit", result(RESULT).replace("d0030040", "d003004000")),
        ("submit", result(RESULT).replace("d0030040", "g0030040")), ("submit", result(RESULT).replace("d0030040", "+0030040")),
        ("submit", result(RESULT).replace(r#""id":"s","#, "")), ("submit", result(RESULT).replace(r#""j""#, "7")),
        ("submit", "[]".into()), ("keepalived", r#"{"id":5}"#.into()), ("getjob", r#"["s"]"#.into()),
    ];
    for (method, params) in cases {
        let err = client(method, &params).expect_err(&params);
        assert_eq!(err.method, method, "{params}");
        assert!(!err.problem.is_empty());
    }
}

#[test]
fn job_from_pool_and_back() {
    let job = Job::from_value(&job_json()).expect("valid job");
    assert_eq!(
        (job.job_id.as_str(), job.height, job.algo.as_deref()),
        ("q7PL", Some(3_000_000), Some("rx/0"))
    );
    assert_eq!(
        (job.target, job.difficulty()),
        (Target::Compact(0x0006_8db8), 10_000)
    );
    assert_eq!(job.blob.len(), 76);
    assert_eq!(job.seed_hash.map(hex::encode).as_deref(), Some(SEED));
    assert_eq!(job.extra.len(), 2);
    assert_eq!(job.to_value(), job_json());
    let line = text(ServerMethod::Job(job.clone()).to_notification().to_line());
    assert!(
        line.starts_with(r#"{"id":null,"jsonrpc":"2.0","method":"job","params":{"#),
        "{line}"
    );
    assert_eq!(
        ServerMethod::from_request(&request(&line)),
        Ok(ServerMethod::Job(job))
    );
    // Without the optional fields, and with an 8-byte target.
    let min = json!({"blob": blob_hex(), "job_id": "j", "target": "0000000000000010"});
    let job = Job::from_value(&min).expect("minimal job");
    assert_eq!(
        (job.algo.as_deref(), job.height, job.seed_hash),
        (None, None, None)
    );
    assert_eq!((job.target, job.difficulty()), (Target::Full(1 << 60), 16));
    assert_eq!(job.to_value(), min);
}

#[test]
fn unknown_pool_methods_are_kept_and_relayed() {
    let r = request(r#"{"jsonrpc":"2.0","method":"motd","params":{"text":"hi"}}"#);
    let m = ServerMethod::from_request(&r).expect("kept");
    assert_eq!(m.method(), "motd");
    assert_eq!(
        text(m.to_notification().to_line()),
        "{\"id\":null,\"jsonrpc\":\"2.0\",\"method\":\"motd\",\"params\":{\"text\":\"hi\"}}\n"
    );
}

#[test]
fn bad_jobs_are_errors_not_panics() {
    let short = hex::encode([0u8; 75]);
    let mut cases = vec![json!([]), json!("job"), json!(null)];
    for (key, value) in [
        ("blob", json!(short)),
        ("blob", json!(&blob_hex()[1..])),
        ("blob", json!(blob_hex().replace("00", "zz"))),
        ("blob", json!(5)),
        ("job_id", json!("")),
        ("job_id", json!(7)),
        ("target", json!("b88d06")),
        ("target", json!("b88d060000")),
        ("target", json!("00000000")),
        ("target", json!("0000000000000000")),
        ("target", json!("xyzw0600")),
        ("target", json!(10000)),
        ("seed_hash", json!(&SEED[2..])),
        ("seed_hash", json!("nothex")),
        ("height", json!(-1)),
        ("height", json!("3000000")),
        ("height", json!(1.5)),
        ("algo", json!(["rx/0"])),
    ] {
        let mut job = job_json();
        job[key] = value;
        cases.push(job);
    }
    for key in ["blob", "job_id", "target"] {
        let mut job = job_json();
        job.as_object_mut().expect("object").remove(key);
        cases.push(job);
    }
    for case in cases {
        let err = Job::from_value(&case).expect_err(&case.to_string());
        assert_eq!(err.method, "job", "{case}");
        let line = format!(r#"{{"jsonrpc":"2.0","method":"job","params":{case}}}"#);
        if case.is_object() {
            assert!(
                ServerMethod::from_request(&request(&line)).is_err(),
                "{case}"
            );
        }
    }
}

#[test]
fn login_result_from_pool_and_to_miner() {
    let line = format!(
        r#"{{"id":1,"jsonrpc":"2.0","error":null,"result":{{"id":"sess-1","job":{},"extensions":["algo","nicehash","keepalive"],"status":"OK"}}}}"#,
        job_json()
    );
    let resp = response(&line);
    let r = LoginResult::from_result(&resp.result).expect("valid");
    assert_eq!((r.id.as_str(), r.status.as_deref()), ("sess-1", Some("OK")));
    assert!(r.has_extension("nicehash") && r.has_extension("KEEPALIVE") && !r.has_extension("tls"));
    assert_eq!(r.job.as_ref().map(|j| j.job_id.as_str()), Some("q7PL"));
    let out = r.to_response(json!(1));
    assert!(out.jsonrpc);
    let written = text(out.to_line());
    assert!(
        written.starts_with(r#"{"id":1,"jsonrpc":"2.0","result":{"#)
            && written.ends_with(",\"error\":null}\n")
    );
    assert_eq!(
        LoginResult::from_result(&response(&written).result),
        Ok(r.clone())
    );
    let made = LoginResult::new(
        "sess-1",
        r.job.clone().expect("job"),
        vec!["algo".into(), "nicehash".into(), "keepalive".into()],
    );
    assert_eq!(made, r);
    for bad in [
        json!([]),
        json!({"job": job_json()}),
        json!({"id": 5}),
        json!({"id": "s", "job": {"job_id": "j"}}),
        json!({"id": "s", "extensions": [1]}),
        json!({"id": "s", "status": false}),
    ] {
        assert_eq!(
            LoginResult::from_result(&bad).map_err(|e| e.method),
            Err("login"),
            "{bad}"
        );
    }
    let no_job = LoginResult::from_result(&json!({"id": "s"})).expect("job is optional");
    assert_eq!((no_job.job, no_job.extensions.len()), (None, 0));
}

#[test]
fn replies_are_written_exactly() {
    assert_eq!(
        text(ok_response(json!(2)).to_line()),
        "{\"id\":2,\"jsonrpc\":\"2.0\",\"result\":{\"status\":\"OK\"},\"error\":null}\n"
    );
    assert_eq!(
        text(keepalived_response(json!(3)).to_line()),
        "{\"id\":3,\"jsonrpc\":\"2.0\",\"result\":{\"status\":\"KEEPALIVED\"},\"error\":null}\n"
    );
    assert_eq!(
        text(error_response(json!(2), -1, "Low difficulty share").to_line()),
        "{\"id\":2,\"jsonrpc\":\"2.0\",\"result\":null,\"error\":{\"code\":-1,\"message\":\"Low difficulty share\"}}\n"
    );
    let e = RpcError::new(23, "Low difficulty share");
    assert_eq!(e.to_string(), "Low difficulty share (code 23)");
    assert_eq!(RpcError::from_response(&e.to_response(json!(1))), Some(e));
}

#[test]
fn pool_replies_are_understood() {
    let parse = |line: &str| response(line);
    assert_eq!(
        reply_status(&parse(
            r#"{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}"#
        )),
        Ok(Some("OK".into()))
    );
    assert_eq!(
        reply_status(&parse(
            r#"{"id":3,"error":null,"result":{"status":"KEEPALIVED"}}"#
        )),
        Ok(Some("KEEPALIVED".into()))
    );
    assert_eq!(
        reply_status(&parse(r#"{"id":3,"result":null,"error":null}"#)),
        Ok(None)
    );
    let low =
        parse(r#"{"id":2,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"}}"#);
    assert_eq!(
        submit_result(&low),
        Err(RpcError::new(-1, "Low difficulty share"))
    );
    let v1 = parse(r#"{"id":2,"result":null,"error":[22,"Duplicate share",null]}"#);
    assert_eq!(
        submit_result(&v1),
        Err(RpcError::new(22, "Duplicate share"))
    );
    let no_code = parse(r#"{"id":2,"result":false,"error":null,"reject-reason":"high-hash"}"#);
    assert_eq!(
        submit_result(&no_code),
        Err(RpcError::new(GENERIC_ERROR_CODE, "high-hash"))
    );
    let odd = parse(r#"{"id":2,"result":{"status":"REJECTED"},"error":null}"#);
    assert_eq!(reply_status(&odd), Ok(Some("REJECTED".into())));
    assert_eq!(submit_result(&odd), Err(RpcError::new(-1, "REJECTED")));
    assert_eq!(
        submit_result(&parse(r#"{"id":2,"result":{"status":"ok"}}"#)),
        Ok(())
    );
    assert_eq!(submit_result(&parse(r#"{"id":2,"result":true}"#)), Ok(()));
}

#[test]
fn per_miner_job_copies_differ_only_in_byte_42() {
    let job = Job::from_value(&job_json()).expect("valid");
    let mine = job.with_nicehash_slot(9);
    assert_eq!(mine.blob[NICEHASH_OFFSET], 9);
    assert_eq!(job.blob[NICEHASH_OFFSET], 42);
    let differing: Vec<usize> = (0..76).filter(|&i| job.blob[i] != mine.blob[i]).collect();
    assert_eq!(differing, vec![42]);
    assert_eq!(
        Job {
            blob: job.blob.clone(),
            ..mine
        },
        job
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "[0-9a-fA-Fxz/ ]{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("login".to_owned()),
                    Just("nonce".to_owned()),
                    Just("result".to_owned()),
                    Just("job_id".to_owned()),
                    Just("blob".to_owned()),
                    Just("target".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn submit_round_trips(nonce in any::<[u8; 4]>(), result in any::<[u8; 32]>(), job in "[A-Za-z0-9+/]{1,12}") {
        let s = Submit { id: "s".into(), job_id: job, nonce, result, algo: None, extra: Map::new() };
        let line = text(s.to_request(1).to_line());
        prop_assert_eq!(ClientMethod::from_request(&request(&line)), Ok(ClientMethod::Submit(s)));
    }

    #[test]
    fn arbitrary_params_never_panic(params in arb_json(), pick in 0usize..5) {
        let method = ["login", "submit", "keepalived", "getjob", "job"][pick];
        let req = Request::new(1, method, params.clone());
        let _ = ClientMethod::from_request(&req);
        let _ = ServerMethod::from_request(&req);
        let _ = LoginResult::from_result(&params);
        let _ = reply_status(&Response::ok(json!(1), params));
    }

}
