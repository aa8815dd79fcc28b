//! The gRPC contract of Switchyard (package `switchyard.v1`): the `Admin`
//! service used by `ctl` and the `DataPlane` service the data planes call.
//! Generated from `proto/switchyard/v1/*.proto` at build time; messages
//! holding a password, token or config file get the masked `Debug` of
//! [`redact`]. [`Secret`] is the one type for a password or token held in
//! a struct, on either side of the contract, and [`Algorithm`] the one
//! algorithm family type.

#![allow(clippy::all, clippy::pedantic)]

mod algorithm;
pub mod contract;
pub mod hashrate;
pub mod labels;
pub mod redact;
mod secret;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use contract::{CONTRACT_METADATA, CONTRACT_VERSION};
pub use labels::known;
pub use secret::Secret;

pub mod v1 {
    tonic::include_proto!("switchyard.v1");
    // serde in protobuf's JSON mapping (the web view's API).
    include!(concat!(env!("OUT_DIR"), "/switchyard.v1.serde.rs"));
}

/// The contract's encoded `FileDescriptorSet` (for gRPC server reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/switchyard_descriptor.bin"));

/// The metadata key carrying `Bearer <token>` on every call.
pub const AUTHORIZATION: &str = "authorization";
