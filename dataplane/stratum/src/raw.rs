//! JSON values kept exactly as a peer wrote them. A proxy must not change a
//! payload it does not understand: an ALEO counter sent as `"0001"`, `"1a"`
//! or `1` reaches the pool as that same text. [`RawJson`] holds one value's
//! text, [`raw_params`] takes a request's params from its line verbatim and
//! [`request_line`] writes a request whose params are such texts.

use std::fmt;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::jsonrpc::EnvelopeError;

/// One JSON value as its text, verbatim (whitespace inside it included).
/// Always valid JSON: it is made only by parsing or by serialising.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Box<str>);

impl RawJson {
    /// The text of `v` as serde_json writes it.
    pub fn of(v: &Value) -> Self {
        RawJson(v.to_string().into_boxed_str())
    }

    /// The JSON string `s` (quoted and escaped).
    pub fn string(s: &str) -> Self {
        RawJson::of(&Value::from(s))
    }

    /// Parses `text` as one JSON value; its text is kept as given (trimmed).
    pub fn parse(text: &str) -> Result<Self, EnvelopeError> {
        let raw: &RawValue =
            serde_json::from_str(text).map_err(|e| EnvelopeError::Json(e.to_string()))?;
        Ok(RawJson(raw.get().into()))
    }

    /// The JSON text, as the peer wrote it.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The value, parsed (numbers beyond u64/i64 become floats).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The content of a JSON string (escapes resolved); `None` for any
    /// other type.
    pub fn as_str(&self) -> Option<String> {
        if !self.0.starts_with('"') {
            return None;
        }
        serde_json::from_str(&self.0).ok()
    }

    pub fn is_null(&self) -> bool {
        &*self.0 == "null"
    }

    pub fn is_string(&self) -> bool {
        self.0.starts_with('"')
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A JSON string with this content.
impl From<&str> for RawJson {
    fn from(s: &str) -> Self {
        RawJson::string(s)
    }
}

impl From<&Value> for RawJson {
    fn from(v: &Value) -> Self {
        RawJson::of(v)
    }
}

/// A request's params as written in its line: a list gives its items, any
/// other value is one param, absent or `null` params none. The line must be
/// a JSON object (as [`crate::Message::parse`] already checked).
pub fn raw_params(line: &[u8]) -> Result<Vec<RawJson>, EnvelopeError> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        params: Option<&'a RawValue>,
    }
    let env: Envelope<'_> =
        serde_json::from_slice(line).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    let Some(params) = env.params else {
        return Ok(Vec::new());
    };
    let text = params.get();
    if text.starts_with('[') {
        let items: Vec<&RawValue> =
            serde_json::from_str(text).map_err(|e| EnvelopeError::Json(e.to_string()))?;
        return Ok(items.into_iter().map(|r| RawJson(r.get().into())).collect());
    }
    if text == "null" {
        return Ok(Vec::new());
    }
    Ok(vec![RawJson(text.into())])
}

/// `{"id":..,["jsonrpc":"2.0",]"method":..,"params":[..]}\n` with each param
/// written as its text (the key order of [`crate::Request::to_line`]).
pub fn request_line(id: &Value, jsonrpc: bool, method: &str, params: &[RawJson]) -> Vec<u8> {
    let len: usize = params.iter().map(|p| p.0.len() + 1).sum();
    let mut out = Vec::with_capacity(48 + method.len() + len);
    write_request(&mut out, id, jsonrpc, method, |out| {
        out.push(b'[');
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(p.0.as_bytes());
        }
        out.push(b']');
    });
    out
}

/// Appends a request line to `out` whose params `write_params` writes as
/// JSON text (a list or an object), in the key order of
/// [`crate::Request::to_line`].
pub fn write_request(
    out: &mut Vec<u8>,
    id: &Value,
    jsonrpc: bool,
    method: &str,
    write_params: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(b"{\"id\":");
    // Serialising a `Value` or a string into a Vec cannot fail.
    serde_json::to_writer(&mut *out, id).unwrap_or_default();
    if jsonrpc {
        out.extend_from_slice(br#","jsonrpc":"2.0""#);
    }
    out.extend_from_slice(b",\"method\":");
    serde_json::to_writer(&mut *out, method).unwrap_or_default();
    out.extend_from_slice(b",\"params\":");
    write_params(out);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(line: &str) -> Vec<String> {
        raw_params(line.as_bytes())
            .unwrap()
            .iter()
            .map(|p| p.text().to_owned())
            .collect()
    }

    #[test]
    fn params_keep_their_exact_text() {
        let line = r#"{"id":3,"method":"mining.submit","params":["w","j1", "0001",1.50,"0X1A",18446744073709551616,"\u0041", {"a" : 1}]}"#;
        assert_eq!(
            texts(line),
            [
                r#""w""#,
                r#""j1""#,
                r#""0001""#,
                "1.50",
                r#""0X1A""#,
                "18446744073709551616",
                r#""\u0041""#,
                r#"{"a" : 1}"#
            ]
        );
    }

    #[test]
    fn params_of_other_shapes() {
        assert!(texts(r#"{"id":1,"method":"m"}"#).is_empty());
        assert!(texts(r#"{"id":1,"method":"m","params":null}"#).is_empty());
        assert_eq!(texts(r#"{"id":1,"method":"m","params":"x"}"#), [r#""x""#]);
        assert_eq!(
            texts(r#"{"params":{"k":[1, 2]},"id":1,"method":"m"}"#),
            [r#"{"k":[1, 2]}"#]
        );
        assert!(raw_params(b"not json").is_err());
        assert!(raw_params(b"[1,2]").is_err());
    }

    #[test]
    fn a_request_line_writes_params_verbatim() {
        let p = raw_params(br#"{"params":["a", 00, "0001"]}"#);
        assert!(p.is_err(), "00 is not JSON");
        let p = raw_params(br#"{"params":["a", 1e3, "0001"]}"#).unwrap();
        let line = request_line(&json!(7), true, "mining.submit", &p);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"id\":7,\"jsonrpc\":\"2.0\",\"method\":\"mining.submit\",\"params\":[\"a\",1e3,\"0001\"]}\n"
        );
        let parsed = crate::Message::parse(&request_line(&json!("x"), false, "m", &p)).unwrap();
        assert!(matches!(parsed, crate::Message::Request(_)));
    }

    #[test]
    fn accessors() {
        let s = RawJson::parse(r#" "a\"b" "#).unwrap();
        assert_eq!(s.text(), r#""a\"b""#);
        assert_eq!(s.as_str().as_deref(), Some("a\"b"));
        assert!(s.is_string() && !s.is_null());
        let n = RawJson::parse("12").unwrap();
        assert_eq!(n.as_str(), None);
        assert_eq!(n.value(), json!(12));
        assert!(RawJson::parse("null").unwrap().is_null());
        assert!(RawJson::parse("1 2").is_err());
        assert_eq!(RawJson::string("x").text(), r#""x""#);
    }
}
