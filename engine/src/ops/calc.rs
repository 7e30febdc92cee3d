//! `Calc`: filter and projection evaluated per batch with DataFusion
//! physical expressions. Stateless, so it is chained into the task that feeds it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::compute::prep_null_mask_filter;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::exec_err;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// A filter followed by a projection. Row kinds pass through unchanged.
#[derive(Clone)]
pub struct Calc {
    /// Keeps the rows where this is true (NULL counts as false).
    pub predicate: Option<Arc<dyn PhysicalExpr>>,
    /// Output columns; `None` keeps the input columns.
    pub projection: Option<Vec<Arc<dyn PhysicalExpr>>>,
    /// Schema of the output.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl Calc {
    /// Applies the filter and projection to one batch.
    pub fn apply(&self, batch: ChangeBatch) -> Result<ChangeBatch> {
        let batch = match &self.predicate {
            None => batch,
            Some(p) => {
                let mask = p.evaluate(&batch.data)?.into_array(batch.num_rows())?;
                let Some(mask) = mask.as_any().downcast_ref::<BooleanArray>() else {
                    return exec_err!("filter predicate gave {}", mask.data_type());
                };
                let mask = if mask.null_count() > 0 {
                    prep_null_mask_filter(mask)
                } else {
                    mask.clone()
                };
                if mask.true_count() == batch.num_rows() {
                    batch
                } else {
                    batch.filter(&mask)?
                }
            }
        };
        let Some(exprs) = &self.projection else {
            return Ok(batch);
        };
        let rows = batch.num_rows();
        let columns = exprs
            .iter()
            .map(|e| e.evaluate(&batch.data)?.into_array(rows))
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let data = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
        Ok(batch.with_data(data))
    }
}

#[async_trait]
impl Operator for Calc {
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
        let result = self.apply(batch)?;
        if result.num_rows() > 0 {
            out.emit(result).await?;
        }
        Ok(())
    }
}

impl OperatorFactory for Calc {
    fn name(&self) -> String {
        self.description.clone()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
    /// A projection passes `+U` rows on as they come; a filter needs the
    /// `-U` of a row whose new version it drops.
    fn input_needs_update_before(&self, output_needs: bool) -> bool {
        output_needs || self.predicate.is_some()
    }
}
