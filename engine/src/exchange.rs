//! The sending side of edges: splits a task's output among the downstream
//! subtasks by the edge's [`Partitioning`], and broadcasts watermarks,
//! barriers and `End`.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::batch::ChangeBatch;
use crate::error::{EngineError, Result};
use crate::graph::Partitioning;
use crate::message::Message;
use crate::operator::Emitter;
use crate::partition::hash_split;

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
