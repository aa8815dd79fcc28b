//! Unit and property tests of the ALEO dialects: detection, the miner-side
//! messages in both directions, duplicate keys and the target/difficulty
//! conversions (pool side: aleo_server_tests.rs).

use super::*;
use crate::jsonrpc::{Message, Response};
use proptest::prelude::*;
use serde_json::json;

pub(crate) fn request(line: &str) -> Request {
    match Message::parse(line.as_bytes()).expect("parses") {
        Message::Request(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

pub(crate) fn response(line: &str) -> Response {
    match Message::parse(line.as_bytes()).expect("parses") {
        Message::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

pub(crate) fn text(req: &Request) -> String {
    String::from_utf8(req.to_line()).expect("utf-8")
}

pub(crate) fn params(s: &str) -> Vec<Value> {
    match serde_json::from_str(s).expect("json") {
        Value::Array(items) => items,
        other => panic!("not a list: {other}"),
    }
}

pub(crate) fn client(
    method: &str,
    p: &str,
    d: Option<Dialect>,
) -> Result<ClientMethod, ParamsError> {
    let line = format!(r#"{{"id":3,"method":"{method}","params":{p}}}"#);
    ClientMethod::from_line(&request(&line), line.as_bytes(), d)
}

pub(crate) fn server(
    method: &str,
    p: &str,
    d: Option<Dialect>,
) -> Result<ServerMethod, ParamsError> {
    let line = format!(r#"{{"id":null,"method":"{method}","params":{p}}}"#);
    ServerMethod::from_request(&request(&line), d)
}

pub(crate) const A3: Option<Dialect> = Some(Dialect::AleoStratum3);
pub(crate) const ICE: Option<Dialect> = Some(Dialect::IceRiver);
pub(crate) const ICE_NOTIFY: &str =
    r#"["AJ1",123456,18446744073709551,"ab1<block_header_root>","ab1<hashed_beacons_root>",true]"#;
pub(crate) const A3_NOTIFY: &str = r#"["JOB_ID","EPOCH_HASH","aleo1pooladdress",true]"#;

/// What a miner's subscribe tells of its dialect, for every agent string
/// in protocols.md and the shapes around them: only AleoStratum/3.x is
/// AleoStratum3, an IceRiver agent is IceRiver whatever version it names,
/// anything else follows the pool (`None`).
#[test]
fn miner_dialect_from_what_real_miners_subscribe_with() {
    use Dialect::*;
    #[rustfmt::skip]
    let table: &[(&str, Option<Dialect>)] = &[
        // protocols.md §3, AleoStratum/3.0.0 (the spec's placeholder agent).
        (r#"["AGENT","AleoStratum/3.0.0",null]"#, Some(AleoStratum3)),
        // protocols.md §3: what IceRiver ASICs send.
        (r#"["IceRiverMiner-v1.1","AleoStratum/2.0.0",null]"#, Some(IceRiver)),
        (r#"["IceRiverMiner-v1.1"]"#, Some(IceRiver)),
        (r#"["iceriverminer-v2.0","AleoStratum/3.0.0",null]"#, Some(AleoStratum3)),
        (r#"["aleominer/1.0","AleoStratum/3.1.2",null]"#, Some(AleoStratum3)),
        (r#"["aleominer/1.0","aleostratum/3.0.0"]"#, Some(AleoStratum3)),
        // Other versions, other agents, no version: the pool's dialect.
        (r#"["aleominer/1.0","AleoStratum/2.0.0",null]"#, None),
        (r#"["aleominer/1.0","AleoStratum/30"]"#, Some(AleoStratum3)),
        (r#"["aleominer/1.0","AleoStratum/"]"#, None),
        (r#"["cpuminer/2.5.1"]"#, None),
        (r#"["cgminer/4.11.1","ae6812eb"]"#, None),
        (r#"["XMRig/6.21.0"]"#, None),
        (r#"[null,"AleoStratum/3.0.0",null]"#, Some(AleoStratum3)),
        (r#"[]"#, None),
        (r#"[null]"#, None),
    ];
    for (p, want) in table {
        let Ok(ClientMethod::Subscribe(s)) = client("mining.subscribe", p, None) else {
            panic!("{p} is a subscribe")
        };
        assert_eq!(s.announced(), *want, "{p}");
    }
    // The IceRiver form keeps its protocol string in place (not a session).
    let Ok(ClientMethod::Subscribe(s)) = client(
        "mining.subscribe",
        r#"["IceRiverMiner-v1.1","AleoStratum/2.0.0",null]"#,
        None,
    ) else {
        panic!("subscribe")
    };
    assert_eq!(
        (s.protocol.as_deref(), s.session.as_deref()),
        (Some("AleoStratum/2.0.0"), None)
    );
    // What the proxy sends a pool: exactly the shapes miners send.
    assert_eq!(
        Subscribe::new(IceRiver, "IceRiverMiner-v1.1").to_params(),
        json!(["IceRiverMiner-v1.1", "AleoStratum/2.0.0", null])
    );
    assert_eq!(
        Subscribe::new(AleoStratum3, "a").to_params(),
        json!(["a", "AleoStratum/3.0.0", null])
    );
    assert_eq!(Subscribe::new(IceRiver, "x").announced(), None);
    assert_eq!(
        Subscribe::new(AleoStratum3, "x").announced(),
        Some(AleoStratum3)
    );
}

#[test]
fn dialect_from_subscribe_results() {
    use Dialect::*;
    #[rustfmt::skip]
    let results = [
        (json!(["SESSION_ID", "0a0b", "aleo1pool"]), Some(AleoStratum3)),
        (json!([null, null, "aleo1pool"]), Some(AleoStratum3)),
        (json!([[["mining.notify", "ae6812eb"]], "08000002", 4]), Some(IceRiver)),
        (json!([null, "08000002", 8, "extra"]), Some(IceRiver)),
        (json!([]), None), (json!("x"), None), (json!([1, 2, 3]), None), (json!([true, "a", 1]), None),
        (json!(["s", "n"]), None), (json!({"id": "s"}), None),
    ];
    for (result, want) in results {
        assert_eq!(Dialect::from_subscribe_result(&result), want, "{result}");
    }
}

#[test]
fn dialect_from_notify_and_combined_detection() {
    use Dialect::*;
    assert_eq!(
        Dialect::from_notify_params(&params(ICE_NOTIFY)),
        Some(IceRiver)
    );
    assert_eq!(
        Dialect::from_notify_params(&params(A3_NOTIFY)),
        Some(AleoStratum3)
    );
    let with_extra = ICE_NOTIFY.replace("true]", r#"1,"x",{"k":1}]"#);
    assert_eq!(
        Dialect::from_notify_params(&params(&with_extra)),
        Some(IceRiver)
    );
    assert_eq!(
        Dialect::from_notify_params(&params(r#"["J","E",null,false,7]"#)),
        Some(AleoStratum3)
    );
    // A height sent as text matches neither shape; so do short or typeless lists.
    let text_height = ICE_NOTIFY.replace("123456", r#""123456""#);
    for p in [
        text_height.as_str(),
        r#"["J","E",null]"#,
        "[]",
        "[1,2,3,4,5,6]",
        r#"["J",1,2,"a","b"]"#,
    ] {
        assert_eq!(Dialect::from_notify_params(&params(p)), None, "{p}");
    }
    let ice_result = json!([null, "08000002", 4]);
    let a3_result = json!(["s", null, "aleo1pool"]);
    let a3_notify = params(A3_NOTIFY);
    assert_eq!(
        Dialect::detect(Some(&ice_result), Some(&a3_notify)),
        Some(AleoStratum3)
    );
    assert_eq!(
        Dialect::detect(Some(&ice_result), Some(&params("[]"))),
        Some(IceRiver)
    );
    assert_eq!(Dialect::detect(Some(&a3_result), None), Some(AleoStratum3));
    assert_eq!(Dialect::detect(None, None), None);
    assert_eq!(Dialect::detect(Some(&json!(5)), Some(&[])), None);
}

#[test]
fn dialect_names() {
    for d in [Dialect::AleoStratum3, Dialect::IceRiver] {
        assert_eq!(d.to_string().parse::<Dialect>(), Ok(d));
    }
    assert_eq!("AleoStratum/3.0.0".parse(), Ok(Dialect::AleoStratum3));
    assert_eq!(" IceRiver ".parse(), Ok(Dialect::IceRiver));
    let err = "stratum".parse::<Dialect>().expect_err("unknown");
    assert!(err.to_string().contains("iceriver"), "{err}");
    assert!(Dialect::AleoStratum3.jsonrpc() && !Dialect::IceRiver.jsonrpc());
}

/// Found by fuzzing (share_maths): the round trip is exact below 2^32
/// only; at 2^32 no inverse target reads back exactly, the nearest asks
/// for one more (never less).
#[test]
fn difficulty_round_trip_is_exact_below_2_pow_32() {
    let back = |d: u64| target_to_difficulty(difficulty_to_target(d)).unwrap();
    assert_eq!(back((1 << 32) - 1), (1 << 32) - 1);
    assert_eq!(back(1 << 32), (1 << 32) + 1);
    assert_eq!(back(1), 1);
    assert_eq!(back(0), 1);
}

#[test]
fn target_and_difficulty() {
    assert_eq!(target_to_difficulty(18_446_744_073_709_551), Some(1000));
    assert_eq!(target_to_difficulty(u64::MAX), Some(1));
    assert_eq!(target_to_difficulty(0), None);
    assert_eq!(difficulty_to_target(1000), 18_446_744_073_709_551);
    assert_eq!(difficulty_to_target(0), u64::MAX);
    assert_eq!(
        Dialect::IceRiver.difficulty_of_target(18_446_744_073_709_551),
        Some(1000)
    );
    assert_eq!(Dialect::AleoStratum3.difficulty_of_target(5000), Some(5000));
    assert_eq!(Dialect::AleoStratum3.difficulty_of_target(0), None);
    assert_eq!(Dialect::AleoStratum3.target_for_difficulty(5000), 5000);
    assert_eq!(Dialect::AleoStratum3.target_for_difficulty(0), 1);
    assert_eq!(
        Dialect::IceRiver.target_for_difficulty(1000),
        18_446_744_073_709_551
    );
}

#[test]
fn subscribe_both_shapes_both_ways() {
    let Ok(ClientMethod::Subscribe(s)) = client(
        "mining.subscribe",
        r#"["AGENT","AleoStratum/3.0.0",null]"#,
        None,
    ) else {
        panic!("subscribe")
    };
    assert_eq!(
        (
            s.agent.as_deref(),
            s.protocol.as_deref(),
            s.session.as_deref()
        ),
        (Some("AGENT"), Some(ALEO_STRATUM_3), None)
    );
    assert_eq!(s.announced(), Some(Dialect::AleoStratum3));
    assert_eq!(s, Subscribe::new(Dialect::AleoStratum3, "AGENT"));
    assert_eq!(
        text(&ClientMethod::Subscribe(s).to_request(1, Dialect::AleoStratum3)),
        "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"mining.subscribe\",\"params\":[\"AGENT\",\"AleoStratum/3.0.0\",null]}\n"
    );
    let v1 = ClientMethod::Subscribe(Subscribe::new(Dialect::IceRiver, "proxy/1.0"));
    assert_eq!(
        text(&v1.to_request(1, Dialect::IceRiver)),
        "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"proxy/1.0\",\"AleoStratum/2.0.0\",null]}\n"
    );
    #[rustfmt::skip]
    let cases = [
        r#"["a","AleoStratum/3.0.0","sid",{"x":1}]"#, r#"["a","ae6812eb"]"#, r#"["a"]"#, "[]",
        r#"[null,"sid"]"#, r#"["a",null,7]"#, r#"[null,"AleoStratum/3.0.0",null]"#,
    ];
    for p in cases {
        let Ok(ClientMethod::Subscribe(s)) = client("mining.subscribe", p, None) else {
            panic!("{p}")
        };
        assert_eq!(
            s.to_params(),
            serde_json::from_str::<Value>(p).expect("json"),
            "{p}"
        );
    }
    let Ok(ClientMethod::Subscribe(s)) = client("mining.subscribe", r#"["a","ae6812eb"]"#, None)
    else {
        panic!()
    };
    assert_eq!(
        (s.session.as_deref(), s.announced()),
        (Some("ae6812eb"), None)
    );
    for bad in [
        "[5]",
        r#"["a",5]"#,
        r#"["a","AleoStratum/3.0.0",5]"#,
        r#"[["a"]]"#,
    ] {
        assert_eq!(
            client("mining.subscribe", bad, None).map_err(|e| e.method),
            Err("mining.subscribe"),
            "{bad}"
        );
    }
}

#[test]
fn authorize_both_ways() {
    let auth = client("mining.authorize", r#"["WORKER","PASSWORD"]"#, None).expect("valid");
    let want = ClientMethod::Authorize {
        user: "WORKER".into(),
        password: Some("PASSWORD".into()),
        extra: vec![],
    };
    assert_eq!(auth, want);
    assert_eq!(
        text(&auth.to_request(2, Dialect::IceRiver)),
        "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"WORKER\",\"PASSWORD\"]}\n"
    );
    for p in [r#"["w"]"#, r#"["w",null,"x"]"#, r#"["w","p",{"k":[1]}]"#] {
        let m = client("mining.authorize", p, None).expect(p);
        assert_eq!(
            m.params(),
            serde_json::from_str::<Value>(p).expect("json"),
            "{p}"
        );
    }
    for bad in ["[]", "[5]", r#"["w",5]"#, r#"{"user":"w"}"#] {
        assert_eq!(
            client("mining.authorize", bad, None).map_err(|e| e.method),
            Err("mining.authorize"),
            "{bad}"
        );
    }
}

fn submit(p: &str, d: Option<Dialect>) -> Submit {
    match client("mining.submit", p, d) {
        Ok(ClientMethod::Submit(s)) => s,
        other => panic!("{p}: {other:?}"),
    }
}

fn params_text(s: &Submit) -> String {
    let params = s.to_params();
    let texts: Vec<&str> = params.iter().map(|p| p.text()).collect();
    format!("[{}]", texts.join(","))
}

#[test]
fn aleo3_submit_is_relayed_as_written() {
    let s = submit(r#"["WORKER","JOB_ID","123"]"#, A3);
    let Submit::AleoStratum3(a) = &s else {
        panic!("dialect")
    };
    assert_eq!(
        (
            a.worker_name().as_deref(),
            a.job_id.as_str(),
            a.counter.text()
        ),
        (Some("WORKER"), "JOB_ID", r#""123""#)
    );
    assert_eq!(
        s.share_key(),
        ShareKey {
            job_id: "JOB_ID".into(),
            counter: r#""123""#.into(),
            nonce: String::new()
        }
    );
    assert_eq!(
        String::from_utf8(s.to_line(&json!(3))).unwrap(),
        "{\"id\":3,\"jsonrpc\":\"2.0\",\"method\":\"mining.submit\",\"params\":[\"WORKER\",\"JOB_ID\",\"123\"]}\n"
    );
    // Every counter form the miner chose, and extras, as written.
    #[rustfmt::skip]
    let forms = [r#"["W","J",18446744073709551615,"x"]"#, r#"["W","J","0000000000000123"]"#, r#"["W","J","0x1A"]"#,
        r#"["W","J","00ff"]"#, r#"["W","J","abc"]"#, r#"["W","J",1.50]"#, r#"["W","J",-1]"#, r#"["W","J",18446744073709551616]"#,
        r#"["W","J",""]"#, r#"[5,"J",1]"#, r#"["W","J",1,{"k":[1, 2]},null]"#, r#"["W","J","\u0031"]"#];
    for p in forms {
        let s = submit(p, A3);
        assert_eq!(params_text(&s), p, "{p}");
        assert_eq!(s.dialect(), Dialect::AleoStratum3);
    }
    // Zero-padded and plain counters are different shares to the proxy.
    assert_ne!(
        submit(r#"["W","J","01"]"#, A3).share_key(),
        submit(r#"["W","J","1"]"#, A3).share_key()
    );
    // Guessed without a dialect.
    assert_eq!(
        submit(r#"["W","J",5]"#, None).dialect(),
        Dialect::AleoStratum3
    );
    // Only what the proxy needs: the params it needs, a string job id.
    #[rustfmt::skip]
    let bad = [r#"["W","J"]"#, r#"["W","J",null]"#, r#"[null,"J",1]"#, r#"["W",7,1]"#, r#"["W"]"#, "{}", "[]"];
    for p in bad {
        let e = client("mining.submit", p, A3).unwrap_err();
        assert_eq!(e.method, "mining.submit", "{p}");
    }
    let e = client("mining.submit", r#"["W","J"]"#, A3).unwrap_err();
    assert!(
        e.problem.contains("counter") && e.problem.contains("missing"),
        "{e}"
    );
}

#[test]
fn iceriver_submit_is_forwarded_as_is() {
    const ICE_SUBMIT: &str = r#"["AJ1","0000000000000001","ab1<proof>","0000abcd"]"#;
    for d in [ICE, None] {
        let s = submit(ICE_SUBMIT, d);
        assert_eq!(s.dialect(), Dialect::IceRiver);
        assert_eq!(
            String::from_utf8(s.to_line(&json!(3))).unwrap(),
            format!("{{\"id\":3,\"method\":\"mining.submit\",\"params\":{ICE_SUBMIT}}}\n")
        );
        assert_eq!(
            s.share_key(),
            ShareKey {
                job_id: "AJ1".into(),
                counter: r#""0000000000000001""#.into(),
                nonce: r#""0000abcd""#.into()
            }
        );
    }
    #[rustfmt::skip]
    let forms = [r#"["AJ1","00AB","proof","00FF",{"extra":true},null]"#, r#"["AJ1","xyz","p","0000abcd"]"#,
        r#"["AJ1","01","p",""]"#, r#"["AJ1","01","",0]"#, r#"["AJ1",1,5,"00"]"#, r#"["AJ1","0x01","p","00"]"#,
        r#"["AJ1",12345678901234567890123,"p","00"]"#];
    for p in forms {
        assert_eq!(params_text(&submit(p, ICE)), p, "{p}");
    }
    let key = |p: &str| submit(p, ICE).share_key();
    // The raw text is the key: the pool judges whether two spellings are one share.
    assert_eq!(
        key(r#"["J","00ab","p","00ff"]"#),
        key(r#"["J","00ab","q","00ff"]"#)
    );
    assert_ne!(
        key(r#"["J","00ab","p","00ff"]"#),
        key(r#"["J","AB","p","FF"]"#)
    );
    assert_ne!(key(r#"["J","01","p","ff"]"#), key(r#"["J","02","p","ff"]"#));
    assert_ne!(key(r#"["J","01","p","ff"]"#), key(r#"["K","01","p","ff"]"#));
    assert_ne!(key(r#"["J","01","p","ff"]"#), key(r#"["J","01","p","fe"]"#));
    #[rustfmt::skip]
    let bad = [r#"["AJ1","01","p"]"#, r#"[1,"01","p","00"]"#, r#"["AJ1",null,"p","00"]"#, r#"["AJ1","01","p",null]"#];
    for p in bad {
        assert_eq!(
            client("mining.submit", p, ICE).map_err(|e| e.method),
            Err("mining.submit"),
            "{p}"
        );
    }
}

pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9a-fA-F]{0,16}".prop_map(Value::from),
        "(AleoStratum/3.0.0|aleo1x|true|0x1|-1| )".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 16, 7, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..7).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_params_never_panic(p in prop::collection::vec(arb_json(), 0..8), pick in 0usize..6, d in 0usize..3) {
        let method = ["mining.subscribe", "mining.authorize", "mining.submit", "mining.notify", "mining.set_target", "mining.set_difficulty"][pick];
        let dialect = [None, A3, ICE][d];
        let req = Request::new(1, method, Value::Array(p.clone()));
        // A submit is written back exactly as it was read.
        let line = req.to_line();
        if let Ok(ClientMethod::Submit(s)) = ClientMethod::from_line(&req, &line, dialect) {
            prop_assert_eq!(Submit::from_raw(&s.to_params(), Some(s.dialect())), Ok(s.clone()));
            let params: Vec<_> = crate::raw::raw_params(&line).expect("params");
            let written: Vec<_> = crate::raw::raw_params(&s.to_line(&json!(1))).expect("params");
            prop_assert_eq!(written, params);
        }
        if let Ok(ServerMethod::Notify(n)) = ServerMethod::from_request(&req, dialect) {
            prop_assert_eq!(n.to_params(), Value::Array(p.clone()));
        }
        let _ = SubscribeResult::from_result(&Value::Array(p.clone()), dialect);
        let _ = Dialect::detect(Some(&Value::Array(p.clone())), Some(&p));
    }

    #[test]
    fn difficulty_target_round_trip(d in any::<u64>()) {
        let back = target_to_difficulty(difficulty_to_target(d)).expect("non-zero target");
        prop_assert!(back >= d.max(1));
        if d < 1 << 32 {
            prop_assert_eq!(back, d.max(1));
        }
    }

    #[test]
    fn any_counter_and_nonce_text_reaches_the_pool_unchanged(counter in "[0-9a-fA-FxX]{0,20}", nonce in any::<u64>(), zeros in 0usize..4, dialect in 0usize..2) {
        let pad = "0".repeat(zeros);
        let p = if dialect == 0 {
            format!(r#"["W","J","{pad}{counter}"]"#)
        } else {
            format!(r#"["J","{pad}{counter}","p",{nonce}]"#)
        };
        let d = [A3, ICE][dialect];
        prop_assert_eq!(params_text(&submit(&p, d)), p);
    }

}
