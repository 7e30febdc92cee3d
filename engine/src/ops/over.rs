//! `OverAggregate`: Flink's OVER aggregation,
//! `agg(..) OVER (PARTITION BY k ORDER BY <time> ROWS|RANGE BETWEEN ..
//! PRECEDING AND CURRENT ROW)`. Rows wait until the watermark passes their
//! time, then each is emitted once, with the aggregates over its frame:
//! the rows of its partition up to it (ROWS: the last n + 1 rows, in time
//! and then arrival order; RANGE: the rows whose time is at most the bound
//! before its own, its peers of equal time included). A row older than the
//! watermark when it arrives is late: dropped and counted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::PhysicalExpr;
use foldhash::fast::RandomState;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::late::Late;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::aggregate::{AggregateCall, BatchArguments, new_accumulators};
use crate::ops::window::buffer::{fired, millis};
use crate::state::{split_watermark, watermark_batch};

/// Which rows before the current one are in its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The last `n` rows (all when `None`).
    Rows(Option<u64>),
    /// The rows at most this many milliseconds older (all when `None`).
    Range(Option<i64>),
}

/// Configuration of an OVER aggregation (the factory).
#[derive(Clone)]
pub struct OverAggregate {
    /// The partition keys, over the input.
    pub partition_by: Vec<Arc<dyn PhysicalExpr>>,
    /// The input column of the time attribute the rows are ordered by.
    pub time: usize,
    /// The frame (the same for every call).
    pub frame: Frame,
    /// The aggregates, appended to the input columns.
    pub calls: Vec<AggregateCall>,
    /// The input's schema.
    pub input_schema: SchemaRef,
    /// Output: the input columns, then one per call.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for OverAggregate {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let mut fields = self
            .partition_by
            .iter()
            .map(|e| Ok(SortField::new(e.data_type(&self.input_schema)?)))
            .collect::<Result<Vec<_>>>()?;
        if fields.is_empty() {
            fields.push(SortField::new(
                datafusion::arrow::datatypes::DataType::Boolean,
            ));
        }
        Ok(Box::new(OverOperator {
            keys: RowConverter::new(fields)?,
            pending: BTreeMap::new(),
            partitions: HashMap::default(),
            watermark: MIN_WATERMARK,
            config: self.clone(),
        }))
    }
}

/// What a partition keeps of the rows it emitted, for later rows' frames.
#[derive(Default)]
struct Partition {
    /// Bounded frames: (time, row) in emission order, the rows later
    /// frames may still hold.
    history: VecDeque<(i64, RecordBatch)>,
    /// Frames reaching back to the first row: the accumulators over every
    /// row emitted so far (the rows themselves are not kept).
    running: Option<Vec<Box<dyn Accumulator>>>,
}

/// `row` (one row) with the results of `accumulators` appended.
fn with_results(
    schema: &SchemaRef,
    row: RecordBatch,
    accumulators: &mut [Box<dyn Accumulator>],
) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = row.columns().to_vec();
    for (c, acc) in accumulators.iter_mut().enumerate() {
        let field = schema.field(row.num_columns() + c);
        columns.push(cast(&acc.evaluate()?.to_array()?, field.data_type())?);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// A row (a one-row batch) and its partition key.
type KeyedRow = (Box<[u8]>, RecordBatch);

struct OverOperator {
    config: OverAggregate,
    keys: RowConverter,
    /// Rows waiting for the watermark, by time: (partition key, row).
    pending: BTreeMap<i64, Vec<KeyedRow>>,
    partitions: HashMap<Box<[u8]>, Partition, RandomState>,
    watermark: i64,
}

impl OverOperator {
    /// Emits the rows the watermark passed, in time order.
    fn fire(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        let later = self.pending.split_off(&watermark.saturating_add(1));
        let due = std::mem::replace(&mut self.pending, later);
        let mut out: Vec<RecordBatch> = vec![];
        for (time, rows) in due {
            // Rows of one time and partition are peers: add them all first.
            let mut by_key: Vec<(Box<[u8]>, Vec<RecordBatch>)> = vec![];
            for (key, row) in rows {
                match by_key.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, r)) => r.push(row),
                    None => by_key.push((key, vec![row])),
                }
            }
            for (key, rows) in by_key {
                let partition = self.partitions.entry(key).or_default();
                match self.config.frame {
                    Frame::Rows(None) | Frame::Range(None) => {
                        unbounded(&self.config, partition, rows, &mut out)?
                    }
                    _ => bounded(&self.config, partition, time, rows, &mut out)?,
                }
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(concat_batches(&self.config.schema, &out)?))
    }
}

