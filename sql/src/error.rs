//! The SQL layer's error type: every parse or plan error carries the line
//! and column of the script it points at.

use std::fmt;

use eddy_engine::EngineError;

/// A position in a script (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Errors of parsing, planning and running SQL.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The text is not valid Flink SQL.
    #[error("SQL parse failed at {location}: {message}")]
    Parse {
        /// Where.
        location: Location,
        /// What.
        message: String,
    },
    /// The statement is valid SQL but cannot be planned (unknown table,
    /// column, function, wrong types).
    #[error("SQL validation failed at {location}: {message}")]
    Plan {
        /// Where (the statement's start when nothing more precise is known).
        location: Location,
        /// What.
        message: String,
    },
    /// Valid Flink SQL that Eddy does not run yet.
    #[error("not supported at {location}: {message}")]
    NotSupported {
        /// Where.
        location: Location,
        /// What.
        message: String,
    },
    /// Building or running the job failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl SqlError {
    /// Where the error points, if it is a parse or plan error.
    pub fn location(&self) -> Option<Location> {
        match self {
            SqlError::Parse { location, .. }
            | SqlError::Plan { location, .. }
            | SqlError::NotSupported { location, .. } => Some(*location),
            SqlError::Engine(_) => None,
        }
    }
}

/// Result with [`SqlError`].
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
