//! The home of operator state: where operators keep it while a job runs,
//! and where they put it at a checkpoint and find it on restore.
//!
//! ```text
//!   row_store   rows kept by key, in memory or spilled   ──> backend (redb files)
//!   shared      rows of a row store shared by checkpoints (incremental)
//!   rescale     keyed state split at another parallelism ──> crate::partition
//!   SnapshotStore (here): the interface every checkpoint writes through;
//!     MemorySnapshotStore (here, for tests) and
//!     crate::checkpoint::store::FileSnapshotStore (Arrow IPC files)
//! ```
//!
//! An operator snapshots its state as Arrow record batches, keyed by its
//! operator id and subtask; a restored job hands every operator the batches
//! of the checkpoint it restores from. A checkpoint may be restored at
//! another parallelism than it was taken at: keyed state then follows its
//! keys ([`rescale_keyed_state`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

pub mod backend;
mod rescale;
pub mod row_store;
mod shared;
pub use rescale::rescale_keyed_state;
pub use shared::{resolve_shared_rows, shared_chunks, shared_rows_batch};

/// Identifies one subtask's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateKey {
    /// The operator's stable id within the job.
    pub operator: String,
    /// The subtask.
    pub subtask: usize,
}

/// Stores operator snapshots.
pub trait SnapshotStore: Send + Sync {
    /// Keeps `batches` as the state of `key` in checkpoint `checkpoint`.
    /// Writing does not make the checkpoint complete.
    fn write(&self, checkpoint: u64, key: &StateKey, batches: Vec<RecordBatch>) -> Result<()>;

    /// The state of `key` in the checkpoint being restored, if any.
    fn restore(&self, key: &StateKey) -> Result<Option<Vec<RecordBatch>>>;

    /// The state of every subtask of `operator` in the checkpoint being
    /// restored, by subtask: what a source restores when the job's
    /// parallelism may have changed (each subtask keeps the splits it now
    /// owns).
    fn restore_all(&self, operator: &str) -> Result<Vec<Vec<RecordBatch>>>;

    /// How many subtasks `operator` had in the checkpoint being restored;
    /// `None` when that is unknown (nothing restored, or the operator is
    /// not in the checkpoint). A state saved under a sub-id (`node-4/left`)
    /// has the parallelism of its node (`node-4`, see [`node_of`]).
    fn restored_parallelism(&self, operator: &str) -> Result<Option<usize>>;

    /// Whether the checkpoint restored is one the user named
    /// (`execution.savepoint.path`) rather than the job's own latest: a
    /// fork of the job's history, not its continuation after a failure.
    /// Sinks that commit to external systems tell the two apart.
    fn restore_is_explicit(&self) -> bool {
        false
    }

    /// Incremental checkpoints: whether checkpoint `checkpoint` lacks
    /// chunk `chunk` of shared rows ([`shared_rows_batch`]). A chunk an
    /// earlier checkpoint wrote is shared by the later ones; a savepoint
    /// holds all its files.
    fn needs_shared(&self, checkpoint: u64, chunk: u64) -> Result<bool>;

    /// Writes chunk `chunk` of shared rows (an Arrow IPC stream of one
    /// batch) for checkpoint `checkpoint`.
    fn write_shared(&self, checkpoint: u64, chunk: u64, ipc: &[u8]) -> Result<()>;
}

/// The node a state id belongs to: operators with several states save
/// them under sub-ids of their node's id (`node-4/left` of `node-4`).
pub fn node_of(state: &str) -> &str {
    state.split_once('/').map_or(state, |(node, _)| node)
}

/// Snapshots in memory; restores from the latest checkpoint written.
///
/// Made for tests: it keeps one snapshot per subtask, overwritten by the
/// next, so a checkpoint restored at another parallelism is read from
/// the snapshots that only the old subtasks wrote (the parallelism it
/// reports is the highest subtask stored, plus one).
#[derive(Debug, Default)]
pub struct MemorySnapshotStore {
    snapshots: Mutex<HashMap<StateKey, (u64, Vec<RecordBatch>)>>,
    /// Chunks of shared rows, by id.
    shared: Mutex<HashMap<u64, Vec<u8>>>,
}

