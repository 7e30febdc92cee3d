//! `WindowRank`: `ROW_NUMBER() OVER (PARTITION BY window_start, window_end,
//! .. ORDER BY ..)` over window results (Flink's window Top-N and window
//! deduplication; the `rn <= N` filter is a Calc after it). Rows are held per
//! window until the watermark passes the window's end, then sorted by
//! partition and order keys and numbered.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, Int64Array, UInt32Array};
use datafusion::arrow::compute::{
    SortColumn, SortOptions, cast, concat_batches, lexsort_to_indices, take,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::window::buffer::WindowBuffer;
use crate::state::{split_watermark, watermark_batch};

/// Configuration of a window ranking (the factory).
#[derive(Clone)]
pub struct WindowRank {
    /// Input column holding `window_end`.
    pub window_end: usize,
    /// PARTITION BY expressions.
    pub partition_by: Vec<Arc<dyn PhysicalExpr>>,
    /// ORDER BY expressions and directions.
    pub order_by: Vec<(Arc<dyn PhysicalExpr>, SortOptions)>,
    /// Output: the input columns, then the row number.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl WindowRank {
    /// The input columns the exchange feeding it hashes, as the planner
    /// partitions a window ranking: the `PARTITION BY` columns when every
    /// key is a column, none without keys (a single edge: all rows to
    /// subtask 0), else `window_end` alone.
    pub fn exchange_keys(&self) -> Vec<usize> {
        if self.partition_by.is_empty() {
            return vec![];
        }
        let columns: Option<Vec<usize>> = self
            .partition_by
            .iter()
            .map(|e| e.downcast_ref::<Column>().map(Column::index))
            .collect();
        match columns {
            Some(k) => k,
            None => vec![self.window_end],
        }
    }
}

impl OperatorFactory for WindowRank {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(WindowRankOperator {
            config: self.clone(),
            windows: WindowBuffer::default(),
            watermark: MIN_WATERMARK,
        }))
    }
}

struct WindowRankOperator {
    config: WindowRank,
    /// Rows held per window end.
    windows: WindowBuffer,
    watermark: i64,
}

impl WindowRankOperator {
    /// Numbers the rows of one window.
    fn rank(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let evaluate = |e: &Arc<dyn PhysicalExpr>| e.evaluate(&batch).and_then(|v| v.into_array(n));
        let partitions = self
            .config
            .partition_by
            .iter()
            .map(evaluate)
            .collect::<Result<Vec<_>, _>>()?;
        let mut sort: Vec<SortColumn> = partitions
            .iter()
            .map(|p| SortColumn {
                values: p.clone(),
                options: None,
            })
            .collect();
        for (e, options) in &self.config.order_by {
            sort.push(SortColumn {
                values: evaluate(e)?,
                options: Some(*options),
            });
        }
        let order: UInt32Array = if sort.is_empty() {
            UInt32Array::from_iter_values(0..n as u32)
        } else {
            lexsort_to_indices(&sort, None)?
        };
        // Row numbers restart where the partition key changes.
        let fields = partitions
            .iter()
            .map(|p| SortField::new(p.data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let sorted: Vec<ArrayRef> = partitions
            .iter()
            .map(|p| take(p.as_ref(), &order, None))
            .collect::<Result<_, _>>()?;
        let rows = converter.convert_columns(&sorted)?;
        let mut numbers = Vec::with_capacity(n);
        let mut rn = 0i64;
        for i in 0..n {
            rn = if i > 0 && rows.row(i) == rows.row(i - 1) {
                rn + 1
            } else {
                1
            };
            numbers.push(rn);
        }
        let mut columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &order, None))
            .collect::<Result<_, _>>()?;
        let rn_field = self.config.schema.field(columns.len());
        columns.push(cast(
            &(Arc::new(Int64Array::from(numbers)) as ArrayRef),
            rn_field.data_type(),
        )?);
        Ok(RecordBatch::try_new(self.config.schema.clone(), columns)?)
    }
}