/// Emits `rows` (peers at `time`) of a frame reaching back to the
/// partition's first row, from its running accumulators.
fn unbounded(
    config: &OverAggregate,
    partition: &mut Partition,
    rows: Vec<RecordBatch>,
    out: &mut Vec<RecordBatch>,
) -> Result<()> {
    let calls = &config.calls;
    let schema = &config.input_schema;
    if partition.running.is_none() {
        partition.running = Some(new_accumulators(calls)?);
    }
    let new = concat_batches(schema, &rows)?;
    let args = BatchArguments::evaluate(calls, &new)?;
    if let Some(accs) = partition.running.as_mut() {
        if config.frame == Frame::Range(None) {
            // Peers of equal time are all in each other's frames.
            let all = UInt32Array::from_iter_values(0..new.num_rows() as u32);
            args.update(accs, &all)?;
        }
        for j in 0..new.num_rows() {
            if config.frame == Frame::Rows(None) {
                args.update(accs, &UInt32Array::from(vec![j as u32]))?;
            }
            out.push(with_results(&config.schema, new.slice(j, 1), accs)?);
        }
    }
    Ok(())
}

/// Emits `rows` (peers at `time`) of a bounded frame, each from the
/// partition's rows within it.
fn bounded(
    config: &OverAggregate,
    partition: &mut Partition,
    time: i64,
    rows: Vec<RecordBatch>,
    out: &mut Vec<RecordBatch>,
) -> Result<()> {
    // Rows older than a RANGE bound are in no frame from now on.
    if let Frame::Range(Some(ms)) = config.frame {
        while partition
            .history
            .front()
            .is_some_and(|(t, _)| *t < time.saturating_sub(ms))
        {
            partition.history.pop_front();
        }
    }
    let new_count = rows.len();
    partition
        .history
        .extend(rows.into_iter().map(|r| (time, r)));
    let held: Vec<RecordBatch> = partition.history.iter().map(|(_, r)| r.clone()).collect();
    let all = concat_batches(&config.input_schema, &held)?;
    let args = BatchArguments::evaluate(&config.calls, &all)?;
    let total = all.num_rows();
    for at in total - new_count..total {
        // The frame of the row at `at`, as indices into `all`.
        let frame: Vec<u32> = match config.frame {
            Frame::Rows(n) => {
                let from = n.map_or(0, |n| at.saturating_sub(n as usize));
                (from as u32..=at as u32).collect()
            }
            // Every held row is within the range; the new rows are
            // peers of equal time.
            Frame::Range(_) => (0..total as u32).collect(),
        };
        let mut accs = new_accumulators(&config.calls)?;
        args.update(&mut accs, &UInt32Array::from(frame))?;
        out.push(with_results(&config.schema, all.slice(at, 1), &mut accs)?);
    }
    // Rows beyond a ROWS bound are in no later frame.
    if let Frame::Rows(Some(n)) = config.frame {
        while partition.history.len() > n as usize {
            partition.history.pop_front();
        }
    }
    Ok(())
}

impl OverOperator {
    /// The partition key of every row of `data`.
    fn keys(&self, data: &RecordBatch) -> Result<datafusion::arrow::row::Rows> {
        let n = data.num_rows();
        let key_columns: Vec<ArrayRef> = if self.config.partition_by.is_empty() {
            vec![Arc::new(datafusion::arrow::array::BooleanArray::from(
                vec![true; n],
            ))]
        } else {
            self.partition_columns(data)?
        };
        Ok(self.keys.convert_columns(&key_columns)?)
    }

    /// The partition key columns of `data` (none without `PARTITION BY`).
    fn partition_columns(&self, data: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let n = data.num_rows();
        Ok(self
            .config
            .partition_by
            .iter()
            .map(|e| e.evaluate(data).and_then(|v| v.into_array(n)))
            .collect::<Result<_, _>>()?)
    }

