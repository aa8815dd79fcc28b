//! The connection to the control plane: token resolution, the gRPC channel
//! (connected lazily, so local checks run before any network), the interceptor
//! that adds `authorization: Bearer <token>` and the contract version
//! (`switchyard-contract`) to every call, and the mapping of
//! transport and gRPC errors to [`CtlError`]s and exit codes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use switchyard_model::Secret;
use switchyard_proto::v1::admin_client::AdminClient;
use tonic::Code;
use tonic::metadata::{AsciiMetadataValue, MetadataKey};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::error::{CtlError, CtlResult};
use crate::output::Format;

/// How the endpoint and token are set, for error messages.
pub const ENDPOINT_HINT: &str = "set the address with --endpoint URL or SWITCHYARD_ENDPOINT";
pub const TOKEN_HINT: &str =
    "--token TOKEN, --token-file PATH or the SWITCHYARD_TOKEN environment variable";

/// Adds the bearer token and the contract version to every request.
#[derive(Clone)]
pub struct Auth {
    value: AsciiMetadataValue,
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert(
            MetadataKey::from_static(switchyard_proto::AUTHORIZATION),
            self.value.clone(),
        );
        req.metadata_mut().insert(
            MetadataKey::from_static(switchyard_proto::CONTRACT_METADATA),
            AsciiMetadataValue::from(switchyard_proto::CONTRACT_VERSION),
        );
        Ok(req)
    }
}

pub type Client = AdminClient<InterceptedService<Channel, Auth>>;

/// The largest reply `ctl` accepts (tonic's default is 4 MiB, which
/// `ctl shares` passes at about 12,000 rows).
const MAX_REPLY_BYTES: usize = 256 << 20;

/// Connection settings from the global flags.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub endpoint: String,
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// What every command gets: the output format and a lazily connected client.
pub struct Ctx {
    pub out: Format,
    pub endpoint: String,
    settings: Settings,
    client: Option<Client>,
}

impl Ctx {
    pub fn new(settings: Settings, out: Format) -> Ctx {
        let endpoint = normalize_endpoint(&settings.endpoint);
        Ctx {
            out,
            endpoint,
            settings,
            client: None,
        }
    }

    /// The client, connecting on first use.
    pub async fn client(&mut self) -> CtlResult<&mut Client> {
        if self.client.is_none() {
            let token = resolve_token(
                self.settings.token.as_ref().map(Secret::expose),
                self.settings.token_file.as_deref(),
                std::env::var("SWITCHYARD_TOKEN").ok().as_deref(),
            )?;
            let auth = auth(&token)?;
            let channel = connect(&self.endpoint, self.settings.ca_file.as_deref()).await?;
            // `ctl shares --limit` goes up to the server's 100,000 rows,
            // about 35 MB: far above tonic's default 4 MiB for a reply.
            self.client = Some(
                AdminClient::with_interceptor(channel, auth)
                    .max_decoding_message_size(MAX_REPLY_BYTES),
            );
        }
        self.client
            .as_mut()
            .ok_or_else(|| CtlError::Failed("no client".to_string()))
    }
}

/// `host:port` without a scheme means plain `http://host:port`.
pub fn normalize_endpoint(s: &str) -> String {
    let s = s.trim();
    if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// The admin token: `--token`, else `--token-file`, else `SWITCHYARD_TOKEN`.
pub fn resolve_token(
    flag: Option<&str>,
    file: Option<&Path>,
    env: Option<&str>,
) -> CtlResult<String> {
    if let Some(t) = flag {
        let t = t.trim();
        if t.is_empty() {
            return Err(CtlError::Usage("--token is empty".to_string()));
        }
        return Ok(t.to_string());
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CtlError::Usage(format!("cannot read --token-file {}: {e}", path.display()))
        })?;
        let t = text.trim();
        if t.is_empty() {
            return Err(CtlError::Usage(format!(
                "--token-file {} is empty",
                path.display()
            )));
        }
        return Ok(t.to_string());
    }
    match env.map(str::trim) {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err(CtlError::Usage(format!("no admin token: set {TOKEN_HINT}"))),
    }
}

/// The `authorization` metadata value for a token.
pub fn auth(token: &str) -> CtlResult<Auth> {
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CtlError::Usage(
            "the admin token may only contain visible ASCII characters (no spaces)".to_string(),
        ));
    }
    let value = format!("Bearer {token}")
        .parse::<AsciiMetadataValue>()
        .map_err(|_| {
            CtlError::Usage(
                "the admin token contains characters not allowed in a header".to_string(),
            )
        })?;
    Ok(Auth { value })
}

