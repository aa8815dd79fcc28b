//! Hand-written `Debug` for the messages that carry a pool password, a
//! token or a config file (which holds pool passwords): `build.rs` skips
//! prost's derived `Debug` for exactly these, and here the secret prints as
//! `***`. Each impl destructures its message without `..`, so a field added
//! to the .proto fails to compile until it is listed here.

use std::fmt;

use crate::v1::{
    AddSiteResponse, ExportConfigResponse, ImportConfigRequest, PoolSettings, SiteToken,
    UpdatePoolRequest, ValidateConfigRequest,
};

/// What a secret prints as.
struct Masked;

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `Some(***)` or `None`: whether it is set shows, never what it is.
fn masked_opt(v: &Option<String>) -> Option<Masked> {
    v.as_ref().map(|_| Masked)
}

impl fmt::Debug for AddSiteResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AddSiteResponse { site, token: _ } = self;
        f.debug_struct("AddSiteResponse")
            .field("site", site)
            .field("token", &Masked)
            .finish()
    }
}

impl fmt::Debug for SiteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SiteToken { site, token: _ } = self;
        f.debug_struct("SiteToken")
            .field("site", site)
            .field("token", &Masked)
            .finish()
    }
}

impl fmt::Debug for ImportConfigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ImportConfigRequest { yaml: _, replace } = self;
        f.debug_struct("ImportConfigRequest")
            .field("yaml", &Masked)
            .field("replace", replace)
            .finish()
    }
}

impl fmt::Debug for ExportConfigResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ExportConfigResponse { yaml: _ } = self;
        f.debug_struct("ExportConfigResponse")
            .field("yaml", &Masked)
            .finish()
    }
}

impl fmt::Debug for ValidateConfigRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ValidateConfigRequest { yaml: _ } = self;
        f.debug_struct("ValidateConfigRequest")
            .field("yaml", &Masked)
            .finish()
    }
}

impl fmt::Debug for UpdatePoolRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let UpdatePoolRequest {
            name,
            host,
            port,
            username,
            password,
            tls,
            mode,
            connect_timeout_s,
            retry_interval_s,
            buffer_percent,
            min_difficulty,
            max_difficulty,
            clear_difficulty_overrides,
            dialect,
            sites,
        } = self;
        f.debug_struct("UpdatePoolRequest")
            .field("name", name)
            .field("host", host)
            .field("port", port)
            .field("username", username)
            .field("password", &masked_opt(password))
            .field("tls", tls)
            .field("mode", mode)
            .field("connect_timeout_s", connect_timeout_s)
            .field("retry_interval_s", retry_interval_s)
            .field("buffer_percent", buffer_percent)
            .field("min_difficulty", min_difficulty)
            .field("max_difficulty", max_difficulty)
            .field("clear_difficulty_overrides", clear_difficulty_overrides)
            .field("dialect", dialect)
            .field("sites", sites)
            .finish()
    }
}

impl fmt::Debug for PoolSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PoolSettings {
            name,
            algorithm,
            host,
            port,
            username,
            password: _,
            tls,
            mode,
            enabled,
            connect_timeout_s,
            retry_interval_s,
            buffer_percent,
            min_difficulty,
            max_difficulty,
            dialect,
            sites,
        } = self;
        f.debug_struct("PoolSettings")
            .field("name", name)
            .field("algorithm", algorithm)
            .field("host", host)
            .field("port", port)
            .field("username", username)
            .field("password", &Masked)
            .field("tls", tls)
            .field("mode", mode)
            .field("enabled", enabled)
            .field("connect_timeout_s", connect_timeout_s)
            .field("retry_interval_s", retry_interval_s)
            .field("buffer_percent", buffer_percent)
            .field("min_difficulty", min_difficulty)
            .field("max_difficulty", max_difficulty)
            .field("dialect", dialect)
            .field("sites", sites)
            .finish()
    }
}
