//! Keyed state restored at another parallelism than it was taken at: each
//! new subtask takes, from every old subtask's snapshot, the rows whose
//! keys the hash exchange now routes to it, hashed by the same function
//! ([`crate::partition::key_partitions`]).

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;

use super::{split_watermark, watermark_batch};
use crate::error::{EngineError, Result};

/// Subtask `subtask`'s share, at parallelism `parallelism`, of keyed state
/// snapshotted at another parallelism: `snapshots` holds every old
/// subtask's batches (as written), and `keys` the columns of the state
/// batches that the operator's input exchange hashes, in its order and of
/// its types. Of each state batch, only the rows whose keys the exchange
/// now sends to `subtask` are kept ([`crate::partition::key_partitions`]);
/// the old subtasks' watermark batches become one, first, holding the
/// least of their watermarks (no row one of them still accepted is late).
/// `what` names the state in errors.
pub fn rescale_keyed_state(
    snapshots: Vec<Vec<RecordBatch>>,
    keys: &[usize],
    subtask: usize,
    parallelism: usize,
    what: &str,
) -> Result<Vec<RecordBatch>> {
    let mut least: Option<i64> = None;
    let mut kept = vec![];
    for snapshot in snapshots {
        let (watermark, batches) = split_watermark(snapshot);
        if let Some(w) = watermark {
            least = Some(least.map_or(w, |l| l.min(w)));
        }
        for batch in batches {
            if let Some(mine) = rows_of_subtask(&batch, keys, subtask, parallelism, what)? {
                kept.push(mine);
            }
        }
    }
    if let Some(w) = least {
        kept.insert(0, watermark_batch(w)?);
    }
    Ok(kept)
}

/// The rows of `batch` whose columns `keys` hash to `subtask`; `None` if
/// there are none.
fn rows_of_subtask(
    batch: &RecordBatch,
    keys: &[usize],
    subtask: usize,
    parallelism: usize,
    what: &str,
) -> Result<Option<RecordBatch>> {
    if let Some(k) = keys.iter().find(|k| **k >= batch.num_columns()) {
        return Err(EngineError::State(format!(
            "the state of {what} has no key column {k} (it has {} columns): it cannot be \
             restored at another parallelism",
            batch.num_columns()
        )));
    }
    let columns: Vec<ArrayRef> = keys.iter().map(|k| batch.column(*k).clone()).collect();
    let parts = crate::partition::key_partitions(&columns, batch.num_rows(), parallelism)?;
    let mine = BooleanArray::from_iter(parts.iter().map(|p| Some(*p == subtask)));
    match mine.true_count() {
        0 => Ok(None),
        n if n == batch.num_rows() => Ok(Some(batch.clone())),
        _ => Ok(Some(filter_record_batch(batch, &mine)?)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;
    use crate::batch::ChangeBatch;
    use crate::metrics::OperatorMetrics;
    use crate::operator::{Context, SubtaskInfo};
    use crate::partition::hash_split;
    use crate::state::{MemorySnapshotStore, SnapshotStore, StateKey};

    /// A state batch of (k, v) rows.
    fn rows(keys: std::ops::Range<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let v: Vec<i64> = keys.clone().map(|k| k * 10).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(keys)),
                Arc::new(Int64Array::from(v)),
            ],
        )
        .expect("batch")
    }

    fn keys_of(batch: &RecordBatch) -> Vec<i64> {
        let k = batch.column(0).as_primitive::<Int64Type>();
        (0..k.len()).map(|i| k.value(i)).collect()
    }

    fn context(store: Arc<dyn SnapshotStore>, index: usize, parallelism: usize) -> Context {
        Context {
            subtask: SubtaskInfo {
                job_name: "job".into(),
                operator_name: "GroupAggregate".into(),
                operator_id: "node-3".into(),
                index,
                parallelism,
                state_backend: Default::default(),
            },
            metrics: Arc::new(OperatorMetrics::new("op")),
            state: Some(store),
        }
    }

    #[test]
    fn rescaled_state_goes_where_the_exchange_routes_its_keys_after_the_least_watermark() {
        let old = vec![
            vec![watermark_batch(50).expect("wm"), rows(0..20)],
            vec![watermark_batch(30).expect("wm"), rows(20..35), rows(35..40)],
        ];
        let all = ChangeBatch::inserts(rows(0..40));
        let routed = hash_split(&all, &[0], 3).expect("split");
        let mut seen = vec![];
        for (subtask, routed) in routed.iter().enumerate() {
            let mine = rescale_keyed_state(old.clone(), &[0], subtask, 3, "op").expect("rescale");
            let (watermark, batches) = split_watermark(mine.clone());
            assert_eq!(watermark, Some(30), "the least old watermark");
            assert_eq!(mine.len(), batches.len() + 1, "one watermark batch");
            let got: Vec<i64> = batches.iter().flat_map(keys_of).collect();
            let want = routed.as_ref().map_or(vec![], |b| keys_of(&b.data));
            assert_eq!(got, want, "subtask {subtask} keeps the keys routed to it");
            seen.extend(got);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "no row lost or doubled");
    }

    #[test]
    fn state_lacking_its_key_columns_is_refused_at_another_parallelism() {
        let err = rescale_keyed_state(vec![vec![rows(0..3)]], &[0, 2], 0, 2, "Rank (node-1)")
            .expect_err("no column 2");
        let text = err.to_string();
        assert!(
            text.contains("Rank (node-1)") && text.contains("another parallelism"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn keyed_state_is_split_only_when_the_parallelism_changed() {
        let store: Arc<dyn SnapshotStore> = Arc::new(MemorySnapshotStore::default());
        let own = vec![watermark_batch(7).expect("wm"), rows(0..10)];
        let first = context(store.clone(), 0, 1);
        first.save_state(1, own.clone()).expect("save");
        let left = StateKey {
            operator: "node-3/left".into(),
            subtask: 0,
        };
        store.write(1, &left, vec![rows(0..4)]).expect("write");
        assert_eq!(store.restored_parallelism("node-3").expect("p"), Some(1));
        assert_eq!(
            store.restored_parallelism("node-3/right").expect("p"),
            Some(1)
        );
        assert_eq!(store.restored_parallelism("node-4").expect("p"), None);

        // Same parallelism: exactly what was saved.
        assert_eq!(first.restored_keyed_state(1).expect("restore"), own);
        // Two subtasks: each its share, with the watermark.
        let (mut keys, mut left_keys) = (vec![], vec![]);
        for index in 0..2 {
            let ctx = context(store.clone(), index, 2);
            let (w, batches) = split_watermark(ctx.restored_keyed_state(1).expect("restore"));
            assert_eq!(w, Some(7));
            keys.extend(batches.iter().flat_map(keys_of));
            let left = ctx
                .restored_keyed_state_of("node-3/left", &[0])
                .expect("restore");
            left_keys.extend(left.iter().flat_map(keys_of));
        }
        keys.sort_unstable();
        assert_eq!(keys, (0..10).collect::<Vec<_>>(), "each row once");
        left_keys.sort_unstable();
        assert_eq!(left_keys, (0..4).collect::<Vec<_>>(), "a sub-state too");
    }
}