    /// The held rows as one batch: the partition keys, a flag (true: still
    /// waiting for the watermark), then the input columns; history in
    /// order.
    fn rows_batch(&self) -> Result<Option<RecordBatch>> {
        let mut rows: Vec<RecordBatch> = vec![];
        let mut waiting = vec![];
        for held in self.partitions.values() {
            for (_, row) in &held.history {
                rows.push(row.clone());
                waiting.push(false);
            }
        }
        for list in self.pending.values() {
            for (_, row) in list {
                rows.push(row.clone());
                waiting.push(true);
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let all = concat_batches(&self.config.input_schema, &rows)?;
        let mut columns = self.partition_columns(&all)?;
        columns.push(Arc::new(datafusion::arrow::array::BooleanArray::from(
            waiting,
        )));
        columns.extend(all.columns().iter().cloned());
        Ok(Some(crate::ops::aggregate::accumulator_state::state_batch(
            columns,
        )?))
    }

    /// The running accumulators of the partitions (unbounded frames): the
    /// partition keys, then the layout of
    /// [`crate::ops::aggregate::accumulator_state::snapshot`]. Reading them consumes them:
    /// the caller restores them from the batch.
    fn running_batch(&mut self) -> Result<Option<RecordBatch>> {
        let entries = self
            .partitions
            .iter_mut()
            .filter_map(|(key, p)| {
                p.running
                    .as_mut()
                    .map(|accs| crate::ops::aggregate::accumulator_state::Entry {
                        key: key.to_vec(),
                        start: 0,
                        end: 0,
                        accumulators: accs,
                    })
            })
            .collect();
        let Some(state) = crate::ops::aggregate::accumulator_state::snapshot(entries)? else {
            return Ok(None);
        };
        let keys = if self.config.partition_by.is_empty() {
            vec![]
        } else {
            let bytes = state.column(0).as_binary_opt::<i32>().ok_or_else(|| {
                crate::error::EngineError::Internal("OVER state keys are not bytes".into())
            })?;
            let parser = self.keys.parser();
            self.keys
                .convert_rows(bytes.iter().flatten().map(|k| parser.parse(k)))?
        };
        crate::ops::aggregate::accumulator_state::with_exchange_keys(keys, &state).map(Some)
    }

    /// Holds the rows, or takes the running accumulators, of a batch
    /// written by `rows_batch` or `running_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = &crate::ops::aggregate::accumulator_state::without_exchange_keys(
            batch,
            self.config.partition_by.len(),
        )?;
        if batch.num_columns() > 0
            && matches!(
                batch.column(0).data_type(),
                datafusion::arrow::datatypes::DataType::Binary
            )
        {
            let partitions = &mut self.partitions;
            return crate::ops::aggregate::accumulator_state::restore(
                batch,
                &self.config.calls,
                |key, _, _, accs| {
                    partitions.entry(key.into()).or_default().running = Some(accs);
                    Ok(())
                },
            );
        }
        let bad = || crate::error::EngineError::State("OVER state has an unexpected layout".into());
        let waiting = batch
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::BooleanArray>()
            .ok_or_else(bad)?
            .clone();
        let rows = RecordBatch::try_new(
            self.config.input_schema.clone(),
            batch.columns()[1..].to_vec(),
        )?;
        let keys = self.keys(&rows)?;
        let times = millis(rows.column(self.config.time))?;
        for (i, time) in times.iter().enumerate() {
            let (key, row) = (keys.row(i).data(), rows.slice(i, 1));
            let time = time.ok_or_else(bad)?;
            if waiting.value(i) {
                self.pending
                    .entry(time)
                    .or_default()
                    .push((key.into(), row));
            } else {
                self.partitions
                    .entry(key.into())
                    .or_default()
                    .history
                    .push_back((time, row));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for OverOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // Both kinds of state batch start with the partition keys, which
        // the exchange hashes (with none, every row is on subtask 0).
        let keys = self.config.partition_by.len();
        let (watermark, batches) = split_watermark(ctx.restored_keyed_state(keys)?);
        if let Some(w) = watermark {
            self.watermark = w;
        }
        for batch in batches {
            self.restore_batch(&batch)?;
        }
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let mut batches = vec![watermark_batch(self.watermark)?];
        batches.extend(self.rows_batch()?);
        if let Some(running) = self.running_batch()? {
            // Reading the accumulators consumed them: go on from the copy.
            self.restore_batch(&running)?;
            batches.push(running);
        }
        ctx.save_state(checkpoint, batches)
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only("an OVER aggregation")?;
        let data = &batch.data;
        let times = millis(data.column(self.config.time))?;
        let keys = self.keys(data)?;
        let mut late = Late::default();
        for (i, t) in times.iter().enumerate() {
            match t {
                Some(t) if !fired(t.saturating_add(1), self.watermark) => {
                    let row = take_record_batch(data, &UInt32Array::from(vec![i as u32]))?;
                    self.pending
                        .entry(*t)
                        .or_default()
                        .push((keys.row(i).data().into(), row));
                }
                _ => late.push(i, *t),
            }
        }
        late.report(
            &self.config.description,
            data.columns(),
            self.watermark,
            ctx,
            out,
        )
        .await
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        if let Some(batch) = self.fire(self.watermark)? {
            out.emit(ChangeBatch::inserts(batch)).await?;
        }
        let held: usize = self.pending.values().map(Vec::len).sum::<usize>()
            + self
                .partitions
                .values()
                .map(|p| p.history.len() + usize::from(p.running.is_some()))
                .sum::<usize>();
        ctx.metrics.set_state_entries(held);
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{Rescale, Step, assert_rescale_restore, assert_snapshot_restore, run};

    fn input() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn factory(frame: Frame) -> OverAggregate {
        let schema = input();
        let sum = AggregateExprBuilder::new(
            datafusion::functions_aggregate::sum::sum_udaf(),
            vec![col("v", &schema).expect("v")],
        )
        .schema(schema.clone())
        .alias("s")
        .build()
        .expect("sum");
        OverAggregate {
            partition_by: vec![col("k", &schema).expect("k")],
            time: 1,
            frame,
            calls: vec![AggregateCall {
                function: Arc::new(sum),
                filter: None,
            }],
            input_schema: schema,
            schema: Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
                Field::new("v", DataType::Int64, true),
                Field::new("s", DataType::Int64, true),
            ])),
            description: "Over".into(),
        }
    }

