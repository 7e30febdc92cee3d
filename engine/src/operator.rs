//! The operator and source traits every node of a dataflow implements, and
//! the context the runtime hands them.
//!
//! The runtime owns the protocol (watermark minimums over inputs, barrier
//! alignment, `End`); operators only react to callbacks.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::metrics::OperatorMetrics;
use crate::state::{SnapshotStore, StateKey, rescale_keyed_state};

/// Where a subtask sits in its operator.
#[derive(Debug, Clone)]
pub struct SubtaskInfo {
    /// Name of the job.
    pub job_name: String,
    /// Name of the operator (as in EXPLAIN).
    pub operator_name: String,
    /// Stable id of the operator within the job (its node), naming its state.
    pub operator_id: String,
    /// Index of this subtask, `0..parallelism`.
    pub index: usize,
    /// Number of subtasks of the operator.
    pub parallelism: usize,
    /// Where the job keeps its operators' state.
    pub state_backend: crate::state::backend::StateBackend,
}

impl SubtaskInfo {
    /// On the disk state backend, a database for this subtask's store of
    /// rows named `part` (see [`crate::state::row_store::RowStore::on_disk`]).
    pub fn rows_on_disk(&self, part: &str) -> Result<Option<crate::state::backend::DiskChunks>> {
        self.state_backend
            .chunk_db(&format!("{}-{part}-{}", self.operator_id, self.index))
    }
}

/// What an operator may use while running.
#[derive(Clone)]
pub struct Context {
    /// This subtask's place.
    pub subtask: SubtaskInfo,
    /// Counters of this subtask, read by job stats.
    pub metrics: Arc<OperatorMetrics>,
    /// Where snapshots go and come from; `None` when the job keeps no
    /// checkpoints.
    pub state: Option<Arc<dyn SnapshotStore>>,
}

impl Context {
    /// The key of this subtask's state.
    pub fn state_key(&self) -> StateKey {
        StateKey {
            operator: self.subtask.operator_id.clone(),
            subtask: self.subtask.index,
        }
    }

    /// The batches this subtask's state was restored with: what the subtask
    /// of the same index saved (none without a store or a checkpoint to
    /// restore from). Keyed state, which must follow its keys when the
    /// parallelism changed, is restored with
    /// [`Context::restored_keyed_state`] instead.
    pub fn restored_state(&self) -> Result<Vec<RecordBatch>> {
        match &self.state {
            Some(store) => Ok(store.restore(&self.state_key())?.unwrap_or_default()),
            None => Ok(vec![]),
        }
    }

    /// The batches this operator's keyed state was restored with: state
    /// batches whose first `key_columns` columns are the ones its input
    /// exchange hashes, in that order and of those types (see
    /// [`Context::restored_keyed_state_of`]). With no key columns, all of
    /// it goes to subtask 0, where a `Single` exchange sends every row.
    pub fn restored_keyed_state(&self, key_columns: usize) -> Result<Vec<RecordBatch>> {
        let keys: Vec<usize> = (0..key_columns).collect();
        self.restored_keyed_state_of(&self.subtask.operator_id, &keys)
    }

    /// The keyed state saved under `state` (this operator's id, or a
    /// sub-id such as `node-4/left` of an operator with several states),
    /// whose columns `keys` are the ones the exchange feeding it hashes,
    /// in that order and of those types.
    ///
    /// At the parallelism the checkpoint was taken at (or when that is
    /// unknown) this is what this subtask saved, as
    /// [`Context::restored_state`] gives it. At another, it is this
    /// subtask's share of what every old subtask saved: the rows whose keys
    /// the exchange now routes here, after one watermark batch holding the
    /// least old watermark ([`crate::state::rescale_keyed_state`]). So an
    /// operator restoring with this MUST accept several state batches, and
    /// the rows of a key MUST all be in the batches of one old subtask.
    pub fn restored_keyed_state_of(&self, state: &str, keys: &[usize]) -> Result<Vec<RecordBatch>> {
        let Some(store) = &self.state else {
            return Ok(vec![]);
        };
        match store.restored_parallelism(state)? {
            Some(old) if old != self.subtask.parallelism => rescale_keyed_state(
                store.restore_all(state)?,
                keys,
                self.subtask.index,
                self.subtask.parallelism,
                &format!("{} ({state})", self.subtask.operator_name),
            ),
            _ => Ok(store
                .restore(&StateKey {
                    operator: state.to_string(),
                    subtask: self.subtask.index,
                })?
                .unwrap_or_default()),
        }
    }

