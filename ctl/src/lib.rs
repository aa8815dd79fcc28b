//! `ctl`, the Switchyard operator CLI: parses the command line, runs one
//! command against the control plane's `Admin` gRPC service and turns the
//! outcome into an exit code (0 ok, 1 server or local failure, 2 usage,
//! 3 control plane unreachable).
//!
//! - [`cli`]: the clap command tree and global flags.
//! - [`client`]: connection, auth interceptor, error mapping.
//! - [`timeparse`]: TIME and DURATION arguments.
//! - [`output`]: table / JSON / CSV rendering; [`values`]: times, ages, difficulties.
//! - [`cmd`]: one module per command group.

pub mod cli;
pub mod client;
pub mod cmd;
pub mod error;
pub mod output;
pub mod timeparse;
pub mod values;

use clap::Parser;

use crate::client::{Ctx, Settings};

/// Runs `ctl` with the process arguments and returns the exit code.
pub fn run() -> i32 {
    let cli = cli::Cli::parse();
    let g = cli.globals;
    let settings = Settings {
        endpoint: g.endpoint,
        token: g.token,
        token_file: g.token_file,
        ca_file: g.ca_file,
    };
    let mut ctx = Ctx::new(settings, g.output);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(cmd::run(&mut ctx, cli.command)) {
        Ok(()) => 0,
        Err(e) => {
            let msg = e.to_string();
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            e.exit_code()
        }
    }
}