#[async_trait]
impl Operator for WindowRankOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.windows
            .accept(
                "a window ranking",
                &self.config.description,
                &batch,
                self.config.window_end,
                self.watermark,
                ctx,
                out,
            )
            .await
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // The held rows are input rows: they hold the exchange's keys.
        let keys = self.config.exchange_keys();
        let (watermark, batches) =
            split_watermark(ctx.restored_keyed_state_of(&ctx.subtask.operator_id, &keys)?);
        // The held rows carry their window end: bucket them again.
        for batch in batches {
            self.windows.hold(
                &ChangeBatch::inserts(batch),
                self.config.window_end,
                self.watermark,
            )?;
        }
        if let Some(w) = watermark {
            self.watermark = w;
        }
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let Some(store) = &ctx.state else {
            return Ok(());
        };
        let mut batches = vec![watermark_batch(self.watermark)?];
        batches.extend(self.windows.batches().cloned());
        store.write(checkpoint, &ctx.state_key(), batches)
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        for (_, batches) in self.windows.take_fired(self.watermark) {
            let Some(first) = batches.first() else {
                continue;
            };
            let all = concat_batches(&first.schema(), &batches)?;
            out.emit(ChangeBatch::inserts(self.rank(all)?)).await?;
        }
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{Rescale, Step, assert_rescale_restore, assert_snapshot_restore, run};

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

    fn factory() -> WindowRank {
        let schema = input_schema();
        WindowRank {
            window_end: 0,
            partition_by: vec![col("window_end", &schema).expect("column")],
            order_by: vec![(
                col("v", &schema).expect("column"),
                SortOptions {
                    descending: true,
                    nulls_first: false,
                },
            )],
            schema: Arc::new(Schema::new(vec![
                Field::new(
                    "window_end",
                    DataType::Timestamp(TimeUnit::Millisecond, None),
                    true,
                ),
                Field::new("v", DataType::Int64, true),
                Field::new("rn", DataType::UInt64, true),
            ])),
            description: "rank".into(),
        }
    }

    fn batch(rows: &[(i64, i64)]) -> Step {
        let ends = TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.0));
        let values = Int64Array::from_iter_values(rows.iter().map(|r| r.1));
        Step::Batch(ChangeBatch::inserts(
            RecordBatch::try_new(input_schema(), vec![Arc::new(ends), Arc::new(values)])
                .expect("batch"),
        ))
    }

    fn steps() -> Vec<Step> {
        vec![
            batch(&[(1000, 5), (2000, 1), (1000, 9)]),
            batch(&[(1000, 7), (2000, 3)]),
            Step::Watermark(999),
            batch(&[(2000, 2), (1000, 100)]),
            Step::Watermark(5000),
        ]
    }

    #[tokio::test]
    async fn rows_are_numbered_per_window_by_the_order_keys() {
        let out = run(&factory(), &steps()).await;
        assert_eq!(
            out,
            vec![
                "+I[1970-01-01T00:00:01, 9, 1]",
                "+I[1970-01-01T00:00:01, 7, 2]",
                "+I[1970-01-01T00:00:01, 5, 3]",
                "watermark 999",
                "+I[1970-01-01T00:00:02, 3, 1]",
                "+I[1970-01-01T00:00:02, 2, 2]",
                "+I[1970-01-01T00:00:02, 1, 3]",
                "watermark 5000",
            ]
        );
    }

    #[tokio::test]
    async fn restored_rows_give_the_output_of_an_uninterrupted_run() {
        let steps = steps();
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory(), &steps, split).await;
        }
    }

    #[tokio::test]
    async fn restored_at_another_parallelism_each_subtask_ranks_the_windows_routed_to_it() {
        let ends: Vec<i64> = (1..=8).map(|i| i * 1000).collect();
        let before: Vec<(i64, i64)> = ends.iter().map(|e| (*e, e / 100)).collect();
        let after: Vec<(i64, i64)> = ends.iter().map(|e| (*e, e / 200 + 3)).collect();
        let steps = vec![
            batch(&before),
            // Restored here: the rows of every open window.
            batch(&after),
            Step::Watermark(3500),
            batch(&[(5000, 1), (8000, 99)]),
            Step::Watermark(10_000),
        ];
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            // Partitioned by window_end, the only PARTITION BY column.
            let rescale = Rescale {
                keys: &[&[0]],
                from,
                to,
            };
            assert_rescale_restore(&factory(), &steps, 1, rescale).await;
        }
    }
}
