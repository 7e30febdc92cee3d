//! `Unnest`: one output row per element of a list column, the other
//! columns repeated (SQL's `UNNEST`, and the HOP and CUMULATE window table
//! functions, which give a row once per window holding it). Stateless;
//! row kinds are repeated with their rows.

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::exec_err;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Configuration of an unnest (the factory; the operator is itself).
#[derive(Clone)]
pub struct Unnest {
    /// The input column holding the lists.
    pub list_column: usize,
    /// For each output column, the input column it comes from.
    pub columns: Vec<usize>,
    /// Whether a NULL list gives one row with a NULL element (otherwise none).
    pub null_gives_row: bool,
    /// Whether an empty list gives one row with a NULL element.
    pub empty_gives_row: bool,
    /// Schema of the output.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl Unnest {
    /// Unnests one batch.
    pub fn apply(&self, batch: &ChangeBatch) -> Result<ChangeBatch> {
        let list = batch.data.column(self.list_column);
        let Some(list) = list.as_list_opt::<i32>() else {
            return exec_err!("UNNEST of {}", list.data_type());
        };
        let offsets = list.value_offsets();
        // The input row and the element of every output row.
        let mut rows = Vec::with_capacity(list.values().len());
        let mut elements = Vec::with_capacity(list.values().len());
        for i in 0..list.len() {
            let (null, empty) = (list.is_null(i), offsets[i] == offsets[i + 1]);
            if (null && self.null_gives_row) || (!null && empty && self.empty_gives_row) {
                rows.push(i as u32);
                elements.push(None);
            }
            if null {
                continue;
            }
            for e in offsets[i]..offsets[i + 1] {
                rows.push(i as u32);
                elements.push(Some(e as u32));
            }
        }
        let repeated = batch.take(&UInt32Array::from(rows))?;
        let values = take(list.values().as_ref(), &UInt32Array::from(elements), None)?;
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|c| {
                if *c == self.list_column {
                    values.clone()
                } else {
                    repeated.data.column(*c).clone()
                }
            })
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(repeated.num_rows()));
        let data = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
        Ok(repeated.with_data(data))
    }
}

#[async_trait]
impl Operator for Unnest {
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
        let result = self.apply(&batch)?;
        if result.num_rows() > 0 {
            out.emit(result).await?;
        }
        Ok(())
    }
}

impl OperatorFactory for Unnest {
    fn name(&self) -> String {
        self.description.clone()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, ListArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    #[test]
    fn each_element_gets_a_row_with_the_other_columns_repeated() {
        let lists = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![]),
            Some(vec![Some(3)]),
        ]);
        let input = RecordBatch::try_from_iter(vec![
            (
                "k",
                Arc::new(Int64Array::from(vec![10, 20, 30, 40])) as ArrayRef,
            ),
            ("l", Arc::new(lists) as ArrayRef),
        ])
        .expect("batch");
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("l", DataType::Int64, true),
        ]));
        let unnest = |keep| Unnest {
            list_column: 1,
            columns: vec![0, 1],
            null_gives_row: keep,
            empty_gives_row: false,
            schema: schema.clone(),
            description: "Unnest".into(),
        };
        let out = unnest(false)
            .apply(&ChangeBatch::inserts(input.clone()))
            .expect("unnest");
        assert_eq!(out.num_rows(), 3);
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&[out.data])
            .expect("format")
            .to_string();
        assert!(
            text.contains("| 10 | 2 |") && text.contains("| 40 | 3 |"),
            "{text}"
        );
        let out = unnest(true)
            .apply(&ChangeBatch::inserts(input))
            .expect("unnest");
        assert_eq!(out.num_rows(), 4);
    }
}
