//! The gRPC contract of Switchyard (package `switchyard.v1`). The services are
//! added with the control-plane issue; until then this crate only reserves
//! its place in the workspace.
