//! What travels on a dataflow edge.

use crate::batch::ChangeBatch;

/// The watermark that closes every window: sent when a bounded input ends.
pub const MAX_WATERMARK: i64 = i64::MAX;

/// The watermark before any was seen.
pub const MIN_WATERMARK: i64 = i64::MIN;

/// A message on an edge between two subtasks.
#[derive(Debug, Clone)]
pub enum Message {
    /// Rows.
    Batch(ChangeBatch),
    /// Event time (milliseconds since the epoch) up to which the sender
    /// promises no more rows, except late ones.
    Watermark(i64),
    /// A checkpoint barrier: everything before it belongs to checkpoint `id`.
    Barrier(u64),
    /// The sender will send nothing more.
    End,
}
