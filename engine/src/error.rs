//! The engine's error type, grouped by cause.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// Errors raised while building or running a dataflow.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The job graph or an operator was configured wrongly (a planner or user error).
    #[error("{0}")]
    Plan(String),
    /// A feature the engine does not have yet.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// A failure while processing data (bad input row, failed expression).
    #[error("{0}")]
    Execution(String),
    /// A connector failed to read or write.
    #[error("{0}")]
    Connector(String),
    /// Reading or writing operator state failed.
    #[error("state: {0}")]
    State(String),
    /// The job was cancelled (Ctrl-C, STOP JOB).
    #[error("job cancelled")]
    Cancelled,
    /// An invariant of the engine was broken: this is a bug.
    #[error("internal error (this is a bug in Eddy): {0}")]
    Internal(String),
    /// An error from Arrow kernels.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// An error from DataFusion (expression evaluation).
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    /// An I/O error with the path or resource it concerns.
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Builds an [`EngineError::Plan`] from a format string.
#[macro_export]
macro_rules! plan_err {
    ($($arg:tt)*) => { Err($crate::EngineError::Plan(format!($($arg)*))) };
}

/// Builds an [`EngineError::Internal`] from a format string.
#[macro_export]
macro_rules! internal_err {
    ($($arg:tt)*) => { Err($crate::EngineError::Internal(format!($($arg)*))) };
}

/// Builds an [`EngineError::Execution`] from a format string.
#[macro_export]
macro_rules! exec_err {
    ($($arg:tt)*) => { Err($crate::EngineError::Execution(format!($($arg)*))) };
}
