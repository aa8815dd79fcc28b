//! The JSON-RPC envelope shared by every stratum dialect: one line, one message.
//!
//! Tolerant on input (ids of any JSON type or missing, `error` missing, keys in
//! any order, `"result":null,"error":null` as a valid answer, params as a list,
//! an object or absent) and exact on output (fixed key order, `jsonrpc` only
//! where the dialect wants it).

use serde_json::Value;

/// Why a line is not a stratum message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("a stratum message must be a JSON object")]
    NotAnObject,
    #[error("`method` must be a string")]
    MethodNotString,
    #[error("neither `method` nor `result`/`error`: not a request and not a response")]
    Neither,
}

/// A request (with an id) or a notification (id `null` or absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The peer's id, kept verbatim (`Value::Null` for notifications).
    pub id: Value,
    pub method: String,
    /// Always an array or an object; absent params become an empty array.
    pub params: Value,
    /// Whether to write `"jsonrpc":"2.0"` (the Monero dialect).
    pub jsonrpc: bool,
}

/// An answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: Value,
    pub result: Value,
    pub error: Value,
    /// Non-standard `reject-reason` some pools add to a `false` result.
    pub reject_reason: Option<String>,
    pub jsonrpc: bool,
}

/// One line of stratum.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    pub fn new(id: impl Into<Value>, method: impl Into<String>, params: Value) -> Self {
        Request {
            id: id.into(),
            method: method.into(),
            params,
            jsonrpc: false,
        }
    }

    /// A notification: `"id":null`.
    pub fn notification(method: impl Into<String>, params: Value) -> Self {
        Request::new(Value::Null, method, params)
    }

    /// Params as a slice when they are a list (empty otherwise).
    pub fn params_list(&self) -> &[Value] {
        match &self.params {
            Value::Array(items) => items,
            _ => &[],
        }
    }

    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.method.len());
        self.write_line(&mut out);
        out
    }

    /// Appends the line (newline included) to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        push_key_value(out, "id", &self.id);
        if self.jsonrpc {
            out.extend_from_slice(br#","jsonrpc":"2.0""#);
        }
        out.push(b',');
        push_key_value(out, "method", &self.method);
        out.push(b',');
        push_key_value(out, "params", &self.params);
        out.extend_from_slice(b"}\n");
    }
}

impl Response {
    pub fn ok(id: Value, result: Value) -> Self {
        Response {
            id,
            result,
            error: Value::Null,
            reject_reason: None,
            jsonrpc: false,
        }
    }

    /// A Stratum V1 error answer: `"error":[code,"message",null]`.
    pub fn error(id: Value, code: i64, message: &str) -> Self {
        Response {
            id,
            result: Value::Null,
            error: Value::Array(vec![code.into(), message.into(), Value::Null]),
            reject_reason: None,
            jsonrpc: false,
        }
    }

    /// True when the answer is a success: no error and a result that is not `false`.
    pub fn is_ok(&self) -> bool {
        self.error.is_null() && self.result != Value::Bool(false)
    }

    /// The error's code and text in whichever shape the peer used
    /// (`[code, msg, data]`, `{"code":..,"message":..}`, a bare string, or
    /// `reject-reason` beside a `false` result).
    pub fn error_parts(&self) -> Option<(Option<i64>, String)> {
        match &self.error {
            Value::Null => {}
            Value::Array(items) => {
                let code = items.first().and_then(Value::as_i64);
                let text = items.get(1).map(value_text).unwrap_or_default();
                return Some((code, text));
            }
            Value::Object(map) => {
                let code = map.get("code").and_then(Value::as_i64);
                let text = map.get("message").map(value_text).unwrap_or_default();
                return Some((code, text));
            }
            other => return Some((None, value_text(other))),
        }
        if self.result != Value::Bool(false) {
            return None;
        }
        Some((None, self.reject_reason.clone().unwrap_or_default()))
    }

    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_line(&mut out);
        out
    }

    /// Appends the line (newline included) to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        push_key_value(out, "id", &self.id);
        if self.jsonrpc {
            out.extend_from_slice(br#","jsonrpc":"2.0""#);
        }
        out.push(b',');
        push_key_value(out, "result", &self.result);
        out.push(b',');
        push_key_value(out, "error", &self.error);
        if let Some(reason) = &self.reject_reason {
            out.push(b',');
            push_key_value(out, "reject-reason", reason);
        }
        out.extend_from_slice(b"}\n");
    }
}

