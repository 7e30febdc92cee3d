//! `Union`: forwards the rows of all its inputs (UNION ALL). The runtime
//! already combines their watermarks by minimum.

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Merges its inputs, relabelling rows with the union's schema.
#[derive(Clone)]
pub struct Union {
    /// The output schema (field names of the first input).
    pub schema: SchemaRef,
}

#[async_trait]
impl Operator for Union {
    fn name(&self) -> String {
        "Union".into()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let data = RecordBatch::try_new(self.schema.clone(), batch.data.columns().to_vec())?;
        out.emit(batch.with_data(data)).await
    }
}

impl OperatorFactory for Union {
    fn name(&self) -> String {
        "Union".into()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
    fn input_needs_update_before(&self, output_needs: bool) -> bool {
        output_needs
    }
}
