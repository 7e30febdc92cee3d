//! Where operators put their state at a checkpoint and find it on restore.
//!
//! An operator snapshots its state as Arrow record batches, keyed by its
//! operator id and subtask; a restored job hands every operator the batches
//! of the checkpoint it restores from. This module holds the interface and
//! an in-memory store (used by the snapshot/restore harness tests); the
//! durable store (Arrow IPC files under the checkpoint directory) is
//! [`crate::checkpoint::store::FileSnapshotStore`].
//!
//! A checkpoint may be restored at another parallelism than it was taken
//! at. Keyed state then follows its keys ([`rescale_keyed_state`]): each
//! new subtask takes, from every old subtask's snapshot, the rows whose
//! keys the hash exchange now routes to it, hashed by the same function
//! ([`crate::exchange::key_partitions`]).

use std::collections::HashMap;
use std::sync::Mutex;

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, Int64Array};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

mod shared;
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
            Some(ipc) => crate::ops::row_store::thaw(ipc),
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

/// Subtask `subtask`'s share, at parallelism `parallelism`, of keyed state
/// snapshotted at another parallelism: `snapshots` holds every old
/// subtask's batches (as written), and `keys` the columns of the state
/// batches that the operator's input exchange hashes, in its order and of
/// its types. Of each state batch, only the rows whose keys the exchange
/// now sends to `subtask` are kept ([`crate::exchange::key_partitions`]);
/// the old subtasks' watermark batches become one, first, holding the
/// least of their watermarks (no row one of them still accepted is late).
/// `what` names the state in errors.
pub fn rescale_keyed_state(
    snapshots: Vec<Vec<RecordBatch>>,
    keys: &[usize],
    subtask: usize,
    parallelism: usize,
    what: &str,
) -> Result<Vec<RecordBatch>> {
    let mut least: Option<i64> = None;
    let mut kept = vec![];
    for snapshot in snapshots {
        let (watermark, batches) = split_watermark(snapshot);
        if let Some(w) = watermark {
            least = Some(least.map_or(w, |l| l.min(w)));
        }
        for batch in batches {
            if let Some(mine) = rows_of_subtask(&batch, keys, subtask, parallelism, what)? {
                kept.push(mine);
            }
        }
    }
    if let Some(w) = least {
        kept.insert(0, watermark_batch(w)?);
    }
    Ok(kept)
}

