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
    /// The input columns holding the lists, unnested side by side: a row
    /// gives as many rows as its longest list, the shorter ones padded
    /// with NULLs.
    pub list_columns: Vec<usize>,
    /// For each output column, the input column it comes from.
    pub columns: Vec<usize>,
    /// Whether a row whose lists are all NULL gives one row of NULL
    /// elements (otherwise none).
    pub null_gives_row: bool,
    /// Whether a row whose lists are empty (or NULL) gives one row of NULL
    /// elements.
    pub empty_gives_row: bool,
    /// Schema of the output.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl Unnest {
    /// Unnests one batch.
    pub fn apply(&self, batch: &ChangeBatch) -> Result<ChangeBatch> {
        let mut lists = Vec::with_capacity(self.list_columns.len());
        for c in &self.list_columns {
            let list = batch.data.column(*c);
            let Some(list) = list.as_list_opt::<i32>() else {
                return exec_err!("UNNEST of {}", list.data_type());
            };
            lists.push(list);
        }
        let length = |l: &datafusion::arrow::array::ListArray, i: usize| {
            let o = l.value_offsets();
            if l.is_null(i) {
                0
            } else {
                (o[i + 1] - o[i]) as usize
            }
        };
        // The input row of every output row, and its element of each list.
        let mut rows = Vec::new();
        let mut elements: Vec<Vec<Option<u32>>> = vec![Vec::new(); lists.len()];
        for i in 0..batch.num_rows() {
            let longest = lists.iter().map(|l| length(l, i)).max().unwrap_or(0);
            if longest == 0 {
                let all_null = lists.iter().all(|l| l.is_null(i));
                if (all_null && self.null_gives_row) || (!all_null && self.empty_gives_row) {
                    rows.push(i as u32);
                    elements.iter_mut().for_each(|e| e.push(None));
                }
                continue;
            }
            for j in 0..longest {
                rows.push(i as u32);
                for (l, e) in lists.iter().zip(elements.iter_mut()) {
                    let start = l.value_offsets()[i] as usize;
                    e.push((j < length(l, i)).then_some((start + j) as u32));
                }
            }
        }
        let repeated = batch.take(&UInt32Array::from(rows))?;
        let mut values = Vec::with_capacity(lists.len());
        for (l, e) in lists.iter().zip(elements) {
            values.push(take(l.values().as_ref(), &UInt32Array::from(e), None)?);
        }
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|c| match self.list_columns.iter().position(|l| l == c) {
                Some(k) => values[k].clone(),
                None => repeated.data.column(*c).clone(),
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
            list_columns: vec![1],
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

    #[test]
    fn lists_side_by_side_pad_the_shorter_with_nulls() {
        let a = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
        ]);
        let b = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(7)]),
            Some(vec![]),
        ]);
        let input = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(a) as ArrayRef),
            ("b", Arc::new(b) as ArrayRef),
        ])
        .expect("batch");
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]));
        let unnest = Unnest {
            list_columns: vec![0, 1],
            columns: vec![0, 1],
            null_gives_row: false,
            empty_gives_row: true,
            schema,
            description: "Unnest".into(),
        };
        let out = unnest.apply(&ChangeBatch::inserts(input)).expect("unnest");
        let rows = out.num_rows();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&[out.data])
            .expect("format")
            .to_string();
        // Row 2: one list NULL, the other empty: one row of NULLs.
        assert_eq!(rows, 3, "{text}");
        assert!(
            text.contains("| 1 | 7 |") && text.contains("| 2 |   |"),
            "{text}"
        );
    }
}
