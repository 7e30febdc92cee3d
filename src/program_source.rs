//! Tables whose rows the program sends ([`crate::TableEnvironment::from_stream`]):
//! the `program-stream` connector. Each table is backed by one stream of
//! Arrow batches, read by the first subtask of the job that scans it (once:
//! a second job cannot read the same rows again).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use eddy_engine::connector::{ConnectorFactory, TableRequest};
use eddy_engine::error::EngineError;
use eddy_engine::operator::{Context, Source, SourceEvent, SourceFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, Result};
use futures::{Stream, StreamExt};

/// A program's stream of batches.
pub type BatchStream = Pin<Box<dyn Stream<Item = RecordBatch> + Send>>;

/// The connector identifier.
pub const IDENTIFIER: &str = "program-stream";

/// The streams not yet read, by id; clones share them.
#[derive(Default, Clone)]
pub struct ProgramStreams {
    streams: Arc<Mutex<HashMap<String, BatchStream>>>,
}

impl ProgramStreams {
    /// Keeps `stream` for the table whose `stream-id` option is `id`.
    pub fn add(&self, id: &str, stream: BatchStream) {
        if let Ok(mut streams) = self.streams.lock() {
            streams.insert(id.to_string(), stream);
        }
    }

    /// Takes the stream `id` (its one reader).
    fn take(&self, id: &str) -> Option<BatchStream> {
        self.streams.lock().ok()?.remove(id)
    }
}

impl ConnectorFactory for ProgramStreams {
    fn identifier(&self) -> &str {
        IDENTIFIER
    }

    fn create_source(&self, mut request: TableRequest) -> Result<Arc<dyn SourceFactory>> {
        let id = request.options.require("stream-id")?;
        request.options.finish(&["stream-id"])?;
        Ok(Arc::new(ProgramSourceFactory {
            streams: self.clone(),
            id,
            table: request.table,
            schema: request.schema,
        }))
    }
}

struct ProgramSourceFactory {
    streams: ProgramStreams,
    id: String,
    table: String,
    schema: SchemaRef,
}

impl SourceFactory for ProgramSourceFactory {
    fn name(&self) -> String {
        format!("program-stream[{}]", self.table)
    }

    fn is_bounded(&self) -> bool {
        false
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        let stream = if subtask.index == 0 {
            Some(self.streams.take(&self.id).ok_or_else(|| {
                EngineError::Plan(format!(
                    "the rows of table '{}' come from the program and were already read by another job",
                    self.table
                ))
            })?)
        } else {
            None
        };
        Ok(Box::new(ProgramSource {
            stream,
            started: false,
            table: self.table.clone(),
            schema: self.schema.clone(),
        }))
    }
}

struct ProgramSource {
    /// None on the other subtasks, which read nothing.
    stream: Option<BatchStream>,
    started: bool,
    table: String,
    schema: SchemaRef,
}

#[async_trait]
impl Source for ProgramSource {
    fn name(&self) -> String {
        format!("program-stream[{}]", self.table)
    }

    async fn next(&mut self, _ctx: &mut Context) -> Result<SourceEvent> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(SourceEvent::End);
        };
        if !self.started {
            self.started = true;
            return Ok(SourceEvent::SplitStart(0));
        }
        match stream.next().await {
            None => {
                self.stream = None;
                Ok(SourceEvent::SplitEnd(0))
            }
            Some(batch) => {
                if batch.num_columns() != self.schema.fields().len() {
                    return Err(EngineError::Plan(format!(
                        "a batch sent to table '{}' has {} columns; the table has {}",
                        self.table,
                        batch.num_columns(),
                        self.schema.fields().len()
                    )));
                }
                let data = eddy_engine::batch::conform(&self.schema, batch.columns().to_vec())
                    .map_err(|e| {
                        EngineError::Plan(format!(
                            "a batch sent to table '{}' does not fit its columns: {e}",
                            self.table
                        ))
                    })?;
                Ok(SourceEvent::Batch {
                    split: 0,
                    batch: ChangeBatch::inserts(data),
                })
            }
        }
    }
}