impl Message {
    /// Parses one line (with or without its trailing newline).
    pub fn parse(line: &[u8]) -> Result<Message, EnvelopeError> {
        crate::envelope::parse(trim(line))
    }

    pub fn to_line(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_line(),
            Message::Response(r) => r.to_line(),
        }
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let mut line = line;
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = line {
        line = rest;
    }
    line
}

pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn push_key_value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, key: &str, value: &T) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    // Serialising a `Value` or a string into a Vec cannot fail: every map
    // key is a string.
    serde_json::to_writer(&mut *out, value).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(line: &str) -> Request {
        match Message::parse(line.as_bytes()).expect("parses") {
            Message::Request(r) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn resp(line: &str) -> Response {
        match Message::parse(line.as_bytes()).expect("parses") {
            Message::Response(r) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[test]
    fn ids_of_every_shape_are_kept() {
        assert_eq!(req(r#"{"id":0,"method":"a","params":[]}"#).id, json!(0));
        assert_eq!(
            req(r#"{"id":"mining.subscribe","method":"a","params":[]}"#).id,
            json!("mining.subscribe")
        );
        assert_eq!(
            req(r#"{"id":null,"method":"a","params":[]}"#).id,
            Value::Null
        );
        assert_eq!(req(r#"{"method":"a","params":[]}"#).id, Value::Null);
    }

    #[test]
    fn null_result_and_null_error_is_a_valid_response() {
        let r = resp(r#"{"id":7,"result":null,"error":null}"#);
        assert_eq!(r.id, json!(7));
        assert!(r.is_ok());
        assert_eq!(r.error_parts(), None);
    }

    #[test]
    fn response_without_error_key_and_keys_in_any_order() {
        let r = resp(r#"{"result":true,"id":2}"#);
        assert!(r.is_ok());
        let r = resp(r#"{"params":[],"result":[[["mining.notify","x"]],"08000002",4],"id":1}"#);
        assert_eq!(r.result[2], json!(4));
    }

    #[test]
    fn escaped_slashes_and_missing_params() {
        let r = req(r#"{"id":1,"method":"client.show_message","params":["a\/b"]}"#);
        assert_eq!(r.params, json!(["a/b"]));
        let r = req(r#"{"id":1,"method":"mining.subscribe"}"#);
        assert_eq!(r.params, json!([]));
    }

    #[test]
    fn error_shapes_are_understood() {
        let r = resp(r#"{"id":10,"result":null,"error":[21,"Job not found",null]}"#);
        assert_eq!(r.error_parts(), Some((Some(21), "Job not found".into())));
        let r = resp(
            r#"{"id":2,"jsonrpc":"2.0","error":{"code":-1,"message":"Low difficulty share"}}"#,
        );
        assert_eq!(
            r.error_parts(),
            Some((Some(-1), "Low difficulty share".into()))
        );
        let r = resp(r#"{"id":3,"result":false,"error":null,"reject-reason":"high-hash"}"#);
        assert!(!r.is_ok());
        assert_eq!(r.error_parts(), Some((None, "high-hash".into())));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            Message::parse(b"\x00\xff garbage"),
            Err(EnvelopeError::Json(_))
        ));
        assert_eq!(Message::parse(b"[1,2]"), Err(EnvelopeError::NotAnObject));
        assert_eq!(Message::parse(br#"{"id":1}"#), Err(EnvelopeError::Neither));
        assert_eq!(
            Message::parse(br#"{"id":1,"method":5}"#),
            Err(EnvelopeError::MethodNotString)
        );
    }

    #[test]
    fn output_has_fixed_key_order() {
        let line = Request::new(1, "mining.subscribe", json!(["x"])).to_line();
        assert_eq!(
            line,
            b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"x\"]}\n"
        );
        let line = Response::error(json!(4), 23, "Low difficulty share").to_line();
        assert_eq!(
            line,
            b"{\"id\":4,\"result\":null,\"error\":[23,\"Low difficulty share\",null]}\n"
        );
    }
}
