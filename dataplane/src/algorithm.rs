//! The algorithm families this data plane serves, one listener each: the
//! contract crate's type (shared with the control plane, which the data
//! plane does not depend on).

pub use switchyard_proto::{Algorithm, UnknownAlgorithm};
