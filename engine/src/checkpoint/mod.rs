//! Checkpoints: the coordinator that triggers them, collects every task's
//! acknowledgement, and completes them by writing their metadata last.
//!
//! ```text
//!  coordinator ──trigger(id)──> source tasks: save position, snapshot chain, barrier ──>
//!       ^                       operator tasks: align barrier, snapshot chain, barrier ──>
//!       └──────── ack(id) from every task ────────┘
//!  all acked: write chk-<id>/_metadata (atomic) ──complete(id)──> every task:
//!       on_checkpoint_complete (two-phase sinks commit)
//! ```
//!
//! One checkpoint is in flight at a time (Flink's default).
//!
//! Checkpoints go on after some tasks finished (a bounded source read to
//! its end while others still run), as in Flink since FLIP-147: a task that
//! finishes snapshots its final state before it ends, and every later
//! checkpoint includes that state for it. A restored finished source
//! therefore ends at once instead of reading again. A finished task that
//! acknowledged the checkpoint before finishing keeps that snapshot: its
//! final state is newer than what its consumers saw at the barrier.

pub mod config;
pub mod stats;
pub mod store;

pub use config::{CheckpointConfig, sanitize};
pub use stats::{CheckpointStats, CompletedCheckpoint};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{EngineError, Result};
use crate::graph::JobGraph;
use crate::state::StateKey;
use store::{CheckpointMetadata, FileSnapshotStore, OperatorEntry};

/// The checkpoint id under which a finishing task writes its final state.
pub const FINAL_CHECKPOINT: u64 = u64::MAX;

/// What a task tells the coordinator.
#[derive(Debug)]
pub(crate) enum Report {
    /// Task `task`'s state for checkpoint `id` is written.
    Acked { task: usize, id: u64 },
    /// Task `task` read all its input and wrote its final state under
    /// these keys; `true`: it waits for a checkpoint holding that state
    /// to complete ([`TaskLink::finish_and_await_commit`]).
    Finished(usize, Vec<StateKey>, bool),
    /// A task ended otherwise (failed or cancelled).
    Stopped,
}

/// A task's end of the coordinator's channels; dropping it unfinished tells
/// the coordinator the task stopped.
pub(crate) struct TaskLink {
    task: usize,
    /// Checkpoints to take (source tasks react; others follow barriers).
    pub trigger: watch::Receiver<u64>,
    /// Checkpoints completed.
    pub complete: watch::Receiver<u64>,
    reports: mpsc::UnboundedSender<Report>,
    finished: bool,
}

impl TaskLink {
    /// Tells the coordinator this task's state for `id` is written.
    pub fn ack(&self, id: u64) {
        let _ = self.reports.send(Report::Acked {
            task: self.task,
            id,
        });
    }

    /// Tells the coordinator this task finished, the final state of each
    /// of `keys` written under [`FINAL_CHECKPOINT`].
    pub fn finish(mut self, keys: Vec<StateKey>) {
        self.report_finished(keys, false);
    }

    fn report_finished(&mut self, keys: Vec<StateKey>, awaits: bool) {
        self.finished = true;
        let _ = self.reports.send(Report::Finished(self.task, keys, awaits));
    }

    /// [`TaskLink::finish`] for a task whose operators commit something
    /// of their final state when a checkpoint completes (as Flink's final
    /// checkpoint): waits until a checkpoint holding that state completes
    /// and returns its id; `None` if the job stopped first. The last task
    /// to finish gets one at once.
    pub async fn finish_and_await_commit(mut self, keys: Vec<StateKey>) -> Option<u64> {
        // Checkpoints triggered from now on hold the final state.
        let after = *self.trigger.borrow();
        let mut complete = self.complete.clone();
        self.report_finished(keys, true);
        loop {
            let id = *complete.borrow_and_update();
            if id > after {
                return Some(id);
            }
            complete.changed().await.ok()?;
        }
    }
}

