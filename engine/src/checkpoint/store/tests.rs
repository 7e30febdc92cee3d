use std::sync::Arc;

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::*;
use crate::state::watermark_batch;

fn batch(v: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![v]))]).expect("batch")
}

fn meta(id: u64) -> CheckpointMetadata {
    CheckpointMetadata {
        id,
        job: "job one".into(),
        savepoint: false,
        timestamp: 7,
        operators: vec![OperatorEntry {
            id: "node-0".into(),
            parallelism: 2,
            name: "Sink: x".into(),
        }],
    }
}

#[test]
fn state_of_mixed_schemas_round_trips_and_only_complete_checkpoints_count() {
    let tmp = tempdir();
    let job = tmp.join("job");
    let store = FileSnapshotStore::new(job.clone(), None).expect("store");
    let key = |subtask| StateKey {
        operator: "node-0".into(),
        subtask,
    };
    for id in 1..=3 {
        store.begin(id, checkpoint_dir(&job, id)).expect("begin");
        let batches = vec![watermark_batch(id as i64).expect("wm"), batch(1), batch(2)];
        store.write(id, &key(0), batches).expect("write");
        store.write(id, &key(1), vec![batch(10)]).expect("write");
        if id < 3 {
            meta(id).write(&checkpoint_dir(&job, id)).expect("meta");
        }
    }
    // Checkpoint 3 has no metadata: it does not count.
    let latest = latest_complete(&job).expect("list").expect("a checkpoint");
    assert_eq!(latest, checkpoint_dir(&job, 2));
    let restored = FileSnapshotStore::new(job.clone(), Some(latest)).expect("store");
    assert_eq!(restored.restored().map(|r| r.1.clone()), Some(meta(2)));
    let got = restored.restore(&key(0)).expect("restore").expect("state");
    assert_eq!(got.len(), 3);
    assert_eq!(crate::state::split_watermark(got).0, Some(2));
    assert_eq!(restored.restore_all("node-0").expect("all").len(), 2);
    assert_eq!(restored.restore(&key(5)).expect("restore"), None);

    // Keeping one: checkpoint 1 goes, and so would older incomplete ones.
    prune(&job, 2, 1).expect("prune");
    assert!(!checkpoint_dir(&job, 1).exists());
    assert!(checkpoint_dir(&job, 2).exists());
    assert!(
        checkpoint_dir(&job, 3).exists(),
        "newer than the completed one"
    );
}

#[test]
fn a_sub_state_has_its_nodes_parallelism_and_every_old_subtask_is_read() {
    let tmp = tempdir();
    let job = tmp.join("job");
    let store = FileSnapshotStore::new(job.clone(), None).expect("store");
    store.begin(1, checkpoint_dir(&job, 1)).expect("begin");
    for subtask in 0..2 {
        let key = StateKey {
            operator: "node-0/left".into(),
            subtask,
        };
        store
            .write(1, &key, vec![batch(subtask as i64)])
            .expect("write");
    }
    meta(1).write(&checkpoint_dir(&job, 1)).expect("meta");
    assert_eq!(store.restored_parallelism("node-0").expect("p"), None);
    let restored =
        FileSnapshotStore::new(job.clone(), Some(checkpoint_dir(&job, 1))).expect("store");
    assert_eq!(restored.restored_parallelism("node-0").expect("p"), Some(2));
    assert_eq!(
        restored.restored_parallelism("node-0/left").expect("p"),
        Some(2)
    );
    assert_eq!(restored.restored_parallelism("node-7").expect("p"), None);
    let all = restored.restore_all("node-0/left").expect("all");
    assert_eq!(all, vec![vec![batch(0)], vec![batch(1)]]);
}

#[test]
fn incremental_checkpoints_share_chunks_until_none_refers_to_them() {
    use crate::state::row_store::{RowRef, RowStore};
    let tmp = tempdir();
    let job = tmp.join("job");
    let store = FileSnapshotStore::new(job.clone(), None).expect("store");
    let key = StateKey {
        operator: "node-0".into(),
        subtask: 0,
    };
    let mut rows = RowStore::new(batch(0).schema());
    let mut held = vec![];
    for v in 0..3 {
        let chunk = rows.add(batch(v));
        rows.hold(RowRef { chunk, row: 0 });
        rows.settle().expect("settle");
        held.push(RowRef { chunk, row: 0 });
    }
    let take = |id: u64, dir: PathBuf, held: &[RowRef]| {
        store.begin(id, dir.clone()).expect("begin");
        let (chunks, positions) = rows.shared_refs(held, &store, id).expect("refs");
        let snapshot = crate::state::shared_rows_batch(chunks, positions, vec![]).expect("batch");
        store.write(id, &key, vec![snapshot]).expect("write");
        let bytes = store.seal(id).expect("seal");
        let mut m = meta(id);
        m.savepoint = !dir.starts_with(&job);
        m.write(&dir).expect("meta");
        store.end(id).expect("end");
        bytes
    };
    let shared = |dir: &Path| std::fs::read_dir(dir.join(SHARED_DIR)).map_or(0, |d| d.count());
    assert!(take(1, checkpoint_dir(&job, 1), &held) > 0);
    store.prune(1, 1).expect("prune");
    assert_eq!(shared(&job), 3);
    // The second checkpoint writes nothing new, and no longer needs the
    // third chunk: with checkpoint 1 gone, so is that chunk.
    assert_eq!(take(2, checkpoint_dir(&job, 2), &held[..2]), 0);
    store.prune(2, 1).expect("prune");
    assert_eq!(shared(&job), 2);
    // A finished task's final state writes its chunks before it is
    // handed over: pruning meanwhile keeps them.
    store
        .write_shared(crate::checkpoint::FINAL_CHECKPOINT, 99, b"rows")
        .expect("final chunk");
    store.prune(2, 1).expect("prune");
    assert!(shared_file(&job.join(SHARED_DIR), 99).is_file());
    std::fs::remove_file(shared_file(&job.join(SHARED_DIR), 99)).expect("rm");
    // A savepoint holds its own copy of every chunk.
    let savepoint = tmp.join("savepoint-1");
    assert!(take(3, savepoint.clone(), &held[1..]) > 0);
    assert_eq!(shared(&savepoint), 2);

    let restored = |dir: PathBuf| {
        let s = FileSnapshotStore::new(tmp.join("other"), Some(dir)).expect("store");
        let b = s.restore(&key).expect("restore").expect("state");
        assert_eq!(b.len(), 1);
        b[0].column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("i64")
            .values()
            .to_vec()
    };
    assert_eq!(restored(checkpoint_dir(&job, 2)), [0, 1]);
    discard_checkpoints(&job).expect("discard");
    assert!(!job.exists());
    assert_eq!(restored(savepoint), [1, 2]);
}

#[test]
fn metadata_that_is_not_ours_is_refused() {
    let tmp = tempdir();
    std::fs::write(tmp.join(METADATA_FILE), "something else").expect("write");
    let err = CheckpointMetadata::read(&tmp).expect_err("refused");
    assert!(
        err.to_string().contains("is not an Eddy checkpoint"),
        "{err}"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "eddy-store-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("tempdir");
    dir
}
