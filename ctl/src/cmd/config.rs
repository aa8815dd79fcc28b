//! `ctl config validate|import|export`: the YAML configuration (pools, sites,
//! schedules) checked, applied or written out by the control plane. FILE may
//! be `-` for stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;
use switchyard_proto::v1::{
    ExportConfigRequest, ImportConfigRequest, ImportConfigResponse, ValidateConfigRequest,
};

use crate::client::{Ctx, Reply};
use crate::error::{CtlError, CtlResult};
use crate::output::{Cell, Column, Format, Sheet, emit, emit_json};
use crate::values::clean;

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Check a file without applying it; prints every problem as `field: message`.
    Validate {
        /// YAML file, or - for stdin.
        file: PathBuf,
    },
    /// Apply a file; prints the counts and the tokens of new sites (once).
    Import {
        /// YAML file, or - for stdin.
        file: PathBuf,
        /// Replace the pools, schedules and settings named in the file.
        #[arg(long)]
        replace: bool,
    },
    /// Write the current configuration as YAML.
    Export {
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
}

/// Reads FILE, or stdin for `-`.
pub fn read_input(path: &Path) -> CtlResult<String> {
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| CtlError::Failed(format!("cannot read {}: {e}", path.display())))?;
    Ok(text)
}

const PROBLEM_COLUMNS: &[Column] = &[
    Column::new("field", "FIELD"),
    Column::new("message", "MESSAGE"),
];
const TOKEN_COLUMNS: &[Column] = &[Column::new("site", "SITE"), Column::new("token", "TOKEN")];

pub async fn run(ctx: &mut Ctx, cmd: ConfigCmd) -> CtlResult {
    match cmd {
        ConfigCmd::Validate { file } => {
            let yaml = read_input(&file)?;
            let r = ctx
                .client()
                .await?
                .validate_config(ValidateConfigRequest { yaml })
                .await
                .reply(&ctx.endpoint)?;
            super::print_warnings(&r.warnings);
            match ctx.out {
                Format::Table if r.problems.is_empty() => emit("ok\n")?,
                Format::Table => {
                    let lines: String = r
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}\n", clean(&p.field), clean(&p.message)))
                        .collect();
                    emit(&lines)?;
                }
                Format::Json => {
                    let problems: Vec<_> = r
                        .problems
                        .iter()
                        .map(|p| serde_json::json!({ "field": p.field, "message": p.message }))
                        .collect();
                    emit_json(&serde_json::json!({
                        "ok": problems.is_empty(),
                        "problems": problems,
                        "warnings": super::warnings_json(&r.warnings),
                    }))?;
                }
                Format::Csv => {
                    let mut sheet = Sheet::new(PROBLEM_COLUMNS);
                    for p in &r.problems {
                        sheet.push(vec![Cell::text(&p.field), Cell::text(&p.message)]);
                    }
                    sheet.print(Format::Csv, "")?;
                }
            }
            if r.problems.is_empty() {
                Ok(())
            } else {
                let name = if file.as_os_str() == "-" {
                    "stdin".into()
                } else {
                    file.display().to_string()
                };
                eprintln!("{} problem(s) in {name}", r.problems.len());
                Err(CtlError::Reported)
            }
        }
        ConfigCmd::Import { file, replace } => {
            let yaml = read_input(&file)?;
            let req = ImportConfigRequest { yaml, replace };
            let r = ctx
                .client()
                .await?
                .import_config(req)
                .await
                .reply(&ctx.endpoint)?;
            super::print_warnings(&r.warnings);
            imported(ctx.out, &file, &r)
        }
        ConfigCmd::Export { file } => {
            let r = ctx
                .client()
                .await?
                .export_config(ExportConfigRequest {})
                .await
                .reply(&ctx.endpoint)?;
            let mut yaml = r.yaml;
            if !yaml.ends_with('\n') {
                yaml.push('\n');
            }
            match file {
                None => emit(&yaml),
                Some(path) => {
                    write_private(&path, &yaml).map_err(|e| {
                        CtlError::Failed(format!("cannot write {}: {e}", path.display()))
                    })?;
                    eprintln!("wrote {} ({} bytes)", path.display(), yaml.len());
                    Ok(())
                }
            }
        }
    }
}

/// Writes `text` to `path` readable by its owner only (unix): an export
/// holds the pools' passwords. A regular file that existed is made private
/// too (not a device such as /dev/stdout).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    #[cfg(unix)]
    if f.metadata()?.is_file() {
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())
}

#[derive(Serialize)]
struct ImportedJson {
    sites: u32,
    pools: u32,
    schedules: u32,
    new_site_tokens: Vec<serde_json::Value>,
    warnings: Vec<serde_json::Value>,
}

fn imported(out: Format, file: &Path, r: &ImportConfigResponse) -> CtlResult {
    let name = if file.as_os_str() == "-" {
        "stdin".into()
    } else {
        file.display().to_string()
    };
    let summary = format!(
        "imported {name}: {} site(s), {} pool(s), {} schedule(s)",
        r.sites, r.pools, r.schedules
    );
    let note = "The tokens of new sites are not shown again: store them now (each data plane needs its site's).";
    let mut sheet = Sheet::new(TOKEN_COLUMNS);
    for t in &r.new_site_tokens {
        sheet.push(vec![Cell::text(&t.site), Cell::text(&t.token)]);
    }
    match out {
        Format::Table => {
            let mut text = format!("{summary}\n");
            if !sheet.is_empty() {
                text.push_str(&format!("\nnew site tokens:\n{}{note}\n", sheet.table()));
            }
            emit(&text)
        }
        Format::Json => {
            let tokens = r
                .new_site_tokens
                .iter()
                .map(|t| serde_json::json!({ "site": t.site, "token": t.token }))
                .collect();
            emit_json(&ImportedJson {
                sites: r.sites,
                pools: r.pools,
                schedules: r.schedules,
                new_site_tokens: tokens,
                warnings: super::warnings_json(&r.warnings),
            })?;
            if !r.new_site_tokens.is_empty() {
                eprintln!("{note}");
            }
            Ok(())
        }
        Format::Csv => {
            sheet.print(Format::Csv, "")?;
            eprintln!("{summary}");
            if !sheet.is_empty() {
                eprintln!("{note}");
            }
            Ok(())
        }
    }
}
