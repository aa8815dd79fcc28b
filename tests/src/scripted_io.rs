//! Plumbing shared by the scripted pools and miners: a line server whose
//! protocol lives in a state behind a watch channel ([`ScriptedState`]),
//! the one handle every scripted pool is ([`Pool`]), and a line client with
//! answer and notification queues. Protocol knowledge lives in `pool`,
//! `rx_*` and `aleo_*`.

pub(crate) mod client;
pub mod pool;
pub mod server;
pub mod state;

pub use pool::Pool;
pub use server::{ConnCmd, Reply};
pub use state::{Fault, ScriptedConnection, ScriptedShare, ScriptedState};
