//! The error type of every command and the exit code each kind maps to:
//! 1 for server errors and failed operations, 2 for usage errors, 3 when the
//! control plane cannot be reached.

/// A command failure; its `Display` is the message printed after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Bad input caught on this side (exit 2, like clap's own errors).
    #[error("{0}")]
    Usage(String),
    /// The control plane answered with an error (exit 1).
    #[error("{0}")]
    Server(String),
    /// A local failure such as an unreadable file (exit 1).
    #[error("{0}")]
    Failed(String),
    /// The control plane could not be reached (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// The command already printed why it failed (exit 1, no message).
    #[error("")]
    Reported,
}

impl CtlError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CtlError::Usage(_) => 2,
            CtlError::Unreachable(_) => 3,
            CtlError::Server(_) | CtlError::Failed(_) | CtlError::Reported => 1,
        }
    }
}

/// Every command returns this.
pub type CtlResult<T = ()> = Result<T, CtlError>;
