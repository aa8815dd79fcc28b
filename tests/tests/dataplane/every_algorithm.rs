//! End-to-end behaviours that are the same for every algorithm: one test
//! body each, run for SHA-256, RandomX and ALEO in both dialects by
//! `for_each_algorithm!` (a module per body, a test per algorithm).

mod bad_input;
mod failover;
mod passthrough;
mod rejects;
mod relay;
