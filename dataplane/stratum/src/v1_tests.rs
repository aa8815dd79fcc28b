//! Unit and property tests of the typed Stratum V1 messages.

use super::*;
use crate::jsonrpc::Message;

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
