//! The sending side of edges: splits a task's output among the downstream
//! subtasks by the edge's [`Partitioning`], and broadcasts watermarks,
//! barriers and `End`.

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use tokio::sync::mpsc;

use crate::batch::ChangeBatch;
use crate::error::{EngineError, Result};
use crate::graph::Partitioning;
use crate::message::Message;
use crate::operator::Emitter;

/// A message tagged with the receiver's channel index.
pub type Envelope = (usize, Message);

/// One downstream subtask as seen by a sender.
#[derive(Debug, Clone)]
pub struct Target {
    /// The downstream subtask's inbox.
    pub tx: mpsc::Sender<Envelope>,
    /// Which of its channels this sender is.
    pub channel: usize,
}

/// One outgoing edge of a task.
#[derive(Debug)]
pub struct OutEdge {
    /// Row distribution.
    pub partitioning: Partitioning,
    /// The downstream subtasks reachable from this sender: all of them, or
    /// (for forward edges) exactly one.
    pub targets: Vec<Target>,
    next: usize,
}

impl OutEdge {
    /// An edge sending to `targets`.
    pub fn new(partitioning: Partitioning, targets: Vec<Target>) -> Self {
        Self {
            partitioning,
            targets,
            next: 0,
        }
    }

    async fn send(&self, target: usize, msg: Message) -> Result<()> {
        let t = &self.targets[target];
        t.tx.send((t.channel, msg))
            .await
            .map_err(|_| EngineError::Cancelled)
    }

    async fn send_batch(&mut self, batch: ChangeBatch) -> Result<()> {
        let n = self.targets.len();
        match &self.partitioning {
            _ if n == 1 => self.send(0, Message::Batch(batch)).await,
            Partitioning::Forward | Partitioning::Single => {
                self.send(0, Message::Batch(batch)).await
            }
            Partitioning::Rebalance => {
                let t = self.next % n;
                self.next = self.next.wrapping_add(1);
                self.send(t, Message::Batch(batch)).await
            }
            Partitioning::Broadcast => {
                for t in 0..n {
                    self.send(t, Message::Batch(batch.clone())).await?;
                }
                Ok(())
            }
            Partitioning::Hash(keys) => {
                for (t, part) in hash_split(&batch, keys, n)?.into_iter().enumerate() {
                    if let Some(part) = part {
                        self.send(t, Message::Batch(part)).await?;
                    }
                }
                Ok(())
            }
        }
    }

    async fn broadcast(&self, msg: Message) -> Result<()> {
        for t in 0..self.targets.len() {
            self.send(t, msg.clone()).await?;
        }
        Ok(())
    }
}

/// The subtask, of `n`, that a hash exchange sends each of `rows` rows to,
/// given the row's key columns: the hash of the keys (DataFusion's
/// `create_hashes` with its fixed-seed `RandomState`, the same in every
/// process) modulo `n`. Without keys every row goes to subtask 0, as on a
/// `Single` edge.
///
/// This is the one rule both for routing rows ([`hash_split`]) and for
/// splitting keyed state among subtasks when a checkpoint is restored at
/// another parallelism ([`crate::state::rescale_keyed_state`]): a key's
/// state MUST land on the subtask its rows go to.
pub fn key_partitions(keys: &[ArrayRef], rows: usize, n: usize) -> Result<Vec<usize>> {
    if keys.is_empty() || n <= 1 {
        return Ok(vec![0; rows]);
    }
    let mut hashes = vec![0u64; rows];
    create_hashes(keys, &RandomState::default(), &mut hashes)?;
    Ok(hashes.iter().map(|h| (*h % n as u64) as usize).collect())
}

/// Splits a batch into `n` parts by the hash of the key columns (see
/// [`key_partitions`]); `None` where a part has no rows.
pub fn hash_split(
    batch: &ChangeBatch,
    keys: &[usize],
    n: usize,
) -> Result<Vec<Option<ChangeBatch>>> {
    if n == 0 {
        return Err(EngineError::Internal(
            "a hash exchange with no receivers".into(),
        ));
    }
    let rows = batch.num_rows();
    let columns: Vec<ArrayRef> = keys.iter().map(|k| batch.data.column(*k).clone()).collect();
    let mut indices: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (row, part) in key_partitions(&columns, rows, n)?.into_iter().enumerate() {
        indices[part].push(row as u32);
    }
    indices
        .into_iter()
        .map(|idx| {
            if idx.is_empty() {
                Ok(None)
            } else if idx.len() == rows {
                Ok(Some(batch.clone()))
            } else {
                batch.take(&UInt32Array::from(idx)).map(Some)
            }
        })
        .collect()
}

/// Everything a task sends: the batches it emits go out on every edge.
#[derive(Debug, Default)]
pub struct Output {
    /// Outgoing edges (none for a sink).
    pub edges: Vec<OutEdge>,
    /// Edges to the job's late-row sink.
    pub late_edges: Vec<OutEdge>,
    /// Rows emitted, for metrics.
    pub rows_out: u64,
}

impl Output {
    /// Sends a non-data message on every edge to every downstream subtask.
    pub async fn broadcast(&self, msg: Message) -> Result<()> {
        for e in self.edges.iter().chain(&self.late_edges) {
            e.broadcast(msg.clone()).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Emitter for Output {
    async fn emit(&mut self, batch: ChangeBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows_out += batch.num_rows() as u64;
        let last = self.edges.len().saturating_sub(1);
        for (i, e) in self.edges.iter_mut().enumerate() {
            if i == last {
                return e.send_batch(batch).await;
            }
            e.send_batch(batch.clone()).await?;
        }
        Ok(())
    }

    async fn emit_watermark(&mut self, watermark: i64) -> Result<()> {
        self.broadcast(Message::Watermark(watermark)).await
    }

    fn wants_late_rows(&self) -> bool {
        !self.late_edges.is_empty()
    }

    async fn emit_late_rows(&mut self, rows: ChangeBatch) -> Result<()> {
        for e in self.late_edges.iter_mut() {
            e.send_batch(rows.clone()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    #[test]
    fn hash_split_sends_equal_keys_to_one_part_and_loses_nothing() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
        let keys: Vec<i64> = (0..100).map(|i| i % 7).collect();
        let batch = ChangeBatch::inserts(
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys))]).expect("batch"),
        );
        let parts = hash_split(&batch, &[0], 3).expect("split");
        let mut total = 0;
        let mut seen = std::collections::HashMap::new();
        for (p, part) in parts.iter().enumerate() {
            let Some(part) = part else { continue };
            total += part.num_rows();
            let col = part
                .data
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("i64");
            for i in 0..col.len() {
                assert_eq!(*seen.entry(col.value(i)).or_insert(p), p);
            }
        }
        assert_eq!(total, 100);
    }
}
