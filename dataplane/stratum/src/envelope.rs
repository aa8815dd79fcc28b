//! Reading one line into a [`Message`] in a single pass, without building a
//! map: the envelope's keys are matched as they are read, never allocated,
//! and only the values the envelope keeps (`id`, `method`, `params`,
//! `result`, `error`, `reject-reason`) become [`Value`]s. The rules are
//! those of a map read whole (see `jsonrpc`): a repeated key keeps its last
//! value, `method` makes a request whatever else is there, unknown keys are
//! skipped. Every share crosses this twice (the miner's line, the pool's
//! answer), so it is on the hot path (BENCHMARKS.md, issue 15).

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::jsonrpc::{EnvelopeError, Message, Request, Response};

/// Parses one line (already trimmed) into a message.
pub(crate) fn parse(line: &[u8]) -> Result<Message, EnvelopeError> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let message = de
        .deserialize_any(EnvelopeVisitor)
        .map_err(|e| EnvelopeError::Json(e.to_string()))?;
    de.end().map_err(|e| EnvelopeError::Json(e.to_string()))?;
    message
}

/// The keys the envelope knows; any other is skipped.
enum Key {
    Id,
    Method,
    Params,
    Result,
    Error,
    Jsonrpc,
    RejectReason,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
                Ok(match k {
                    "id" => Key::Id,
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    "jsonrpc" => Key::Jsonrpc,
                    "reject-reason" => Key::RejectReason,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// What a line is: a message, or valid JSON that is not one (the outer
/// `Result` is the JSON parser's).
struct EnvelopeVisitor;

type Parsed = Result<Message, EnvelopeError>;

fn not_an_object<E>() -> Result<Parsed, E> {
    Ok(Err(EnvelopeError::NotAnObject))
}

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut id = None;
        let mut method = None;
        let mut params = None;
        let mut result = None;
        let mut error = None;
        let mut reject_reason = None;
        let mut jsonrpc = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Id => id = Some(map.next_value::<Value>()?),
                Key::Method => method = Some(map.next_value::<Value>()?),
                Key::Params => params = Some(map.next_value::<Value>()?),
                Key::Result => result = Some(map.next_value::<Value>()?),
                Key::Error => error = Some(map.next_value::<Value>()?),
                Key::RejectReason => reject_reason = Some(map.next_value::<Value>()?),
                Key::Jsonrpc => {
                    jsonrpc = true;
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.unwrap_or(Value::Null);
        if let Some(method) = method {
            let Value::String(method) = method else {
                return Ok(Err(EnvelopeError::MethodNotString));
            };
            let params = match params {
                None | Some(Value::Null) => Value::Array(Vec::new()),
                Some(p @ (Value::Array(_) | Value::Object(_))) => p,
                Some(single) => Value::Array(vec![single]),
            };
            return Ok(Ok(Message::Request(Request {
                id,
                method,
                params,
                jsonrpc,
            })));
        }
        if result.is_none() && error.is_none() {
            return Ok(Err(EnvelopeError::Neither));
        }
        Ok(Ok(Message::Response(Response {
            id,
            result: result.unwrap_or(Value::Null),
            error: error.unwrap_or(Value::Null),
            reject_reason: reject_reason.as_ref().map(crate::jsonrpc::value_text),
            jsonrpc,
        })))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        not_an_object()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Parsed, E> {
        not_an_object()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Parsed, E> {
        not_an_object()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Parsed, E> {
        not_an_object()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Parsed, E> {
        not_an_object()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Parsed, E> {
        not_an_object()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        not_an_object()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(line: &str) -> Request {
        match parse(line.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{line}: expected a request, got {other:?}"),
        }
    }

    fn response(line: &str) -> Response {
        match parse(line.as_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{line}: expected a response, got {other:?}"),
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let r = request(r#"{"id":1,"method":"a","params":[1],"id":2,"params":[2]}"#);
        assert_eq!((r.id, r.params), (json!(2), json!([2])));
    }

    #[test]
    fn escaped_keys_are_the_same_keys() {
        let r = request(r#"{"\u0069d":7,"meth\u006fd":"x"}"#);
        assert_eq!((r.id, r.method.as_str()), (json!(7), "x"));
    }

    #[test]
    fn method_wins_over_result_and_unknown_keys_are_skipped() {
        let r = request(r#"{"x":{"deep":[1,{"y":null}]},"result":true,"method":"m","params":5}"#);
        assert_eq!(r.method, "m");
        assert_eq!(r.params, json!([5]), "a single param becomes a list");
        assert!(!r.jsonrpc);
    }

    #[test]
    fn jsonrpc_is_noted_whatever_its_value() {
        assert!(request(r#"{"jsonrpc":null,"id":1,"method":"a"}"#).jsonrpc);
        let r = response(r#"{"jsonrpc":"2.0","id":1,"result":null}"#);
        assert!(r.jsonrpc);
        assert_eq!(r.error, Value::Null);
    }

    #[test]
    fn reject_reason_is_kept_as_text() {
        let r = response(r#"{"id":1,"result":false,"reject-reason":"Above target"}"#);
        assert_eq!(r.reject_reason.as_deref(), Some("Above target"));
        let r = response(r#"{"id":1,"error":null,"result":false,"reject-reason":23}"#);
        assert_eq!(r.reject_reason.as_deref(), Some("23"));
    }

    #[test]
    fn what_is_not_a_message_says_why() {
        for line in ["[1,2]", "[]", "true", "1", "-1", "1.5", "\"s\"", "null"] {
            assert_eq!(
                parse(line.as_bytes()).unwrap_err(),
                EnvelopeError::NotAnObject,
                "{line}"
            );
        }
        assert_eq!(
            parse(br#"{"id":1,"method":5}"#).unwrap_err(),
            EnvelopeError::MethodNotString
        );
        assert_eq!(
            parse(br#"{"id":1,"params":[]}"#).unwrap_err(),
            EnvelopeError::Neither
        );
        for line in ["{", "{}x", r#"{"id":1,"method":"a"} {}"#, "", "{\"id\":01}"] {
            assert!(
                matches!(parse(line.as_bytes()), Err(EnvelopeError::Json(_))),
                "{line}"
            );
        }
    }

    #[test]
    fn nesting_beyond_the_parser_limit_is_an_error_not_a_crash() {
        let deep = format!(
            r#"{{"id":1,"method":"a","params":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(EnvelopeError::Json(_))
        ));
    }
}
