//! Property tests: every typed Stratum V1 message and the JSON-RPC envelope survive a trip through a line, and parsing never panics.

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchyard_stratum::v1::{ClientMethod, Configure, Notify, ServerMethod, Submit};
use switchyard_stratum::{Message, Request, Response};

const KNOWN: &[&str] = &[
    "mining.subscribe",
    "mining.authorize",
    "mining.submit",
    "mining.configure",
    "mining.extranonce.subscribe",
    "mining.suggest_difficulty",
    "mining.notify",
    "mining.set_difficulty",
    "mining.set_extranonce",
    "mining.set_version_mask",
    "client.reconnect",
    "client.show_message",
    "client.get_version",
];

/// Text with quotes, backslashes, slashes, control characters and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._/-]{0,24}",
        any::<String>(),
        Just("\"\\/\n\t\u{0}é€😀".to_owned()),
    ]
}

/// Floats of up to 9 significant digits (what pools send), which survive the
/// trip. Full-precision floats do not: see `full_precision_floats_round_trip`.
fn short_float() -> impl Strategy<Value = f64> {
    (1u32..1_000_000_000, 0i32..12).prop_map(|(m, e)| f64::from(m) / 10f64.powi(e))
}

fn difficulty() -> impl Strategy<Value = f64> {
    prop_oneof![(1u32..1_000_000).prop_map(f64::from), short_float()]
}

fn full_precision_difficulty() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("positive and finite", |d| d.is_finite() && *d > 0.0)
}

/// Any JSON value, floats included.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        short_float().prop_map(Value::from),
        short_float().prop_map(|f| Value::from(-f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(text(), json(), 0..4).prop_map(|m| m.into_iter().collect())
}

/// Params as the envelope keeps them: a list or an object.
fn params() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(json(), 0..4).prop_map(Value::Array),
        object().prop_map(Value::Object),
    ]
}

fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ]
}

fn unknown_method() -> impl Strategy<Value = String> {
    text().prop_filter("not a known method", |m| !KNOWN.contains(&m.as_str()))
}

fn client_method() -> impl Strategy<Value = ClientMethod> {
    let submit = (
        text(),
        text(),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<u32>(),
        any::<u32>(),
        any::<Option<u32>>(),
    )
        .prop_map(
            |(worker, job_id, extranonce2, ntime, nonce, version_bits)| {
                ClientMethod::Submit(Submit {
                    worker,
                    job_id,
                    extranonce2,
                    ntime,
                    nonce,
                    version_bits,
                })
            },
        );
    let configure = (prop::collection::vec(text(), 0..5), object())
        .prop_map(|(extensions, params)| ClientMethod::Configure(Configure { extensions, params }));
    prop_oneof![
        (any::<Option<String>>(), any::<Option<String>>())
            .prop_map(|(agent, session)| ClientMethod::Subscribe { agent, session }),
        (text(), prop::option::of(text()))
            .prop_map(|(user, password)| ClientMethod::Authorize { user, password }),
        submit,
        configure,
        Just(ClientMethod::ExtranonceSubscribe),
        difficulty().prop_map(ClientMethod::SuggestDifficulty),
        (unknown_method(), params())
            .prop_map(|(method, params)| ClientMethod::Unknown { method, params }),
    ]
}

fn notify() -> impl Strategy<Value = ServerMethod> {
    (
        (text(), any::<[u8; 32]>()),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<[u8; 32]>(), 0..5),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()),
    )
        .prop_map(
            |(
                (job_id, prevhash),
                coinb1,
                coinb2,
                merkle_branch,
                (version, nbits, ntime, clean),
            )| {
                ServerMethod::Notify(Notify {
                    job_id,
                    prevhash,
                    coinb1,
                    coinb2,
                    merkle_branch,
                    version,
                    nbits,
                    ntime,
                    clean_jobs: clean,
                })
            },
        )
}

