//! `TemporalSort`: a streaming `ORDER BY` an ascending time attribute (then
//! other keys), as Flink's rowtime sort: rows wait until the watermark
//! passes their time, then go out in order. A row whose time the watermark
//! already passed is late and dropped (counted, or sent to the late-row
//! sink). Runs at parallelism 1 over an appending input; its state is the
//! waiting rows and the watermark.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::compute::{
    SortColumn, SortOptions, concat_batches, filter_record_batch, lexsort_to_indices,
    take_record_batch,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::late::Late;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::window::buffer::millis;
use crate::state::{split_watermark, watermark_batch};

/// Configuration of a temporal sort.
#[derive(Clone)]
pub struct TemporalSort {
    /// The input column holding the row's time (the first sort key).
    pub time: usize,
    /// The sort keys after the time, over the input.
    pub then_by: Vec<(Arc<dyn PhysicalExpr>, SortOptions)>,
    /// The input's (and the output's) schema.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for TemporalSort {
    fn name(&self) -> String {
        self.description.clone()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(TemporalSortOperator {
            config: self.clone(),
            waiting: vec![],
            watermark: MIN_WATERMARK,
        }))
    }
}

struct TemporalSortOperator {
    config: TemporalSort,
    /// Rows whose time the watermark has not passed, as they came.
    waiting: Vec<RecordBatch>,
    watermark: i64,
}

impl TemporalSortOperator {
    /// The waiting rows in one batch.
    fn waiting(&mut self) -> Result<Option<RecordBatch>> {
        if self.waiting.is_empty() {
            return Ok(None);
        }
        let all = concat_batches(&self.config.schema, &self.waiting)?;
        self.waiting = vec![all.clone()];
        Ok(Some(all))
    }

    /// The waiting rows the watermark passed, in order; the others wait on.
    fn release(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        let Some(all) = self.waiting()? else {
            return Ok(None);
        };
        let times = millis(all.column(self.config.time))?;
        let due: BooleanArray = times
            .iter()
            .map(|t| Some(t.is_some_and(|t| t <= watermark)))
            .collect();
        if due.true_count() == 0 {
            return Ok(None);
        }
        let rest = filter_record_batch(&all, &datafusion::arrow::compute::not(&due)?)?;
        self.waiting = if rest.num_rows() > 0 {
            vec![rest]
        } else {
            vec![]
        };
        let ready = filter_record_batch(&all, &due)?;
        let mut columns = vec![SortColumn {
            values: ready.column(self.config.time).clone(),
            options: Some(SortOptions::default()),
        }];
        for (e, options) in &self.config.then_by {
            let values: ArrayRef = e.evaluate(&ready)?.into_array(ready.num_rows())?;
            columns.push(SortColumn {
                values,
                options: Some(*options),
            });
        }
        let order = lexsort_to_indices(&columns, None)?;
        Ok(Some(take_record_batch(&ready, &order)?))
    }
}

#[async_trait]
impl Operator for TemporalSortOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        let (watermark, batches) = split_watermark(ctx.restored_state()?);
        if let Some(w) = watermark {
            self.watermark = w;
        }
        self.waiting = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let mut batches = vec![watermark_batch(self.watermark)?];
        batches.extend(self.waiting()?);
        ctx.save_state(checkpoint, batches)
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only("a streaming ORDER BY a time attribute")?;
        let data = &batch.data;
        let times = millis(data.column(self.config.time))?;
        let mut late = Late::default();
        let keep: BooleanArray = times
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                Some(t) if *t > self.watermark => Some(true),
                _ => {
                    late.push(i, *t);
                    Some(false)
                }
            })
            .collect();
        if keep.true_count() == data.num_rows() {
            self.waiting.push(data.clone());
        } else if keep.true_count() > 0 {
            self.waiting.push(filter_record_batch(data, &keep)?);
        }
        ctx.metrics
            .set_state_entries(self.waiting.iter().map(RecordBatch::num_rows).sum());
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
        if watermark > self.watermark {
            self.watermark = watermark;
            if let Some(rows) = self.release(watermark)? {
                out.emit(ChangeBatch::inserts(rows)).await?;
            }
            ctx.metrics
                .set_state_entries(self.waiting.iter().map(RecordBatch::num_rows).sum());
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
    use crate::harness::{Step, assert_snapshot_restore, run};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn factory() -> TemporalSort {
        let s = schema();
        TemporalSort {
            time: 0,
            then_by: vec![(
                col("v", &s).expect("v"),
                SortOptions {
                    descending: true,
                    nulls_first: false,
                },
            )],
            schema: s,
            description: "TemporalSort".into(),
        }
    }

    fn batch(rows: &[(i64, i64)]) -> Step {
        Step::Batch(ChangeBatch::inserts(
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(TimestampMillisecondArray::from_iter_values(
                        rows.iter().map(|r| r.0),
                    )),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                ],
            )
            .expect("batch"),
        ))
    }

    fn steps() -> Vec<Step> {
        vec![
            batch(&[(20, 1), (10, 2), (10, 3), (30, 4)]),
            Step::Watermark(20),
            // 15 is late (the watermark passed 20); 25 waits.
            batch(&[(15, 5), (25, 6), (40, 7)]),
            Step::Watermark(35),
            Step::Watermark(100),
        ]
    }

    #[tokio::test]
    async fn rows_go_out_in_time_order_once_the_watermark_passes_them() {
        let out: Vec<String> = run(&factory(), &steps())
            .await
            .into_iter()
            .filter(|l| l.starts_with('+'))
            .map(|l| l.replace("1970-01-01T00:00:00.0", ""))
            .collect();
        assert_eq!(
            out,
            [
                "+I[10, 3]",
                "+I[10, 2]",
                "+I[20, 1]",
                "+I[25, 6]",
                "+I[30, 4]",
                "+I[40, 7]"
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
}
