//! The shell's background jobs (`INSERT INTO ..`): `SHOW JOBS` lists them
//! with their counters, `STOP JOB '<id>'` stops one, and they stop when the
//! shell exits.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use eddy::EngineError;
use eddy::job::JobMetrics;
use eddy::job::{JobCanceller, JobHandle, Savepointer};

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Running,
    Finished,
    Canceled,
    Failed(String),
}

impl Status {
    fn text(&self) -> &str {
        match self {
            Status::Running => "RUNNING",
            Status::Finished => "FINISHED",
            Status::Canceled => "CANCELED",
            Status::Failed(_) => "FAILED",
        }
    }
}

struct Job {
    id: String,
    statement: String,
    metrics: JobMetrics,
    canceller: JobCanceller,
    /// `None` when the job keeps no checkpoints.
    savepointer: Option<Savepointer>,
    status: Arc<Mutex<Status>>,
    started: Instant,
}

/// The jobs started from this shell.
#[derive(Default)]
pub struct Jobs {
    jobs: Vec<Job>,
}

impl Jobs {
    /// Watches `job` (from `statement`) until it ends.
    pub fn add(&mut self, job: JobHandle, statement: &str) -> String {
        let id = job.name().to_string();
        let status = Arc::new(Mutex::new(Status::Running));
        let metrics = job.metrics().clone();
        let canceller = job.canceller();
        let savepointer = job.savepointer();
        let watched = status.clone();
        tokio::spawn(async move {
            let end = match job.wait().await {
                Ok(_) => Status::Finished,
                Err(EngineError::Cancelled) => Status::Canceled,
                Err(e) => Status::Failed(e.to_string()),
            };
            if let Ok(mut s) = watched.lock() {
                *s = end;
            }
        });
        self.jobs.push(Job {
            id: id.clone(),
            statement: statement.split_whitespace().collect::<Vec<_>>().join(" "),
            metrics,
            canceller,
            savepointer,
            status,
            started: Instant::now(),
        });
        id
    }

    fn status(job: &Job) -> Status {
        job.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or(Status::Failed("unknown".into()))
    }

    /// How many jobs still run.
    pub fn running(&self) -> usize {
        self.jobs
            .iter()
            .filter(|j| Self::status(j) == Status::Running)
            .count()
    }

    /// `SHOW JOBS`: a row per job.
    pub fn rows(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let header = [
            "job id",
            "status",
            "rows in",
            "rows out",
            "watermark",
            "elapsed",
            "statement",
        ]
        .map(String::from)
        .to_vec();
        let rows = self
            .jobs
            .iter()
            .map(|j| {
                let stats = j.metrics.stats();
                let status = Self::status(j);
                let status = match &status {
                    Status::Failed(e) => format!("FAILED: {e}"),
                    s => s.text().to_string(),
                };
                let watermark = watermark_text(stats.watermark);
                let mut statement = j.statement.clone();
                if statement.chars().count() > 60 {
                    statement = statement.chars().take(57).collect::<String>() + "...";
                }
                vec![
                    j.id.clone(),
                    status,
                    stats.rows_read.to_string(),
                    stats.rows_written.to_string(),
                    watermark,
                    format!("{:.1} s", j.started.elapsed().as_secs_f64()),
                    statement,
                ]
            })
            .collect();
        (header, rows)
    }

    /// `STOP JOB '<id>'`: the message to print.
    pub fn stop(&self, id: &str) -> Result<String, String> {
        let job = self.running_job(id)?;
        job.canceller.cancel();
        Ok("[INFO] The specified job is stopped.".into())
    }

    /// `STOP JOB '<id>' WITH SAVEPOINT`: takes a savepoint, then stops the
    /// job; the savepoint's directory.
    pub async fn stop_with_savepoint(&self, id: &str) -> Result<String, String> {
        let job = self.running_job(id)?;
        let Some(savepointer) = &job.savepointer else {
            return Err(format!(
                "Job '{id}' keeps no checkpoints, so it cannot take a savepoint: SET 'execution.checkpointing.dir' (or 'execution.checkpointing.savepoint-dir') before starting it."
            ));
        };
        let path = savepointer
            .savepoint()
            .await
            .map_err(|e| format!("Job '{id}' could not take a savepoint: {e}"))?;
        job.canceller.cancel();
        Ok(path.display().to_string())
    }

    /// The job `id`, if it is running.
    fn running_job(&self, id: &str) -> Result<&Job, String> {
        let job = self.jobs.iter().find(|j| j.id == id).ok_or_else(|| {
            format!(
                "Could not find job '{id}'. Jobs: {}",
                self.jobs
                    .iter()
                    .map(|j| j.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        if Self::status(job) != Status::Running {
            return Err(format!(
                "Job '{id}' is not running ({}).",
                Self::status(job).text()
            ));
        }
        Ok(job)
    }

    /// Stops every running job.
    pub fn stop_all(&self) {
        for j in &self.jobs {
            j.canceller.cancel();
        }
    }
}

/// A job's watermark (ms since the epoch) as Flink prints a timestamp
/// (`2024-01-01T10:00:05`, UTC); `-` before the first and after the last.
pub fn watermark_text(watermark: Option<i64>) -> String {
    match watermark.filter(|w| *w != eddy::job::MAX_WATERMARK) {
        Some(ms) => {
            let mut out = String::new();
            eddy::text::write_timestamp(&mut out, i128::from(ms) * 1_000_000, false);
            out
        }
        None => "-".into(),
    }
}