    /// The state of every subtask of this operator in the checkpoint
    /// restored (sources: their splits, whatever the parallelism was).
    pub fn restored_state_of_all_subtasks(&self) -> Result<Vec<Vec<RecordBatch>>> {
        match &self.state {
            Some(store) => store.restore_all(&self.subtask.operator_id),
            None => Ok(vec![]),
        }
    }

    /// The state of the old subtasks this subtask takes over when the
    /// checkpoint restored had more subtasks than there are now: old
    /// subtasks `index + k * parallelism` (k >= 1), by old index. Sinks
    /// that commit per subtask finish what those left.
    pub fn restored_state_of_orphans(&self) -> Result<Vec<(usize, Vec<RecordBatch>)>> {
        let (index, parallelism) = (self.subtask.index, self.subtask.parallelism);
        Ok(self
            .restored_state_of_all_subtasks()?
            .into_iter()
            .enumerate()
            .filter(|(old, _)| *old >= parallelism && old % parallelism == index)
            .collect())
    }

    /// Writes this operator's state for `checkpoint`, if the job has a store.
    pub fn save_state(&self, checkpoint: u64, batches: Vec<RecordBatch>) -> Result<()> {
        match &self.state {
            Some(store) => store.write(checkpoint, &self.state_key(), batches),
            None => Ok(()),
        }
    }
}

/// Receives what an operator produces.
#[async_trait]
pub trait Emitter: Send {
    /// Sends a batch downstream. May wait (backpressure).
    async fn emit(&mut self, batch: ChangeBatch) -> Result<()>;
    /// Sends a watermark downstream. Watermarks MUST not decrease.
    async fn emit_watermark(&mut self, watermark: i64) -> Result<()>;
    /// Whether late rows are wanted (the job has a late-row sink); when
    /// not, an operator only counts them.
    fn wants_late_rows(&self) -> bool {
        false
    }
    /// Sends late rows (see [`crate::late`]) to the job's late-row sink.
    async fn emit_late_rows(&mut self, _rows: ChangeBatch) -> Result<()> {
        Ok(())
    }
}

/// A node of the dataflow that consumes inputs.
///
/// Contract: the runtime calls `open` once, then `process` and
/// `on_watermark` in the order of arrival, `snapshot` when a barrier is
/// aligned, and finally `close` once every input has ended (after a last
/// watermark of `MAX_WATERMARK`). No callback runs concurrently with another
/// on the same instance.
#[async_trait]
pub trait Operator: Send + 'static {
    /// One line for EXPLAIN.
    fn name(&self) -> String;

    /// Called before any data; restores state here.
    async fn open(&mut self, _ctx: &mut Context) -> Result<()> {
        Ok(())
    }

    /// Processes a batch arriving on input `input` (0 for single-input operators).
    async fn process(
        &mut self,
        input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()>;

    /// The minimum watermark over all inputs advanced to `watermark`. The
    /// default forwards it; an operator that buffers by event time emits
    /// what the watermark completes first.
    async fn on_watermark(
        &mut self,
        watermark: i64,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        out.emit_watermark(watermark).await
    }

    /// How often the operator wants [`Operator::on_processing_time`]
    /// (processing-time windows); `None`, the default: never.
    fn processing_timer(&self) -> Option<std::time::Duration> {
        None
    }

    /// The wall clock reached `now` (milliseconds since the epoch). Called
    /// every [`Operator::processing_timer`] while input is open.
    async fn on_processing_time(
        &mut self,
        _now: i64,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        Ok(())
    }

    /// A checkpoint barrier was aligned: write state, do not commit.
    async fn snapshot(&mut self, _checkpoint: u64, _ctx: &mut Context) -> Result<()> {
        Ok(())
    }

    /// After its final snapshot (end of input), whether the operator
    /// commits part of that state once a checkpoint holding it completes,
    /// as Flink's sinks do on the final checkpoint. Its task then waits for
    /// one and calls [`Operator::on_checkpoint_complete`] before it ends.
    fn awaits_final_commit(&self) -> bool {
        false
    }

    /// Every operator of the job has snapshotted checkpoint `id`: commit
    /// side effects (two-phase sinks).
    async fn on_checkpoint_complete(&mut self, _id: u64, _ctx: &mut Context) -> Result<()> {
        Ok(())
    }

    /// Every input ended. Flush what is left.
    async fn close(&mut self, _ctx: &mut Context, _out: &mut dyn Emitter) -> Result<()> {
        Ok(())
    }
}

