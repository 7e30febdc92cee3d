//! Test harness for operators: feed batches and watermarks, take
//! snapshots, restore into a fresh instance (or into several, at another
//! parallelism), and read what came out as text.

use std::sync::Arc;

use crate::batch::ChangeBatch;
use crate::metrics::OperatorMetrics;
use crate::operator::{BufferEmitter, Context, Emitted, OperatorFactory, SubtaskInfo};
use crate::state::{MemorySnapshotStore, SnapshotStore};
use crate::value_text::write_row;

/// One step fed to an operator.
#[derive(Clone)]
pub enum Step {
    /// Rows on input 0.
    Batch(ChangeBatch),
    /// Rows on the given input.
    Input(usize, ChangeBatch),
    /// A watermark.
    Watermark(i64),
    /// The wall clock reaching this time (ms).
    Clock(i64),
}

fn context(store: Option<Arc<dyn SnapshotStore>>) -> Context {
    subtask_context(store, 0, 1)
}

/// The context of subtask `index` of `parallelism`.
fn subtask_context(
    store: Option<Arc<dyn SnapshotStore>>,
    index: usize,
    parallelism: usize,
) -> Context {
    Context {
        subtask: SubtaskInfo {
            job_name: "harness".into(),
            operator_name: "operator".into(),
            operator_id: "node-0".into(),
            index,
            parallelism,
            state_backend: Default::default(),
        },
        metrics: Arc::new(OperatorMetrics::new("operator")),
        state: store,
    }
}

/// What an operator emitted, one line per row (`+I[..]`) or watermark.
pub fn lines(out: &BufferEmitter) -> Vec<String> {
    let mut v = vec![];
    for e in &out.events {
        match e {
            Emitted::Batch(b) => {
                for row in 0..b.num_rows() {
                    let mut s = String::new();
                    write_row(&mut s, b.kind(row), b.data.columns(), row);
                    v.push(s);
                }
            }
            Emitted::Watermark(w) => v.push(format!("watermark {w}")),
            Emitted::LateRows(b) => {
                for row in 0..b.num_rows() {
                    let mut s = String::from("late ");
                    write_row(&mut s, b.kind(row), b.data.columns(), row);
                    v.push(s);
                }
            }
        }
    }
    v
}

/// Runs `steps` through a fresh instance, then closes it.
pub async fn run(factory: &dyn OperatorFactory, steps: &[Step]) -> Vec<String> {
    run_counting_late(factory, steps).await.0
}

/// [`run`], also returning how many rows the operator counted as late.
pub async fn run_counting_late(
    factory: &dyn OperatorFactory,
    steps: &[Step],
) -> (Vec<String>, u64) {
    let mut ctx = context(None);
    let mut op = factory.create(&ctx.subtask).expect("operator");
    let mut out = BufferEmitter::default();
    op.open(&mut ctx).await.expect("open");
    for s in steps {
        feed(op.as_mut(), s, &mut ctx, &mut out).await;
    }
    op.close(&mut ctx, &mut out).await.expect("close");
    let late = ctx
        .metrics
        .rows_late
        .load(std::sync::atomic::Ordering::Relaxed);
    (lines(&out), late)
}

async fn feed(
    op: &mut dyn crate::operator::Operator,
    step: &Step,
    ctx: &mut Context,
    out: &mut BufferEmitter,
) {
    match step {
        Step::Batch(b) => op.process(0, b.clone(), ctx, out).await.expect("process"),
        Step::Input(i, b) => op.process(*i, b.clone(), ctx, out).await.expect("process"),
        Step::Watermark(w) => op.on_watermark(*w, ctx, out).await.expect("watermark"),
        Step::Clock(now) => op
            .on_processing_time(*now, ctx, out)
            .await
            .expect("processing time"),
    }
}

/// Asserts that `upserting` (a variant emitting no `-U`) emits what
/// `retracting` does, less its `-U` rows. Returns how many those were.
pub async fn assert_same_less_update_before(
    retracting: &dyn OperatorFactory,
    upserting: &dyn OperatorFactory,
    steps: &[Step],
) -> usize {
    let (want, dropped): (Vec<String>, Vec<String>) = run(retracting, steps)
        .await
        .into_iter()
        .partition(|r| !r.starts_with("-U"));
    assert_eq!(run(upserting, steps).await, want);
    dropped.len()
}

/// Feeds `steps[..split]`, snapshots, restores into a fresh instance, feeds
/// the rest, and asserts the output equals that of an uninterrupted run.
pub async fn assert_snapshot_restore(factory: &dyn OperatorFactory, steps: &[Step], split: usize) {
    let expected = run(factory, steps).await;
    let store: Arc<dyn SnapshotStore> = Arc::new(MemorySnapshotStore::default());
    let mut out = BufferEmitter::default();
    let mut ctx = context(Some(store.clone()));
    let mut first = factory.create(&ctx.subtask).expect("operator");
    first.open(&mut ctx).await.expect("open");
    for s in &steps[..split] {
        feed(first.as_mut(), s, &mut ctx, &mut out).await;
    }
    first.snapshot(1, &mut ctx).await.expect("snapshot");
    drop(first);
    let mut ctx = context(Some(store));
    let mut second = factory.create(&ctx.subtask).expect("operator");
    second.open(&mut ctx).await.expect("restore");
    for s in &steps[split..] {
        feed(second.as_mut(), s, &mut ctx, &mut out).await;
    }
    second.close(&mut ctx, &mut out).await.expect("close");
    assert_eq!(
        lines(&out),
        expected,
        "restored run differs from an uninterrupted one"
    );
}

