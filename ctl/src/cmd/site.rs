//! `ctl site add|list|remove|rotate-token`: rig sites, their time zones,
//! plan versions and the data-plane token that `site add` and
//! `site rotate-token` show exactly once.

use clap::Subcommand;
use serde::Serialize;
use switchyard_proto::v1::{
    AddSiteRequest, ListSitesRequest, RemoveSiteRequest, RotateSiteTokenRequest, Site,
};

use super::zone;
use crate::client::{Ctx, Reply};
use crate::error::CtlResult;
use crate::output::{Cell, Column, Format, Sheet, done, emit, emit_json};
use crate::values::time_json;

#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Add a site; prints its data-plane token once.
    Add {
        /// Site name (used by every other command's --site).
        name: String,
        /// The site's IANA time zone; schedules are in its local time.
        #[arg(long, value_name = "IANA", value_parser = parse_zone)]
        timezone: String,
    },
    /// List sites.
    List,
    /// Remove a site (its schedules, overrides and breakers go with it).
    Remove { name: String },
    /// Replace a site's data-plane token; prints the new one once. The old
    /// one stops working at once: its data planes are disconnected until
    /// they are given the new one.
    RotateToken { name: String },
}

/// Checks the zone name locally so a typo is caught before the call.
fn parse_zone(s: &str) -> Result<String, String> {
    s.parse::<chrono_tz::Tz>()
        .map(|_| s.to_string())
        .map_err(|_| {
            format!(
                "unknown IANA time zone {s:?}; expected e.g. Europe/Berlin, America/New_York or UTC"
            )
        })
}

const COLUMNS: &[Column] = &[
    Column::new("name", "NAME"),
    Column::new("timezone", "TIMEZONE"),
    Column::new("plan_version", "PLAN"),
    Column::time("created_at", "CREATED"),
];

fn row(s: &Site) -> Vec<Cell> {
    vec![
        Cell::text(&s.name),
        Cell::text(&s.timezone),
        Cell::U64(s.plan_version),
        Cell::Time(s.created_at_unix_ms, zone(&s.timezone)),
    ]
}

pub async fn run(ctx: &mut Ctx, cmd: SiteCmd) -> CtlResult {
    match cmd {
        SiteCmd::Add { name, timezone } => {
            let req = AddSiteRequest {
                name: name.clone(),
                timezone,
            };
            let r = ctx
                .client()
                .await?
                .add_site(req)
                .await
                .reply(&ctx.endpoint)?;
            let site = r.site.unwrap_or_default();
            added(ctx.out, &site, &name, &r.token, false)
        }
        SiteCmd::RotateToken { name } => {
            let r = ctx
                .client()
                .await?
                .rotate_site_token(RotateSiteTokenRequest { name: name.clone() })
                .await
                .reply(&ctx.endpoint)?;
            let site = r.site.unwrap_or_default();
            added(ctx.out, &site, &name, &r.token, true)
        }
        SiteCmd::List => {
            let r = ctx
                .client()
                .await?
                .list_sites(ListSitesRequest {})
                .await
                .reply(&ctx.endpoint)?;
            let mut sheet = Sheet::new(COLUMNS);
            for s in &r.sites {
                sheet.push(row(s));
            }
            sheet.print(
                ctx.out,
                "no sites (add one with: ctl site add NAME --timezone ZONE)",
            )
        }
        SiteCmd::Remove { name } => {
            let req = RemoveSiteRequest { name: name.clone() };
            ctx.client()
                .await?
                .remove_site(req)
                .await
                .reply(&ctx.endpoint)?;
            done(ctx.out, &format!("site {name} removed"))
        }
    }
}

#[derive(Serialize)]
struct AddedJson<'a> {
    name: &'a str,
    timezone: &'a str,
    plan_version: u64,
    created_at: Option<String>,
    created_at_unix_ms: Option<i64>,
    token: &'a str,
}

/// A site's token, new (`rotated`: replacing the old one) or with the site.
fn added(out: Format, site: &Site, name: &str, token: &str, rotated: bool) -> CtlResult {
    let name = if site.name.is_empty() {
        name
    } else {
        &site.name
    };
    let note = if rotated {
        "This token is not shown again: store it now. The old one no longer works: give this one to each data plane of the site (controlplane.token_file) and restart it."
    } else {
        "This token is not shown again: store it now (the data plane needs it to connect)."
    };
    match out {
        Format::Json => {
            let (created_at, created_at_unix_ms) = time_json(site.created_at_unix_ms);
            emit_json(&AddedJson {
                name,
                timezone: &site.timezone,
                plan_version: site.plan_version,
                created_at,
                created_at_unix_ms,
                token,
            })?;
            eprintln!("{note}");
            Ok(())
        }
        Format::Csv => {
            const TOKEN: &[Column] = &[Column::new("name", "NAME"), Column::new("token", "TOKEN")];
            let mut sheet = Sheet::new(TOKEN);
            sheet.push(vec![Cell::text(name), Cell::text(token)]);
            sheet.print(out, "")?;
            eprintln!("{note}");
            Ok(())
        }
        Format::Table if rotated => emit(&format!(
            "site {name}: token replaced\ndata-plane token: {token}\n{note}\n"
        )),
        Format::Table => emit(&format!(
            "site {name} added (timezone {}, plan version {})\ndata-plane token: {token}\n{note}\n",
            site.timezone, site.plan_version
        )),
    }
}
