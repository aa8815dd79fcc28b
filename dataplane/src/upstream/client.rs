//! The pool's `client.*` requests, the same in the SHA-256 and ALEO
//! dialects: reconnect (elsewhere, after a wait), show a message (logged),
//! and our version.

use std::time::Duration;

use serde_json::json;
use switchyard_stratum::v1::ServerMethod;
use switchyard_stratum::{Request, Response};

use super::protocol::{End, Link, PoolIo};
use crate::config::PoolAddr;

/// Whether `method` is one of the requests [`answer`] handles.
pub(crate) fn is_client_method(method: &str) -> bool {
    matches!(
        method,
        "client.reconnect" | "client.show_message" | "client.get_version"
    )
}

/// Handles a parsed `client.*` request; `Some` ends the connection.
pub(crate) async fn answer(
    link: &Link,
    io: &mut PoolIo,
    req: &Request,
    method: ServerMethod,
) -> Option<End> {
    let pool = &link.pool;
    match method {
        ServerMethod::Reconnect {
            host,
            port,
            wait_seconds,
        } => {
            let addr = PoolAddr {
                host: host.unwrap_or_else(|| pool.addr.host.clone()),
                port: port.filter(|p| *p != 0).unwrap_or(pool.addr.port),
                tls: pool.addr.tls,
            };
            Some(End::Redirect {
                addr,
                wait: Duration::from_secs(wait_seconds.min(600)),
            })
        }
        ServerMethod::ShowMessage(text) => {
            tracing::info!(pool = %pool.name, text = %text.chars().take(500).collect::<String>(), "message from pool");
            None
        }
        ServerMethod::GetVersion => {
            let answer = Response::ok(req.id.clone(), json!(link.params.agent)).to_line();
            io.write(&answer).await.err().map(End::Lost)
        }
        _ => None,
    }
}
