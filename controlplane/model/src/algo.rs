//! The algorithm families a data plane serves, one listener each: the
//! contract crate's type, shared with the data plane.

pub use switchyard_proto::{Algorithm, UnknownAlgorithm};
