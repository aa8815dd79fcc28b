//! `ctl override --site S --algo A --pool P --until TIME` pins a site's
//! algorithm to a pool until a time, whatever the schedule says;
//! `ctl override clear --site S --algo A` returns it to the schedule.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use switchyard_proto::v1::{ClearOverrideRequest, SetOverrideRequest};

use super::now_ms;
use crate::cli::Algo;
use crate::client::{Ctx, Reply};
use crate::error::{CtlError, CtlResult};
use crate::output::done;
use crate::timeparse::until_arg;
use crate::values::{fmt_age, fmt_time};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OverrideArgs {
    #[command(subcommand)]
    pub action: Option<OverrideAction>,
    #[arg(long, required = true)]
    pub site: Option<String>,
    #[arg(long, value_enum, required = true)]
    pub algo: Option<Algo>,
    /// The pool to use until --until.
    #[arg(long, required = true)]
    pub pool: Option<String>,
    /// When the schedule takes over again: 2026-11-23T18:00:00Z, "2026-11-23 18:00" (local), +2h, 1d.
    #[arg(long, required = true, value_name = "TIME", value_parser = until_arg, allow_hyphen_values = true)]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Subcommand)]
pub enum OverrideAction {
    /// Remove the override; the schedule applies again.
    Clear {
        #[arg(long)]
        site: String,
        #[arg(long, value_enum)]
        algo: Algo,
    },
}

pub async fn run(ctx: &mut Ctx, args: OverrideArgs) -> CtlResult {
    if let Some(OverrideAction::Clear { site, algo }) = args.action {
        let req = ClearOverrideRequest {
            site: site.clone(),
            algorithm: algo.to_wire(),
        };
        ctx.client()
            .await?
            .clear_override(req)
            .await
            .reply(&ctx.endpoint)?;
        return done(
            ctx.out,
            &format!(
                "override of {site} {} cleared; the schedule applies",
                algo.as_str()
            ),
        );
    }
    let (Some(site), Some(algo), Some(pool), Some(until)) =
        (args.site, args.algo, args.pool, args.until)
    else {
        return Err(CtlError::Usage(
            "override needs --site, --algo, --pool and --until".to_string(),
        ));
    };
    let until_ms = until.timestamp_millis();
    if until_ms <= now_ms() {
        return Err(CtlError::Usage(format!(
            "--until {} is in the past; give a later time, e.g. +2h",
            fmt_time(until_ms, None)
        )));
    }
    let req = SetOverrideRequest {
        site: site.clone(),
        algorithm: algo.to_wire(),
        pool: pool.clone(),
        until_unix_ms: until_ms,
    };
    ctx.client()
        .await?
        .set_override(req)
        .await
        .reply(&ctx.endpoint)?;
    done(
        ctx.out,
        &format!(
            "override: {site} {} uses {pool} until {} ({})",
            algo.as_str(),
            fmt_time(until_ms, None),
            fmt_age(until_ms, now_ms())
        ),
    )
}
