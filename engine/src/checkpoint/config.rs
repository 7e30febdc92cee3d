//! How a job checkpoints and what it restores: a leaf the job graph holds
//! ([`crate::graph::JobGraph`]) and the coordinator reads.

use std::path::PathBuf;
use std::time::Duration;

/// How a job checkpoints and what it restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Time between checkpoints (`execution.checkpointing.interval`);
    /// `None`: no periodic checkpoints, savepoints on demand only.
    pub interval: Option<Duration>,
    /// Base directory (`execution.checkpointing.dir`); the job's
    /// checkpoints go under `<dir>/<job name>/`.
    pub dir: PathBuf,
    /// Complete checkpoints kept (`execution.checkpointing.num-retained`).
    pub retained: usize,
    /// Where savepoints go (`execution.checkpointing.savepoint-dir`);
    /// `None`: `<dir>/<job name>/`.
    pub savepoint_dir: Option<PathBuf>,
    /// A checkpoint or savepoint to restore (`execution.savepoint.path`);
    /// `None`: the job's latest complete checkpoint, if any.
    pub restore_from: Option<PathBuf>,
}

impl CheckpointConfig {
    /// The directory of `job`'s checkpoints.
    pub fn job_dir(&self, job: &str) -> PathBuf {
        self.dir.join(sanitize(job))
    }
}

/// A job name as a file name: letters, digits, `-`, `_` and `.` kept.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
