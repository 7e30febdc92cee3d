//! `Values`: a bounded source emitting fixed rows (`VALUES (...)`, `SELECT`
//! without `FROM`) from its first subtask.

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::operator::{Context, Source, SourceEvent, SourceFactory, SubtaskInfo};

/// Rows known when the job is planned.
#[derive(Debug, Clone)]
pub struct Values {
    /// The rows.
    pub batch: RecordBatch,
}

impl SourceFactory for Values {
    fn name(&self) -> String {
        format!("Values[{} rows]", self.batch.num_rows())
    }
    fn is_bounded(&self) -> bool {
        true
    }
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        Ok(Box::new(ValuesSource {
            batch: (subtask.index == 0).then(|| self.batch.clone()),
        }))
    }
}

struct ValuesSource {
    batch: Option<RecordBatch>,
}

/// The state of a Values source that has emitted its rows: a one-row
/// batch (an empty state means it has not).
fn emitted_marker() -> Result<RecordBatch> {
    crate::state::watermark_batch(0)
}

#[async_trait]
impl Source for ValuesSource {
    fn name(&self) -> String {
        "Values".into()
    }
    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // Restored after it emitted: not again.
        if !ctx.restored_state_of_all_subtasks()?.concat().is_empty() {
            self.batch = None;
        }
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        if ctx.subtask.index == 0 && self.batch.is_none() {
            ctx.save_state(checkpoint, vec![emitted_marker()?])?;
        }
        Ok(())
    }

    async fn next(&mut self, _ctx: &mut Context) -> Result<SourceEvent> {
        match self.batch.take() {
            Some(batch) => Ok(SourceEvent::Batch {
                split: 0,
                batch: ChangeBatch::inserts(batch),
            }),
            None => Ok(SourceEvent::End),
        }
    }
}