/// `client.reconnect` in the shapes that survive the trip: no params at all,
/// or a real port. (A missing port is written as 0 and read back as
/// `Some(0)`: see `reconnect_without_port_round_trips` below.)
fn reconnect() -> impl Strategy<Value = ServerMethod> {
    prop_oneof![
        Just(ServerMethod::Reconnect {
            host: None,
            port: None,
            wait_seconds: 0,
        }),
        (prop::option::of("[a-z0-9.-]{1,20}"), 1u16.., any::<u64>()).prop_map(
            |(host, port, wait_seconds)| ServerMethod::Reconnect {
                host,
                port: Some(port),
                wait_seconds,
            }
        ),
    ]
}

fn server_method() -> impl Strategy<Value = ServerMethod> {
    prop_oneof![
        notify(),
        difficulty().prop_map(ServerMethod::SetDifficulty),
        (prop::collection::vec(any::<u8>(), 0..16), 0usize..=32).prop_map(
            |(extranonce1, extranonce2_size)| ServerMethod::SetExtranonce {
                extranonce1,
                extranonce2_size,
            }
        ),
        any::<u32>().prop_map(ServerMethod::SetVersionMask),
        reconnect(),
        text().prop_map(ServerMethod::ShowMessage),
        Just(ServerMethod::GetVersion),
        (unknown_method(), params())
            .prop_map(|(method, params)| ServerMethod::Unknown { method, params }),
    ]
}

fn parse_request(line: &[u8]) -> Request {
    match Message::parse(line) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request from {:?}, got {other:?}", show(line)),
    }
}