    fn batch(rows: &[(i64, i64, i64)]) -> Step {
        Step::Batch(ChangeBatch::inserts(
            RecordBatch::try_new(
                input(),
                vec![
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(TimestampMillisecondArray::from_iter_values(
                        rows.iter().map(|r| r.1),
                    )),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                ],
            )
            .expect("batch"),
        ))
    }

    fn rows(out: Vec<String>) -> Vec<String> {
        out.into_iter()
            .filter(|l| l.starts_with('+'))
            .map(|l| l.replace("1970-01-01T00:00:00.0", ""))
            .collect()
    }

    #[tokio::test]
    async fn rows_are_emitted_in_time_order_with_their_frame() {
        let steps = vec![
            batch(&[(1, 20, 2), (1, 10, 1), (2, 10, 5)]),
            Step::Watermark(15),
            batch(&[(1, 30, 4), (1, 5, 100)]),
            Step::Watermark(100),
        ];
        let out = rows(run(&factory(Frame::Rows(Some(1))), &steps).await);
        // The row at 5 came after the watermark passed it: late.
        assert_eq!(
            out,
            [
                "+I[1, 10, 1, 1]",
                "+I[2, 10, 5, 5]",
                "+I[1, 20, 2, 3]",
                "+I[1, 30, 4, 6]"
            ]
        );
        let out = rows(run(&factory(Frame::Range(Some(10))), &steps).await);
        assert_eq!(
            out,
            [
                "+I[1, 10, 1, 1]",
                "+I[2, 10, 5, 5]",
                "+I[1, 20, 2, 3]",
                "+I[1, 30, 4, 6]"
            ]
        );
    }

    #[tokio::test]
    async fn restored_rows_give_the_output_of_an_uninterrupted_run() {
        let steps = vec![
            batch(&[(1, 20, 2), (1, 10, 1), (2, 10, 5)]),
            Step::Watermark(15),
            batch(&[(1, 30, 4), (2, 25, 1)]),
            Step::Watermark(26),
            batch(&[(1, 40, 8)]),
            Step::Watermark(100),
        ];
        for frame in [Frame::Rows(Some(1)), Frame::Rows(None), Frame::Range(None)] {
            for split in 0..=steps.len() {
                assert_snapshot_restore(&factory(frame), &steps, split).await;
            }
        }
    }

    #[tokio::test]
    async fn restored_at_another_parallelism_each_subtask_continues_its_partitions() {
        let steps = vec![
            batch(&[
                (1, 20, 2),
                (1, 10, 1),
                (2, 10, 5),
                (3, 12, 1),
                (9, 11, 2),
                (5, 14, 3),
            ]),
            Step::Watermark(15),
            // Restored here: history, running sums and waiting rows.
            batch(&[
                (1, 30, 4),
                (2, 25, 1),
                (3, 22, 2),
                (9, 27, 1),
                (5, 21, 6),
                (6, 23, 1),
                (7, 24, 2),
                (12, 26, 3),
            ]),
            Step::Watermark(26),
            batch(&[(1, 40, 8), (3, 41, 1), (5, 42, 2), (9, 43, 1)]),
            Step::Watermark(100),
        ];
        for frame in [Frame::Rows(Some(1)), Frame::Rows(None), Frame::Range(None)] {
            for (from, to) in [(1, 2), (2, 1), (2, 3)] {
                let rescale = Rescale {
                    keys: &[&[0]],
                    from,
                    to,
                };
                assert_rescale_restore(&factory(frame), &steps, 2, rescale).await;
            }
        }
    }
}