impl Drop for TaskLink {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.reports.send(Report::Stopped);
        }
    }
}

/// A request for a savepoint, answered with its directory.
pub(crate) type SavepointRequest = oneshot::Sender<Result<PathBuf>>;

/// The checkpointing side of a job being started.
pub(crate) struct Checkpointing {
    pub store: Arc<FileSnapshotStore>,
    coordinator: Coordinator,
    trigger_tx: watch::Sender<u64>,
    complete_tx: watch::Sender<u64>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports_rx: mpsc::UnboundedReceiver<Report>,
}

impl Checkpointing {
    /// Prepares checkpointing for `graph`: finds the checkpoint to restore
    /// and checks that it fits the graph.
    pub fn new(
        graph: &JobGraph,
        config: &CheckpointConfig,
        stats: Arc<Mutex<CheckpointStats>>,
    ) -> Result<Self> {
        let job_dir = config.job_dir(&graph.name);
        let restore = match &config.restore_from {
            Some(p) => Some(p.clone()),
            None => store::latest_complete(&job_dir)?,
        };
        let store = Arc::new(
            FileSnapshotStore::new(job_dir.clone(), restore.clone())?
                .explicit(config.restore_from.is_some()),
        );
        let operators = operator_entries(graph);
        let mut next_id = store::latest_id(&job_dir)?.unwrap_or(0) + 1;
        if let Some((dir, meta)) = store.restored() {
            check_fits(dir, meta, &operators)?;
            next_id = next_id.max(meta.id + 1);
            if let Ok(mut s) = stats.lock() {
                s.restored_from = Some(dir.clone());
            }
        }
        let (trigger_tx, _) = watch::channel(0);
        let (complete_tx, _) = watch::channel(0);
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        Ok(Self {
            coordinator: Coordinator {
                store: store.clone(),
                config: config.clone(),
                job: graph.name.clone(),
                job_dir,
                operators,
                next_id,
                stats,
            },
            store,
            trigger_tx,
            complete_tx,
            reports_tx,
            reports_rx,
        })
    }

    /// The link of task `task` (tasks are numbered from 0).
    pub fn link(&self, task: usize) -> TaskLink {
        TaskLink {
            task,
            trigger: self.trigger_tx.subscribe(),
            complete: self.complete_tx.subscribe(),
            reports: self.reports_tx.clone(),
            finished: false,
        }
    }

    /// Runs the coordinator until every one of `tasks` finished.
    pub async fn run(
        self,
        tasks: usize,
        savepoints: mpsc::Receiver<SavepointRequest>,
    ) -> Result<()> {
        let Checkpointing {
            mut coordinator,
            trigger_tx,
            complete_tx,
            reports_tx,
            reports_rx,
            ..
        } = self;
        drop(reports_tx);
        coordinator
            .run(tasks, trigger_tx, complete_tx, reports_rx, savepoints)
            .await
    }
}

fn operator_entries(graph: &JobGraph) -> Vec<OperatorEntry> {
    graph
        .nodes
        .iter()
        .map(|n| OperatorEntry {
            id: format!("node-{}", n.id),
            parallelism: n.parallelism,
            name: n.name(),
        })
        .collect()
}

/// Refuses to restore state into a job it was not taken from: the
/// operators must be the same, in the same places.
fn check_fits(dir: &Path, meta: &CheckpointMetadata, operators: &[OperatorEntry]) -> Result<()> {
    let names = |v: &[OperatorEntry]| {
        v.iter()
            .map(|o| (o.id.clone(), o.name.clone()))
            .collect::<Vec<_>>()
    };
    if names(&meta.operators) != names(operators) {
        let mut diff = String::new();
        for o in operators {
            match meta.operators.iter().find(|m| m.id == o.id) {
                Some(m) if m.name == o.name => {}
                Some(m) => diff.push_str(&format!(
                    "\n  {}: was '{}', is now '{}'",
                    o.id, m.name, o.name
                )),
                None => diff.push_str(&format!("\n  {}: '{}' is new", o.id, o.name)),
            }
        }
        for m in &meta.operators {
            if !operators.iter().any(|o| o.id == m.id) {
                diff.push_str(&format!("\n  {}: '{}' is gone", m.id, m.name));
            }
        }
        return Err(EngineError::State(format!(
            "cannot restore {}: it was taken from a different job (job '{}'); operators differ:{diff}\n\
             Start without it: delete the directory, set another 'pipeline.name', or point 'execution.savepoint.path' elsewhere.",
            dir.display(),
            meta.job
        )));
    }
    Ok(())
}

