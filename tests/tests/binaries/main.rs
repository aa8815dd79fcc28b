//! The real binaries (`controlplane`, `dataplane`) as processes: single-
//! machine mode for each algorithm, the daemon commands, share history with
//! no loss, none lost to a data plane's SIGKILL under load, a switch across
//! a data-plane restart; the deployment files
//! (`deploy/`) checked with systemd-analyze and promtool.

mod aleo_single_machine;
mod controlplane_daemon;
mod deploy;
mod log_rotation;
mod monitoring;
mod no_loss;
mod rx_single_machine;
mod sigkill;
mod single_machine;
mod switch;
