//! `WindowAggregate`: aggregates rows per window and group key, and emits
//! each window's results once the watermark passes the window's end
//! (Flink's window aggregation). Accumulators are DataFusion's.
//!
//! Input: columns `0..key_count` are the group keys, one of them the
//! window's end; aggregate arguments are evaluated on the whole input row.
//! Rows of a window the watermark already passed are late: dropped and
//! counted.

use std::collections::HashMap;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::logical_expr::Accumulator;

use super::accumulator_state;
use super::aggregate::{AggregateCall, BatchArguments, FiredWindows, new_accumulators};
use super::window_buffer::{fired, millis};
use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Configuration of a window aggregation (the factory).
#[derive(Clone)]
pub struct WindowAggregate {
    /// Input columns `0..key_count` are the group keys.
    pub key_count: usize,
    /// Which key column is `window_end`.
    pub window_end: usize,
    /// The aggregates, in output order after the keys.
    pub calls: Vec<AggregateCall>,
    /// Output: the keys, then one column per aggregate.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for WindowAggregate {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let fields = self.schema.fields()[..self.key_count]
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Box::new(WindowAggregateOperator {
            config: self.clone(),
            converter: RowConverter::new(fields)?,
            groups: HashMap::new(),
            watermark: MIN_WATERMARK,
        }))
    }
}

/// The accumulators of one window and key.
struct Group {
    window_end: i64,
    accumulators: Vec<Box<dyn Accumulator>>,
}

struct WindowAggregateOperator {
    config: WindowAggregate,
    converter: RowConverter,
    groups: HashMap<OwnedRow, Group>,
    watermark: i64,
}

impl WindowAggregateOperator {
    fn new_group(&self, window_end: i64) -> Result<Group> {
        Ok(Group {
            window_end,
            accumulators: new_accumulators(&self.config.calls)?,
        })
    }

    /// Emits every window the watermark completed, ordered by window end
    /// and key, and forgets them.
    fn fire(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        let mut done: Vec<OwnedRow> = self
            .groups
            .iter()
            .filter(|(_, g)| fired(g.window_end, watermark))
            .map(|(k, _)| k.clone())
            .collect();
        if done.is_empty() {
            return Ok(None);
        }
        done.sort_by(|a, b| {
            let (ga, gb) = (&self.groups[a], &self.groups[b]);
            ga.window_end.cmp(&gb.window_end).then_with(|| a.cmp(b))
        });
        let mut fired_windows = FiredWindows::default();
        for key in &done {
            if let Some(mut g) = self.groups.remove(key) {
                fired_windows.push(g.window_end, g.window_end, &mut g.accumulators)?;
            }
        }
        let keys = self.converter.convert_rows(done.iter().map(|r| r.row()))?;
        Ok(Some(fired_windows.into_batch(
            &self.config.schema,
            self.config.key_count,
            None,
            keys,
        )?))
    }
}

impl accumulator_state::AggregationState for WindowAggregateOperator {
    /// The state as one batch (see [`accumulator_state`]).
    fn state_batch(&mut self) -> Result<Option<RecordBatch>> {
        let entries = self
            .groups
            .iter_mut()
            .map(|(key, g)| accumulator_state::Entry {
                key: key.row().as_ref().to_vec(),
                start: g.window_end,
                end: g.window_end,
                accumulators: &mut g.accumulators,
            })
            .collect();
        accumulator_state::snapshot(entries)
    }

    /// Adds the groups of a state batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let parser = self.converter.parser();
        let groups = &mut self.groups;
        accumulator_state::restore(batch, &self.config.calls, |key, _, end, accumulators| {
            let group = Group {
                window_end: end,
                accumulators,
            };
            groups.insert(parser.parse(key).owned(), group);
            Ok(())
        })
    }

    fn clear_state(&mut self) {
        self.groups.clear();
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    fn set_watermark(&mut self, watermark: i64) {
        self.watermark = watermark;
    }
}

