//! Test harness for Switchyard: a scripted pool that verifies shares, a
//! scripted miner that mines real ones, and a sniffer between them.

pub mod aleo_miner;
pub mod aleo_pool;
pub mod algo;
pub mod cp;
pub mod dp;
pub mod dp_process;
pub mod http;
pub mod lines;
pub mod linked;
pub mod miner;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod own_process;
pub mod pool;
pub mod raw;
pub mod rx_miner;
pub mod rx_pool;
pub mod scripted_io;
pub mod single;
pub mod sniffer;
pub mod tls;
pub mod tools;
pub mod watched;

pub use aleo_miner::{ALEO_AGENT, AleoMiner};
pub use aleo_pool::{
    AleoConnection, AleoPool, AleoPoolConfig, AleoPoolState, AleoShare, AleoVerdict, RejectBundle,
};
pub use lines::{DEFAULT_TIMEOUT, init_tracing, within};
pub use miner::{MinerJob, ScriptedMiner};
pub use pool::{ConnectionInfo, PoolConfig, PoolState, ScriptedPool, ShareRecord};
pub use rx_miner::{RX_AGENT, RxMiner, rx_login};
pub use rx_pool::{
    JobChange, RxConnection, RxPool, RxPoolConfig, RxPoolState, RxShare, RxVerdict, share_result,
    test_hash,
};
pub use scripted_io::{Fault, Pool};
pub use sniffer::{Direction, SniffedLine, Sniffer};
pub use watched::Watched;
