//! One module per command group; [`run`] dispatches a parsed command.

pub mod breaker;
pub mod config;
pub mod dataplane;
pub mod overrides;
pub mod pool;
pub mod schedule;
pub mod shares;
pub mod site;
pub mod stats;
pub mod status;
pub mod switches;
pub mod workers;

use crate::cli::Command;
use crate::client::Ctx;
use crate::error::CtlResult;

/// Runs one command.
pub async fn run(ctx: &mut Ctx, command: Command) -> CtlResult {
    match command {
        Command::Status => status::run(ctx).await,
        Command::Site(c) => site::run(ctx, c).await,
        Command::Pool(c) => pool::run(ctx, c).await,
        Command::Schedule(c) => schedule::run(ctx, c).await,
        Command::Override(a) => overrides::run(ctx, a).await,
        Command::Breaker(c) => breaker::run(ctx, c).await,
        Command::Dataplane(c) => dataplane::run(ctx, c).await,
        Command::Shares(a) => shares::run(ctx, a).await,
        Command::Stats(a) => stats::run(ctx, a).await,
        Command::Workers(a) => workers::run(ctx, a).await,
        Command::Switches(a) => switches::run(ctx, a).await,
        Command::Config(c) => config::run(ctx, c).await,
    }
}

/// Prints what the control plane accepted but warns about (an ALEO
/// schedule mixing pool dialects), one `warning: FIELD: MESSAGE` line each
/// on stderr, so that stdout stays the command's table, CSV or JSON.
pub fn print_warnings(warnings: &[switchyard_proto::v1::Problem]) {
    for w in warnings {
        eprintln!(
            "warning: {}: {}",
            crate::values::clean(&w.field),
            crate::values::clean(&w.message)
        );
    }
}

/// The warnings as JSON objects (`field`, `message`).
pub fn warnings_json(warnings: &[switchyard_proto::v1::Problem]) -> Vec<serde_json::Value> {
    warnings
        .iter()
        .map(|w| serde_json::json!({ "field": w.field, "message": w.message }))
        .collect()
}

/// Current time in unix ms, for ages.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Parses a site's IANA zone name; `None` when empty or unknown.
pub fn zone(name: &str) -> Option<chrono_tz::Tz> {
    name.parse().ok()
}