#[async_trait]
impl Operator for WindowAggregateOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only("a window aggregation")?;
        let data = &batch.data;
        let keys: Vec<ArrayRef> = data.columns()[..self.config.key_count].to_vec();
        let rows = self.converter.convert_columns(&keys)?;
        let ends = millis(&keys[self.config.window_end])?;
        // Rows of each group in this batch.
        let mut members: HashMap<usize, Vec<u32>> = HashMap::new();
        let mut first_of: HashMap<datafusion::arrow::row::Row<'_>, usize> = HashMap::new();
        let mut late = 0u64;
        for (i, end) in ends.iter().enumerate() {
            match end {
                Some(e) if !fired(*e, self.watermark) => {
                    let first = *first_of.entry(rows.row(i)).or_insert(i);
                    members.entry(first).or_default().push(i as u32);
                }
                _ => late += 1,
            }
        }
        if late > 0 {
            ctx.metrics.add_late(late);
        }
        let arguments = BatchArguments::evaluate(&self.config.calls, data)?;
        let mut firsts: Vec<usize> = members.keys().copied().collect();
        firsts.sort_unstable();
        for first in firsts {
            let indices = UInt32Array::from(members.remove(&first).unwrap_or_default());
            let key = rows.row(first).owned();
            if !self.groups.contains_key(&key) {
                let group = self.new_group(ends[first].unwrap_or(i64::MAX))?;
                self.groups.insert(key.clone(), group);
            }
            if let Some(group) = self.groups.get_mut(&key) {
                arguments.update(&mut group.accumulators, &indices)?;
            }
        }
        Ok(())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        accumulator_state::restore_from_store(self, ctx)
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        accumulator_state::snapshot_to_store(self, checkpoint, ctx)
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        if let Some(batch) = self.fire(self.watermark)? {
            out.emit(ChangeBatch::inserts(batch)).await?;
        }
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use datafusion::arrow::array::{AsArray, Int64Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::metrics::OperatorMetrics;
    use crate::operator::{BufferEmitter, Emitted};

    fn input_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                "window_end",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn operator() -> WindowAggregate {
        let schema = input_schema();
        let sum = AggregateExprBuilder::new(
            datafusion::functions_aggregate::sum::sum_udaf(),
            vec![col("v", &schema).expect("column")],
        )
        .schema(schema.clone())
        .alias("s")
        .build()
        .expect("sum");
        let out = Arc::new(Schema::new(vec![
            Field::new(
                "window_end",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("s", DataType::Int64, true),
        ]));
        let config = WindowAggregate {
            key_count: 1,
            window_end: 0,
            calls: vec![AggregateCall {
                function: Arc::new(sum),
                filter: None,
            }],
            schema: out,
            description: "test".into(),
        };
        let info = SubtaskInfo {
            job_name: "t".into(),
            operator_name: "w".into(),
            operator_id: "node-0".into(),
            index: 0,
            parallelism: 1,
        };
        let _ = config.create(&info).expect("operator");
        config
    }

    fn batch(rows: &[(i64, i64)]) -> ChangeBatch {
        let ends = TimestampMillisecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let values = Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        ChangeBatch::inserts(
            RecordBatch::try_new(input_schema(), vec![Arc::new(ends), Arc::new(values)])
                .expect("batch"),
        )
    }

    fn emitted(out: &BufferEmitter) -> Vec<String> {
        let mut v = vec![];
        for e in &out.events {
            match e {
                Emitted::Batch(b) => {
                    let ends = b.data.column(0).as_primitive::<TimestampMillisecondType>();
                    let sums = b.data.column(1).as_primitive::<Int64Type>();
                    for i in 0..b.num_rows() {
                        v.push(format!("{}={}", ends.value(i), sums.value(i)));
                    }
                }
                Emitted::Watermark(w) => v.push(format!("wm{w}")),
            }
        }
        v
    }

    use datafusion::arrow::datatypes::Int64Type;

    #[tokio::test]
    async fn windows_fire_at_their_end_and_late_rows_are_dropped_and_counted() {
        let config = operator();
        let mut ctx = Context {
            subtask: SubtaskInfo {
                job_name: "t".into(),
                operator_name: "w".into(),
                operator_id: "node-0".into(),
                index: 0,
                parallelism: 1,
            },
            metrics: Arc::new(OperatorMetrics::new("w")),
            state: None,
        };
        let mut op = config.create(&ctx.subtask).expect("operator");
        let mut out = BufferEmitter::default();
        op.process(
            0,
            batch(&[(1000, 1), (2000, 2), (1000, 3)]),
            &mut ctx,
            &mut out,
        )
        .await
        .expect("process");
        // The window ending at 1000 covers up to 999: a watermark of 998 does not fire it.
        op.on_watermark(998, &mut ctx, &mut out).await.expect("wm");
        op.on_watermark(999, &mut ctx, &mut out).await.expect("wm");
        // Late: its window already fired.
        op.process(0, batch(&[(1000, 100), (2000, 4)]), &mut ctx, &mut out)
            .await
            .expect("process");
        op.on_watermark(5000, &mut ctx, &mut out).await.expect("wm");
        assert_eq!(
            emitted(&out),
            vec!["wm998", "1000=4", "wm999", "2000=6", "wm5000"]
        );
        assert_eq!(ctx.metrics.rows_late.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn restored_state_gives_the_output_of_an_uninterrupted_run() {
        use crate::harness::{Step, assert_snapshot_restore};
        let steps = vec![
            Step::Batch(batch(&[(1000, 1), (2000, 2), (3000, 5)])),
            Step::Watermark(999),
            Step::Batch(batch(&[(2000, 3), (3000, 7)])),
            Step::Batch(batch(&[(2000, 4), (4000, 8)])),
            Step::Watermark(2500),
            // Late after a restore too: the watermark is part of the state.
            Step::Batch(batch(&[(3000, 1), (2000, 50)])),
            Step::Watermark(10_000),
        ];
        for split in 0..=steps.len() {
            assert_snapshot_restore(&operator(), &steps, split).await;
        }
    }
}