async fn connect(endpoint: &str, ca_file: Option<&Path>) -> CtlResult<Channel> {
    let bad = |why: String| {
        CtlError::Usage(format!(
            "invalid --endpoint {endpoint:?}: {why}; expected a URL such as http://127.0.0.1:50051"
        ))
    };
    let mut ep = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120));
    if endpoint.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_enabled_roots();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                CtlError::Usage(format!("cannot read --ca-file {}: {e}", path.display()))
            })?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        ep = ep.tls_config(tls).map_err(|e| bad(error_chain(&e)))?;
    } else if !endpoint.starts_with("http://") {
        return Err(bad("the scheme must be http:// or https://".to_string()));
    }
    ep.connect()
        .await
        .map_err(|e| unreachable(endpoint, &error_chain(&e)))
}

fn unreachable(endpoint: &str, why: &str) -> CtlError {
    CtlError::Unreachable(format!(
        "cannot reach the control plane at {endpoint} ({why}); is it running? {ENDPOINT_HINT}"
    ))
}

/// An error and its sources, joined with ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// Maps a gRPC status to an error with its exit code.
pub fn status_error(endpoint: &str, s: &tonic::Status) -> CtlError {
    let msg = if s.message().is_empty() {
        s.code().description().to_string()
    } else {
        s.message().to_string()
    };
    match s.code() {
        Code::Unavailable => unreachable(endpoint, &msg),
        Code::Unauthenticated | Code::PermissionDenied => {
            CtlError::Server(format!("{msg} (the admin token is set with {TOKEN_HINT})"))
        }
        Code::Unimplemented => CtlError::Server(format!(
            "the control plane at {endpoint} does not support this call ({msg}); is it an older version?"
        )),
        Code::DeadlineExceeded => CtlError::Server(format!(
            "the control plane at {endpoint} did not answer in time ({msg})"
        )),
        _ => CtlError::Server(msg),
    }
}

/// `.reply(&ctx.endpoint)?` turns a tonic result into the message or a [`CtlError`].
pub trait Reply<T> {
    fn reply(self, endpoint: &str) -> CtlResult<T>;
}

impl<T> Reply<T> for Result<tonic::Response<T>, tonic::Status> {
    fn reply(self, endpoint: &str) -> CtlResult<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|s| status_error(endpoint, &s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_precedence_and_errors() {
        assert_eq!(resolve_token(Some(" a "), None, Some("b")).unwrap(), "a");
        assert_eq!(resolve_token(None, None, Some("b\n")).unwrap(), "b");
        let missing = resolve_token(None, None, None).unwrap_err().to_string();
        assert!(
            missing.contains("--token") && missing.contains("SWITCHYARD_TOKEN"),
            "{missing}"
        );
        assert!(resolve_token(None, None, Some("  ")).is_err());
        let nofile =
            resolve_token(None, Some(Path::new("/nonexistent/tok")), Some("b")).unwrap_err();
        assert!(nofile.to_string().contains("--token-file"));
        assert_eq!(nofile.exit_code(), 2);
    }

    #[test]
    fn token_file_is_trimmed() {
        let path = std::env::temp_dir().join(format!("ctl-token-{}", std::process::id()));
        std::fs::write(&path, "  secret\n").unwrap();
        assert_eq!(
            resolve_token(None, Some(&path), Some("env")).unwrap(),
            "secret"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(
            resolve_token(None, Some(&path), None)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn header_values_are_checked() {
        assert!(auth("abc").is_ok());
        assert!(auth("a\u{7}b").is_err());
        assert!(auth("é").is_err());
    }

    #[test]
    fn endpoints_and_statuses() {
        assert_eq!(
            normalize_endpoint("10.0.0.1:50051"),
            "http://10.0.0.1:50051"
        );
        assert_eq!(normalize_endpoint("https://cp:443"), "https://cp:443");
        let e = status_error(
            "http://x:1",
            &tonic::Status::invalid_argument("timezone: unknown zone"),
        );
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (1, "timezone: unknown zone")
        );
        let e = status_error(
            "http://x:1",
            &tonic::Status::unavailable("connection refused"),
        );
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("http://x:1") && e.to_string().contains("--endpoint"));
        let e = status_error("http://x:1", &tonic::Status::unauthenticated("bad token"));
        assert!(e.to_string().contains("SWITCHYARD_TOKEN"));
    }
}
