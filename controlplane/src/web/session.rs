//! Signing in to the web view: the admin token, checked in constant time
//! against its stored hash, buys a session (a random id in an HttpOnly,
//! SameSite=Strict cookie with an expiry; only its hash is kept, in memory:
//! a restart signs everyone out). Every state-changing request must come
//! from this origin (`Origin`/`Sec-Fetch-Site`) and carry the session's
//! CSRF token; the cookie's SameSite=Strict is the second fence.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

use super::{LOGIN, Web};
use switchyard_dataplane::http::same;

/// The cookie's name.
pub const COOKIE: &str = "switchyard_session";
/// How long a session lasts after sign-in.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; the oldest goes first.
const MAX_SESSIONS: usize = 256;
/// A failed sign-in's answer waits this long (a guess costs time).
const FAILED_WAIT: Duration = Duration::from_millis(400);

#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
    pub expires_ms: i64,
}

/// The live sessions, by the hash of their id.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

impl Sessions {
    fn create(&self) -> (String, Session) {
        let id = random_hex();
        let s = Session {
            csrf: random_hex(),
            expires_ms: crate::clock::now_ms() + LIFETIME.as_millis() as i64,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = crate::clock::now_ms();
        map.retain(|_, s| s.expires_ms > now);
        while map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
        map.insert(crate::grpc::hash_token(&id), s.clone());
        (id, s)
    }

    /// The request's live session.
    pub fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_value(headers)?;
        let key = crate::grpc::hash_token(id);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&key) {
            Some(s) if s.expires_ms > crate::clock::now_ms() => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_value(headers) {
            let key = crate::grpc::hash_token(id);
            self.map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }
}

/// Refuses a request that another site made the browser send: an `Origin`
/// other than this host, or `Sec-Fetch-Site` other than same-origin.
pub fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err("a cross-site request");
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if host.is_empty() || bare != host {
            return Err("a request from another origin");
        }
    }
    Ok(())
}

/// The session of a state-changing request, with its CSRF token checked.
pub fn checked(
    w: &Web,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Session, (StatusCode, String)> {
    same_origin(headers).map_err(|e| (StatusCode::FORBIDDEN, format!("refused: {e}")))?;
    let s = w
        .sessions
        .of(headers)
        .ok_or((StatusCode::UNAUTHORIZED, "sign in first".to_owned()))?;
    let given = csrf.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
    match given {
        Some(t) if same(t.as_bytes(), s.csrf.as_bytes()) => Ok(s),
        _ => Err((
            StatusCode::FORBIDDEN,
            "refused: the CSRF token is missing or wrong (reload the page)".to_owned(),
        )),
    }
}

fn login_html(message: &str) -> Response {
    let notice = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"notice\" id=\"notice\">{}</p>", escape(message))
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        LOGIN.replace("MESSAGE", &notice),
    )
        .into_response()
}

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub async fn login_page(State(w): State<Web>, headers: HeaderMap) -> Response {
    if w.sessions.of(&headers).is_some() {
        return Redirect::to("/").into_response();
    }
    login_html("")
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
}

pub async fn login(State(w): State<Web>, headers: HeaderMap, form: Form<Login>) -> Response {
    if let Err(e) = same_origin(&headers) {
        return (StatusCode::FORBIDDEN, format!("refused: {e}\n")).into_response();
    }
    let given = crate::grpc::hash_token(form.token.trim());
    if !same(given.as_bytes(), w.ctx.admin_token_hash.as_bytes()) {
        tokio::time::sleep(FAILED_WAIT).await;
        tracing::warn!("web view: a sign-in with a wrong token");
        let mut res = login_html("That is not the admin token.");
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    }
    let (id, _) = w.sessions.create();
    tracing::info!("web view: signed in");
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        LIFETIME.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

#[derive(Deserialize)]
pub struct Logout {
    csrf: Option<String>,
}

pub async fn logout(State(w): State<Web>, headers: HeaderMap, form: Form<Logout>) -> Response {
    if let Err((code, why)) = checked(&w, &headers, form.csrf.as_deref()) {
        return (code, format!("{why}\n")).into_response();
    }
    w.sessions.end(&headers);
    let gone = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, gone)], Redirect::to("/login")).into_response()
}

/// The session's CSRF token and expiry, for the page's calls.
pub async fn info(State(w): State<Web>, headers: HeaderMap) -> Response {
    match w.sessions.of(&headers) {
        Some(s) => {
            axum::Json(json!({"csrf": s.csrf, "expires_unix_ms": s.expires_ms})).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "sign in first"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; switchyard_session=abc; b=2")]);
        assert_eq!(cookie_value(&h), Some("abc"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "switchyard_session=xyz")]);
        assert_eq!(cookie_value(&h), Some("xyz"));
        assert_eq!(
            cookie_value(&headers(&[("cookie", "switchyard_sessionx=1")])),
            None
        );
    }

    #[test]
    fn requests_from_other_origins_are_refused() {
        let ok = headers(&[
            ("host", "10.0.0.5:8080"),
            ("origin", "http://10.0.0.5:8080"),
        ]);
        assert!(same_origin(&ok).is_ok());
        assert!(
            same_origin(&headers(&[("host", "h:1")])).is_ok(),
            "no Origin: a same-origin GET or a tool"
        );
        for bad in [
            headers(&[("host", "10.0.0.5:8080"), ("origin", "http://evil.example")]),
            headers(&[("host", "10.0.0.5:8080"), ("origin", "null")]),
            headers(&[("origin", "http://10.0.0.5:8080")]),
            headers(&[("host", "h:1"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "h:1"), ("sec-fetch-site", "same-site")]),
        ] {
            assert!(same_origin(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sessions_expire_and_are_capped() {
        let s = Sessions::default();
        let (id, _) = s.create();
        let h = headers(&[("cookie", &format!("{COOKIE}={id}"))]);
        assert!(s.of(&h).is_some());
        s.map
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|x| x.expires_ms = 0);
        assert!(s.of(&h).is_none(), "an expired session is gone");
        for _ in 0..MAX_SESSIONS + 10 {
            s.create();
        }
        assert!(s.map.lock().unwrap().len() <= MAX_SESSIONS);
    }

    #[test]
    fn the_sign_in_notice_is_escaped() {
        assert_eq!(escape("<b>\"x\"&'"), "&lt;b&gt;&quot;x&quot;&amp;&#39;");
    }
}
