//! Sans-IO stratum: the JSON-RPC envelope, typed Stratum V1 messages and the
//! SHA-256 share maths. No sockets, no clocks, no async: callers bring bytes.

pub mod aleo;
mod envelope;
pub mod hexutil;
pub mod jsonrpc;
pub mod randomx;
pub mod raw;
pub mod share;
pub mod v1;

pub use jsonrpc::{EnvelopeError, Message, Request, Response};
pub use raw::RawJson;

/// Stratum V1 error codes.
pub mod codes {
    pub const OTHER: i64 = 20;
    pub const JOB_NOT_FOUND: i64 = 21;
    pub const DUPLICATE: i64 = 22;
    pub const LOW_DIFFICULTY: i64 = 23;
    pub const UNAUTHORIZED: i64 = 24;
    pub const NOT_SUBSCRIBED: i64 = 25;
}
