//! Which subtask a keyed row belongs to: the one hashing rule that routes
//! rows on a hash exchange ([`hash_split`], used by `crate::exchange`) and
//! splits keyed state when a checkpoint is restored at another parallelism
//! (`crate::state::rescale_keyed_state`). Both MUST agree, so both call
//! [`key_partitions`].

use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::common::hash_utils::{RandomState, create_hashes};

use crate::batch::ChangeBatch;
use crate::error::{EngineError, Result};

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
