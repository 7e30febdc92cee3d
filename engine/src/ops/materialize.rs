//! `Materialize`: batch mode's final result. Applies a changelog to the
//! table it describes (a multiset of rows) and, once every input has ended,
//! emits the table as inserts: in the order rows first arrived, or sorted
//! (a batch `ORDER BY`). So a bounded job in batch mode prints final rows
//! only, as Flink's batch mode does. Batch jobs take no checkpoints, so the
//! table is not snapshotted.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Configuration of a materialization.
#[derive(Clone)]
pub struct Materialize {
    /// The order of the output, over the input (none: arrival order).
    pub order_by: Vec<(Arc<dyn PhysicalExpr>, SortOptions)>,
    /// The input's (and output's) schema.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for Materialize {
    fn name(&self) -> String {
        self.description.clone()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let fields = self
            .schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Box::new(MaterializeOperator {
            converter: RowConverter::new(fields)?,
            rows: HashMap::new(),
            arrived: 0,
            config: self.clone(),
        }))
    }
}

struct MaterializeOperator {
    config: Materialize,
    converter: RowConverter,
    /// Each distinct row: how many times it is in the table, and when it
    /// first arrived.
    rows: HashMap<OwnedRow, (i64, u64)>,
    arrived: u64,
}

impl MaterializeOperator {
    /// The table, each row as often as it is in it, in output order.
    fn table(&self) -> Result<Option<RecordBatch>> {
        let mut held: Vec<(&OwnedRow, i64, u64)> = self
            .rows
            .iter()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(r, (n, t))| (r, *n, *t))
            .collect();
        if held.is_empty() {
            return Ok(None);
        }
        held.sort_by_key(|(_, _, t)| *t);
        let rows = held
            .iter()
            .flat_map(|(r, n, _)| std::iter::repeat_n(r.row(), *n as usize));
        let columns = self.converter.convert_rows(rows)?;
        let batch = RecordBatch::try_new(self.config.schema.clone(), columns)?;
        if self.config.order_by.is_empty() {
            return Ok(Some(batch));
        }
        let keys = self
            .config
            .order_by
            .iter()
            .map(|(e, options)| {
                let values: ArrayRef = e.evaluate(&batch)?.into_array(batch.num_rows())?;
                Ok(SortColumn {
                    values,
                    options: Some(*options),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Stable: equal keys keep their arrival order.
        let order = lexsort_to_indices(&keys, None)?;
        Ok(Some(take_record_batch(&batch, &order)?))
    }
}

#[async_trait]
impl Operator for MaterializeOperator {
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
        let rows = self.converter.convert_columns(batch.data.columns())?;
        for (i, row) in rows.iter().enumerate() {
            let delta = if batch.kind(i).is_addition() { 1 } else { -1 };
            let arrived = self.arrived;
            let entry = self.rows.entry(row.owned()).or_insert((0, arrived));
            entry.0 += delta;
            self.arrived += 1;
        }
        ctx.metrics.set_state_entries(self.rows.len());
        Ok(())
    }

    async fn on_watermark(
        &mut self,
        _watermark: i64,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        // A batch result has no time; the end of input ends it.
        Ok(())
    }

    async fn close(&mut self, _ctx: &mut Context, out: &mut dyn Emitter) -> Result<()> {
        if let Some(table) = self.table()? {
            out.emit(ChangeBatch::inserts(table)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int8Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::batch::RowKind;
    use crate::harness::{Step, run};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]))
    }

    fn changes(rows: &[(RowKind, i64)]) -> Step {
        let data = RecordBatch::try_new(
            schema(),
            vec![Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.1),
            ))],
        )
        .expect("batch");
        let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
        Step::Batch(ChangeBatch::with_kinds(data, kinds))
    }

    fn steps() -> Vec<Step> {
        vec![
            changes(&[
                (RowKind::Insert, 3),
                (RowKind::Insert, 1),
                (RowKind::Insert, 2),
            ]),
            Step::Watermark(10),
            changes(&[
                (RowKind::UpdateBefore, 3),
                (RowKind::UpdateAfter, 5),
                (RowKind::Insert, 1),
            ]),
        ]
    }

    fn rows(out: Vec<String>) -> Vec<String> {
        out.into_iter()
            .filter(|l| l.starts_with('+') || l.starts_with('-'))
            .collect()
    }

    #[tokio::test]
    async fn the_final_table_comes_at_the_end_in_arrival_order() {
        let m = Materialize {
            order_by: vec![],
            schema: schema(),
            description: "Materialize".into(),
        };
        assert_eq!(
            rows(run(&m, &steps()).await),
            ["+I[1]", "+I[1]", "+I[2]", "+I[5]"]
        );
    }

    #[tokio::test]
    async fn a_sorted_table_comes_in_its_order() {
        let s = schema();
        let m = Materialize {
            order_by: vec![(
                col("v", &s).expect("v"),
                SortOptions {
                    descending: true,
                    nulls_first: false,
                },
            )],
            schema: s,
            description: "Materialize".into(),
        };
        assert_eq!(
            rows(run(&m, &steps()).await),
            ["+I[5]", "+I[2]", "+I[1]", "+I[1]"]
        );
    }
}