/// Waits for the next tick; forever without an interval.
async fn next_tick(tick: &mut Option<tokio::time::Interval>) {
    match tick {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

struct Coordinator {
    store: Arc<FileSnapshotStore>,
    config: CheckpointConfig,
    job: String,
    job_dir: PathBuf,
    operators: Vec<OperatorEntry>,
    next_id: u64,
    stats: Arc<Mutex<CheckpointStats>>,
}

/// The checkpoint being taken.
struct InFlight {
    id: u64,
    dir: PathBuf,
    /// Tasks that wrote their state for it.
    acked: Vec<bool>,
    started: Instant,
    savepoint: Option<SavepointRequest>,
}

impl Coordinator {
    async fn run(
        &mut self,
        tasks: usize,
        trigger_tx: watch::Sender<u64>,
        complete_tx: watch::Sender<u64>,
        mut reports: mpsc::UnboundedReceiver<Report>,
        mut savepoints: mpsc::Receiver<SavepointRequest>,
    ) -> Result<()> {
        let mut tick = self.config.interval.map(|every| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut finished = vec![false; tasks];
        let mut final_keys: Vec<Vec<StateKey>> = vec![vec![]; tasks];
        // Some finished task waits for a checkpoint holding its final state.
        let mut awaiting = false;
        let mut in_flight: Option<InFlight> = None;
        let mut waiting: Vec<SavepointRequest> = vec![];
        let mut savepoints_open = true;
        loop {
            // Savepoints asked for while a checkpoint was in flight go next.
            if in_flight.is_none() && !waiting.is_empty() {
                let request = waiting.remove(0);
                in_flight = Some(self.begin(&trigger_tx, tasks, Some(request))?);
            }
            let running = finished.iter().any(|f| !f);
            tokio::select! {
                _ = next_tick(&mut tick) => {
                    if in_flight.is_none() && running {
                        in_flight = Some(self.begin(&trigger_tx, tasks, None)?);
                    }
                }
                request = savepoints.recv(), if savepoints_open => match request {
                    None => savepoints_open = false,
                    Some(request) if in_flight.is_none() => {
                        in_flight = Some(self.begin(&trigger_tx, tasks, Some(request))?);
                    }
                    Some(request) => waiting.push(request),
                },
                report = reports.recv() => {
                    match report {
                        None => return Ok(()),
                        Some(Report::Stopped) => {
                            // The job is failing or being cancelled: complete nothing more.
                            if let Some(f) = in_flight.take() {
                                self.abandon(f, "the job stopped");
                            }
                            for request in waiting.drain(..) {
                                let _ = request.send(Err(EngineError::State("the job stopped".into())));
                            }
                            return Ok(());
                        }
                        Some(Report::Finished(task, keys, awaits)) => {
                            if let Some(f) = finished.get_mut(task) {
                                *f = true;
                                final_keys[task] = keys;
                            }
                            awaiting |= awaits;
                            if finished.iter().all(|f| *f) {
                                if let Some(f) = in_flight.take() {
                                    self.abandon(f, "the job finished");
                                }
                                for request in waiting.drain(..) {
                                    let _ = request.send(Err(EngineError::State("the job finished".into())));
                                }
                                if awaiting {
                                    // The final checkpoint: every task's
                                    // final state, for the tasks that wait
                                    // to commit theirs.
                                    let f = self.begin(&trigger_tx, tasks, None)?;
                                    let keys: Vec<StateKey> = final_keys.concat();
                                    self.store.write_final_states(f.id, &keys)?;
                                    self.complete(f, &complete_tx)?;
                                }
                                return Ok(());
                            }
                        }
                        Some(Report::Acked { task, id }) => {
                            if let Some(f) = in_flight.as_mut().filter(|f| f.id == id)
                                && let Some(a) = f.acked.get_mut(task)
                            {
                                *a = true;
                            }
                        }
                    }
                    // Complete once every task acknowledged or finished.
                    let done = in_flight.as_ref().is_some_and(|f| {
                        f.acked.iter().zip(&finished).all(|(a, done)| *a || *done)
                    });
                    if done && let Some(f) = in_flight.take() {
                        // Finished tasks that did not take this checkpoint
                        // are in it with their final state.
                        let keys: Vec<StateKey> = (0..tasks)
                            .filter(|t| finished[*t] && !f.acked[*t])
                            .flat_map(|t| final_keys[t].iter().cloned())
                            .collect();
                        self.store.write_final_states(f.id, &keys)?;
                        self.complete(f, &complete_tx)?;
                    }
                }
            }
        }
    }

    fn begin(
        &mut self,
        trigger_tx: &watch::Sender<u64>,
        tasks: usize,
        savepoint: Option<SavepointRequest>,
    ) -> Result<InFlight> {
        let id = self.next_id;
        self.next_id += 1;
        let dir = match &savepoint {
            None => store::checkpoint_dir(&self.job_dir, id),
            Some(_) => self
                .config
                .savepoint_dir
                .clone()
                .unwrap_or_else(|| self.job_dir.clone())
                .join(format!("savepoint-{}-{id}", sanitize(&self.job))),
        };
        self.store.begin(id, dir.clone())?;
        let _ = trigger_tx.send(id);
        Ok(InFlight {
            id,
            dir,
            acked: vec![false; tasks],
            started: Instant::now(),
            savepoint,
        })
    }

    fn abandon(&self, f: InFlight, why: &str) {
        // Tasks may still write their part: it stays registered, and its
        // directory, without metadata, is never restored; a later
        // completed checkpoint or the job's end deletes it.
        if let Some(request) = f.savepoint {
            let _ = request.send(Err(EngineError::State(format!(
                "savepoint abandoned: {why}"
            ))));
        }
    }

    fn complete(&mut self, f: InFlight, complete_tx: &watch::Sender<u64>) -> Result<()> {
        let meta = CheckpointMetadata {
            id: f.id,
            job: self.job.clone(),
            savepoint: f.savepoint.is_some(),
            timestamp: chrono::Utc::now().timestamp_millis(),
            operators: self.operators.clone(),
        };
        let shared_bytes = self.store.seal(f.id)?;
        meta.write(&f.dir)?;
        self.store.end(f.id)?;
        let duration = f.started.elapsed();
        // What this checkpoint wrote: its directory and its new shared
        // chunks (a savepoint's are in its directory).
        let bytes = store::size_of(&f.dir)
            + if f.savepoint.is_none() {
                shared_bytes
            } else {
                0
            };
        let _ = complete_tx.send(f.id);
        if f.savepoint.is_none() {
            self.store.prune(f.id, self.config.retained)?;
        }
        if let Ok(mut s) = self.stats.lock() {
            s.completed += 1;
            s.total_duration += duration;
            s.total_bytes += bytes;
            s.last = Some(CompletedCheckpoint {
                id: f.id,
                path: f.dir.clone(),
                duration,
                bytes,
            });
        }
        if let Some(request) = f.savepoint {
            let _ = request.send(Ok(f.dir));
        }
        Ok(())
    }
}
