//! The crypto-stratum-proxy YAML config, accepted as is, plus this project's
//! two extensions (a `controlplane:` section and a multi-site `sites:` list),
//! validated with every problem named at once and converted into what the
//! control plane imports.
//!
//! - `reader`: walking the YAML tree field by field (types, ranges, unknown keys);
//!   `values`: how values and unknown keys read in messages.
//! - `proxy`: the seed's `proxy:` section.
//! - `servers`: the seed's `servers:` section.
//! - `pool`: the pools servers become.
//! - `settings`: the `controlplane:` and `logging:` sections.
//! - `file`: the whole file, and reading it.
//! - `days`: building an algorithm's day from named slots (also for `ctl`).
//! - `import`: rules across sections, and the [`Import`] itself.
//! - `export`: writing an import, a proxy section or the sample back out.
//!
//! Pure: no I/O, no clock. The caller passes the machine's time zone, the
//! default for a single-site file that names none.

mod days;
mod export;
mod file;
mod import;
mod pool;
mod proxy;
mod reader;
mod servers;
mod settings;
mod values;

pub use days::validate_schedule_entries;
pub use export::{export, parse_proxy_yaml, proxy_yaml, sample};
pub use file::{ConfigFile, ScheduleEntry, Site};
pub use import::{Import, SiteDef};
pub use pool::{AleoDialect, PoolDef, PoolMode};
pub use proxy::{
    CircuitBreakerSettings, DEFAULT_OFFLINE_AFTER, DifficultySettings, Listener, Proxy,
    ProxyGlobal, ShareValidation,
};
pub use servers::Server;
pub use settings::{ControlPlaneSettings, LOG_LEVELS, Logging};

use crate::problem::Problem;

/// Parses, validates and converts a config file. Any problem fails the whole
/// load, with every problem found.
pub fn load(yaml: &str, local_tz: chrono_tz::Tz) -> Result<Import, Vec<Problem>> {
    let mut problems = Vec::new();
    let Some(read) = file::read_file(yaml, &mut problems) else {
        return Err(problems);
    };
    let import = import::convert(read, local_tz, &mut problems);
    if problems.is_empty() {
        Ok(import)
    } else {
        Err(problems)
    }
}

/// Every problem of a config file; empty when [`load`] would succeed.
pub fn validate(yaml: &str, local_tz: chrono_tz::Tz) -> Vec<Problem> {
    load(yaml, local_tz).err().unwrap_or_default()
}
