//! Switchyard data plane.
