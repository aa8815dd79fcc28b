//! Unit and property tests of the pool side of ALEO stratum: notify in both
//! dialects (loose fields relayed unchanged), set_target, subscribe results
//! and submit answers.

use super::*;
use crate::aleo::tests::{
    A3, A3_NOTIFY, ICE, ICE_NOTIFY, arb_json, client, request, response, server, text,
};
use proptest::prelude::*;
use serde_json::json;

#[test]
fn aleo3_notify_and_set_target() {
    let Ok(ServerMethod::Notify(n)) = server("mining.notify", A3_NOTIFY, None) else {
        panic!("notify")
    };
    let Notify::AleoStratum3(a) = &n else {
        panic!("dialect")
    };
    assert_eq!(
        (
            a.job_id.as_str(),
            a.epoch_hash.as_str(),
            a.address.as_deref()
        ),
        ("JOB_ID", "EPOCH_HASH", Some("aleo1pooladdress"))
    );
    assert!(n.clean_jobs());
    assert_eq!((n.difficulty(), n.job_id()), (None, "JOB_ID"));
    assert_eq!(
        text(&n.to_notification()),
        format!(
            "{{\"id\":null,\"jsonrpc\":\"2.0\",\"method\":\"mining.notify\",\"params\":{A3_NOTIFY}}}\n"
        )
    );
    let null_addr = r#"["J","E",null,false,"x"]"#;
    let Ok(ServerMethod::Notify(n)) = server("mining.notify", null_addr, A3) else {
        panic!("null address")
    };
    assert!(!n.clean_jobs());
    assert_eq!(
        n.to_params(),
        serde_json::from_str::<Value>(null_addr).expect("json")
    );
    assert_eq!(
        server("mining.set_target", "[1000]", None),
        Ok(ServerMethod::SetTarget(1000))
    );
    assert_eq!(
        server("mining.set_target", r#"["1000"]"#, A3),
        Ok(ServerMethod::SetTarget(1000))
    );
    assert_eq!(
        text(&ServerMethod::SetTarget(1000).to_notification(Dialect::AleoStratum3)),
        "{\"id\":null,\"jsonrpc\":\"2.0\",\"method\":\"mining.set_target\",\"params\":[1000]}\n"
    );
    for bad in [
        "[0]",
        "[-1]",
        r#"["0x10"]"#,
        "[]",
        "[1.5]",
        "[null]",
        r#"["0"]"#,
    ] {
        assert_eq!(
            server("mining.set_target", bad, A3).map_err(|e| e.method),
            Err("mining.set_target"),
            "{bad}"
        );
    }
}

#[test]
fn iceriver_notify_relays_loose_fields_unchanged() {
    let Ok(ServerMethod::Notify(n)) = server("mining.notify", ICE_NOTIFY, None) else {
        panic!("notify")
    };
    let Notify::IceRiver(i) = &n else {
        panic!("dialect")
    };
    assert_eq!(
        (i.job_id.as_str(), i.height, i.target),
        ("AJ1", 123_456, 18_446_744_073_709_551)
    );
    assert_eq!(
        (i.block_header_root.as_str(), i.hashed_beacons_root.as_str()),
        ("ab1<block_header_root>", "ab1<hashed_beacons_root>")
    );
    assert_eq!(
        (n.difficulty(), n.dialect()),
        (Some(1000), Dialect::IceRiver)
    );
    assert_eq!(
        text(&ServerMethod::Notify(n).to_notification(Dialect::IceRiver)),
        format!("{{\"id\":null,\"method\":\"mining.notify\",\"params\":{ICE_NOTIFY}}}\n")
    );
    #[rustfmt::skip]
    let cleans = [("true", true), ("false", false), ("1", true), ("0", false), (r#""true""#, true), (r#""false""#, false), (r#""1""#, true)];
    for (clean, want) in cleans {
        let p = ICE_NOTIFY.replace("true]", &format!(r#"{clean},"extra",[1,{{"a":null}}]]"#));
        let Ok(ServerMethod::Notify(n)) = server("mining.notify", &p, ICE) else {
            panic!("{p}")
        };
        assert_eq!(n.clean_jobs(), want, "{clean}");
        assert_eq!(
            n.to_params(),
            serde_json::from_str::<Value>(&p).expect("json"),
            "{p}"
        );
    }
}

#[test]
fn bad_notifies_are_errors_not_panics() {
    #[rustfmt::skip]
    let ice = [
        ICE_NOTIFY.replace("123456", r#""123456""#), ICE_NOTIFY.replace("123456", "-1"),
        ICE_NOTIFY.replace("18446744073709551", "0"), ICE_NOTIFY.replace("18446744073709551", "1.5"),
        ICE_NOTIFY.replace("18446744073709551", "18446744073709551616"), ICE_NOTIFY.replace(r#""ab1<block_header_root>""#, "5"),
        ICE_NOTIFY.replace(r#""ab1<hashed_beacons_root>""#, "null"), ICE_NOTIFY.replace("true]", "null]"),
        ICE_NOTIFY.replace("true]", "[true]]"), ICE_NOTIFY.replace(",true]", "]"), ICE_NOTIFY.replace(r#""AJ1""#, "7"),
    ];
    for p in &ice {
        assert_eq!(
            server("mining.notify", p, ICE).map_err(|e| e.method),
            Err("mining.notify"),
            "{p}"
        );
    }
    #[rustfmt::skip]
    let a3 = [r#"["J",5,null,true]"#, r#"["J","E",5,true]"#, r#"["J","E",null]"#, r#"["J","E",null,{}]"#, r#"[null,"E",null,true]"#, "{}"];
    for p in a3 {
        assert_eq!(
            server("mining.notify", p, A3).map_err(|e| e.method),
            Err("mining.notify"),
            "{p}"
        );
    }
    // Without a dialect, a shape that is neither is refused.
    for p in [
        "[]",
        r#"["J",1,2,3]"#,
        ICE_NOTIFY.replace("123456", r#""123456""#).as_str(),
    ] {
        assert_eq!(
            server("mining.notify", p, None).map_err(|e| e.method),
            Err("mining.notify"),
            "{p}"
        );
    }
}

#[test]
fn other_pool_methods() {
    assert_eq!(
        server("mining.set_difficulty", "[512]", ICE),
        Ok(ServerMethod::SetDifficulty(512.0))
    );
    assert_eq!(
        server("mining.set_difficulty", r#"["0.5"]"#, ICE),
        Ok(ServerMethod::SetDifficulty(0.5))
    );
    for bad in ["[0]", "[]", r#"["x"]"#] {
        assert!(server("mining.set_difficulty", bad, ICE).is_err(), "{bad}");
    }
    let m = server("client.reconnect", r#"["host",3333,0]"#, ICE).expect("kept");
    assert_eq!(
        (m.method(), m.params()),
        ("client.reconnect", json!(["host", 3333, 0]))
    );
    assert_eq!(
        text(&m.to_notification(Dialect::IceRiver)),
        "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[\"host\",3333,0]}\n"
    );
    let u = client("mining.extranonce.subscribe", "[]", ICE).expect("kept");
    assert_eq!(
        (u.method(), u.params()),
        ("mining.extranonce.subscribe", json!([]))
    );
}

#[test]
fn subscribe_results_both_dialects() {
    let a3 = json!(["SESSION_ID", "0a0B", "aleo1pool", {"x": 1}]);
    let r = SubscribeResult::from_result(&a3, None).expect("aleo3");
    assert_eq!(r.dialect(), Dialect::AleoStratum3);
    let SubscribeResult::AleoStratum3 {
        session_id,
        server_nonce,
        pool_address,
        ..
    } = &r
    else {
        panic!("dialect")
    };
    assert_eq!(
        (
            session_id.as_deref(),
            server_nonce.as_deref(),
            pool_address.as_str()
        ),
        (Some("SESSION_ID"), Some("0a0B"), "aleo1pool")
    );
    assert_eq!(r.to_result(), a3);
    assert_eq!(
        String::from_utf8(r.to_response(json!(1)).to_line()).expect("utf-8"),
        "{\"id\":1,\"jsonrpc\":\"2.0\",\"result\":[\"SESSION_ID\",\"0a0B\",\"aleo1pool\",{\"x\":1}],\"error\":null}\n"
    );
    let nulls = json!([null, null, "aleo1pool"]);
    assert_eq!(
        SubscribeResult::from_result(&nulls, A3).map(|r| r.to_result()),
        Ok(nulls)
    );
    let ice = json!([null, "08000002", 4]);
    let r = SubscribeResult::from_result(&ice, None).expect("iceriver");
    assert_eq!(
        r,
        SubscribeResult::IceRiver {
            subscriptions: Value::Null,
            extranonce1: vec![8, 0, 0, 2],
            extranonce2_size: 4,
            extra: vec![]
        }
    );
    assert_eq!(r.to_result(), ice);
    assert!(!r.to_response(json!(1)).jsonrpc);
    let subs = json!([[["mining.notify", "ae6812eb"]], "08000002", 4]);
    assert_eq!(
        SubscribeResult::from_result(&subs, ICE).map(|r| r.to_result()),
        Ok(subs)
    );
    #[rustfmt::skip]
    let bad = [
        (json!(["s", "xyz", "aleo1pool"]), A3), (json!(["s", 5, "aleo1pool"]), A3), (json!(["s", null]), A3),
        (json!([5, null, "aleo1pool"]), A3), (json!([null, "0800000", 4]), ICE), (json!([null, "zz", 4]), ICE),
        (json!([null, "08000002", 33]), ICE), (json!([null, "08000002", "4"]), ICE), (json!({"a": 1}), None),
        (json!([1, 2, 3]), None), (json!([null, 8, 4]), ICE),
    ];
    for (result, d) in bad {
        assert_eq!(
            SubscribeResult::from_result(&result, d).map_err(|e| e.method),
            Err("mining.subscribe"),
            "{result}"
        );
    }
}

#[test]
fn submit_answers_and_rejections() {
    let r = response(r#"{"id":3,"result":false,"error":null,"reject-reason":"high-hash"}"#);
    assert_eq!(
        submit_result(&r),
        Err(Rejection {
            code: None,
            reason: "high-hash".into()
        })
    );
    assert_eq!(
        submit_result(&response(r#"{"id":3,"result":true,"error":null}"#)),
        Ok(())
    );
    assert_eq!(
        submit_result(&response(r#"{"id":3,"result":null,"error":null}"#)),
        Ok(())
    );
    let obj = response(
        r#"{"id":3,"jsonrpc":"2.0","result":null,"error":{"code":23,"message":"Low difficulty share"}}"#,
    );
    assert_eq!(
        submit_result(&obj),
        Err(Rejection {
            code: Some(23),
            reason: "Low difficulty share".into()
        })
    );
    let arr = response(r#"{"id":3,"result":null,"error":[21,"Job not found",null]}"#);
    assert_eq!(submit_result(&arr).map_err(|e| e.code), Err(Some(21)));
    let ice = reject_response(Dialect::IceRiver, json!(3), 22, "duplicate share");
    assert_eq!(
        String::from_utf8(ice.to_line()).expect("utf-8"),
        "{\"id\":3,\"result\":false,\"error\":null,\"reject-reason\":\"duplicate share\"}\n"
    );
    assert_eq!(
        submit_result(&response(&String::from_utf8(ice.to_line()).expect("utf-8")))
            .map_err(|e| e.reason),
        Err("duplicate share".into())
    );
    let a3 = reject_response(Dialect::AleoStratum3, json!(3), 21, "Job not found");
    assert_eq!(
        String::from_utf8(a3.to_line()).expect("utf-8"),
        "{\"id\":3,\"jsonrpc\":\"2.0\",\"result\":null,\"error\":{\"code\":21,\"message\":\"Job not found\"}}\n"
    );
    assert_eq!(
        submit_result(&a3),
        Err(Rejection {
            code: Some(21),
            reason: "Job not found".into()
        })
    );
    let ok = ok_response(Dialect::AleoStratum3, json!(2), json!(true));
    assert_eq!(
        String::from_utf8(ok.to_line()).expect("utf-8"),
        "{\"id\":2,\"jsonrpc\":\"2.0\",\"result\":true,\"error\":null}\n"
    );
    assert!(!ok_response(Dialect::IceRiver, json!(2), json!(true)).jsonrpc);
}

proptest! {
    #[test]
    fn iceriver_notify_round_trips(
        job in "[A-Za-z0-9]{1,8}",
        height in any::<u64>(),
        target in 1u64..,
        clean in prop_oneof![any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from), "[a-z0-9]{0,5}".prop_map(Value::from)],
        extra in prop::collection::vec(arb_json(), 0..3),
    ) {
        let n = Notify::IceRiver(IceRiverNotify { job_id: job, height, target, block_header_root: "ab1r".into(),
            hashed_beacons_root: "ab1b".into(), clean, extra });
        let line = text(&n.to_notification());
        prop_assert_eq!(ServerMethod::from_request(&request(&line), None), Ok(ServerMethod::Notify(n)));
    }

}
