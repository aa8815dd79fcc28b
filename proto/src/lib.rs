//! The gRPC contract of Switchyard (package `switchyard.v1`): the `Admin`
//! service used by `ctl` and the `DataPlane` service the data planes call.
//! Generated from `proto/switchyard/v1/*.proto` at build time.

#![allow(clippy::all, clippy::pedantic)]

pub mod v1 {
    tonic::include_proto!("switchyard.v1");
}

/// The metadata key carrying `Bearer <token>` on every call.
pub const AUTHORIZATION: &str = "authorization";
