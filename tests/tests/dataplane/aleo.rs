//! ALEO miners (both dialects) through the data plane.

mod bad_input;
mod difficulty;
mod nonce_space;
mod plan_dialect;
mod pool_quirks;
mod real_provers;
mod rejects;
mod relay;
mod verbatim;