/// The content of one of a store's mutexes.
fn locked<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| EngineError::State("snapshot store lock poisoned".into()))
}

impl MemorySnapshotStore {
    /// `batches` with their shared rows read back.
    pub fn resolve(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let shared = locked(&self.shared)?;
        resolve_shared_rows(batches, &mut |id| match shared.get(&id) {
            Some(ipc) => crate::state::row_store::thaw(ipc),
            None => Err(EngineError::State(format!("shared chunk {id} is missing"))),
        })
    }

    /// Chunks of shared rows written.
    #[cfg(test)]
    pub(crate) fn shared_count(&self) -> usize {
        self.shared.lock().map_or(0, |s| s.len())
    }
}

impl SnapshotStore for MemorySnapshotStore {
    fn write(&self, checkpoint: u64, key: &StateKey, batches: Vec<RecordBatch>) -> Result<()> {
        let mut s = locked(&self.snapshots)?;
        s.insert(key.clone(), (checkpoint, batches));
        Ok(())
    }

    fn restore(&self, key: &StateKey) -> Result<Option<Vec<RecordBatch>>> {
        let s = locked(&self.snapshots)?;
        let batches = s.get(key).map(|(_, b)| b.clone());
        drop(s);
        batches.map(|b| self.resolve(b)).transpose()
    }

    fn restore_all(&self, operator: &str) -> Result<Vec<Vec<RecordBatch>>> {
        let s = locked(&self.snapshots)?;
        let mut all: Vec<(usize, Vec<RecordBatch>)> = s
            .iter()
            .filter(|(k, _)| k.operator == operator)
            .map(|(k, (_, b))| (k.subtask, b.clone()))
            .collect();
        all.sort_by_key(|(subtask, _)| *subtask);
        drop(s);
        all.into_iter().map(|(_, b)| self.resolve(b)).collect()
    }

    fn restored_parallelism(&self, operator: &str) -> Result<Option<usize>> {
        let s = locked(&self.snapshots)?;
        let node = node_of(operator);
        Ok(s.keys()
            .filter(|k| node_of(&k.operator) == node)
            .map(|k| k.subtask + 1)
            .max())
    }

    fn needs_shared(&self, _checkpoint: u64, chunk: u64) -> Result<bool> {
        let shared = locked(&self.shared)?;
        Ok(!shared.contains_key(&chunk))
    }

    fn write_shared(&self, _checkpoint: u64, chunk: u64, ipc: &[u8]) -> Result<()> {
        locked(&self.shared)?.insert(chunk, ipc.to_vec());
        Ok(())
    }
}

/// Name of the column of the batch that carries an operator's watermark.
const WATERMARK_COLUMN: &str = "__watermark";

/// A one-row batch holding `watermark`, stored first in a snapshot so that a
/// restored operator drops the same late rows as before.
pub fn watermark_batch(watermark: i64) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        WATERMARK_COLUMN,
        DataType::Int64,
        false,
    )]));
    Ok(RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![watermark]))],
    )?)
}

/// Separates the watermark batch of a snapshot from the state batches.
pub fn split_watermark(batches: Vec<RecordBatch>) -> (Option<i64>, Vec<RecordBatch>) {
    let mut watermark = None;
    let mut rest = Vec::with_capacity(batches.len());
    for b in batches {
        let is_watermark = b.num_columns() == 1 && b.schema().field(0).name() == WATERMARK_COLUMN;
        match b.column(0).as_primitive_opt::<Int64Type>() {
            Some(w) if is_watermark && w.len() == 1 => watermark = Some(w.value(0)),
            _ => rest.push(b),
        }
    }
    (watermark, rest)
}