/// Creates one operator instance per subtask.
pub trait OperatorFactory: Send + Sync {
    /// One line for EXPLAIN.
    fn name(&self) -> String;
    /// A fresh instance for subtask `subtask`.
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>>;
    /// Whether this operator needs `-U` rows from its updating inputs,
    /// given whether its consumers need them from it. Most do: they
    /// retract what the `-U` names. A sink applying `+U` as an upsert, or a
    /// projection passing rows on unchanged, need not.
    fn input_needs_update_before(&self, _output_needs: bool) -> bool {
        true
    }
    /// A copy of this operator that emits no `-U` rows, for consumers that
    /// need none; `None` if it always emits them.
    fn without_update_before(&self) -> Option<Arc<dyn OperatorFactory>> {
        None
    }
}

/// What a source produces.
#[derive(Debug)]
pub enum SourceEvent {
    /// Rows read from split `split` (a file, a Kafka partition).
    Batch {
        /// Which split of this subtask the rows come from.
        split: usize,
        /// The rows.
        batch: ChangeBatch,
    },
    /// Split `split` will be read: until its rows allow more, it holds
    /// the subtask's watermark back (a split that has sent nothing yet may
    /// still send anything).
    SplitStart(usize),
    /// Split `split` was read to its end.
    SplitEnd(usize),
    /// Split `split` sent nothing for the idle timeout: it stops holding
    /// the watermark back until it sends rows again.
    SplitIdle(usize),
    /// Nothing more will come (bounded source finished).
    End,
}

/// A reader of external data: one instance per source subtask.
#[async_trait]
pub trait Source: Send + 'static {
    /// One line for EXPLAIN.
    fn name(&self) -> String;
    /// Called before reading.
    async fn open(&mut self, _ctx: &mut Context) -> Result<()> {
        Ok(())
    }
    /// The next event. An unbounded source waits here for data.
    ///
    /// Must be cancel-safe: the runtime drops the future to take a
    /// checkpoint or to stop the job, and a dropped call loses nothing.
    async fn next(&mut self, ctx: &mut Context) -> Result<SourceEvent>;

    /// A checkpoint is taken: save the position reached (what every
    /// event returned so far has covered) with [`Context::save_state`].
    /// A source that saves nothing is read again from its start after a
    /// restore.
    async fn snapshot(&mut self, _checkpoint: u64, _ctx: &mut Context) -> Result<()> {
        Ok(())
    }

    /// Checkpoint `id` is complete.
    async fn on_checkpoint_complete(&mut self, _id: u64, _ctx: &mut Context) -> Result<()> {
        Ok(())
    }
}

/// Creates one source reader per subtask, splitting the work among them.
pub trait SourceFactory: Send + Sync {
    /// One line for EXPLAIN.
    fn name(&self) -> String;
    /// Whether the source ends by itself.
    fn is_bounded(&self) -> bool;
    /// The reader of subtask `subtask`.
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>>;
}

/// An [`Emitter`] that keeps what it is given, in order: used to run chained
/// operators one after the other without a channel between them.
#[derive(Debug, Default)]
pub struct BufferEmitter {
    /// Events in the order they were emitted.
    pub events: Vec<Emitted>,
    /// Whether to keep late rows.
    pub keep_late_rows: bool,
}

/// One event kept by a [`BufferEmitter`].
#[derive(Debug)]
pub enum Emitted {
    /// A batch.
    Batch(ChangeBatch),
    /// A watermark.
    Watermark(i64),
    /// Late rows, for the late-row sink.
    LateRows(ChangeBatch),
}

#[async_trait]
impl Emitter for BufferEmitter {
    async fn emit(&mut self, batch: ChangeBatch) -> Result<()> {
        if batch.num_rows() > 0 {
            self.events.push(Emitted::Batch(batch));
        }
        Ok(())
    }
    async fn emit_watermark(&mut self, watermark: i64) -> Result<()> {
        self.events.push(Emitted::Watermark(watermark));
        Ok(())
    }
    fn wants_late_rows(&self) -> bool {
        self.keep_late_rows
    }
    async fn emit_late_rows(&mut self, rows: ChangeBatch) -> Result<()> {
        if self.keep_late_rows && rows.num_rows() > 0 {
            self.events.push(Emitted::LateRows(rows));
        }
        Ok(())
    }
}
