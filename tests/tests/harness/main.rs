//! The harness's own tests: each scripted pool against its scripted miner,
//! and the pools' controls and faults.

mod aleo;
mod controls;
mod randomx;
mod sha256;
