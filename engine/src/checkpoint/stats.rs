//! What the checkpoints of a job did: a leaf the job's metrics report
//! ([`crate::metrics`]).

use std::path::PathBuf;
use std::time::Duration;

/// What the checkpoints of a job did, for stats and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The checkpoint or savepoint the job restored, if any.
    pub restored_from: Option<PathBuf>,
    /// Checkpoints completed by this run.
    pub completed: u64,
    /// The last one completed.
    pub last: Option<CompletedCheckpoint>,
    /// Time from trigger to completion, summed over completed checkpoints.
    pub total_duration: Duration,
    /// Bytes written, summed over completed checkpoints.
    pub total_bytes: u64,
}

/// One completed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedCheckpoint {
    /// Its id.
    pub id: u64,
    /// Its directory.
    pub path: PathBuf,
    /// From trigger to metadata written.
    pub duration: Duration,
    /// Size of its files.
    pub bytes: u64,
}