/// How [`assert_rescale_restore`] runs an operator: at parallelism `from`
/// before the snapshot and `to` after it, its inputs hash-partitioned as
/// the planner's exchanges do.
#[derive(Debug, Clone, Copy)]
pub struct Rescale<'a> {
    /// Per input, the columns its exchange hashes.
    pub keys: &'a [&'a [usize]],
    /// Subtasks before the snapshot.
    pub from: usize,
    /// Subtasks restored from it.
    pub to: usize,
}

/// One subtask of a rescaled run.
struct Instance {
    op: Box<dyn crate::operator::Operator>,
    ctx: Context,
}

/// `parallelism` opened subtasks of `factory`, restoring from `store`.
async fn instances(
    factory: &dyn OperatorFactory,
    store: &Arc<dyn SnapshotStore>,
    parallelism: usize,
) -> Vec<Instance> {
    let mut all = vec![];
    for index in 0..parallelism {
        let mut ctx = subtask_context(Some(store.clone()), index, parallelism);
        let mut op = factory.create(&ctx.subtask).expect("operator");
        op.open(&mut ctx).await.expect("open");
        all.push(Instance { op, ctx });
    }
    all
}

/// Feeds `steps` to `subtasks` as the exchanges would: each batch's rows to
/// the subtask their keys hash to, watermarks and clocks to all. Returns
/// how many rows each subtask got.
async fn feed_routed(
    subtasks: &mut [Instance],
    steps: &[Step],
    keys: &[&[usize]],
    out: &mut BufferEmitter,
) -> Vec<usize> {
    let mut rows = vec![0; subtasks.len()];
    for step in steps {
        let (input, batch) = match step {
            Step::Batch(b) => (0, b),
            Step::Input(i, b) => (*i, b),
            Step::Watermark(_) | Step::Clock(_) => {
                for s in subtasks.iter_mut() {
                    feed(s.op.as_mut(), step, &mut s.ctx, out).await;
                }
                continue;
            }
        };
        let parts =
            crate::partition::hash_split(batch, keys[input], subtasks.len()).expect("split");
        for (t, part) in parts.into_iter().enumerate() {
            if let Some(part) = part {
                rows[t] += part.num_rows();
                let s = &mut subtasks[t];
                feed(s.op.as_mut(), &Step::Input(input, part), &mut s.ctx, out).await;
            }
        }
    }
    rows
}

/// The rows of `lines`, sorted, without the watermarks (every subtask
/// forwards each one).
fn sorted_rows(lines: Vec<String>) -> Vec<String> {
    let mut rows: Vec<String> = lines
        .into_iter()
        .filter(|l| !l.starts_with("watermark"))
        .collect();
    rows.sort();
    rows
}

/// Feeds `steps[..split]` to `rescale.from` subtasks, snapshots them all,
/// restores `rescale.to` subtasks from that checkpoint, feeds them the
/// rest, and asserts that together they emit the rows of an uninterrupted
/// run of one instance (in any order across subtasks). Each restored
/// subtask must get rows, or the test proves little.
pub async fn assert_rescale_restore(
    factory: &dyn OperatorFactory,
    steps: &[Step],
    split: usize,
    rescale: Rescale<'_>,
) {
    let expected = sorted_rows(run(factory, steps).await);
    let store: Arc<dyn SnapshotStore> = Arc::new(MemorySnapshotStore::default());
    let mut out = BufferEmitter::default();
    let mut old = instances(factory, &store, rescale.from).await;
    feed_routed(&mut old, &steps[..split], rescale.keys, &mut out).await;
    for s in old.iter_mut() {
        s.op.snapshot(1, &mut s.ctx).await.expect("snapshot");
    }
    drop(old);
    let mut new = instances(factory, &store, rescale.to).await;
    let rows = feed_routed(&mut new, &steps[split..], rescale.keys, &mut out).await;
    assert!(
        rows.iter().all(|r| *r > 0),
        "the steps after the snapshot route no rows to some restored subtask: {rows:?}"
    );
    for s in new.iter_mut() {
        s.op.close(&mut s.ctx, &mut out).await.expect("close");
    }
    assert_eq!(
        sorted_rows(lines(&out)),
        expected,
        "a run restored from {} into {} subtasks differs from an uninterrupted one",
        rescale.from,
        rescale.to
    );
}

/// The schema of [`kv_changes`]: two BIGINT columns, `k` and `v`.
pub fn kv_schema() -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ]))
}

/// A batch of (kind, k, v) rows.
pub fn kv_changes(rows: &[(crate::batch::RowKind, i64, i64)]) -> Step {
    use datafusion::arrow::array::{Int8Array, Int64Array};
    let data = datafusion::arrow::record_batch::RecordBatch::try_new(
        kv_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .expect("batch");
    let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
    Step::Batch(ChangeBatch::with_kinds(data, kinds))
}
