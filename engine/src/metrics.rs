//! Counters of a running job: rows in and out, rows skipped as bad input,
//! the current watermark. Read by job stats and printed when a job ends.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::checkpoint::stats::CheckpointStats;
use crate::message::MIN_WATERMARK;

/// Counters of one subtask.
#[derive(Debug)]
pub struct OperatorMetrics {
    /// Name of the operator.
    pub name: String,
    /// Rows received.
    pub rows_in: AtomicU64,
    /// Rows emitted.
    pub rows_out: AtomicU64,
    /// Input rows skipped because they could not be parsed.
    pub rows_skipped: AtomicU64,
    /// Rows dropped because the watermark had passed their window.
    pub rows_late: AtomicU64,
    /// The last watermark seen.
    pub watermark: AtomicI64,
    /// Entries (keys, windows, held rows) in the operator's state, as it
    /// last reported.
    pub state_entries: AtomicU64,
    /// Of a bounded source: how much of its input it has read, in its own
    /// unit (bytes of files, records of Kafka partitions) ...
    pub work_done: AtomicU64,
    /// ... and how much there is (0: unknown).
    pub work_total: AtomicU64,
}

impl OperatorMetrics {
    /// Fresh counters for operator `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            rows_in: AtomicU64::new(0),
            rows_out: AtomicU64::new(0),
            rows_skipped: AtomicU64::new(0),
            rows_late: AtomicU64::new(0),
            watermark: AtomicI64::new(MIN_WATERMARK),
            state_entries: AtomicU64::new(0),
            work_done: AtomicU64::new(0),
            work_total: AtomicU64::new(0),
        }
    }

    /// A bounded source found `n` more units of input to read.
    pub fn add_work_total(&self, n: u64) {
        self.work_total.fetch_add(n, Ordering::Relaxed);
    }

    /// A bounded source read `n` more units of its input.
    pub fn add_work_done(&self, n: u64) {
        self.work_done.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds to the count of late rows dropped.
    pub fn add_late(&self, n: u64) {
        self.rows_late.fetch_add(n, Ordering::Relaxed);
    }

    /// Reports how many entries the operator's state holds.
    pub fn set_state_entries(&self, n: usize) {
        self.state_entries.store(n as u64, Ordering::Relaxed);
    }

    /// Adds to the count of skipped bad rows.
    pub fn add_skipped(&self, n: u64) {
        self.rows_skipped.fetch_add(n, Ordering::Relaxed);
    }
}

/// Every subtask's counters of one job.
#[derive(Debug, Default, Clone)]
pub struct JobMetrics {
    subtasks: Arc<Mutex<Vec<Arc<OperatorMetrics>>>>,
    checkpoints: Arc<Mutex<CheckpointStats>>,
}

/// A summary of a job's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Rows read by sources.
    pub rows_read: u64,
    /// Rows that reached sinks.
    pub rows_written: u64,
    /// The least watermark the sinks saw, once all have seen one.
    pub watermark: Option<i64>,
    /// Rows skipped as unparseable, per operator name.
    pub skipped: Vec<(String, u64)>,
    /// Late rows, per operator name: dropped, or sent to `late_table`.
    pub late: Vec<(String, u64)>,
    /// The table late rows went to (`table.exec.late-data.sink`), if any.
    pub late_table: Option<String>,
    /// Entries in state, per stateful operator name (summed over its
    /// subtasks): group keys, window slices and keys, partitions, held rows.
    pub state: Vec<(String, u64)>,
    /// How much of their input the bounded sources have read, and how much
    /// there is (in their units), when they know.
    pub progress: Option<(u64, u64)>,
    /// What checkpointing did.
    pub checkpoints: CheckpointStats,
}

impl JobMetrics {
    /// Registers the counters of a new subtask.
    pub fn register(&self, name: &str) -> Arc<OperatorMetrics> {
        let m = Arc::new(OperatorMetrics::new(name));
        if let Ok(mut v) = self.subtasks.lock() {
            v.push(m.clone());
        }
        m
    }

    /// The checkpoint statistics, written by the coordinator.
    pub fn checkpoints(&self) -> Arc<Mutex<CheckpointStats>> {
        self.checkpoints.clone()
    }

    /// Sums the counters.
    pub fn stats(&self) -> JobStats {
        let mut stats = JobStats::default();
        if let Ok(c) = self.checkpoints.lock() {
            stats.checkpoints = c.clone();
        }
        let Ok(v) = self.subtasks.lock() else {
            return stats;
        };
        let mut sink_watermark: Option<i64> = None;
        let mut sinks_without = false;
        let (mut done, mut total) = (0u64, 0u64);
        for m in v.iter() {
            done += m.work_done.load(Ordering::Relaxed);
            total += m.work_total.load(Ordering::Relaxed);
            if m.name.starts_with("Source") {
                stats.rows_read += m.rows_out.load(Ordering::Relaxed);
            }
            if m.name.starts_with("Sink") {
                stats.rows_written += m.rows_in.load(Ordering::Relaxed);
                match m.watermark.load(Ordering::Relaxed) {
                    MIN_WATERMARK => sinks_without = true,
                    w => sink_watermark = Some(sink_watermark.map_or(w, |s| s.min(w))),
                }
            }
            add_to(
                &mut stats.skipped,
                &m.name,
                m.rows_skipped.load(Ordering::Relaxed),
            );
            add_to(
                &mut stats.late,
                &m.name,
                m.rows_late.load(Ordering::Relaxed),
            );
            add_to(
                &mut stats.state,
                &m.name,
                m.state_entries.load(Ordering::Relaxed),
            );
        }
        stats.watermark = sink_watermark.filter(|_| !sinks_without);
        stats.progress = (total > 0).then_some((done.min(total), total));
        stats
    }
}

/// Adds `n` to the count of `name` in `counts`.
fn add_to(counts: &mut Vec<(String, u64)>, name: &str, n: u64) {
    if n == 0 {
        return;
    }
    match counts.iter_mut().find(|(k, _)| k == name) {
        Some((_, c)) => *c += n,
        None => counts.push((name.to_string(), n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_entries_are_summed_over_an_operators_subtasks() {
        let job = JobMetrics::default();
        let (a, b, c) = (
            job.register("agg"),
            job.register("agg"),
            job.register("rank"),
        );
        a.set_state_entries(3);
        b.set_state_entries(4);
        c.set_state_entries(0);
        a.set_state_entries(5);
        assert_eq!(job.stats().state, vec![("agg".to_string(), 9)]);
    }
}
