//! The web view (`/` on `controlplane.http_listen`): a sign-in page, one
//! page of HTML drawn by the JavaScript in `controlplane/web/` (embedded in
//! the binary: no CDN, no build step), and `/api/admin/METHOD`, the admin
//! API's own handlers in JSON (`bridge`), so the page has exactly `ctl`'s
//! checks and audit log. Sessions and cross-site protection are `session`'s.
//! Every response carries a strict Content-Security-Policy: the pages have
//! nothing inline for it to allow.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::grpc::Ctx;

mod bridge;
mod session;

pub use session::Sessions;

/// The policy: scripts, styles and calls from this origin only; no
/// inline code, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The embedded files: (path under /assets/, content type, body).
const ASSETS: [(&str, &str, &str); 7] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/app.js"),
    ),
    (
        "overview.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/overview.js"),
    ),
    (
        "site.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/site.js"),
    ),
    (
        "pools.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/pools.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/chart.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../web/style.css"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../web/index.html"),
    ),
];
const LOGIN: &str = include_str!("../web/login.html");

#[derive(Clone)]
pub(crate) struct Web {
    ctx: Arc<Ctx>,
    sessions: Arc<Sessions>,
}

/// The web view's routes, to merge into the HTTP listener's.
pub fn routes(ctx: Arc<Ctx>) -> Router {
    let st = Web {
        ctx,
        sessions: Arc::new(Sessions::default()),
    };
    Router::new()
        .route("/", get(index))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/api/session", get(session::info))
        .route("/api/admin/{method}", post(bridge::call))
        .route("/assets/{file}", get(asset))
        .layer(middleware::from_fn(headers))
        .with_state(st)
}

/// The security headers of every web response.
async fn headers(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not "no-referrer": under it a browser sends `Origin: null` with a
    // form's POST, which the same-origin check must refuse.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if api || !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The page, to a signed-in operator; the sign-in page otherwise.
async fn index(State(w): State<Web>, req: Request) -> Response {
    if w.sessions.of(req.headers()).is_none() {
        return Redirect::to("/login").into_response();
    }
    asset_response("index.html")
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    // The page itself only through `/`, behind the session.
    if file == "index.html" {
        return StatusCode::NOT_FOUND.into_response();
    }
    asset_response(&file)
}

fn asset_response(file: &str) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing the policy would have to allow: no inline script or style,
    /// no event-handler attributes, no `javascript:` links; nothing from
    /// another host (farms are often offline); text set as text, never as
    /// HTML, and no `eval`.
    #[test]
    fn the_assets_need_nothing_the_policy_forbids() {
        for (name, _, body) in ASSETS.iter().chain([&("login.html", "", LOGIN)]) {
            let lower = body.to_ascii_lowercase();
            if name.ends_with(".html") {
                for (i, _) in lower.match_indices("<script") {
                    let tag = &lower[i..i + lower[i..].find('>').unwrap()];
                    assert!(tag.contains(" src="), "{name}: an inline script");
                }
                assert!(!lower.contains("<style"), "{name}: an inline style sheet");
                assert!(!lower.contains(" style="), "{name}: a style attribute");
                assert!(
                    event_attribute(&lower).is_none(),
                    "{name}: an event attribute {:?}",
                    event_attribute(&lower)
                );
            }
            assert!(!lower.contains("javascript:"), "{name}");
            assert!(!body.contains("innerHTML"), "{name}: text as HTML");
            assert!(!body.contains("eval("), "{name}");
            assert!(!body.contains("@import"), "{name}");
            for (i, _) in body.match_indices("http") {
                let rest = &body[i..];
                let external = rest.starts_with("http://") || rest.starts_with("https://");
                assert!(
                    !external || rest.starts_with("http://www.w3.org/2000/svg"),
                    "{name}: a reference to another host: {}",
                    &rest[..rest.len().min(60)]
                );
            }
        }
    }

    /// ` onclick=`-style attributes in HTML.
    fn event_attribute(html: &str) -> Option<String> {
        html.match_indices(" on").find_map(|(i, _)| {
            let word: String = html[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let after = &html[i + 3 + word.len()..];
            (!word.is_empty() && after.starts_with('=')).then(|| format!("on{word}"))
        })
    }

    /// Every module a script imports is embedded.
    #[test]
    fn every_imported_module_is_embedded() {
        for (name, _, body) in ASSETS.iter().filter(|a| a.0.ends_with(".js")) {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let file = line
                    .split("'./")
                    .nth(1)
                    .and_then(|r| r.split('\'').next())
                    .unwrap_or_else(|| panic!("{name}: {line}"));
                assert!(
                    ASSETS.iter().any(|a| a.0 == file),
                    "{name} imports {file}, which is not embedded"
                );
            }
        }
        let index = ASSETS.iter().find(|a| a.0 == "index.html").unwrap().2;
        for (i, _) in index.match_indices("/assets/") {
            let file: String = index[i + 8..].chars().take_while(|c| *c != '"').collect();
            assert!(
                ASSETS.iter().any(|a| a.0 == file),
                "index.html links {file}"
            );
        }
    }
}
