//! Where operators put their state at a checkpoint and find it on restore.
//!
//! An operator snapshots its state as Arrow record batches, keyed by its
//! operator id and subtask; a restored job hands every operator the batches
//! of the checkpoint it restores from. This module holds the interface and
//! an in-memory store (used by the snapshot/restore harness tests); the
//! durable store (Arrow IPC files under the checkpoint directory) is
//! [`crate::checkpoint::store::FileSnapshotStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

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
}

/// Snapshots in memory; restores from the latest checkpoint written.
#[derive(Debug, Default)]
pub struct MemorySnapshotStore {
    snapshots: Mutex<HashMap<StateKey, (u64, Vec<RecordBatch>)>>,
}

impl SnapshotStore for MemorySnapshotStore {
    fn write(&self, checkpoint: u64, key: &StateKey, batches: Vec<RecordBatch>) -> Result<()> {
        let mut s = self
            .snapshots
            .lock()
            .map_err(|_| EngineError::State("snapshot store lock poisoned".into()))?;
        s.insert(key.clone(), (checkpoint, batches));
        Ok(())
    }

    fn restore(&self, key: &StateKey) -> Result<Option<Vec<RecordBatch>>> {
        let s = self
            .snapshots
            .lock()
            .map_err(|_| EngineError::State("snapshot store lock poisoned".into()))?;
        Ok(s.get(key).map(|(_, b)| b.clone()))
    }

    fn restore_all(&self, operator: &str) -> Result<Vec<Vec<RecordBatch>>> {
        let s = self
            .snapshots
            .lock()
            .map_err(|_| EngineError::State("snapshot store lock poisoned".into()))?;
        let mut all: Vec<(usize, Vec<RecordBatch>)> = s
            .iter()
            .filter(|(k, _)| k.operator == operator)
            .map(|(k, (_, b))| (k.subtask, b.clone()))
            .collect();
        all.sort_by_key(|(subtask, _)| *subtask);
        Ok(all.into_iter().map(|(_, b)| b).collect())
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
