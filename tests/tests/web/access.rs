//! The web view's doors over plain HTTP: every page and call refuses
//! without a session; the sign-in takes only the admin token and sets an
//! HttpOnly, SameSite=Strict cookie with an expiry; calls need the
//! session's CSRF token and this origin; every response has the
//! Content-Security-Policy; an action through the page is `ctl`'s (the
//! same refusal naming the field, the same audit log); sign-out ends it.

use std::net::SocketAddr;

use serde_json::{Value, json};
use switchyard_controlplane::store::Store;
use switchyard_tests::http::{Reply, request};
use switchyard_tests::single::{SingleMachine, sha256_yaml};
use switchyard_tests::{PoolConfig, ScriptedPool};

pub const CSP: &str = "default-src 'none'; script-src 'self'";

pub async fn farm() -> (ScriptedPool, tempfile::TempDir, SingleMachine) {
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sm = SingleMachine::start(
        dir.path(),
        &sha256_yaml(pool.addr().port(), "  http_listen: \"127.0.0.1:0\"\n"),
        &["sha256"],
    )
    .await;
    (pool, dir, sm)
}

fn form(token: &str) -> String {
    let enc: String = token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("token={enc}")
}

/// Signs in; returns the `name=value` of the session cookie.
pub async fn sign_in(http: SocketAddr, token: &str) -> (String, Reply) {
    let r = request(
        http,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(token),
    )
    .await;
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    (cookie, r)
}

async fn call(http: SocketAddr, cookie: &str, csrf: &str, method: &str, body: Value) -> Reply {
    request(
        http,
        "POST",
        &format!("/api/admin/{method}"),
        &[
            ("Cookie", cookie),
            ("X-CSRF-Token", csrf),
            ("Content-Type", "application/json"),
            ("Origin", &format!("http://{http}")),
        ],
        &body.to_string(),
    )
    .await
}

/// `Status` with a chosen content type and `Origin` (none: no header).
async fn status_call(
    http: SocketAddr,
    cookie: &str,
    csrf: &str,
    content_type: &str,
    origin: Option<&str>,
) -> Reply {
    let mut headers = vec![
        ("Cookie", cookie),
        ("X-CSRF-Token", csrf),
        ("Content-Type", content_type),
    ];
    headers.extend(origin.map(|o| ("Origin", o)));
    request(http, "POST", "/api/admin/Status", &headers, "{}").await
}

#[tokio::test]
async fn only_a_signed_in_operator_from_this_origin_gets_in() {
    let (_pool, dir, sm) = farm().await;
    let http = sm.http.expect("http_listen is set");

    // Without a session: the page sends to the sign-in, calls are refused.
    let r = request(http, "GET", "/", &[], "").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .starts_with(CSP)
    );
    let r = request(http, "GET", "/api/session", &[], "").await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = call(http, "", "", "Status", json!({})).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = request(http, "GET", "/assets/index.html", &[], "").await;
    assert_eq!(r.status, 404, "the page only behind the session");

    // The sign-in page: one password field, the policy, nothing inline.
    let page = request(http, "GET", "/login", &[], "").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<input").count(), 1, "{}", page.body);
    assert!(page.body.contains("type=\"password\""));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(!page.body.contains("<script>") && !page.body.contains(" style="));

    // A wrong token: refused, no cookie.
    let (cookie, r) = sign_in(http, "not-the-token").await;
    assert_eq!(r.status, 401);
    assert!(cookie.is_empty());
    assert!(r.body.contains("not the admin token"), "{}", r.body);
    // A sign-in posted from another site: refused.
    let r = request(
        http,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "http://evil.example"),
        ],
        &form(&sm.admin_token()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // The admin token: a session cookie, HttpOnly, SameSite=Strict, expiring.
    let (cookie, r) = sign_in(http, &sm.admin_token()).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    let set = r.header("set-cookie").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let page = request(http, "GET", "/", &[("Cookie", &cookie)], "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/assets/app.js"));
    let session = request(http, "GET", "/api/session", &[("Cookie", &cookie)], "").await;
    let csrf = session.json()["csrf"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);

    // Calls: the CSRF token and this origin are required.
    let r = call(http, &cookie, "wrong", "Status", json!({})).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = status_call(
        http,
        &cookie,
        &csrf,
        "application/json",
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = status_call(http, &cookie, &csrf, "text/plain", None).await;
    assert_eq!(
        r.status, 415,
        "a form post cannot pass for a call: {}",
        r.body
    );
    let r = call(http, &cookie, &csrf, "Status", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let status = r.json();
    assert_eq!(status["plans"][0]["site"], "default", "{status}");
    assert_eq!(
        status["plans"][0]["active"][0]["currentPool"], "main",
        "{status}"
    );
    assert_eq!(
        status["plans"][0]["active"][0]["algorithm"],
        "ALGORITHM_SHA256"
    );
    assert!(r.header("content-security-policy").is_some());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Methods the page does not use are not open to it.
    let r = call(http, &cookie, &csrf, "ExportConfig", json!({})).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(http, &cookie, &csrf, "Status", json!("not an object")).await;
    assert_eq!(r.status, 400, "{}", r.body);

    // An action is ctl's: the same refusal, naming the field...
    let until = (chrono::Utc::now().timestamp_millis() + 3_600_000).to_string();
    let r = call(
        http,
        &cookie,
        &csrf,
        "SetOverride",
        json!({"site": "default", "algorithm": "ALGORITHM_SHA256", "pool": "nope", "untilUnixMs": until}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["field"], "pool", "{}", r.body);
    assert_eq!(r.json()["code"], "INVALID_ARGUMENT");
    let r = call(
        http,
        &cookie,
        &csrf,
        "SetSchedule",
        json!({"site": "default", "algorithm": "ALGORITHM_SHA256",
               "entries": [{"pool": "main", "start": "00:00", "end": "12:00"}]}),
    )
    .await;
    assert_eq!(r.status, 400, "a gap: {}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("12:00"),
        "{}",
        r.body
    );
    // ... and the same audit log.
    let r = call(
        http,
        &cookie,
        &csrf,
        "OpenBreaker",
        json!({"site": "default", "pool": "main"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "open");
    let breakers = sm.ctl_json(&["breaker", "list"]).await;
    assert!(breakers.to_string().contains("\"open\""), "{breakers}");

    // Sign-out ends the session; the old cookie is worthless.
    let r = request(
        http,
        "POST",
        "/logout",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = request(http, "GET", "/api/session", &[("Cookie", &cookie)], "").await;
    assert_eq!(r.status, 401);
    let r = call(http, &cookie, &csrf, "Status", json!({})).await;
    assert_eq!(r.status, 401);
    sm.stop().await;

    // The web's action is in the audit log, by the web.
    let store = Store::open(&dir.path().join("switchyard.db"))
        .await
        .unwrap();
    let entries = store.audit_entries(100).await.unwrap();
    store.close().await;
    assert!(
        entries
            .iter()
            .any(|(_, actor, action, target, _)| actor == "web"
                && action == "breaker.open"
                && target == "default/main"),
        "{entries:?}"
    );
}
