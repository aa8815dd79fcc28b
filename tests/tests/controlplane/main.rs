//! The control plane end to end: `ctl` against a real control plane, the
//! data plane's control-plane link, sites, and secrets kept out of output.

mod ctl_aleo_dialects;
mod ctl_audit;
mod ctl_auth;
mod ctl_config;
mod ctl_dataplanes_breakers;
mod ctl_override;
mod ctl_pools;
mod ctl_schedules;
mod ctl_shares_stats;
mod ctl_sites;
mod ctl_workers;
mod dp_control_client;
mod grpc_tls;
mod pool_grants;
mod secret_files;
mod secrets_never_print;
mod site_isolation;
mod site_quota;
mod token_rotation;
mod two_sites;