fn show(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

proptest! {
    // Failures are reported, not saved next to the source.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn client_methods_round_trip(m in client_method(), id in id()) {
        let line = m.to_request(id.clone()).to_line();
        let req = parse_request(&line);
        prop_assert_eq!(&req.id, &id);
        prop_assert_eq!(req.method.as_str(), m.method());
        let back = ClientMethod::from_request(&req);
        prop_assert_eq!(back, Ok(m), "line {}", show(&line));
    }

    #[test]
    fn server_methods_round_trip(m in server_method()) {
        let line = m.to_notification().to_line();
        let req = parse_request(&line);
        prop_assert_eq!(&req.id, &Value::Null);
        let back = ServerMethod::from_request(&req);
        prop_assert_eq!(back, Ok(m), "line {}", show(&line));
    }

    #[test]
    fn requests_round_trip(
        id in id(), method in text(), params in params(), jsonrpc in any::<bool>()
    ) {
        let req = Request { id, method, params, jsonrpc };
        let line = req.to_line();
        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        prop_assert_eq!(Message::parse(&line), Ok(Message::Request(req)), "line {}", show(&line));
    }

    #[test]
    fn responses_round_trip(
        id in id(),
        result in json(),
        error in json(),
        reject_reason in prop::option::of(text()),
        jsonrpc in any::<bool>(),
    ) {
        let resp = Response { id, result, error, reject_reason, jsonrpc };
        let line = resp.to_line();
        prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        prop_assert_eq!(Message::parse(&line), Ok(Message::Response(resp)), "line {}", show(&line));
    }

    #[test]
    fn error_answers_round_trip(id in id(), code in any::<i64>(), message in text()) {
        let resp = Response::error(id, code, &message);
        let back = Message::parse(&resp.to_line());
        let Ok(Message::Response(back)) = back else {
            panic!("not a response: {back:?}");
        };
        prop_assert!(!back.is_ok());
        prop_assert_eq!(back.error_parts(), Some((Some(code), message)));
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Message::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_json_like_text(
        line in r#"[{}\[\]",:0-9a-z.\-+eE \\nul"truefals]{0,120}"#
    ) {
        let _ = Message::parse(line.as_bytes());
    }

    /// Whatever parses re-serialises to a line that parses to the same message.
    #[test]
    fn parsed_messages_are_stable(map in prop::collection::btree_map(
        prop_oneof![
            Just("id".to_owned()), Just("method".to_owned()), Just("params".to_owned()),
            Just("result".to_owned()), Just("error".to_owned()),
            Just("reject-reason".to_owned()), Just("jsonrpc".to_owned()), text(),
        ],
        prop_oneof![json(), text().prop_map(Value::from)],
        0..6,
    )) {
        let line = Value::Object(map.into_iter().collect()).to_string();
        if let Ok(first) = Message::parse(line.as_bytes()) {
            prop_assert_eq!(Message::parse(&first.to_line()), Ok(first));
        }
    }

    /// Any params for any known method: a value or a `ParamsError`, never a panic.
    #[test]
    fn typed_parsing_never_panics(method in prop::sample::select(KNOWN), params in params()) {
        let req = Request::new(1, method, params);
        let _ = ClientMethod::from_request(&req);
        if let Ok(ClientMethod::Configure(c)) = ClientMethod::from_request(&req) {
            let _ = (c.version_rolling_mask(), c.version_rolling_min_bit_count());
            let _ = c.minimum_difficulty();
        }
        let _ = ServerMethod::from_request(&req);
        let _ = switchyard_stratum::v1::SubscribeResult::from_result(&req.params);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// BUG (workspace Cargo.toml): serde_json is built without its
    /// `float_roundtrip` feature, so parsing a float is "best effort" and about
    /// 1 in 11 full-precision f64 values (e.g. a computed difficulty
    /// 7.2316896362404055) reads back 1 ULP off (7.231689636240405). A
    /// difficulty the proxy computes and writes is not the one a reader gets.
    /// Fix: `serde_json = { version = "1", features = ["float_roundtrip"] }`.
    #[test]
    fn full_precision_floats_round_trip(d in full_precision_difficulty()) {
        let m = ServerMethod::SetDifficulty(d);
        let req = parse_request(&m.to_notification().to_line());
        prop_assert_eq!(ServerMethod::from_request(&req), Ok(m));
    }
}

#[test]
fn computed_difficulty_round_trips() {
    let d = 7.231_689_636_240_405_5_f64;
    let line = ServerMethod::SetDifficulty(d).to_notification().to_line();
    let back = ServerMethod::from_request(&parse_request(&line));
    assert_eq!(back, Ok(ServerMethod::SetDifficulty(d)), "{}", show(&line));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Message::parse(deep.as_bytes()).is_err());
    let deep = format!(
        r#"{{"id":1,"method":"m","params":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(Message::parse(deep.as_bytes()).is_err());
}

/// BUG (v1.rs, `ServerMethod::params` / `from_request` for client.reconnect):
/// a missing port is written as `0` and read back as `Some(0)`, so
/// `Reconnect { host: Some(h), port: None, .. }` does not survive the trip
/// (and a relayed `["host", 0, 5]` becomes "port 0"). Fix either side: treat
/// port 0 as `None` when reading.
#[test]
fn reconnect_without_port_round_trips() {
    for m in [
        ServerMethod::Reconnect {
            host: Some("pool.example".into()),
            port: None,
            wait_seconds: 0,
        },
        ServerMethod::Reconnect {
            host: None,
            port: None,
            wait_seconds: 5,
        },
    ] {
        let req = parse_request(&m.to_notification().to_line());
        assert_eq!(ServerMethod::from_request(&req), Ok(m));
    }
}

/// BUG (jsonrpc.rs `Response::error_parts`): documented as reading
/// `reject-reason` beside a `false` result, it returns it beside any result,
/// so an accepted share with `"reject-reason":null` (read as `Some("")`) or a
/// stale reason looks rejected to a caller that checks `error_parts()`.
#[test]
fn accepted_answer_has_no_error_parts() {
    for line in [
        r#"{"id":3,"result":true,"error":null,"reject-reason":null}"#,
        r#"{"id":3,"result":true,"error":null,"reject-reason":"high-hash"}"#,
    ] {
        let Ok(Message::Response(r)) = Message::parse(line.as_bytes()) else {
            panic!("not a response: {line}")
        };
        assert!(r.is_ok(), "{line}");
        assert_eq!(r.error_parts(), None, "{line}");
    }
}