/// The rows of `batch` whose columns `keys` hash to `subtask`; `None` if
/// there are none.
fn rows_of_subtask(
    batch: &RecordBatch,
    keys: &[usize],
    subtask: usize,
    parallelism: usize,
    what: &str,
) -> Result<Option<RecordBatch>> {
    if let Some(k) = keys.iter().find(|k| **k >= batch.num_columns()) {
        return Err(EngineError::State(format!(
            "the state of {what} has no key column {k} (it has {} columns): it cannot be \
             restored at another parallelism",
            batch.num_columns()
        )));
    }
    let columns: Vec<ArrayRef> = keys.iter().map(|k| batch.column(*k).clone()).collect();
    let parts = crate::exchange::key_partitions(&columns, batch.num_rows(), parallelism)?;
    let mine = BooleanArray::from_iter(parts.iter().map(|p| Some(*p == subtask)));
    match mine.true_count() {
        0 => Ok(None),
        n if n == batch.num_rows() => Ok(Some(batch.clone())),
        _ => Ok(Some(filter_record_batch(batch, &mine)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::ChangeBatch;
    use crate::exchange::hash_split;
    use crate::metrics::OperatorMetrics;
    use crate::operator::{Context, SubtaskInfo};

    /// A state batch of (k, v) rows.
    fn rows(keys: std::ops::Range<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let v: Vec<i64> = keys.clone().map(|k| k * 10).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(keys)),
                Arc::new(Int64Array::from(v)),
            ],
        )
        .expect("batch")
    }

    fn keys_of(batch: &RecordBatch) -> Vec<i64> {
        let k = batch.column(0).as_primitive::<Int64Type>();
        (0..k.len()).map(|i| k.value(i)).collect()
    }

    fn context(store: Arc<dyn SnapshotStore>, index: usize, parallelism: usize) -> Context {
        Context {
            subtask: SubtaskInfo {
                job_name: "job".into(),
                operator_name: "GroupAggregate".into(),
                operator_id: "node-3".into(),
                index,
                parallelism,
                state_backend: Default::default(),
            },
            metrics: Arc::new(OperatorMetrics::new("op")),
            state: Some(store),
        }
    }

    #[test]
    fn rescaled_state_goes_where_the_exchange_routes_its_keys_after_the_least_watermark() {
        let old = vec![
            vec![watermark_batch(50).expect("wm"), rows(0..20)],
            vec![watermark_batch(30).expect("wm"), rows(20..35), rows(35..40)],
        ];
        let all = ChangeBatch::inserts(rows(0..40));
        let routed = hash_split(&all, &[0], 3).expect("split");
        let mut seen = vec![];
        for (subtask, routed) in routed.iter().enumerate() {
            let mine = rescale_keyed_state(old.clone(), &[0], subtask, 3, "op").expect("rescale");
            let (watermark, batches) = split_watermark(mine.clone());
            assert_eq!(watermark, Some(30), "the least old watermark");
            assert_eq!(mine.len(), batches.len() + 1, "one watermark batch");
            let got: Vec<i64> = batches.iter().flat_map(keys_of).collect();
            let want = routed.as_ref().map_or(vec![], |b| keys_of(&b.data));
            assert_eq!(got, want, "subtask {subtask} keeps the keys routed to it");
            seen.extend(got);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "no row lost or doubled");
    }

    #[test]
    fn state_lacking_its_key_columns_is_refused_at_another_parallelism() {
        let err = rescale_keyed_state(vec![vec![rows(0..3)]], &[0, 2], 0, 2, "Rank (node-1)")
            .expect_err("no column 2");
        let text = err.to_string();
        assert!(
            text.contains("Rank (node-1)") && text.contains("another parallelism"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn keyed_state_is_split_only_when_the_parallelism_changed() {
        let store: Arc<dyn SnapshotStore> = Arc::new(MemorySnapshotStore::default());
        let own = vec![watermark_batch(7).expect("wm"), rows(0..10)];
        let first = context(store.clone(), 0, 1);
        first.save_state(1, own.clone()).expect("save");
        let left = StateKey {
            operator: "node-3/left".into(),
            subtask: 0,
        };
        store.write(1, &left, vec![rows(0..4)]).expect("write");
        assert_eq!(store.restored_parallelism("node-3").expect("p"), Some(1));
        assert_eq!(
            store.restored_parallelism("node-3/right").expect("p"),
            Some(1)
        );
        assert_eq!(store.restored_parallelism("node-4").expect("p"), None);

        // Same parallelism: exactly what was saved.
        assert_eq!(first.restored_keyed_state(1).expect("restore"), own);
        // Two subtasks: each its share, with the watermark.
        let (mut keys, mut left_keys) = (vec![], vec![]);
        for index in 0..2 {
            let ctx = context(store.clone(), index, 2);
            let (w, batches) = split_watermark(ctx.restored_keyed_state(1).expect("restore"));
            assert_eq!(w, Some(7));
            keys.extend(batches.iter().flat_map(keys_of));
            let left = ctx
                .restored_keyed_state_of("node-3/left", &[0])
                .expect("restore");
            left_keys.extend(left.iter().flat_map(keys_of));
        }
        keys.sort_unstable();
        assert_eq!(keys, (0..10).collect::<Vec<_>>(), "each row once");
        left_keys.sort_unstable();
        assert_eq!(left_keys, (0..4).collect::<Vec<_>>(), "a sub-state too");
    }
}
