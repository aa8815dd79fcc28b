//! Test harness for Switchyard: a scripted pool that verifies shares, a
//! scripted miner that mines real ones, and a sniffer between them.

pub mod cp;
pub mod dp;
pub mod lines;
pub mod linked;
pub mod miner;
pub mod pool;
pub mod sniffer;

pub use lines::{DEFAULT_TIMEOUT, init_tracing, within};
pub use miner::{MinerJob, ScriptedMiner};
pub use pool::{ConnectionInfo, Fault, PoolConfig, PoolState, ScriptedPool, ShareRecord};
pub use sniffer::{Direction, SniffedLine, Sniffer};
