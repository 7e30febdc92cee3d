//! `Expand`: each input row once per projection (Flink's Expand, under the
//! aggregation of `GROUPING SETS`, `ROLLUP` and `CUBE`: one projection per
//! grouping set). Stateless; row kinds are repeated with their rows.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Configuration of an expand (the factory; the operator is itself).
#[derive(Clone)]
pub struct Expand {
    /// The output columns of each copy of the input.
    pub projections: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    /// Schema of the output.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl Expand {
    /// The copies of one batch, one per projection.
    pub fn apply(&self, batch: &ChangeBatch) -> Result<Vec<ChangeBatch>> {
        let rows = batch.num_rows();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        self.projections
            .iter()
            .map(|exprs| {
                let columns = exprs
                    .iter()
                    .map(|e| e.evaluate(&batch.data)?.into_array(rows))
                    .collect::<Result<Vec<ArrayRef>, _>>()?;
                let data =
                    RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
                Ok(batch.with_data(data))
            })
            .collect()
    }
}

#[async_trait]
impl Operator for Expand {
    fn name(&self) -> String {
        self.description.clone()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        for copy in self.apply(&batch)? {
            out.emit(copy).await?;
        }
        Ok(())
    }
}

impl OperatorFactory for Expand {
    fn name(&self) -> String {
        self.description.clone()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::physical_expr::expressions::{Column, Literal};

    use super::*;

    #[test]
    fn each_row_comes_once_per_projection() {
        let input = RecordBatch::try_from_iter(vec![
            ("k", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
            ("v", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ])
        .expect("batch");
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let column = |name, i| Arc::new(Column::new(name, i)) as Arc<dyn PhysicalExpr>;
        let null = Arc::new(Literal::new(ScalarValue::Utf8(None))) as Arc<dyn PhysicalExpr>;
        let expand = Expand {
            projections: vec![
                vec![column("k", 0), column("v", 1)],
                vec![null, column("v", 1)],
            ],
            schema,
            description: "Expand".into(),
        };
        let copies = expand.apply(&ChangeBatch::inserts(input)).expect("expand");
        assert_eq!(copies.len(), 2);
        let second = copies[1].data.column(0);
        assert_eq!(second.null_count(), 2);
        assert_eq!(copies[1].data.column(1).len(), 2);
    }
}
