//! Miners through an in-process data plane to scripted pools (some with a
//! linked control plane), one module per algorithm.

mod aleo;
mod every_algorithm;
mod randomx;
mod sha256;
