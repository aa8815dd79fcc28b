//! `/api/admin/METHOD`: the admin API's handlers, called in-process with
//! the request and reply in protobuf's JSON mapping (pbjson: lowerCamelCase
//! fields, enums by name, 64-bit integers as strings). The page gets
//! exactly `ctl`'s checks and audit log because it runs the same code. Only
//! the methods the page uses are open (no tokens, no config export).
//! A refusal is `{"code", "message", "field"}` with the HTTP status of its
//! gRPC code; `field` names the field a validation error is about.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use switchyard_proto::v1::admin_server::Admin;
use tonic::{Code, Status};

use super::Web;
use super::session::checked;
use crate::grpc::admin::AdminService;

/// A request body's limit.
const MAX_BODY: usize = 256 * 1024;

pub async fn call(
    State(w): State<Web>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err((code, why)) = checked(&w, &headers, None) {
        return refusal(code, "PERMISSION_DENIED", &why, "");
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_ARGUMENT",
            "send application/json",
            "",
        );
    }
    if body.len() > MAX_BODY {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_ARGUMENT",
            "request too large",
            "",
        );
    }
    let svc = AdminService::for_web(w.ctx.clone());
    macro_rules! dispatch {
        ($($name:literal => $f:ident),* $(,)?) => {
            match method.as_str() {
                $($name => run(&body, |r| svc.$f(tonic::Request::new(r))).await,)*
                _ => refusal(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("no method {method:?} in the web API"), ""),
            }
        };
    }
    dispatch! {
        "Status" => status,
        "ListSites" => list_sites,
        "ListPools" => list_pools,
        "SetPoolEnabled" => set_pool_enabled,
        "SetSchedule" => set_schedule,
        "ShowSchedule" => show_schedule,
        "PreviewSchedule" => preview_schedule,
        "SetOverride" => set_override,
        "ClearOverride" => clear_override,
        "ListBreakers" => list_breakers,
        "ResetBreaker" => reset_breaker,
        "OpenBreaker" => open_breaker,
        "ListDataPlanes" => list_data_planes,
        "ListSwitches" => list_switches,
        "Stats" => stats,
        "ListWorkers" => list_workers,
        "QueryShares" => query_shares,
    }
}

async fn run<Req, Rep, F, Fut>(body: &[u8], f: F) -> Response
where
    Req: DeserializeOwned,
    Rep: Serialize,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Rep>, Status>>,
{
    let body = if body.is_empty() {
        b"{}" as &[u8]
    } else {
        body
    };
    let req: Req = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &format!("the request does not parse: {e}"),
                "",
            );
        }
    };
    match f(req).await {
        Ok(rep) => axum::Json(rep.into_inner()).into_response(),
        Err(s) => from_status(&s),
    }
}

fn from_status(s: &Status) -> Response {
    let http = match s.code() {
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    // "field: message", as every INVALID_ARGUMENT of the admin API is.
    let field = match s.code() {
        Code::InvalidArgument => s
            .message()
            .split_once(": ")
            .map(|(f, _)| f)
            .filter(|f| !f.contains(' '))
            .unwrap_or(""),
        _ => "",
    };
    refusal(http, code_name(s.code()), s.message(), field)
}

fn code_name(c: Code) -> &'static str {
    match c {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::Unavailable => "UNAVAILABLE",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Aborted => "ABORTED",
        _ => "INTERNAL",
    }
}

fn refusal(http: StatusCode, code: &str, message: &str, field: &str) -> Response {
    (
        http,
        axum::Json(json!({"code": code, "message": message, "field": field})),
    )
        .into_response()
}
